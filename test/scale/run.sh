#!/usr/bin/env bash
# `npm run test:scale`: the scale-out suite (test/scale) against a real PostgreSQL. With RCPT_TEST_PG set
# it uses that database; otherwise it starts a throwaway cluster from Debian's PostgreSQL on loopback
# (test/scale/pg-cluster.sh), runs the suite, and always removes the cluster again.
set -euo pipefail

SCALE_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$SCALE_SRC/../.."

if [[ -z "${RCPT_TEST_PG:-}" ]]; then
  dir=$(mktemp -d /tmp/rcpt-scale-pg.XXXXXX)
  port=${RCPT_TEST_PG_PORT:-54330}
  trap 'bash "$SCALE_SRC/pg-cluster.sh" down "$dir"' EXIT
  RCPT_TEST_PG=$(bash "$SCALE_SRC/pg-cluster.sh" up "$dir" "$port")
  export RCPT_TEST_PG
fi
echo "scale: PostgreSQL at $RCPT_TEST_PG" >&2
node scripts/run-tests.mjs test/scale "$@"
