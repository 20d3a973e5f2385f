/**
 * rcpt: email address verification. The one entry point of the library.
 *
 * Deliberately not exported: the SMTP connection and reply parser, the DNS client, and the classifier
 * rules. They are internals whose shape may change; the result schema (DESIGN.md §2) does not.
 */
export * from './types.js';
export * from './errors.js';
export type { VerifyOptions } from './options.js';
export { CHANNELS } from './diagnostics.js';
