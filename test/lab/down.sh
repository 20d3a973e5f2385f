#!/usr/bin/env bash
# Stops the lab's daemons, and only them: each by the pid file it wrote under $LAB_RUN (checked against
# its command line, so a reused pid is left alone), Postfix instances with `postfix -c DIR stop`.
# Safe to run when nothing is up. Leaves $LAB_RUN (logs) for inspection; up.sh wipes it.
set -uo pipefail

LAB_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lab.conf.sh
. "$LAB_SRC/lab.conf.sh"

quiet=0
[ "${1:-}" = --quiet ] && quiet=1
log() { [ "$quiet" = 1 ] || printf 'lab: %s\n' "$*" >&2; }

# alive PID: true while the process runs. PID 1 here reaps orphans only every ~2 s, so a stopped
# daemon lingers as a zombie and `kill -0` would call it alive (lab-notes.md): read its state.
alive() {
  local state
  state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

# stop_pid NAME PIDFILE PATTERN: TERM, wait up to 5 s, then KILL; only when the command line matches.
stop_pid() {
  local name=$1 pidfile=$2 pattern=$3 pid i
  [ -f "$pidfile" ] || return 0
  pid=$(tr -dc '0-9' <"$pidfile")
  if [ -z "$pid" ] || ! alive "$pid"; then
    rm -f "$pidfile"
    return 0
  fi
  if ! tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$pattern"; then
    log "$name: pid $pid is not ours any more; left alone"
    rm -f "$pidfile"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null
  for ((i = 0; i < 50; i++)); do
    alive "$pid" || break
    sleep 0.1
  done
  if alive "$pid"; then
    log "$name: pid $pid ignored TERM; KILL"
    kill -KILL "$pid" 2>/dev/null
  fi
  rm -f "$pidfile"
  log "$name stopped"
}

stop_postfix() {
  local dir=$LAB_RUN/postfix-$1 pid i
  [ -f "$dir/main.cf" ] || return 0
  pid=$(tr -dc '0-9' <"$dir/queue/pid/master.pid" 2>/dev/null)
  [ -n "$pid" ] && alive "$pid" || return 0
  postfix -c "$dir" stop >/dev/null 2>&1
  for ((i = 0; i < 50; i++)); do
    alive "$pid" || break
    sleep 0.1
  done
  # The master is gone; if `postfix stop` could not reach it, fall back to its pid file.
  stop_pid "postfix ($1)" "$dir/queue/pid/master.pid" "master"
  log "postfix ($1) stopped"
}

[ -d "$LAB_RUN" ] || exit 0
stop_pid "dante (open)" "$LAB_RUN/dante-open/danted.pid" danted
stop_pid "dante (auth)" "$LAB_RUN/dante-auth/danted.pid" danted
stop_pid opensmtpd "$LAB_RUN/opensmtpd/smtpd.pid" smtpd
stop_pid exim "$LAB_RUN/exim/log/exim.pid" exim4
stop_pid postgrey "$LAB_RUN/postgrey/postgrey.pid" postgrey
for instance in hidden grey catchall reject; do stop_postfix "$instance"; done
stop_pid knot "$LAB_RUN/knot/knot.pid" knotd
exit 0
