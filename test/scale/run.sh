#!/usr/bin/env bash
# `npm run test:scale`: the scale-out suite (test/scale) against a real PostgreSQL. With RCPT_TEST_PG set
# it uses that database; otherwise it starts a throwaway cluster from Debian's PostgreSQL on loopback
# (test/scale/pg-cluster.sh), on a port free at start (RCPT_TEST_PG_PORT to choose one), runs the suite,
# and always removes the cluster again, also when interrupted. A cluster another run left behind
# cannot collide with it: each run has its own directory and port.
set -euo pipefail

SCALE_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$SCALE_SRC/../.."

# A TCP port free on loopback now: the kernel's pick for port 0.
free_port() {
  node -e "const s = require('node:net').createServer().listen(0, '127.0.0.1', () => { console.log(s.address().port); s.close(); });"
}

if [[ -z "${RCPT_TEST_PG:-}" ]]; then
  dir=$(mktemp -d /tmp/rcpt-scale-pg.XXXXXX)
  trap 'bash "$SCALE_SRC/pg-cluster.sh" down "$dir"; rm -rf "$dir"' EXIT
  # Killed or interrupted: exit, so that the EXIT trap removes the cluster.
  trap 'exit 130' INT
  trap 'exit 143' TERM
  # Another process may take the port between the pick and PostgreSQL's bind: a few picks.
  for attempt in 1 2 3; do
    port=${RCPT_TEST_PG_PORT:-$(free_port)}
    if RCPT_TEST_PG=$(bash "$SCALE_SRC/pg-cluster.sh" up "$dir" "$port"); then break; fi
    if [[ -n "${RCPT_TEST_PG_PORT:-}" || $attempt -eq 3 ]]; then
      echo "scale: PostgreSQL did not start on port $port (see $dir/server.log)" >&2
      tail -5 "$dir/server.log" >&2 || true
      exit 1
    fi
  done
  export RCPT_TEST_PG
fi
echo "scale: PostgreSQL at $RCPT_TEST_PG" >&2
node scripts/run-tests.mjs test/scale "$@"
