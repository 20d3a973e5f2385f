#!/usr/bin/env node
// Enforces the dependency direction described in docs/architecture.md.
// Fails the build (exit 1) with one line per broken rule.
// Usage: node scripts/check-layers.mjs [dir]   (default: the repository's src/; test/unit/check-layers.test.ts
// gives it a tree that breaks each rule)
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative, dirname, resolve, sep } from 'node:path';

const root = resolve(dirname(new URL(import.meta.url).pathname), '..');
const src = process.argv[2] === undefined ? join(root, 'src') : resolve(process.argv[2]);

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : path.endsWith('.ts') ? [path] : [];
  });
}

const LEAVES = new Set(['errors.ts', 'types.ts', 'options.ts', 'diagnostics.ts']);
const PURE_DIRS = ['syntax', 'domain', 'classify', 'providers', 'explain', 'decide'];
const PURE_FILES = new Set([
  'option-keys.ts',
  'smtp/reply-parser.ts',
  'dns/target-filter.ts',
  'dns/answer.ts',
  'proxy/proxy-url.ts',
  'proxy/proxy-routes.ts',
]);
const APPS = ['cli', 'server', 'web', 'demo'];
/** The library's entries (package.json `exports`): `rcpt`, `rcpt/jobs`, `rcpt/jobs/postgres`. */
const ENTRIES = new Set(['index.ts', 'jobs/index.ts', 'jobs/postgres/index.ts']);
const IO_MODULES = /^node:(net|tls|dns|dgram|http|https|fs|child_process|timers)(\/|$)/;
/** The folders that talk to the network: the DNS client, the SMTP client, the SOCKS5 proxies. */
const IO_DIRS = ['dns', 'smtp', 'proxy'];
/**
 * The one module that wires them together: it builds the resolver, the proxy router and the prober
 * (which reaches a proxy through the `Connector` port of types.ts).
 */
const WIRING = 'verifier.ts';
/**
 * The files besides it that use one I/O module each, named with the one they may use: `rcpt doctor`
 * checks this machine's own DNS, port 25 and proxies, with questions and conversations no verification
 * makes (TXT, PTR and blocklist queries through the DNS client, a bare SmtpConnection to port 25, a
 * proxy pool of the one proxy checked), so going through verifier.ts would only move those probes
 * there. No other folder reaches them: the PostgreSQL worker plans with verifier.ts's
 * `createMailResolver()`, and the scheduler opens sessions through the factory verifier.ts hands it.
 */
const DOCTOR_IO = new Map([
  ['doctor/doctor-dns.ts', 'dns'],
  ['doctor/port25.ts', 'smtp'],
  ['doctor/run-doctor.ts', 'proxy'],
]);

const top = (rel) => (rel.includes('/') ? rel.split('/')[0] : null);
const isLeaf = (rel) => LEAVES.has(rel);
const isPure = (rel) => PURE_FILES.has(rel) || PURE_DIRS.includes(top(rel) ?? '');

const problems = [];
/** Internal imports, type-only ones included, by importing file: for the cycle check. */
const imports = new Map();
for (const file of walk(src)) {
  const rel = relative(src, file).split(sep).join('/');
  imports.set(rel, []);
  const text = readFileSync(file, 'utf8');
  const specs = [...text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+['"]([^'"]+)['"]/g)].map(
    (m) => m[1],
  );
  specs.push(...[...text.matchAll(/import\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => m[1]));
  // A module imported for its side effects only (`import './x.js';`) is as much a dependency.
  specs.push(...[...text.matchAll(/(?:^|\n)\s*import\s*['"]([^'"]+)['"]/g)].map((m) => m[1]));
  for (const spec of specs) {
    const internal = spec.startsWith('.');
    const target = internal
      ? relative(src, resolve(dirname(file), spec))
          .split(sep)
          .join('/')
          .replace(/\.js$/, '.ts')
      : null;
    if (internal && target.startsWith('..')) continue;
    if (internal) imports.get(rel).push(target);
    if (isLeaf(rel) && internal && !isLeaf(target))
      problems.push(`${rel}: a leaf imports ${target} (leaves import only leaves)`);
    if (isPure(rel)) {
      if (internal && !isLeaf(target) && !isPure(target))
        problems.push(`${rel}: a pure module imports ${target}`);
      if (!internal && IO_MODULES.test(spec)) problems.push(`${rel}: a pure module imports ${spec}`);
    }
    const from = top(rel);
    const to = internal ? top(target) : null;
    if (IO_DIRS.includes(from ?? '') && IO_DIRS.includes(to ?? '') && from !== to) {
      problems.push(`${rel}: dns/, smtp/ and proxy/ never import one another (${target})`);
    }
    if (
      internal &&
      IO_DIRS.includes(to ?? '') &&
      from !== to &&
      rel !== WIRING &&
      DOCTOR_IO.get(rel) !== to &&
      !isPure(target)
    ) {
      problems.push(
        `${rel}: only verifier.ts wires the I/O modules (three doctor files use one each): ${target}`,
      );
    }
    if (
      APPS.includes(from ?? '') &&
      internal &&
      !ENTRIES.has(target) &&
      top(target) !== from &&
      !APPS.includes(to ?? '')
    ) {
      problems.push(
        `${rel}: apps use the library through its entries (${[...ENTRIES].join(', ')}), not ${target}`,
      );
    }
    if (internal && !APPS.includes(from ?? '') && APPS.includes(to ?? '')) {
      problems.push(`${rel}: the core never imports an app (${target})`);
    }
  }
  if (isPure(rel)) {
    const code = text.replace(/\/\/.*$/gm, '').replace(/\/\*[\s\S]*?\*\//g, '');
    for (const [pattern, what] of [
      [/\bprocess\./, 'process'],
      [/\bset(Timeout|Interval|Immediate)\s*\(/, 'timers'],
      [/\bconsole\./, 'console'],
    ]) {
      if (pattern.test(code)) problems.push(`${rel}: a pure module uses ${what}`);
    }
  }
}

/**
 * No import cycle, type-only imports included: a cycle means neither module can be read (or moved)
 * without the other; the type they share belongs to one of them, or to a module both import.
 * Tarjan's strongly connected components over the import graph.
 */
function cycles(graph) {
  const order = new Map();
  const low = new Map();
  const stack = [];
  const found = [];
  const visit = (file) => {
    order.set(file, order.size);
    low.set(file, order.get(file));
    stack.push(file);
    for (const next of graph.get(file) ?? []) {
      if (!graph.has(next)) continue;
      if (!order.has(next)) {
        visit(next);
        low.set(file, Math.min(low.get(file), low.get(next)));
      } else if (stack.includes(next)) {
        low.set(file, Math.min(low.get(file), order.get(next)));
      }
    }
    if (low.get(file) !== order.get(file)) return;
    const component = stack.splice(stack.indexOf(file));
    if (component.length > 1 || graph.get(file).includes(file)) found.push(component.sort());
  };
  for (const file of graph.keys()) if (!order.has(file)) visit(file);
  return found;
}
for (const component of cycles(imports)) problems.push(`import cycle: ${component.join(' <-> ')}`);

if (problems.length > 0) {
  console.error(`check-layers: ${problems.length} dependency rule(s) broken:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log('check-layers: dependency rules hold');
