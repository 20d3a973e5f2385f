/**
 * Reacher's API on rcpt (reacherhq/check-if-email-exists backend 0.11): `POST /v0/check_email` and
 * `POST /v1/check_email` with Reacher's request and response, its per-request settings checked
 * (reacher-settings.ts), and its error body (`{"error": "message"}`). docs/reacher.md is the
 * user-facing map of what answers what.
 */
import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';

import type { VerifyCallOptions, VerifyResult } from '../index.js';
import type { AppEnv } from './app.js';
import { HttpError } from './http-error.js';
import { toReacherResponse } from './reacher.js';
import {
  readReacherSettings,
  type ReacherSettingsPolicy,
  type ServerSmtpSettings,
} from './reacher-settings.js';
import { ReacherErrorBodySchema, ReacherRequestSchema, ReacherResponseSchema } from './schemas.js';

/** The paths answered in Reacher's manner (its error body included). */
const REACHER_PATHS = /^\/v[01]\/check_email$|^\/v1\/bulk(\/|$)/;

/** Whether a request path is one of Reacher's routes (errors there get Reacher's body). */
export function isReacherPath(path: string): boolean {
  return REACHER_PATHS.test(path);
}

export interface ReacherRoutesDeps {
  /** Verifies one address for the request (its deadline, its client's disconnect). */
  readonly verify: (
    c: Context<AppEnv>,
    address: string,
    call: Omit<VerifyCallOptions, 'signal'>,
  ) => Promise<VerifyResult>;
  /** Logs results as the other routes do. */
  readonly logResults: (owner: string, results: readonly VerifyResult[]) => void;
  readonly settings: ReacherSettingsPolicy;
  /** The server's own EHLO name, MAIL FROM, port and deadline, echoed when a request sets none. */
  readonly server: ServerSmtpSettings;
  /** The name in `debug.backend_name`. */
  readonly backendName: string;
}

/** Reacher's error responses, documented once. */
export const reacherErrors = {
  400: {
    description: 'Malformed request, or a setting that cannot be honoured',
    content: { 'application/json': { schema: ReacherErrorBodySchema } },
  },
  401: {
    description: 'Missing or unknown API key',
    content: { 'application/json': { schema: ReacherErrorBodySchema } },
  },
  403: {
    description: 'A setting the operator locked (rcpt serve --reacher-lock)',
    content: { 'application/json': { schema: ReacherErrorBodySchema } },
  },
  413: { description: 'Body too large', content: { 'application/json': { schema: ReacherErrorBodySchema } } },
  429: {
    description: 'Rate limited; see Retry-After',
    content: { 'application/json': { schema: ReacherErrorBodySchema } },
  },
} as const;

function checkEmailRoute(version: 'v0' | 'v1') {
  return createRoute({
    method: 'post',
    path: `/${version}/check_email`,
    summary:
      version === 'v0'
        ? 'Reacher-compatible check (v0, sunset by Reacher: use /v1/check_email)'
        : 'Reacher-compatible check (v1)',
    description:
      "Accepts Reacher's request body (per-request settings checked; see docs/reacher.md) and answers in Reacher's CheckEmailOutput, mapped from rcpt's result. The key may be sent as `Authorization: Bearer KEY`, `Authorization: KEY` or `x-reacher-secret: KEY`. Errors are Reacher's `{\"error\": message}` (with rcpt's `code`).",
    security: [{ bearer: [] }],
    request: {
      body: { content: { 'application/json': { schema: ReacherRequestSchema } }, required: true },
    },
    responses: {
      200: {
        description: "Reacher's CheckEmailOutput",
        content: { 'application/json': { schema: ReacherResponseSchema } },
      },
      ...reacherErrors,
    },
  });
}

/** `to_email`, required and not empty, as Reacher checks it. */
export function toEmailOf(body: Readonly<Record<string, unknown>>): string {
  const toEmail = body.to_email;
  if (toEmail !== undefined && typeof toEmail !== 'string') {
    throw new HttpError(400, 'bad_request', 'to_email must be a string.');
  }
  if (toEmail === undefined || toEmail === '') {
    throw new HttpError(400, 'bad_request', 'to_email field is required.');
  }
  return toEmail;
}

export function registerReacherRoutes(app: OpenAPIHono<AppEnv>, deps: ReacherRoutesDeps): void {
  for (const version of ['v0', 'v1'] as const) {
    app.openapi(checkEmailRoute(version), async (c) => {
      const body = c.req.valid('json') as Record<string, unknown>;
      const toEmail = toEmailOf(body);
      const settings = readReacherSettings(body, deps.settings, deps.server);
      const startedAt = new Date();
      const result = await deps.verify(c, toEmail, settings.call);
      deps.logResults(c.get('owner'), [result]);
      return c.json(toReacherResponse(result, startedAt, settings.echo, deps.backendName), 200);
    });
  }
}
