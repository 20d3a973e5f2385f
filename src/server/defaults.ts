/**
 * Where `rcpt serve` listens unless told otherwise (docs/api.md). Apart from server.ts so that the
 * CLI can print them in `--help` without loading the HTTP stack.
 */
export const DEFAULT_PORT = 8025;
export const DEFAULT_HOST = '127.0.0.1';
