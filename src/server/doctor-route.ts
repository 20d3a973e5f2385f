/**
 * `GET /v1/doctor`: the `rcpt doctor` report over HTTP, for the operator only. The report names the
 * server's address, HELO and sender and what is wrong with them, which is nothing an API user should
 * read; and each run greets providers' MX hosts, so runs are shared and cached briefly rather than
 * repeated per request.
 */
import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';

import {
  DOCTOR_CHECK_IDS,
  parseProxyUrl,
  runDoctor,
  type DoctorOptions,
  type DoctorReport,
  type DoctorStatus,
  type VerifyOptions,
} from '../index.js';
import type { AppEnv } from './app-env.js';
import { LOCAL_OWNER, keyIdOf } from './auth.js';
import { HttpError } from './http-error.js';
import { ErrorSchema } from './schemas.js';

/** A report is reused this long: a dashboard polling every few seconds must not greet Gmail each time. */
export const DOCTOR_CACHE_MS = 60_000;

/** A way a server's verifications leave: through a proxy (its `socks5://` URL), or `null`, direct. */
export type DoctorRoute = string | null;

/**
 * Every way a server's verifications may leave, each once: the `proxy` pool's members, the
 * `proxyRoutes`' proxies, then direct when some mail goes direct (no pool, or a route `via: 'direct'`).
 */
export function doctorRoutes(verify: VerifyOptions): DoctorRoute[] {
  const pool =
    verify.proxy === undefined ? [] : typeof verify.proxy === 'string' ? [verify.proxy] : verify.proxy;
  const routes = verify.proxyRoutes ?? [];
  const isDirect = (via: string) => via.trim().toLowerCase() === 'direct';
  const routed = routes.flatMap((route) =>
    isDirect(route.via) ? [] : route.via.split(/[\s,]+/).filter(Boolean),
  );
  const direct = pool.length === 0 || routes.some((route) => isDirect(route.via));
  return [...new Set<DoctorRoute>([...pool, ...routed, ...(direct ? [null] : [])])];
}

/** A route as a report or a warning names it: the proxy's URL without its password, or `null`. */
export function routeName(route: DoctorRoute): string | null {
  if (route === null) return null;
  const parsed = parseProxyUrl(route);
  return parsed.ok ? parsed.endpoint.name : route.replace(/^([^:]*:\/\/[^:@/]*):[^@/]*@/, '$1:***@');
}

/** One doctor run's options for `route`: through its proxy, or without one. */
export function doctorOptionsThrough(options: DoctorOptions, route: DoctorRoute): DoctorOptions {
  const rest: { -readonly [K in keyof DoctorOptions]: DoctorOptions[K] } = { ...options };
  delete rest.proxy;
  return route === null ? rest : { ...rest, proxy: route };
}

/** The report of every route: each route's checks (each naming its route), statuses and counts summed. */
export interface RoutesDoctorReport extends Omit<DoctorReport, 'checks'> {
  readonly checks: readonly (DoctorReport['checks'][number] & { readonly through: string | null })[];
  readonly routes: readonly {
    readonly through: string | null;
    readonly status: DoctorStatus;
    readonly ok: boolean;
    readonly sourceIp: string | null;
    readonly sourceIpOrigin: DoctorReport['sourceIpOrigin'];
    readonly counts: DoctorReport['counts'];
  }[];
}

const RANK: Readonly<Record<DoctorStatus, number>> = { pass: 0, warn: 1, fail: 2 };

/**
 * Runs the doctor through every route at once (each has its own egress address, credentials and port
 * 25) and joins the reports: `status`, `ok` and `counts` over all of them; the address, HELO and
 * MAIL FROM of the first route.
 */
export async function runDoctorRoutes(
  options: DoctorOptions,
  routes: readonly DoctorRoute[],
): Promise<RoutesDoctorReport> {
  const started = Date.now();
  const list = routes.length === 0 ? [null] : routes;
  const reports = await Promise.all(
    list.map(async (route) => ({
      through: routeName(route),
      report: await runDoctor(doctorOptionsThrough(options, route)),
    })),
  );
  const first = reports[0]?.report;
  if (first === undefined) throw new Error('no doctor route');
  const status = reports
    .map(({ report }) => report.status)
    .reduce<DoctorStatus>((worst, next) => (RANK[next] > RANK[worst] ? next : worst), 'pass');
  const counts = { pass: 0, warn: 0, fail: 0 };
  for (const { report } of reports) {
    counts.pass += report.counts.pass;
    counts.warn += report.counts.warn;
    counts.fail += report.counts.fail;
  }
  return {
    ...first,
    status,
    ok: reports.every(({ report }) => report.ok),
    checks: reports.flatMap(({ through, report }) => report.checks.map((check) => ({ ...check, through }))),
    counts,
    routes: reports.map(({ through, report }) => ({
      through,
      status: report.status,
      ok: report.ok,
      sourceIp: report.sourceIp,
      sourceIpOrigin: report.sourceIpOrigin,
      counts: report.counts,
    })),
    durationMs: Date.now() - started,
  };
}

export interface DoctorRouteDeps {
  /** Options of the checks: the server's own HELO, MAIL FROM, DNS servers. */
  readonly options: DoctorOptions;
  /** The ways its verifications leave, each checked. Default: `options.proxy`, or direct. */
  readonly routes?: readonly DoctorRoute[];
  /**
   * API keys allowed to read the report. A server without API keys listens on loopback only and its
   * local caller is the operator; with keys, only these may (none configured: nobody may).
   */
  readonly operatorKeys: readonly string[];
}

const StatusSchema = z.enum(['pass', 'warn', 'fail']);
const CountsSchema = z.object({ pass: z.number().int(), warn: z.number().int(), fail: z.number().int() });

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
        through: z
          .string()
          .nullable()
          .openapi({ description: 'The proxy this check went through (no password), `null`: direct' }),
      }),
    ),
    counts: CountsSchema,
    routes: z
      .array(
        z.object({
          through: z.string().nullable(),
          status: StatusSchema,
          ok: z.boolean(),
          sourceIp: z.string().nullable(),
          sourceIpOrigin: z.string().nullable(),
          counts: CountsSchema,
        }),
      )
      .openapi({
        description:
          'One entry per way verifications leave: each configured proxy, and direct when some mail goes direct',
      }),
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
      'Runs the checks of `rcpt doctor` (port 25, reverse DNS, HELO, MAIL FROM and SPF, DNS blocklists) through every configured proxy, and directly when some mail goes direct, and answers one report: `status`, `ok` and `counts` over every route, each check naming its route in `through`. A report is reused for 60 s. 200 even when checks fail: read `status`.',
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
  const routes = deps.routes ?? [deps.options.proxy ?? null];
  let cached: { readonly report: Promise<RoutesDoctorReport>; readonly at: number } | null = null;

  const report = (): Promise<RoutesDoctorReport> => {
    const now = Date.now();
    if (cached !== null && now - cached.at < DOCTOR_CACHE_MS) return cached.report;
    const running = runDoctorRoutes(deps.options, routes);
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
      routes: found.routes.map((route) => ({ ...route, counts: { ...route.counts } })),
    };
    return c.json(body, 200);
  });
}
