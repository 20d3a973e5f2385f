#!/usr/bin/env node
// Runs node:test over the TypeScript test files under the given folders, or the given test files (Node
// 20's --test takes no globs).
// Usage: node scripts/run-tests.mjs test/unit test/integration/verify.test.ts [-- extra node --test flags]
import { readdirSync, statSync, existsSync } from 'node:fs';
import { join } from 'node:path';

import { runGuarded } from './loopback-guarded.mjs';

const args = process.argv.slice(2);
const split = args.indexOf('--');
const roots = split === -1 ? args : args.slice(0, split);
const extra = split === -1 ? [] : args.slice(split + 1);

function walk(dir) {
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const path = join(dir, name);
      return statSync(path).isDirectory() ? walk(path) : path.endsWith('.test.ts') ? [path] : [];
    });
}

const files = roots
  .filter((root) => existsSync(root))
  .flatMap((root) => (statSync(root).isDirectory() ? walk(root) : [root]));
if (files.length === 0) {
  console.error(`run-tests: no *.test.ts files under ${roots.join(', ')}`);
  process.exit(1);
}
const reporter = 'spec';
// A test that hangs fails after 5 minutes instead of holding CI for its whole budget; the longest test
// here (PostgreSQL crash safety, 20 kills) takes about a minute. A later --test-timeout in `extra` wins.
const timeout = '--test-timeout=300000';
// Under the loopback guard (scripts/loopback-guarded.mjs, docs/reliability.md): every test process, every
// process a test starts (whatever environment it passes) and every worker thread preloads
// scripts/loopback-guard.cjs. A TCP connect or UDP send to an address outside 127.0.0.0/8 and ::1, or a
// name lookup through the system resolver, fails with EACCES, and the run fails listing what was refused,
// even if every test passed.
process.exit(
  runGuarded(
    process.execPath,
    ['--import', 'tsx', '--test', `--test-reporter=${reporter}`, timeout, ...extra, ...files],
    // `rcpt serve` and `rcpt worker` check the machine over the real network when they start: never in
    // tests, whatever a test forgets to set (a test of that check passes its own environment).
    { RCPT_DOCTOR: process.env.RCPT_DOCTOR ?? '0' },
  ),
);
