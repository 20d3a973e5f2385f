#!/usr/bin/env bash
# A new user's first half hour with rcpt, as a script that fails on the first thing that goes wrong:
#   1. a clean clone of this repository (its committed HEAD) into a temporary directory;
#   2. the README's two commands: `npm ci` and `npx rcpt demo`, then `npm test` in a short form
#      (lint, typecheck and the syntax unit tests only: the whole suite already runs in CI before this);
#   3. `rcpt verify` on the demo world (`rcpt demo --world` keeps it running on loopback);
#   4. `rcpt bulk` stopped with SIGINT (Ctrl-C), then resumed with only `--resume`: the output must equal
#      an uninterrupted run's, so the settings the job began with were kept without repeating a flag;
#   5. `rcpt serve` answering a job over HTTP, then stopped with SIGTERM.
# Exit status 0 when every step passed. Offline: nothing leaves the machine (the demo world is on
# loopback), and `npm ci` takes packages from npm's cache (--offline) with the native SQLite binding
# copied from this checkout's node_modules (CI has just installed it), since building it needs the
# network (prebuilt binaries or Node's headers).
# Usage: bash scripts/new-user-walkthrough.sh
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/rcpt-walkthrough-XXXXXX")"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'printf "walkthrough: FAILED at line %s: %s\n" "$LINENO" "$BASH_COMMAND" >&2' ERR
step() { printf '\n== %s\n' "$*"; }
fail() {
  printf 'walkthrough: FAILED: %s\n' "$*" >&2
  exit 1
}
# Waits up to $2 seconds for file $1 to match the extended regular expression $3.
wait_for() {
  local deadline=$((SECONDS + $2))
  until grep -Eq "$3" "$1" 2>/dev/null; do
    ((SECONDS < deadline)) || fail "waited $2 s for /$3/ in $1: $(cat "$1" 2>/dev/null)"
    sleep 0.2
  done
}

step "clean clone of $(git -C "$repo" rev-parse --short HEAD)"
git clone --quiet --no-hardlinks "$repo" "$work/rcpt"
cd "$work/rcpt"

step 'npm ci (offline, from the npm cache)'
addon=node_modules/better-sqlite3/build/Release/better_sqlite3.node
[[ -f "$repo/$addon" ]] || fail "$repo/$addon is missing: run npm ci in $repo first"
npm ci --offline --ignore-scripts --no-audit --no-fund
mkdir -p "$(dirname "$addon")"
cp "$repo/$addon" "$addon"
npm run build # what npm ci's `prepare` runs

step 'npx rcpt demo'
npx rcpt demo > demo.txt
cat demo.txt
grep -Eq '^21 addresses: [0-9]+ deliverable' demo.txt || fail 'rcpt demo printed no summary'
grep -Eq '^alice@acme\.test +deliverable +accepted' demo.txt || fail 'rcpt demo: alice@acme.test not deliverable'

step 'npm test, short form (lint, typecheck, syntax unit tests)'
npm run lint
npm run typecheck
node scripts/run-tests.mjs test/unit/syntax

step 'rcpt --version'
version="$(npx rcpt --version)"
[[ "$version" == "$(node -p "require('./package.json').version")" ]] || fail "rcpt --version said '$version'"

step 'rcpt demo --world (the simulated world, kept running)'
# Processes that get a signal run as ./bin/rcpt (the command npx runs), not through npx: the signal must
# reach rcpt itself, as Ctrl-C in a terminal does.
./bin/rcpt demo --world > world.txt 2> world.err &
pids+=($!)
wait_for world.txt 30 '^--dns-server '
read -r -a world < <(head -n 1 world.txt)
echo "world flags: ${world[*]}"

step 'rcpt verify'
status=0
npx rcpt verify "${world[@]}" --helo walk.rcpt.test alice@acme.test nobody@acme.test > verify.txt || status=$?
cat verify.txt
[[ $status -eq 2 ]] || fail "rcpt verify exit status $status, expected 2 (an undeliverable address)"
grep -Eq '^alice@acme\.test +deliverable +accepted' verify.txt || fail 'verify: alice not deliverable'
grep -Eq '^nobody@acme\.test +undeliverable +mailbox_not_found' verify.txt || fail 'verify: nobody not refused'
npx rcpt verify "${world[@]}" --helo walk.rcpt.test --fail-on never nobody@acme.test > /dev/null

step 'rcpt bulk, interrupted with SIGINT, then --resume'
{
  echo 'name,email,notes'
  n=0
  for address in alice@acme.test nobody@acme.test user@greylist.test anyone@catchall.test ann@slow.test \
    hello@implicit.test user@nullmx.test carol@acme.test bob@fallback.test someone@bigmail.test; do
    n=$((n + 1))
    echo "Person $n,$address,note $n"
  done
} > list.csv
# The greylisted address is retried after 3 s (the demo greylists a new sender and recipient for 2 s):
# the interrupt lands in that wait. Each run has its own sender, so each is greylisted afresh.
flags=("${world[@]}" --helo walk.rcpt.test --greylist-wait 3)
npx rcpt bulk list.csv -o reference.csv --db reference.db "${flags[@]}" --mail-from ref@walk.rcpt.test \
  2> reference.err || fail "uninterrupted bulk: $(cat reference.err)"
./bin/rcpt bulk list.csv -o out.csv "${flags[@]}" --mail-from verify@walk.rcpt.test 2> interrupted.err &
bulk=$!
pids+=("$bulk")
deadline=$((SECONDS + 30))
until node -e "
  const db = new (require('better-sqlite3'))('out.csv.rcpt.db', { readonly: true, fileMustExist: true });
  process.exit(db.prepare('SELECT count(*) AS n FROM results').get().n >= 5 ? 0 : 1);
" 2> /dev/null; do
  ((SECONDS < deadline)) || fail "bulk stored no results in 30 s: $(cat interrupted.err)"
  sleep 0.2
done
kill -INT "$bulk"
status=0
wait "$bulk" || status=$?
cat interrupted.err
[[ $status -eq 130 ]] || fail "interrupted bulk exit status $status, expected 130 (SIGINT)"
grep -q 'run again with --resume' interrupted.err || fail 'the stop message does not say --resume'
[[ ! -e out.csv ]] || fail 'an interrupted run left an output that looks complete'
# Exactly what the stop message says: the same command's input and output, and --resume, no other flag.
npx rcpt bulk list.csv -o out.csv --resume 2> resumed.err || fail "resume: $(cat resumed.err)"
cat resumed.err
grep -q 'resuming job' resumed.err || fail 'the resume started a new job'
# Equal to the uninterrupted run but for when each result was checked.
node -e "
  const { parse } = require('csv-parse/sync');
  const read = (file) => parse(require('fs').readFileSync(file), { columns: true })
    .map(({ checked_at, ...row }) => JSON.stringify(row));
  const [a, b] = [read('reference.csv'), read('out.csv')];
  if (a.length !== 10 || a.join('\n') !== b.join('\n')) {
    console.error('reference:\n' + a.join('\n') + '\nresumed:\n' + b.join('\n'));
    process.exit(1);
  }
  console.log('resumed output equals the uninterrupted run (' + a.length + ' rows)');
" || fail 'the resumed output differs from an uninterrupted run'

step 'rcpt serve answering a job'
./bin/rcpt serve --port 0 --db serve.db "${world[@]}" --helo walk.rcpt.test > serve.log 2>&1 &
serve=$!
pids+=("$serve")
wait_for serve.log 30 '"msg":"listening"'
url="$(grep -Eo '"url":"[^"]+"' serve.log | head -n 1 | cut -d'"' -f4)"
URL="$url" node -e "
  const url = process.env.URL;
  (async () => {
    const created = await fetch(url + '/v1/jobs', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ emails: ['alice@acme.test', 'nobody@acme.test'] }),
    });
    if (created.status !== 202) throw new Error('POST /v1/jobs: ' + created.status);
    const { id } = await created.json();
    for (let i = 0; i < 150; i++) {
      const job = await (await fetch(url + '/v1/jobs/' + id)).json();
      if (job.status === 'done') break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const text = await (await fetch(url + '/v1/jobs/' + id + '/results?format=ndjson')).text();
    const got = text.trim().split('\n').map((line) => JSON.parse(line)).map((r) => r.input + ' ' + r.reason);
    if (got.join() !== 'alice@acme.test accepted,nobody@acme.test mailbox_not_found') throw new Error(got.join());
    console.log('job ' + id + ': ' + got.join(', '));
  })().catch((error) => { console.error(error); process.exit(1); });
" || fail "rcpt serve: $(cat serve.log)"
kill -TERM "$serve"
wait "$serve" || fail "rcpt serve did not stop cleanly: $(cat serve.log)"

printf '\nwalkthrough: every step passed\n'
