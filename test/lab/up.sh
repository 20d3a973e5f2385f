#!/usr/bin/env bash
# Brings up rcpt's real-MTA lab (issue 5): Knot, three Postfix instances (one with postgrey), Exim and
# OpenSMTPD, each on its own loopback address, port 25; and two Dante SOCKS5 proxies (issue 17). Debian 12, as root, no systemd needed.
#
# Idempotent: installs what is missing from Debian's archive, stops a previous run (down.sh), renders
# the configs of this folder into $LAB_RUN and starts every daemon fresh. Nothing relays, nothing
# leaves loopback: every daemon runs in a mount namespace whose /etc/resolv.conf names the lab's Knot.
set -euo pipefail

LAB_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lab.conf.sh
. "$LAB_SRC/lab.conf.sh"

log() { printf 'lab: %s\n' "$*" >&2; }
die() {
  log "$*"
  exit 1
}

[ "$(id -u)" = 0 ] || die "needs root (daemons bind port 25 and 53; packages come from apt-get)"
command -v apt-get >/dev/null || die "needs Debian (apt-get)"

# --- packages -------------------------------------------------------------------------------------

# Installed normally. Postfix is preseeded to "No configuration": the lab writes its own per instance.
APT_PACKAGES=(knot postfix postgrey util-linux dante-server)
# Shared libraries the unpacked Exim and OpenSMTPD binaries link against (their Depends:).
APT_LIBS=(libgnutls30 libgnutls-dane0 libidn12 libidn2-0 libpcre2-8-0 libnsl2 libdb5.3 libcrypt1
  libevent-2.1-7 libpam0g libssl3 zlib1g)
# Conflict with postfix (all three provide mail-transport-agent): downloaded and unpacked instead.
UNPACKED_DEBS=(exim4-base exim4-daemon-light opensmtpd)

apt_updated=0
apt_update_once() {
  if [ "$apt_updated" = 0 ]; then
    log "apt-get update"
    apt-get -o Acquire::Retries=3 update -qq
    apt_updated=1
  fi
}

missing_packages() {
  local pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}\n' "$pkg" 2>/dev/null | grep -q '^install ok installed$' || echo "$pkg"
  done
}

install_packages() {
  local missing
  mapfile -t missing < <(missing_packages "${APT_PACKAGES[@]}" "${APT_LIBS[@]}")
  if [ "${#missing[@]}" -gt 0 ]; then
    apt_update_once
    log "apt-get install ${missing[*]}"
    echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
    # policy-rc.d-less containers would start the packaged daemons: 101 = "action forbidden".
    local policy=/usr/sbin/policy-rc.d created_policy=0
    if [ ! -e "$policy" ]; then
      printf '#!/bin/sh\nexit 101\n' >"$policy"
      chmod 755 "$policy"
      created_policy=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get -o Acquire::Retries=3 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    [ "$created_policy" = 0 ] || rm -f "$policy"
  fi
  if [ ! -x "$LAB_PKGS/root/usr/sbin/exim4" ] || [ ! -x "$LAB_PKGS/root/usr/sbin/smtpd" ]; then
    apt_update_once
    log "apt-get download ${UNPACKED_DEBS[*]} (unpacked into $LAB_PKGS)"
    rm -rf "$LAB_PKGS"
    mkdir -p "$LAB_PKGS/debs" "$LAB_PKGS/root"
    # _apt cannot write into a root-owned folder; the download is from the same archive either way.
    chmod 777 "$LAB_PKGS/debs"
    (cd "$LAB_PKGS/debs" && apt-get -o Acquire::Retries=3 download -qq "${UNPACKED_DEBS[@]}" 2>/dev/null)
    chmod 755 "$LAB_PKGS/debs"
    local deb
    for deb in "$LAB_PKGS"/debs/*.deb; do dpkg-deb -x "$deb" "$LAB_PKGS/root"; done
  fi
}

# What the unpacked packages' postinst scripts would have created.
prepare_system() {
  local user home
  # useradd (passwd, always present): adduser refuses the capitalised Debian-exim.
  for user in Debian-exim:/var/spool/exim4 opensmtpd:/var/lib/opensmtpd/empty opensmtpq:/var/lib/opensmtpd/empty; do
    home=${user#*:}
    user=${user%%:*}
    getent group "$user" >/dev/null || groupadd --system "$user"
    getent passwd "$user" >/dev/null ||
      useradd --system --gid "$user" --home-dir "$home" --no-create-home --shell /usr/sbin/nologin "$user"
  done
  # OpenSMTPD's compiled-in paths.
  if [ ! -e /usr/libexec/opensmtpd ]; then ln -s "$LAB_PKGS/root/usr/libexec/opensmtpd" /usr/libexec/opensmtpd; fi
  mkdir -p /var/lib/opensmtpd/empty
  chmod 711 /var/spool/smtpd 2>/dev/null || install -d -m 711 /var/spool/smtpd
  # Dante's `socksmethod: username` checks RFC 1929 logins against system users: a dedicated one, with
  # no home and no shell, whose password the suite knows (lab.conf.sh).
  getent passwd "$LAB_DANTE_USER" >/dev/null ||
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$LAB_DANTE_USER"
  echo "$LAB_DANTE_USER:$LAB_DANTE_PASSWORD" | chpasswd
}

# --- helpers --------------------------------------------------------------------------------------

# render TEMPLATE OUTPUT KEY=VALUE...: replaces @KEY@ by VALUE.
render() {
  local template=$1 output=$2 script=() pair
  shift 2
  for pair in "$@"; do script+=(-e "s|@${pair%%=*}@|${pair#*=}|g"); done
  sed "${script[@]}" "$template" >"$output"
}

# in_lab_ns COMMAND...: runs COMMAND in a private mount namespace where /etc/resolv.conf points at the
# lab's Knot, so a daemon that looks names up (OpenSMTPD resolves every client's PTR) asks nobody else.
# Every step execs the next, so a backgrounded in_lab_ns's $! is the daemon's own pid.
LAB_NS=(unshare --mount --propagation private -- /bin/sh -c
  'mount --bind "$0" /etc/resolv.conf && exec "$@"' "$LAB_RUN/resolv.conf")
in_lab_ns() { "${LAB_NS[@]}" "$@"; }

# wait_port ADDR PORT NAME LOG: waits until something accepts TCP connections on ADDR:PORT.
wait_port() {
  local addr=$1 port=$2 name=$3 logfile=$4 i
  for ((i = 0; i < 100; i++)); do
    if (exec 3<>"/dev/tcp/$addr/$port") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  log "$name did not start listening on $addr:$port; its log ($logfile):"
  tail -n 30 "$logfile" >&2 2>/dev/null || true
  exit 1
}

# --- daemons --------------------------------------------------------------------------------------

start_knot() {
  local dir=$LAB_RUN/knot
  mkdir -p "$dir/db"
  render "$LAB_SRC/knot/knot.conf" "$dir/knot.conf" RUN="$dir" ZONES="$LAB_SRC/zones" DNS_ADDR="$LAB_DNS_ADDR"
  chown -R knot: "$dir"
  knotc -c "$dir/knot.conf" conf-check >/dev/null
  in_lab_ns knotd -c "$dir/knot.conf" -d
  wait_port "$LAB_DNS_ADDR" 53 knot "$dir/knot.log"
}

start_postgrey() {
  local dir=$LAB_RUN/postgrey
  mkdir -p "$dir/db"
  chown postgrey: "$dir/db"
  # No whitelists (Debian's default lets postmaster@ and abuse@ through) and no auto-whitelisting, so
  # every new (client /24, sender, recipient) triplet waits LAB_GREYLIST_DELAY seconds.
  : >"$dir/none"
  in_lab_ns postgrey --daemonize --pidfile="$dir/postgrey.pid" --inet="$LAB_GREY_ADDR:$LAB_POSTGREY_PORT" \
    --dbdir="$dir/db" --delay="$LAB_GREYLIST_DELAY" --auto-whitelist-clients=0 \
    --whitelist-clients="$dir/none" --whitelist-recipients="$dir/none" --hostname=mx.grey.test
  wait_port "$LAB_GREY_ADDR" "$LAB_POSTGREY_PORT" postgrey "$LAB_RUN/postfix-grey/maillog"
}

# start_postfix NAME ADDR HOST [BANNER]: one Postfix instance from main.cf + NAME.cf, master.cf,
# NAME.mailboxes, greeting with BANNER (Debian's, which names Postfix, unless given).
start_postfix() {
  local name=$1 addr=$2 host=$3 dir=$LAB_RUN/postfix-$1
  local banner=${4:-'$myhostname ESMTP $mail_name (Debian/GNU)'}
  local vars=(DIR="$dir" ADDR="$addr" HOST="$host" POLICY="$LAB_GREY_ADDR:$LAB_POSTGREY_PORT" BANNER="$banner")
  mkdir -p "$dir/queue" "$dir/data"
  chown postfix: "$dir/data"
  render "$LAB_SRC/postfix/main.cf" "$dir/main.cf" "${vars[@]}"
  render "$LAB_SRC/postfix/$name.cf" "$dir/instance.cf" "${vars[@]}"
  cat "$dir/instance.cf" >>"$dir/main.cf"
  render "$LAB_SRC/postfix/master.cf" "$dir/master.cf" "${vars[@]}"
  cp "$LAB_SRC/postfix/$name.mailboxes" "$dir/mailboxes"
  : >"$dir/maillog"
  # Without a tty or syslog `postfix check/start` fail silently: the reason is in maillog.
  if ! in_lab_ns postfix -c "$dir" start >/dev/null 2>&1; then
    log "postfix ($name) failed to start:"
    tail -n 30 "$dir/maillog" >&2
    exit 1
  fi
  wait_port "$addr" 25 "postfix ($name)" "$dir/maillog"
}

start_exim() {
  local dir=$LAB_RUN/exim exim=$LAB_PKGS/root/usr/sbin/exim4
  mkdir -p "$dir/spool" "$dir/log"
  render "$LAB_SRC/exim/exim.conf" "$dir/exim.conf" RUN="$dir" ADDR="$LAB_EXIM_ADDR" EXIM="$exim"
  cp "$LAB_SRC/exim/users" "$dir/users"
  # Exim refuses a configuration that is not root's and read-only to others; after dropping root it
  # writes its spool, logs and pid file as Debian-exim.
  chmod 644 "$dir/exim.conf" "$dir/users"
  chown -R Debian-exim: "$dir/spool" "$dir/log"
  # -C makes Exim drop root once it has bound port 25 ("lost privilege"), which is what we want.
  in_lab_ns "$exim" -C "$dir/exim.conf" -bd >"$dir/stderr.log" 2>&1
  wait_port "$LAB_EXIM_ADDR" 25 exim "$dir/log/mainlog"
}

start_opensmtpd() {
  local dir=$LAB_RUN/opensmtpd smtpd=$LAB_PKGS/root/usr/sbin/smtpd
  mkdir -p "$dir"
  render "$LAB_SRC/opensmtpd/smtpd.conf" "$dir/smtpd.conf" RUN="$dir" ADDR="$LAB_SMTPD_ADDR"
  cp "$LAB_SRC/opensmtpd/users" "$LAB_SRC/opensmtpd/mailboxes" "$dir/"
  "$smtpd" -n -f "$dir/smtpd.conf" >/dev/null 2>"$dir/smtpd.log" || {
    cat "$dir/smtpd.log" >&2
    die "opensmtpd: bad configuration"
  }
  # OpenSMTPD writes no pid file: run it in the foreground (-d, logs to stderr), detached, and keep $!.
  # setsid does not fork here (a background job is no group leader), so $! stays the daemon's pid.
  setsid "${LAB_NS[@]}" "$smtpd" -d -f "$dir/smtpd.conf" </dev/null >>"$dir/smtpd.log" 2>&1 &
  echo $! >"$dir/smtpd.pid"
  wait_port "$LAB_SMTPD_ADDR" 25 opensmtpd "$dir/smtpd.log"
}

# start_dante NAME ADDR EXTERNAL METHOD BLOCK: one danted from dante/danted.conf (`-D`: a daemon that
# writes its pid file). BLOCK is an address the ruleset refuses, or empty.
start_dante() {
  local name=$1 addr=$2 external=$3 method=$4 block=$5 dir=$LAB_RUN/dante-$1 rule=''
  mkdir -p "$dir"
  [ -z "$block" ] || rule="socks block { from: 0.0.0.0/0 to: $block/32 log: error }"
  render "$LAB_SRC/dante/danted.conf" "$dir/danted.conf" LOG="$dir/danted.log" ADDR="$addr" \
    PORT="$LAB_DANTE_PORT" EXTERNAL="$external" METHOD="$method" BLOCK="$rule"
  : >"$dir/danted.log"
  in_lab_ns danted -f "$dir/danted.conf" -p "$dir/danted.pid" -D -N 1 2>>"$dir/danted.log" ||
    die "dante ($name) failed to start: $(tail -n 5 "$dir/danted.log")"
  wait_port "$addr" "$LAB_DANTE_PORT" "dante ($name)" "$dir/danted.log"
}

# --- main -----------------------------------------------------------------------------------------

started=$(date +%s)
install_packages
prepare_system
"$LAB_SRC/down.sh" --quiet
rm -rf "$LAB_RUN"
mkdir -p "$LAB_RUN"
chmod 755 "$LAB_RUN"
echo "nameserver $LAB_DNS_ADDR" >"$LAB_RUN/resolv.conf"

start_knot
start_postfix reject "$LAB_PF_ADDR" mx.pf.test
start_postfix catchall "$LAB_CATCHALL_ADDR" mx.catchall.test
start_postfix grey "$LAB_GREY_ADDR" mx.grey.test
start_postfix hidden "$LAB_HIDDEN_ADDR" mx.hidden.test '$myhostname ESMTP ready'
start_postgrey
start_exim
start_opensmtpd
start_dante open "$LAB_DANTE_OPEN_ADDR" "$LAB_DANTE_OPEN_EXTERNAL" none "$LAB_REFUSED_ADDR"
start_dante auth "$LAB_DANTE_AUTH_ADDR" "$LAB_DANTE_AUTH_EXTERNAL" username ''
log "up in $(($(date +%s) - started)) s: knot $LAB_DNS_ADDR:53, postfix $LAB_PF_ADDR $LAB_CATCHALL_ADDR $LAB_GREY_ADDR $LAB_HIDDEN_ADDR (postgrey :$LAB_POSTGREY_PORT, delay ${LAB_GREYLIST_DELAY}s), exim $LAB_EXIM_ADDR, opensmtpd $LAB_SMTPD_ADDR, dante $LAB_DANTE_OPEN_ADDR $LAB_DANTE_AUTH_ADDR (:$LAB_DANTE_PORT); state in $LAB_RUN"
