#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the scale-out suite and benchmark: Debian's PostgreSQL binaries,
# a data directory of its own, listening on loopback only, no systemd (containers and CI run as root
# without it). `up` prints the connection URL; `down` stops it and removes the data.
#   bash test/scale/pg-cluster.sh up [DIR] [PORT]     bash test/scale/pg-cluster.sh down [DIR]
set -euo pipefail

action=${1:-up}
dir=${2:-/tmp/rcpt-pg}
port=${3:-54329}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [[ -z "$bin" ]]; then
  echo "pg-cluster: PostgreSQL is not installed (apt-get install postgresql)" >&2
  exit 1
fi
# initdb and postgres refuse to run as root: run them as the postgres user Debian's package creates.
as_pg() {
  if [[ $(id -u) -eq 0 ]]; then su postgres -s /bin/bash -c "$*"; else bash -c "$*"; fi
}

case "$action" in
  up)
    if [[ ! -f "$dir/PG_VERSION" ]]; then
      mkdir -p "$dir"
      [[ $(id -u) -eq 0 ]] && chown postgres: "$dir"
      as_pg "'$bin/initdb' -D '$dir' -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null"
    fi
    if ! as_pg "'$bin/pg_ctl' -D '$dir' status" >/dev/null 2>&1; then
      # fsync off: a test cluster that is thrown away gains speed and loses nothing it needs.
      as_pg "'$bin/pg_ctl' -D '$dir' -l '$dir/server.log' -w -o \"-h 127.0.0.1 -p $port -k '$dir' -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200\" start" >/dev/null
    fi
    as_pg "'$bin/psql' -h 127.0.0.1 -p $port -U postgres -tAc \"SELECT 1 FROM pg_database WHERE datname = 'rcpt_test'\"" | grep -q 1 ||
      as_pg "'$bin/createdb' -h 127.0.0.1 -p $port -U postgres rcpt_test"
    echo "postgres://postgres@127.0.0.1:$port/rcpt_test"
    ;;
  down)
    if [[ -f "$dir/PG_VERSION" ]]; then
      as_pg "'$bin/pg_ctl' -D '$dir' -m fast -w stop" >/dev/null 2>&1 || true
      rm -rf "$dir"
    fi
    ;;
  *)
    echo "usage: pg-cluster.sh up|down [DIR] [PORT]" >&2
    exit 64
    ;;
esac
