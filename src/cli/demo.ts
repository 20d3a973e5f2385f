/**
 * `rcpt demo`: the first thing a newcomer runs. Starts the simulated world (src/demo/world.ts) on
 * loopback and verifies a sample list against it with the real verifier: real DNS packets, real SMTP.
 */
import { once } from 'node:events';

import { DEMO_ADDRESSES, demoVerifyOptions, startDemoWorld } from '../demo/world.js';
import { printResults, verifyAll, type CliIo } from './run-verify.js';

export interface DemoFlags {
  readonly json: boolean;
  readonly transcript: boolean;
  readonly colour: boolean;
}

export async function runDemo(io: CliIo, flags: DemoFlags): Promise<void> {
  const world = await startDemoWorld();
  try {
    if (!flags.json) {
      io.stdout.write(
        `Simulated mail world: DNS on ${world.dnsServer}, ${world.personas.length} SMTP servers on 127.0.0.2-${world.personas.length + 1} port ${world.smtpPort}.\n` +
          `Nothing leaves this machine. Verifying ${DEMO_ADDRESSES.length} sample addresses…\n\n`,
      );
    }
    const results = await verifyAll(
      DEMO_ADDRESSES,
      { ...demoVerifyOptions(world), transcript: flags.transcript },
      DEMO_ADDRESSES.length,
    );
    await printResults(results, flags.json ? 'ndjson' : 'table', io);
    if (!flags.json) {
      io.stdout.write(
        '\nNext: `npx rcpt verify --help`; real verification needs outbound port 25, --helo and --mail-from (README).\n',
      );
    }
  } finally {
    await world.close();
  }
}

/**
 * `rcpt demo --world`: starts the world and keeps it running until SIGINT or SIGTERM. The first line on
 * standard output is the flags that point `rcpt verify`, `bulk` and `serve` at it, so a script can read
 * them; the rest (on standard error) is for people.
 */
export async function runDemoWorld(io: CliIo, stop?: AbortSignal): Promise<void> {
  const world = await startDemoWorld();
  try {
    io.stdout.write(
      `--dns-server ${world.dnsServer} --smtp-port ${world.smtpPort} --allow-private-targets\n`,
    );
    io.stderr.write(
      `Simulated mail world running on loopback: DNS on ${world.dnsServer}, ${world.personas.length} SMTP servers on 127.0.0.2-${world.personas.length + 1} port ${world.smtpPort}.\n` +
        `Try: rcpt verify <the flags above> --helo demo.rcpt.test alice@acme.test nobody@acme.test\n` +
        `Its addresses are those of \`rcpt demo\`. Ctrl-C stops it.\n`,
    );
    const signals = new AbortController();
    const onSignal = () => {
      signals.abort();
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    try {
      const stopped = stop === undefined ? [signals.signal] : [signals.signal, stop];
      await once(AbortSignal.any(stopped), 'abort');
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    }
  } finally {
    await world.close();
  }
}
