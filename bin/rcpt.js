#!/usr/bin/env node
// The `rcpt` command: a thin wrapper over the compiled CLI in dist/ (built by `npm install` / `npm ci`).
import { existsSync } from 'node:fs';

const main = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(main)) {
  console.error('rcpt: dist/ is missing; run `npm run build` first.');
  process.exit(1);
}
const { run } = await import(main.href);
process.exitCode = await run(process.argv);
