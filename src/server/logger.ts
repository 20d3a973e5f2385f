/**
 * Structured logs (pino, JSON lines). By default nothing that identifies a person is written: no
 * addresses (unless the operator passes `--log-addresses`), and never a key: callers are named by key
 * id, and the `authorization` and `x-reacher-secret` headers are redacted should anything log them.
 */
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger } from 'pino';

export interface LoggerOptions {
  /** pino level: `fatal`, `error`, `warn`, `info`, `debug`, `trace`, `silent`. Default `info`. */
  readonly level?: string;
  /** Where lines go. Default: standard output. */
  readonly destination?: DestinationStream;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  return pino(
    {
      name: 'rcpt',
      level: options.level ?? 'info',
      redact: {
        paths: ['authorization', 'headers.authorization', '*.authorization', 'headers["x-reacher-secret"]'],
        censor: '[redacted]',
      },
      base: { pid: process.pid },
    },
    options.destination,
  );
}
