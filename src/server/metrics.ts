/**
 * Prometheus metrics (`GET /metrics`, prom-client) fed by the library's diagnostics channels: the
 * library never counts or logs, it publishes (docs/architecture.md), and the server subscribes here.
 */
import { subscribe, unsubscribe } from 'node:diagnostics_channel';

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

import { CHANNELS, type VerifyResult } from '../index.js';

/** Distinct MX hosts labelled before the rest are counted as `other`: labels must stay bounded. */
const MAX_HOST_LABELS = 500;

export interface Metrics {
  readonly registry: Registry;
  /** Counts one HTTP request (route pattern, not the path, so job ids make no new series). */
  observeRequest(method: string, route: string, status: number, seconds: number): void;
  /** Sets where the job queue depth comes from (addresses waiting in queued and running jobs). */
  setQueueDepth(read: () => number | Promise<number>): void;
  /** The text exposition format. */
  render(): Promise<string>;
  /** Stops listening to the diagnostics channels. */
  close(): void;
}

export function createMetrics(options: { processMetrics?: boolean } = {}): Metrics {
  const registry = new Registry();
  if (options.processMetrics === true) collectDefaultMetrics({ register: registry, prefix: 'rcpt_' });
  const verifications = new Counter({
    name: 'rcpt_verifications_total',
    help: 'Verifications finished, by verdict and reason',
    labelNames: ['verdict', 'reason'] as const,
    registers: [registry],
  });
  const durations = new Histogram({
    name: 'rcpt_verification_duration_seconds',
    help: 'Time to verify one address',
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [registry],
  });
  const replies = new Counter({
    name: 'rcpt_smtp_replies_total',
    help: 'SMTP replies received, by class (2xx, 3xx, 4xx, 5xx)',
    labelNames: ['class'] as const,
    registers: [registry],
  });
  const connections = new Counter({
    name: 'rcpt_smtp_connections_total',
    help: 'SMTP connection attempts, by MX host',
    labelNames: ['host'] as const,
    registers: [registry],
  });
  const requests = new Counter({
    name: 'rcpt_http_requests_total',
    help: 'HTTP requests answered, by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const requestDurations = new Histogram({
    name: 'rcpt_http_request_duration_seconds',
    help: 'Time to answer an HTTP request (to the first byte for streams)',
    labelNames: ['route'] as const,
    buckets: [0.005, 0.025, 0.1, 0.5, 1, 5, 15, 60],
    registers: [registry],
  });
  let readDepth: () => number | Promise<number> = () => 0;
  new Gauge({
    name: 'rcpt_jobs_queue_depth',
    help: 'Addresses waiting in queued and running jobs',
    registers: [registry],
    async collect() {
      this.set(await readDepth());
    },
  });

  const hosts = new Set<string>();
  const onVerify = (message: unknown) => {
    const { result } = message as { result: VerifyResult };
    verifications.inc({ verdict: result.verdict, reason: result.reason });
    durations.observe(result.durationMs / 1000);
  };
  const onLine = (message: unknown) => {
    const { dir, line } = message as { dir: string; line: string };
    // Count a reply once, on its last line: `250-` continues, `250 ` (or a bare `250`) ends it.
    const match = dir === '<' ? /^([2-5])\d\d(?: |$)/.exec(line) : null;
    if (match !== null) replies.inc({ class: `${match[1] ?? ''}xx` });
  };
  const onConnect = (message: unknown) => {
    const { host } = message as { host: string };
    if (hosts.has(host) || hosts.size < MAX_HOST_LABELS) {
      hosts.add(host);
      connections.inc({ host });
    } else {
      connections.inc({ host: 'other' });
    }
  };
  subscribe(CHANNELS.verifyDone, onVerify);
  subscribe(CHANNELS.smtpLine, onLine);
  subscribe(CHANNELS.smtpConnect, onConnect);

  return {
    registry,
    observeRequest(method, route, status, seconds) {
      requests.inc({ method, route, status: String(status) });
      requestDurations.observe({ route }, seconds);
    },
    setQueueDepth(read) {
      readDepth = read;
    },
    render: () => registry.metrics(),
    close() {
      unsubscribe(CHANNELS.verifyDone, onVerify);
      unsubscribe(CHANNELS.smtpLine, onLine);
      unsubscribe(CHANNELS.smtpConnect, onConnect);
    },
  };
}
