/**
 * `GET /v1/doctor`: the `rcpt doctor` report over HTTP, for the operator only. The report names the
 * server's address, HELO and sender and what is wrong with them, which is nothing an API user should
 * read; and each run greets providers' MX hosts, so runs are shared and cached briefly rather than
 * repeated per request.
 */
import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';

import { DOCTOR_CHECK_IDS, runDoctor, type DoctorOptions, type DoctorReport } from '../index.js';
import type { AppEnv } from './app-env.js';
import { LOCAL_OWNER, keyIdOf } from './auth.js';
import { HttpError } from './http-error.js';
import { ErrorSchema } from './schemas.js';

/** A report is reused this long: a dashboard polling every few seconds must not greet Gmail each time. */
export const DOCTOR_CACHE_MS = 60_000;

export interface DoctorRouteDeps {
  /** Options of the checks: the server's own HELO, MAIL FROM, DNS servers. */
  readonly options: DoctorOptions;
  /**
   * API keys allowed to read the report. A server without API keys listens on loopback only and its
   * local caller is the operator; with keys, only these may (none configured: nobody may).
   */
  readonly operatorKeys: readonly string[];
}

const StatusSchema = z.enum(['pass', 'warn', 'fail']);

const DoctorReportSchema = z
  .object({
    status: StatusSchema,
    ok: z.boolean(),
    sourceIp: z.string().nullable(),
    sourceIpOrigin: z.string().nullable(),
    helo: z.string(),
    heloOrigin: z.string(),
    mailFrom: z.string().openapi({ description: '`""` for the null reverse-path `<>`' }),
    checks: z.array(
      z.object({
        id: z.enum(DOCTOR_CHECK_IDS),
        subject: z.string().nullable(),
        status: StatusSchema,
        summary: z.string(),
        advice: z.string().nullable(),
        evidence: z.array(z.string()),
      }),
    ),
    counts: z.object({ pass: z.number().int(), warn: z.number().int(), fail: z.number().int() }),
    durationMs: z.number().int(),
    checkedAt: z.string(),
  })
  .openapi('DoctorReport');

function doctorRoute() {
  return createRoute({
    method: 'get',
    path: '/v1/doctor',
    summary: 'Can this server verify? (operator only)',
    description:
      'Runs the checks of `rcpt doctor` (port 25, reverse DNS, HELO, MAIL FROM and SPF, DNS blocklists) and answers the report; a report is reused for 60 s. 200 even when checks fail: read `status`.',
    security: [{ bearer: [] }],
    responses: {
      200: { description: 'The report', content: { 'application/json': { schema: DoctorReportSchema } } },
      401: {
        description: 'Missing key, or a key that is not an operator key',
        content: { 'application/json': { schema: ErrorSchema } },
      },
    },
  });
}

/** Adds `GET /v1/doctor`. The app's `/v1/*` middleware has already authenticated and charged the caller. */
export function registerDoctorRoute(app: OpenAPIHono<AppEnv>, deps: DoctorRouteDeps): void {
  const operators = new Set(deps.operatorKeys.map(keyIdOf));
  let cached: { readonly report: Promise<DoctorReport>; readonly at: number } | null = null;

  const report = (): Promise<DoctorReport> => {
    const now = Date.now();
    if (cached !== null && now - cached.at < DOCTOR_CACHE_MS) return cached.report;
    const running = runDoctor(deps.options);
    cached = { report: running, at: now };
    // A run that threw is not kept: the next request tries again.
    running.catch(() => {
      if (cached?.report === running) cached = null;
    });
    return running;
  };

  app.openapi(doctorRoute(), async (c) => {
    const owner = c.get('owner');
    if (owner !== LOCAL_OWNER && !operators.has(owner)) {
      throw new HttpError(
        401,
        'unauthorized',
        'GET /v1/doctor is for operator keys only (RCPT_OPERATOR_KEYS)',
      );
    }
    const found = await report();
    // The schema's arrays are mutable; the report's are readonly: copy them.
    const body: z.infer<typeof DoctorReportSchema> = {
      ...found,
      checks: found.checks.map((check) => ({ ...check, evidence: [...check.evidence] })),
      counts: { ...found.counts },
    };
    return c.json(body, 200);
  });
}
