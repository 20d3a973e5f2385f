/**
 * `rcpt demo`: the first thing a newcomer runs. Starts the simulated world (src/demo/world.ts) on
 * loopback and verifies a sample list against it with the real verifier: real DNS packets, real SMTP.
 */
import { DEMO_ADDRESSES, DEMO_GREYLIST_WINDOW_MS, startDemoWorld } from '../demo/world.js';
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
      {
        dnsServers: [world.dnsServer],
        smtpPort: world.smtpPort,
        allowPrivateTargets: true,
        helo: 'demo.rcpt.test',
        mailFrom: 'verify@rcpt.test',
        timeoutMs: 15_000,
        connectTimeoutMs: 2_000,
        // Wait out the demo greylister's short window once, as a real run waits out postgrey's 5 minutes.
        greylistWaitMs: DEMO_GREYLIST_WINDOW_MS + 500,
        transcript: flags.transcript,
      },
      DEMO_ADDRESSES.length,
    );
    printResults(results, flags.json, io);
    if (!flags.json) {
      io.stdout.write(
        '\nNext: `npx rcpt verify --help`; real verification needs outbound port 25, --helo and --mail-from (README).\n',
      );
    }
  } finally {
    await world.close();
  }
}
