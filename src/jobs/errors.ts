/**
 * The jobs' errors (docs/library.md "Errors"), each a `VerifyError` with its code, so that one
 * `isVerifyError()` or `instanceof VerifyError` catches what rcpt throws, jobs included.
 */
import { VerifyError } from '../errors.js';

/** Bad input that stops the read (no address column, unknown `--column`, binary data): not a row-level problem. */
export class InputError extends VerifyError {
  override readonly name = 'InputError';
  /**
   * True when no header names the address column: the caller says how to name it (the CLI's
   * `--column`, the API's column names), since the way differs.
   */
  readonly noAddressColumn: boolean;

  constructor(message: string, noAddressColumn = false, options?: { cause?: unknown }) {
    super('ERR_RCPT_INPUT', message, options);
    this.noAddressColumn = noAddressColumn;
  }
}

/** More rows than the ingest's `maxRows`. */
export class InputTooLargeError extends VerifyError {
  override readonly name = 'InputTooLargeError';
  readonly maxRows: number;

  constructor(maxRows: number, options?: { cause?: unknown }) {
    super('ERR_RCPT_INPUT_TOO_LARGE', `more than ${maxRows} rows`, options);
    this.maxRows = maxRows;
  }
}

/**
 * Why a job could not be run or followed: `not_found` (no such job), `not_ingested` (its input is not
 * completely stored), `deleted` (deleted while it ran), `interrupted` (a worker stopped planning it).
 */
export type JobErrorKind = 'not_found' | 'not_ingested' | 'deleted' | 'interrupted';

/** A job that cannot be used for what was asked; `jobId` names it. */
export class JobError extends VerifyError {
  override readonly name = 'JobError';
  readonly kind: JobErrorKind;
  readonly jobId: string;

  constructor(kind: JobErrorKind, jobId: string, message: string, options?: { cause?: unknown }) {
    super('ERR_RCPT_JOB', message, options);
    this.kind = kind;
    this.jobId = jobId;
  }
}

/** The job store cannot serve: its schema is newer than this rcpt, its queue not started, a write failed. */
export class JobStoreError extends VerifyError {
  override readonly name = 'JobStoreError';

  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_RCPT_JOB_STORE', message, options);
  }
}

/** `no job ID`: the error of a store asked for a job it does not hold. */
export function noSuchJob(jobId: string): JobError {
  return new JobError('not_found', jobId, `no job ${jobId}`);
}
