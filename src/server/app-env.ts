/**
 * The types the app (app.ts) and its route modules share: the Hono environment of every request and
 * the size limits. Their own module, so that a route module never imports app.ts, which imports it.
 */

export interface AppEnv {
  Variables: {
    /** Who is calling: the key id, or `local` when the server runs without keys. */
    owner: string;
  };
}

/** Size limits; each has a default in app.ts (`DEFAULT_MAX_BODY_BYTES`, …). */
export interface Limits {
  /** Largest body accepted by `/v1/verify`, `/v0/check_email` and `/v1/explain`, in bytes. Default 64 KiB. */
  readonly maxBodyBytes: number;
  /** Most addresses in one synchronous `/v1/verify` request. Default 10. */
  readonly maxSyncAddresses: number;
  /** Longest a synchronous request waits for its verifications, in milliseconds. Default 90000. */
  readonly syncDeadlineMs: number;
  /** Largest job upload (JSON, CSV or text), in bytes. Default 50 MiB. */
  readonly maxUploadBytes: number;
  /** Most addresses in one job. Default 1000000. */
  readonly maxJobAddresses: number;
  /** Most event streams (`GET /v1/jobs/{id}/events`) one key holds open at once. Default 20. */
  readonly maxEventStreams: number;
}
