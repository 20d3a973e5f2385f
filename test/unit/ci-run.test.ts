/**
 * .ci/run's own step lines, `step NAME COMMAND…`: nothing but CI runs them, and a slip stops CI at that
 * step (d9cdbc2: `step apt-get update apt_get update` named the step `apt-get` and ran `update apt_get
 * update`, exit 127, at CI's first step). Each line is split into words by bash itself (quotes as CI
 * reads them), and its command must be one CI can run: a function of .ci/run, a shell builtin or a
 * command on PATH, `npm run` of a script in package.json, `bash` of a file in the repository; through
 * the `guarded` and `env` wrappers.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

interface Step {
  readonly line: string;
  readonly name: string;
  readonly command: readonly string[];
}

/** The script's top-level `step …` lines (continued lines joined), each split into words by bash. */
function stepsOf(script: string): Step[] {
  const lines = script.replace(/\\\n/g, ' ').split('\n');
  return lines
    .filter((line) => /^step\s/.test(line))
    .map((line) => {
      // Only `step` is defined, as a function that prints its arguments: nothing of the line runs.
      const words = execFileSync('bash', ['--norc', '-c', `step() { printf '%s\\0' "$@"; }\n${line}`], {
        encoding: 'utf8',
        env: { PATH: process.env.PATH },
      })
        .split('\0')
        .slice(0, -1);
      const [name = '', ...command] = words;
      return { line, name, command };
    });
}

/** What bash finds a word as (`function`, `builtin`, `file`, …), '' when nothing. */
function typeOf(word: string): string {
  try {
    return execFileSync('bash', ['--norc', '-c', 'type -t -- "$1"', 'bash', word], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH },
    }).trim();
  } catch {
    return '';
  }
}

interface Context {
  /** The functions the script defines (`name() {`). */
  readonly functions: ReadonlySet<string>;
  /** package.json's scripts. */
  readonly scripts: Readonly<Record<string, string>>;
}

/** Why CI could not run `words` as a command, or null when it could. */
function commandProblem(words: readonly string[], context: Context): string | null {
  const [command, ...args] = words;
  if (command === undefined) return 'no command after the step name';
  if (command === 'guarded') return commandProblem(args, context);
  if (command === 'env') {
    const first = args.findIndex((arg) => !/^\w+=/.test(arg));
    return commandProblem(first === -1 ? [] : args.slice(first), context);
  }
  if (command === 'npm') {
    const [sub, script] = args;
    if (sub === 'ci') return null;
    if (sub === 'test') return 'test' in context.scripts ? null : 'npm test: package.json has no test script';
    if (sub === 'run') {
      return script !== undefined && script in context.scripts
        ? null
        : `npm run ${script ?? ''}: no such script in package.json`;
    }
    return `npm ${sub ?? ''}: not ci, test or run SCRIPT`;
  }
  if (command === 'bash') {
    const file = args[0];
    return file !== undefined && existsSync(join(REPO, file)) ? null : `bash ${file ?? ''}: no such file`;
  }
  if (context.functions.has(command)) return null;
  const type = typeOf(command);
  return type === 'builtin' || type === 'file'
    ? null
    : `"${command}" is no function of .ci/run, shell builtin or command on PATH`;
}

/** Every problem of the script's step lines, each naming its line. */
function stepProblems(script: string, scripts: Readonly<Record<string, string>>): string[] {
  const functions = new Set([...script.matchAll(/^(\w+)\(\)\s*\{/gm)].map((match) => match[1] ?? ''));
  const context = { functions, scripts };
  const problems: string[] = [];
  const names = new Set<string>();
  for (const step of stepsOf(script)) {
    if (step.name.trim() === '') problems.push(`${step.line}: no step name`);
    if (names.has(step.name)) problems.push(`${step.line}: a second step named "${step.name}"`);
    names.add(step.name);
    const problem = commandProblem(step.command, context);
    if (problem !== null) problems.push(`${step.line}: step "${step.name}" runs: ${problem}`);
  }
  return problems;
}

const packageScripts = (
  JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
  }
).scripts;

describe('.ci/run', () => {
  const script = readFileSync(join(REPO, '.ci/run'), 'utf8');

  it('every step line names its step and a command CI can run', () => {
    assert.deepEqual(stepProblems(script, packageScripts), []);
  });

  it('is a script bash can read to its end (bash -n: a slip of quoting stops CI before its first step)', () => {
    assert.doesNotThrow(() => execFileSync('bash', ['-n', join(REPO, '.ci/run')], { stdio: 'pipe' }));
    // The check can fail: an unclosed quote.
    assert.throws(() =>
      execFileSync('bash', ['-n'], { input: `${script}\nstep 'unclosed npm test\n`, stdio: 'pipe' }),
    );
  });

  it('has the steps CI is for, each named once', () => {
    const steps = stepsOf(script);
    const names = steps.map((step) => step.name);
    for (const name of ['npm ci', 'npm test', 'test:lab', 'test:scale'])
      assert.ok(names.includes(name), name);
    assert.equal(new Set(names).size, names.length);
    // The step wrapper itself is what the lines call.
    assert.match(script, /^step\(\) \{/m);
  });

  it("finds d9cdbc2's slip: an unquoted two-word step name", () => {
    const broken = script.replace(
      "step 'apt-get update' apt_get update",
      'step apt-get update apt_get update',
    );
    assert.notEqual(broken, script);
    assert.deepEqual(stepProblems(broken, packageScripts), [
      'step apt-get update apt_get update: step "apt-get" runs: "update" is no function of .ci/run, shell builtin or command on PATH',
    ]);
  });

  it('finds an npm script that does not exist, a missing file, a wrapped unknown command', () => {
    const lines = [
      'run() { :; }',
      "step 'bench' npm run bench:nothing",
      'step walk bash scripts/no-such-walkthrough.sh',
      'step fuzz guarded env FUZZ_RUNS=1 nonexistent-command-rcpt',
      'step ok run',
    ].join('\n');
    assert.deepEqual(stepProblems(lines, packageScripts), [
      'step \'bench\' npm run bench:nothing: step "bench" runs: npm run bench:nothing: no such script in package.json',
      'step walk bash scripts/no-such-walkthrough.sh: step "walk" runs: bash scripts/no-such-walkthrough.sh: no such file',
      'step fuzz guarded env FUZZ_RUNS=1 nonexistent-command-rcpt: step "fuzz" runs: "nonexistent-command-rcpt" is no function of .ci/run, shell builtin or command on PATH',
    ]);
  });

  it('says what each step runs and when it started, before it runs (npm ci prints nothing for minutes on a loaded machine), then how long it took', () => {
    const step = /^step\(\) \{\n[\s\S]*?^\}$/m.exec(script)?.[0];
    assert.ok(step !== undefined, 'the step function');
    const out = execFileSync(
      'bash',
      ['--norc', '-c', `${step}\nstep 'npm ci' echo installing\nstep fails false || echo "status $?"`],
      { encoding: 'utf8', env: { PATH: process.env.PATH } },
    ).split('\n');
    assert.match(out[0] ?? '', /^ci: npm ci started at \d\d:\d\d:\d\d UTC \(total \d+ s\): echo installing$/);
    assert.equal(out[1], 'installing');
    assert.match(out[2] ?? '', /^ci: npm ci took \d+ s \(total \d+ s\)$/);
    assert.match(out[3] ?? '', /^ci: fails started at /);
    assert.match(out[4] ?? '', /^ci: fails took /);
    assert.equal(out[5], 'status 1');
  });

  it("runs README's test command, the one users are told to run", () => {
    const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
    const told = /^(npm [\w:]+) +# lint, typecheck, and every test$/m.exec(readme)?.[1];
    assert.equal(told, 'npm test');
    const steps = stepsOf(script).filter((candidate) => candidate.command.join(' ') === told);
    assert.deepEqual(
      steps.map((candidate) => candidate.name),
      ['npm test'],
    );
  });
});
