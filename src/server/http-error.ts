/**
 * Every error the API answers with, and the one place they become responses (`app.onError`, the hono
 * model): a stable machine `error` code, a message for people, and the HTTP status. Malformed input is
 * always a 4xx; a 5xx means rcpt itself failed (507 `storage_full`: the job store has no space left).
 */
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

/** A JSON value's kind as the API's messages name it: `a number`, `an array`, `null`. */
function kindOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  const type = typeof value;
  return type === 'object' ? 'an object' : `a ${type}`;
}

/** What a schema expected, with its article: `a string`, `an object`, `an integer`. */
const expectedOf = (expected: string) => `${/^[aeiou]/.test(expected) ? 'an' : 'a'} ${expected}`;

/** The part of a validation issue the API's message reads: where, what kind was expected, the text. */
export interface SchemaIssue {
  readonly code: string;
  readonly path: readonly PropertyKey[];
  readonly message: string;
  readonly expected?: unknown;
}

/**
 * The 400's message for a JSON body a route's schema refuses, in the API's own words (`"email" is a
 * number, not a string`, as the job list's reader says `"emails"[1] is a number, not a string`), not
 * the validator's (`The request does not match the schema`, then `Invalid input: expected string,
 * received number` in the details). `body` is the body as parsed, to name what was sent.
 */
export function schemaMessage(issues: readonly SchemaIssue[], body: unknown): string {
  return issues
    .map((issue) => {
      const where =
        issue.path.length === 0
          ? 'the body'
          : issue.path
              .map((key, index) =>
                typeof key === 'number' ? `[${key}]` : `${index === 0 ? '' : '.'}"${String(key)}"`,
              )
              .join('');
      if (issue.code !== 'invalid_type' || typeof issue.expected !== 'string') {
        return `${where}: ${issue.message}`;
      }
      let value: unknown = body;
      for (const key of issue.path) {
        value =
          typeof value === 'object' && value !== null
            ? (value as Record<PropertyKey, unknown>)[key]
            : undefined;
      }
      const expected = expectedOf(issue.expected);
      return value === undefined
        ? `${where} is missing: it must be ${expected}`
        : `${where} is ${kindOf(value)}, not ${expected}`;
    })
    .join('; ');
}

/** Machine codes of API errors, listed once. */
export const API_ERROR_CODES = [
  'bad_request',
  'unauthorized',
  'forbidden',
  'not_found',
  'method_not_allowed',
  'misdirected_request',
  'conflict',
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
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  409: 'conflict',
  413: 'payload_too_large',
  421: 'misdirected_request',
  415: 'unsupported_media_type',
  429: 'rate_limited',
  503: 'unavailable',
  507: 'storage_full',
};

/** The machine code of an error answered with `status` when nothing more precise is known. */
export function apiErrorCodeOf(status: number): ApiErrorCode {
  return STATUS_CODES[status] ?? (status >= 500 ? 'internal' : 'bad_request');
}

/**
 * The body of an error on Reacher's routes, as Reacher's backend writes it: the message in `error`
 * (its `ReacherResponseError`), with rcpt's machine code beside it in `code`.
 */
export interface ReacherErrorBody {
  readonly error: string;
  readonly code: ApiErrorCode;
}

/**
 * Answers one error as JSON; anything that is not an `HttpError` or hono's own becomes a 500.
 * `style: 'reacher'` writes Reacher's body (`ReacherErrorBody`) for its routes.
 */
export function errorResponse(
  error: unknown,
  c: Context,
  onInternal: (error: unknown) => void,
  style: 'rcpt' | 'reacher' = 'rcpt',
): Response {
  let status: ContentfulStatusCode = 500;
  let code: ApiErrorCode = 'internal';
  let message = 'Internal server error';
  let headers: Readonly<Record<string, string>> = {};
  let details: ApiErrorBody['details'];
  if (error instanceof HttpError) {
    ({ status, code, message, headers, details } = error);
  } else if (error instanceof HTTPException) {
    // hono's validators throw these for malformed JSON (400) and unsupported media types (415).
    status = error.status;
    code = apiErrorCodeOf(status);
    message = error.message || 'Bad request';
    if (status >= 500) onInternal(error);
  } else {
    onInternal(error);
  }
  // Reacher's body has no details: the message says what a schema refused (`schemaMessage()`).
  if (style === 'reacher')
    return c.json({ error: message, code } satisfies ReacherErrorBody, status, headers);
  const body: ApiErrorBody = { error: code, message, ...(details === undefined ? {} : { details }) };
  return c.json(body, status, headers);
}
