/**
 * Every error the API answers with, and the one place they become responses (`app.onError`, the hono
 * model): a stable machine `error` code, a message for people, and the HTTP status. Malformed input is
 * always a 4xx; a 5xx means rcpt itself failed (507 `storage_full`: the job store has no space left).
 */
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

/** Machine codes of API errors, listed once. */
export const API_ERROR_CODES = [
  'bad_request',
  'unauthorized',
  'not_found',
  'method_not_allowed',
  'payload_too_large',
  'unsupported_media_type',
  'rate_limited',
  'unavailable',
  'storage_full',
  'internal',
] as const;
export type ApiErrorCode = (typeof API_ERROR_CODES)[number];

/** The JSON body of every error response. */
export interface ApiErrorBody {
  readonly error: ApiErrorCode;
  readonly message: string;
  /** What was wrong with the input, when the input was validated field by field. */
  readonly details?: readonly { readonly path: string; readonly message: string }[];
}

/** An error with the response it should produce. Thrown by handlers and middleware. */
export class HttpError extends Error {
  override readonly name = 'HttpError';

  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: ApiErrorCode,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
    readonly details?: ApiErrorBody['details'],
  ) {
    super(message);
  }
}

const STATUS_CODES: Partial<Record<number, ApiErrorCode>> = {
  400: 'bad_request',
  401: 'unauthorized',
  404: 'not_found',
  405: 'method_not_allowed',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  429: 'rate_limited',
  503: 'unavailable',
  507: 'storage_full',
};

/** Answers one error as JSON; anything that is not an `HttpError` or hono's own becomes a 500. */
export function errorResponse(error: unknown, c: Context, onInternal: (error: unknown) => void): Response {
  if (error instanceof HttpError) {
    const body: ApiErrorBody = {
      error: error.code,
      message: error.message,
      ...(error.details === undefined ? {} : { details: error.details }),
    };
    return c.json(body, error.status, error.headers);
  }
  if (error instanceof HTTPException) {
    // hono's validators throw these for malformed JSON (400) and unsupported media types (415).
    const status = error.status;
    const code = STATUS_CODES[status] ?? (status >= 500 ? 'internal' : 'bad_request');
    if (status >= 500) onInternal(error);
    return c.json({ error: code, message: error.message || 'Bad request' } satisfies ApiErrorBody, status);
  }
  onInternal(error);
  return c.json({ error: 'internal', message: 'Internal server error' } satisfies ApiErrorBody, 500);
}
