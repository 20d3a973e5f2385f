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
LAB_EXIM_ADDR=127.0.25.20      # Exim (exim.test, implicit.test)
LAB_SMTPD_ADDR=127.0.25.30     # OpenSMTPD (opensmtpd.test, fallback.test)
LAB_DEAD_ADDR=127.0.25.99      # nothing listens: dead.test's only MX
LAB_DOWN_ADDR=127.0.25.98      # nothing listens: fallback.test's first MX
LAB_POSTGREY_PORT=10023
# postgrey's delay, in seconds: short, so the suite waits it out (Debian's default is 300).
LAB_GREYLIST_DELAY=3

# Per-run state (configs rendered from the templates here, queues, logs, pid files): wiped by up.sh.
LAB_RUN=${RCPT_LAB_RUN:-/run/rcpt-lab}
# Exim and OpenSMTPD conflict with Postfix as Debian packages (all provide mail-transport-agent), so
# their .debs are unpacked here instead of installed (lab-notes.md). Kept across runs.
LAB_PKGS=${RCPT_LAB_PKGS:-/var/cache/rcpt-lab}
