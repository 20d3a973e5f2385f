/**
 * `rcpt/server` (package.json `exports`; docs/library.md, docs/api.md): the HTTP API of `rcpt serve`.
 * `startServer()` runs it on a socket with its verifier, job store, metrics, logs and webhooks, and
 * `close()` stops everything in order. Loads Hono, @hono/node-server and the job store; the main entry
 * `rcpt` loads none of them.
 */
export { startServer, DEFAULT_HOST, DEFAULT_PORT, type RunningServer, type ServerOptions } from './server.js';
