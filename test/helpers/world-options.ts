/**
 * The verify options of the tests that run against the demo world (src/demo/world.ts): the world's
 * own (`demoVerifyOptions()`, as `rcpt demo` uses them) with the test's HELO name, a 1 s connect
 * timeout, a 10 s deadline, and no greylisting wait, so a greylisted address ends at once as
 * `unknown/greylisted` instead of being retried.
 */
import { demoVerifyOptions, type DemoWorld } from '../../src/demo/world.js';
import type { VerifyOptions } from '../../src/index.js';

export function worldOptions(world: Pick<DemoWorld, 'dnsServer' | 'smtpPort'>): VerifyOptions {
  return {
    ...demoVerifyOptions(world),
    helo: 'probe.rcpt.test',
    timeoutMs: 10_000,
    connectTimeoutMs: 1_000,
    greylistWaitMs: 0,
  };
}

/**
 * The verify options that point a verifier at a loopback world (its DNS server and SMTP port, loopback
 * targets allowed, the tests' HELO name and sender). Tests add what they need (timeouts, …).
 */
export function loopbackOptions(world: {
  readonly dnsServer: string;
  readonly smtpPort: number;
}): VerifyOptions {
  return {
    dnsServers: [world.dnsServer],
    smtpPort: world.smtpPort,
    allowPrivateTargets: true,
    helo: 'probe.rcpt.test',
    mailFrom: 'verify@rcpt.test',
  };
}

/**
 * The same for the CLI: the flags that point `rcpt` at a loopback world (its DNS server and SMTP port,
 * loopback targets allowed, the tests' HELO name). Tests add what they need (`--greylist-wait 0`, …).
 */
export function loopbackFlags(world: { readonly dnsServer: string; readonly smtpPort: number }): string[] {
  return [
    '--dns-server',
    world.dnsServer,
    '--smtp-port',
    String(world.smtpPort),
    '--allow-private-targets',
    '--helo',
    'probe.rcpt.test',
  ];
}
