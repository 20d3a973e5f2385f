#!/usr/bin/env bash
# `npm run test:lab`: brings the real-MTA lab up, runs its suite (test/lab/*.test.ts) against it, and
# always takes it down again, whatever happened. Needs root on Debian 12 (see README "Real-server lab").
set -euo pipefail

LAB_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$LAB_SRC/../.."

started=$(date +%s)
trap 'bash "$LAB_SRC/down.sh"; echo "lab: whole run $(($(date +%s) - started)) s" >&2' EXIT
bash "$LAB_SRC/up.sh"
node scripts/run-tests.mjs test/lab "$@"
