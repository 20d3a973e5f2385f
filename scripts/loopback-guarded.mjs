#!/usr/bin/env node
// Runs a command under the loopback guard (scripts/loopback-guard.cjs, docs/reliability.md): every Node.js
// process it starts, and every process and worker thread those start, preloads the guard through
// NODE_OPTIONS. A TCP connect or UDP send to an address outside 127.0.0.0/8 and ::1, or a name lookup
// through the system resolver, fails with EACCES and is written to a report file; when anything is in that
// file the run fails, listing what was refused, whatever the command's own exit status (the code under
// test may have taken the refusal for an unreachable host and passed). scripts/run-tests.mjs runs the test
// suites through it, package.json's bench:* and fuzz scripts their files, .ci/run the walkthrough.
// Usage: node scripts/loopback-guarded.mjs COMMAND [ARGS...]
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const GUARD = fileURLToPath(new URL('./loopback-guard.cjs', import.meta.url));

/**
 * Runs `command args` with standard streams inherited, with `env` added to this process's environment;
 * returns the exit status to use.
 */
export function runGuarded(command, args, env = {}) {
  const reportDir = mkdtempSync(join(tmpdir(), 'rcpt-net-guard-'));
  const report = join(reportDir, 'refused.txt');
  const nodeOptions = [process.env.NODE_OPTIONS ?? '', `--require="${GUARD}"`].join(' ').trim();
  const result = spawnSync(command, args, {
    stdio: 'inherit',
    env: { ...process.env, ...env, NODE_OPTIONS: nodeOptions, RCPT_NET_GUARD_REPORT: report },
  });
  const refused = existsSync(report) ? readFileSync(report, 'utf8').trim() : '';
  rmSync(reportDir, { recursive: true, force: true });
  if (result.error !== undefined) console.error(`loopback-guarded: ${command}: ${result.error.message}`);
  if (refused !== '') {
    const lines = [...new Set(refused.split('\n'))];
    const shown = lines.slice(0, 50).concat(lines.length > 50 ? [`… and ${lines.length - 50} more`] : []);
    console.error(
      `loopback guard: refused ${lines.length} connection(s) or name lookup(s) off loopback (tests talk only to 127.0.0.0/8 and ::1):\n  ${shown.join('\n  ')}`,
    );
    return 1;
  }
  return result.status ?? 1;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const [command, ...args] = process.argv.slice(2);
  if (command === undefined) {
    console.error('usage: node scripts/loopback-guarded.mjs COMMAND [ARGS...]');
    process.exit(64);
  }
  process.exit(runGuarded(command, args));
}
