# shellcheck shell=bash
# The lab's addresses and paths, sourced by up.sh, down.sh and run.sh. test/lab/lab.ts mirrors the
# addresses for the suite (and the suite fails if DNS and these disagree).
#
# Each server gets its own loopback address on port 25: Linux answers for all of 127.0.0.0/8 although
# only 127.0.0.1 is configured on lo (lab-notes.md). 127.0.25.0/24 keeps clear of the demo world's and
# the tests' 127.0.0.x personas.
LAB_DNS_ADDR=127.0.25.53       # Knot, authoritative for test.
LAB_PF_ADDR=127.0.25.10        # Postfix rejecting unknown users (pf.test), small error limits
LAB_CATCHALL_ADDR=127.0.25.11  # Postfix catch-all (catchall.test)
LAB_GREY_ADDR=127.0.25.12      # Postfix + postgrey (grey.test)
LAB_HIDDEN_ADDR=127.0.25.13    # Postfix behind a greeting that does not name it (hidden.test)
LAB_EXIM_ADDR=127.0.25.20      # Exim (exim.test, implicit.test)
LAB_SMTPD_ADDR=127.0.25.30     # OpenSMTPD (opensmtpd.test, fallback.test)
LAB_DEAD_ADDR=127.0.25.99      # nothing listens: dead.test's only MX
LAB_DOWN_ADDR=127.0.25.98      # nothing listens: fallback.test's first MX
LAB_POSTGREY_PORT=10023
# Two Dante SOCKS5 proxies (issue 17): each listens on its own address, port 1080, and connects out from
# its own `external:` address, so the servers' logs show the proxy as the client. The external
# addresses sit in /24s of their own, because postgrey's triplet keys on the client's /24.
LAB_DANTE_OPEN_ADDR=127.0.25.40   # no authentication; its ruleset refuses LAB_REFUSED_ADDR
LAB_DANTE_OPEN_EXTERNAL=127.0.141.1
LAB_DANTE_AUTH_ADDR=127.0.25.42   # RFC 1929 user/password against the system user below
LAB_DANTE_AUTH_EXTERNAL=127.0.142.1
LAB_DANTE_PORT=1080
LAB_DANTE_USER=rcpt-lab-proxy
LAB_DANTE_PASSWORD=lab-proxy-secret
LAB_REFUSED_ADDR=127.0.25.97     # refused.test's MX: the open Dante's ruleset blocks it (reply 0x02)
# postgrey's delay, in seconds: short, so the suite waits it out (Debian's default is 300).
LAB_GREYLIST_DELAY=3

# Per-run state (configs rendered from the templates here, queues, logs, pid files): wiped by up.sh.
LAB_RUN=${RCPT_LAB_RUN:-/run/rcpt-lab}
# Exim and OpenSMTPD conflict with Postfix as Debian packages (all provide mail-transport-agent), so
# their .debs are unpacked here instead of installed (lab-notes.md). Kept across runs.
LAB_PKGS=${RCPT_LAB_PKGS:-/var/cache/rcpt-lab}
