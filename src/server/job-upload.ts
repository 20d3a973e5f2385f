/**
 * A job upload becomes a job, the one way for rcpt's `POST /v1/jobs` (a JSON list, a CSV or a text
 * list) and Reacher's `POST /v1/bulk` (its JSON `input`): the body is read as it streams, to its end,
 * into an unlinked spool file (upload-spool.ts), and the job is created only once the whole upload is
 * within every limit (the upload size, counted by body-limit.ts; the address count; for JSON those of
 * json-job-list.ts). A refused or malformed upload therefore writes nothing to the job store and costs
 * a chunk or two of memory, whatever its size; an accepted one is read back from the spool into the
 * store, each of the spool's segments freed once read. Also here: what both routes answer the same way
 * (no job store, a full one, a refused input, a webhook with no key to sign it).
 */
import { tmpdir } from 'node:os';

import type { z } from '@hono/zod-openapi';

import {
  addressColumnNote,
  InputError,
  LIST_LAYOUT,
  openInput,
  type InputLayout,
  type OpenedInput,
} from '../jobs/index.js';
import type { Limits } from './app-env.js';
import { HttpError, schemaMessage } from './http-error.js';
import {
  JobInputError,
  JobStoreFullError,
  type JobInput,
  type JobUploadKind,
  type JobView,
  type JobsBackend,
} from './jobs-port.js';
import { readJsonJobList, type JsonJobFields, type JsonListShape } from './json-job-list.js';
import type { Logger } from './logger.js';
import { SpoolFullError, UploadSpool } from './upload-spool.js';

/** What an upload's address column may be called (a few of the names read-input.ts accepts). */
const API_ADDRESS_COLUMNS = 'email, e-mail, address or mail';

/** A JSON media type (`application/json`, `application/…+json`). */
export function isJsonType(type: string): boolean {
  return type === 'application/json' || type.endsWith('+json');
}

/** The kind of upload a media type is; `null` for one not taken. */
function uploadKindOf(type: string, jsonOnly: boolean): JobUploadKind | null {
  if (isJsonType(type)) return 'list';
  if (jsonOnly) return null;
  if (type === 'text/csv') return 'csv';
  if (type === 'text/plain') return 'text';
  return null;
}

/**
 * What a `415` says to an upload of another type: the type sent, and how to send the list instead.
 * curl's `--data-binary @list.csv` without a type sends `application/x-www-form-urlencoded`, and `-F`
 * (a browser form) `multipart/form-data`: the file itself, typed, is what is read.
 */
function unsupportedUpload(upload: Upload): string {
  const sent = upload.mediaType === '' ? 'no Content-Type' : upload.mediaType;
  const form = upload.mediaType === 'multipart/form-data' ? '; a form upload (curl -F) is not read' : '';
  if (upload.jsonOnly) {
    return `Unsupported Media Type (${sent}): send the body as application/json, and say so in Content-Type (curl -H 'content-type: application/json')${form}`;
  }
  return `Unsupported Media Type (${sent}): send the list itself as the body, as text/csv, text/plain or application/json, and say so in Content-Type (curl --data-binary @list.csv -H 'content-type: text/csv')${form}`;
}

/** The job backend, or 503 when the server runs without a job store. */
export function jobsBackendOf(jobs: JobsBackend | null): JobsBackend {
  if (jobs === null) throw new HttpError(503, 'unavailable', 'This server runs without a job store');
  return jobs;
}

/**
 * A refused input (400, or 413 over a limit) or no space left for the job (507: the job store full, or
 * the spool an upload waits in) as the API answers them.
 */
export function jobErrorResponse(error: unknown): unknown {
  if (error instanceof JobInputError) {
    return new HttpError(
      error.tooLarge ? 413 : 400,
      error.tooLarge ? 'payload_too_large' : 'bad_request',
      error.message,
    );
  }
  if (error instanceof JobStoreFullError || error instanceof SpoolFullError)
    return new HttpError(507, 'storage_full', error.message);
  return error;
}

/** Webhook calls are signed with the caller's key (or the server's secret): refused without one. */
export function requireSigningKey(canSignWebhooks: (owner: string) => boolean, owner: string): void {
  if (!canSignWebhooks(owner)) {
    throw new HttpError(
      400,
      'bad_request',
      'webhook: this server has no API keys, so no key to sign webhook calls with: set RCPT_WEBHOOK_SECRET',
    );
  }
}

/**
 * The fields beside a JSON list (json-job-list.ts keeps them whole) checked against `schema`, the 400
 * worded as the app's schema check words it (app.ts).
 */
export function checkUploadFields<T>(schema: z.ZodType<T>, given: JsonJobFields): T {
  const fields = schema.safeParse(given);
  if (fields.success) return fields.data;
  const details = fields.error.issues.map((issue) => ({
    path: issue.path.map(String).join('.') || '(body)',
    message: issue.message,
  }));
  throw new HttpError(400, 'bad_request', schemaMessage(fields.error.issues, given), {}, details);
}

/** A list of addresses as a job's input (a plain list, one row per address, in order). */
export function listInput(emails: Iterable<string> | AsyncIterable<string>): JobInput {
  return {
    kind: 'list',
    layout: LIST_LAYOUT,
    rows: (async function* () {
      let row = 0;
      for await (const email of emails) {
        row += 1;
        yield { row, line: row, input: email.trim(), fields: null, error: null };
      }
    })(),
  };
}

/**
 * The body as chunks, or `null` when it has no byte at all (an empty upload is refused, not stored as
 * a job of no rows). Reads the first chunk to know.
 */
async function nonEmpty(body: ReadableStream<Uint8Array> | null): Promise<AsyncIterable<Uint8Array> | null> {
  if (body === null) return null;
  const reader = body.getReader();
  let first = await reader.read();
  while (!first.done && first.value.byteLength === 0) first = await reader.read();
  if (first.done) return null;
  const head = first.value;
  return (async function* () {
    let finished = false;
    try {
      yield head;
      for (;;) {
        const next = await reader.read();
        if (next.done) break;
        yield next.value;
      }
      finished = true;
    } finally {
      // A reader that stopped early (a refused upload) leaves the rest of the body unread.
      if (!finished) await reader.cancel().catch(() => undefined);
    }
  })();
}

const tooMany = (maxAddresses: number) =>
  new HttpError(413, 'payload_too_large', `At most ${maxAddresses} addresses per job`);

/** A JSON list into `spool`: its addresses as the rows of a plain list; the fields beside it returned. */
async function spoolJsonList(
  body: AsyncIterable<Uint8Array>,
  spool: UploadSpool,
  maxAddresses: number,
  shape: JsonListShape,
): Promise<JsonJobFields> {
  const list = await readJsonJobList(body, {
    maxAddresses,
    shape,
    onAddresses: async (addresses) => {
      for (const address of addresses) {
        const row = spool.rows + 1;
        spool.push({ row, line: row, input: address.trim(), fields: null, error: null });
      }
      await spool.flush();
    },
  });
  return list.fields;
}

/**
 * A CSV or text upload into `spool`, read as `rcpt bulk` reads a file (src/jobs/read-input.ts): its
 * layout, and what the job tells its user about the file (a CSV not in UTF-8), as `rcpt bulk` does.
 */
async function spoolRows(
  body: AsyncIterable<Uint8Array>,
  spool: UploadSpool,
  maxAddresses: number,
  charset: string | undefined,
): Promise<{ layout: InputLayout; warnings: string[] }> {
  let opened: OpenedInput;
  try {
    opened = await openInput(body, charset === undefined ? {} : { encoding: charset });
    for await (const row of opened.rows) {
      if (row.row > maxAddresses) throw tooMany(maxAddresses);
      if (spool.push(row)) await spool.flush();
    }
  } catch (error) {
    if (!(error instanceof InputError)) throw error;
    // The API has no --column: the column is found by its name.
    const hint = error.noAddressColumn ? `; name the address column ${API_ADDRESS_COLUMNS}` : '';
    throw new HttpError(400, 'bad_request', `${error.message}${hint}`);
  }
  if (spool.rows === 0) throw new HttpError(400, 'bad_request', 'the upload has no rows with an address');
  const warnings = opened.notUtf8 === null ? [] : [opened.notUtf8.message];
  // The API has no --column: the first of the names read-input.ts looks for wins.
  if (opened.otherAddressColumns.length > 0) {
    const note = addressColumnNote(opened.layout, opened.otherAddressColumns);
    warnings.push(`${note}: to verify another, name that column "email" in the upload`);
  }
  return { layout: opened.layout, warnings };
}

export interface UploadDeps {
  readonly jobs: JobsBackend | null;
  readonly limits: Limits;
  /** Where an upload waits while its body arrives. Default: the system's temporary directory. */
  readonly spoolDirectory?: string;
  /** Where a spool with no space left is told to the operator, with the system's error. */
  readonly logger?: Logger;
}

export interface Upload {
  readonly owner: string;
  readonly body: ReadableStream<Uint8Array> | null;
  /** The request's media type (lower case, no parameters). */
  readonly mediaType: string;
  /** Its `charset` parameter: a CSV or text upload is read in it (JSON is UTF-8, RFC 8259 §8.1). */
  readonly charset?: string | undefined;
  /** Only JSON is taken (Reacher's bulk list); else CSV and text too. */
  readonly jsonOnly: boolean;
  /** Where a JSON body keeps its list and the fields that matter beside it. */
  readonly shape: JsonListShape;
  /**
   * Checks the fields beside a JSON list (`{}` for a CSV or text upload) once the whole upload is
   * within the limits, and returns what the job keeps with its options (its webhook, its API).
   */
  readonly extraOf: (fields: JsonJobFields) => Promise<Readonly<Record<string, unknown>>>;
}

/**
 * Reads `upload` to its end into a spool, then creates its job from the spool; any refusal is the
 * `HttpError` to answer (415, 400, 413, 507) and leaves nothing in the job store, nor in the spool.
 */
export async function createUploadedJob(deps: UploadDeps, upload: Upload): Promise<JobView> {
  const jobs = jobsBackendOf(deps.jobs);
  const kind = uploadKindOf(upload.mediaType, upload.jsonOnly);
  if (kind === null) throw new HttpError(415, 'unsupported_media_type', unsupportedUpload(upload));
  const body = await nonEmpty(upload.body);
  if (body === null) throw new HttpError(400, 'bad_request', 'The body is empty');
  const maxAddresses = deps.limits.maxJobAddresses;
  // No space for the spool: told to the operator with the system's error, answered 507.
  const refusal = (error: unknown): unknown => {
    if (error instanceof SpoolFullError)
      deps.logger?.error({ err: error.cause }, 'upload spool full: the upload was refused');
    return jobErrorResponse(error);
  };
  const spool = await UploadSpool.open(deps.spoolDirectory ?? tmpdir()).catch((error: unknown) => {
    throw refusal(error);
  });
  try {
    let read = { layout: LIST_LAYOUT, warnings: [] as string[] };
    let fields: JsonJobFields = {};
    if (kind === 'list') fields = await spoolJsonList(body, spool, maxAddresses, upload.shape);
    else read = await spoolRows(body, spool, maxAddresses, upload.charset);
    const extra = await upload.extraOf(fields);
    const input = { kind, layout: read.layout, rows: spool.read(), warnings: read.warnings };
    return await jobs.create(upload.owner, input, { maxAddresses, extra });
  } catch (error) {
    throw refusal(error);
  } finally {
    await spool.close();
  }
}
