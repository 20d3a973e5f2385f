/**
 * The bodies of webhook calls, built when the call is made from what the job store keeps (the stored
 * result, the job's progress), so a retry after a restart sends what the first try would have.
 * Reacher's bulk jobs get Reacher's body (`{"result": CheckEmailOutput, "extra"}`, as its worker posts
 * it, plus `job_id` and `event`); rcpt's jobs get rcpt's result and job (docs/api.md).
 */
import type { WebhookDelivery } from '../jobs/index.js';
import { jobResponse } from './job-routes.js';
import type { JobsBackend } from './jobs-port.js';
import { toReacherProgress, toReacherResponse } from './reacher.js';
import { serverEcho, type ServerSmtpSettings } from './reacher-settings.js';
import type { JobWebhook, WebhookSource } from './webhooks.js';

/** The job's webhook from its options, or `null` when it has none (or not in this shape). */
function webhookOf(options: Readonly<Record<string, unknown>>): JobWebhook | null {
  const webhook = options.webhook;
  if (typeof webhook !== 'object' || webhook === null) return null;
  const api = (webhook as { api?: unknown }).api;
  return api === 'reacher' || api === 'rcpt' ? (webhook as JobWebhook) : null;
}

export function createWebhookSource(
  jobs: JobsBackend,
  server: ServerSmtpSettings,
  backendName: string,
): WebhookSource {
  return {
    claim: (now, leaseMs, limit) => jobs.claimWebhooks(now, leaseMs, limit),
    settle: (id, outcome) => jobs.settleWebhook(id, outcome),
    async prepare(delivery: WebhookDelivery) {
      // The end event is sent once the job has ended: read it from the store, not from a view cached a
      // moment before it ended (which would say it is still running).
      const job = await jobs.get(delivery.jobId, { fresh: delivery.event === 'end' });
      const webhook = job === null ? null : webhookOf(job.options);
      if (job === null || webhook === null) return null;
      const target = delivery.event === 'end' ? webhook.end : webhook.result;
      let body: unknown;
      if (webhook.api === 'reacher') {
        const jobId = await jobs.number(job.id);
        body =
          delivery.event === 'result' && delivery.result !== null
            ? {
                result: toReacherResponse(
                  delivery.result,
                  new Date(delivery.result.checkedAt),
                  serverEcho(server),
                  backendName,
                ),
                extra: target?.extra ?? null,
                job_id: jobId,
                event: 'result',
              }
            : { ...toReacherProgress(job, jobId), extra: target?.extra ?? null, event: 'end' };
      } else {
        body =
          delivery.event === 'result'
            ? { event: 'result', job: job.id, result: delivery.result }
            : { event: 'end', job: jobResponse(job) };
      }
      return { webhook, owner: job.owner, body };
    },
  };
}
