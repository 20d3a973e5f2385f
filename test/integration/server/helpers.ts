/** Shared set-up of the server tests: the demo world, a verifier on it, and log capture. */
import { Writable } from 'node:stream';

import { createVerifier, type Verifier, type VerifyOptions } from '../../../src/index.js';
import { startDemoWorld, type DemoWorld } from '../../../src/demo/world.js';
import { createLogger, type Logger } from '../../../src/server/logger.js';
import { worldOptions } from '../../helpers/world-options.js';

export const KEY_A = 'key-a-0123456789abcdef';
export const KEY_B = 'key-b-fedcba9876543210';

export interface World {
  readonly world: DemoWorld;
  readonly options: VerifyOptions;
  verifier(): Verifier;
  close(): Promise<void>;
}

/** The demo world and verifiers on it (closed by `close()`). */
export async function startWorld(): Promise<World> {
  const world = await startDemoWorld();
  const options: VerifyOptions = worldOptions(world);
  const verifiers: Verifier[] = [];
  return {
    world,
    options,
    verifier() {
      const verifier = createVerifier(options);
      verifiers.push(verifier);
      return verifier;
    },
    async close() {
      await Promise.all(verifiers.map((verifier) => verifier.close()));
      await world.close();
    },
  };
}

/** A logger whose JSON lines are kept in memory. */
export function capturedLogger(): { logger: Logger; lines: () => string[] } {
  const chunks: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk.toString());
      callback();
    },
  });
  const logger = createLogger({ level: 'info', destination: sink });
  return { logger, lines: () => chunks.join('').split('\n').filter(Boolean) };
}

export function bearer(key: string, extra: Record<string, string> = {}): Record<string, string> {
  return { authorization: `Bearer ${key}`, ...extra };
}

export const JSON_TYPE = { 'content-type': 'application/json' } as const;
