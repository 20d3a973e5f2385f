/**
 * The real-MTA lab's addresses and names as the suite sees them. Mirrors lab.conf.sh (shell) and
 * zones/test.zone; the suite's DNS checks fail when they drift apart.
 */
import type { VerifyOptions } from '../../src/index.js';

/** Knot, authoritative for `test.` */
export const LAB_DNS = '127.0.25.53:53';

/** Each server's loopback address (port 25). */
export const LAB_ADDR = {
  postfix: '127.0.25.10',
  catchAll: '127.0.25.11',
  grey: '127.0.25.12',
  hidden: '127.0.25.13',
  exim: '127.0.25.20',
  opensmtpd: '127.0.25.30',
  /** Nothing listens: dead.test's only MX. */
  dead: '127.0.25.99',
  /** Nothing listens: fallback.test's first MX. */
  down: '127.0.25.98',
} as const;

/** The two Dante SOCKS5 proxies of lab.conf.sh: where each listens and the address it connects out from. */
export const LAB_DANTE = {
  open: { url: 'socks5://127.0.25.40:1080', external: '127.0.141.1' },
  auth: {
    url: 'socks5://rcpt-lab-proxy:lab-proxy-secret@127.0.25.42:1080',
    /** How results name it: the user name, never the password. */
    name: 'socks5://rcpt-lab-proxy@127.0.25.42:1080',
    external: '127.0.142.1',
  },
} as const;

/** refused.test's MX address, which the open Dante's ruleset refuses. */
export const LAB_REFUSED_ADDR = '127.0.25.97';

/** postgrey's `--delay` in lab.conf.sh, in milliseconds. */
export const LAB_GREYLIST_DELAY_MS = 3_000;

/** Postfix's error limits in postfix/reject.cf (the pf.test instance). */
export const LAB_POSTFIX_LIMITS = { soft: 3, hard: 6, sleepMs: 1_000 } as const;

/** The MX host name of each server. */
export const LAB_MX = {
  postfix: 'mx.pf.test',
  catchAll: 'mx.catchall.test',
  grey: 'mx.grey.test',
  hidden: 'mx.hidden.test',
  exim: 'mx.exim.test',
  opensmtpd: 'mx.opensmtpd.test',
} as const;

export const LAB_HELO = 'probe.rcpt.test';

/**
 * A sender unique to this run: postgrey's triplet is (client /24, sender, recipient), so a fresh sender
 * is greylisted even when the lab was not restarted since the last run.
 */
export const LAB_MAIL_FROM = `lab-${process.pid}-${Date.now().toString(36)}@rcpt.test`;

/** Options every lab verification uses: the lab's DNS, port 25, loopback targets allowed. */
export const LAB_OPTIONS: VerifyOptions = {
  dnsServers: [LAB_DNS],
  smtpPort: 25,
  allowPrivateTargets: true,
  helo: LAB_HELO,
  mailFrom: LAB_MAIL_FROM,
  timeoutMs: 20_000,
  connectTimeoutMs: 2_000,
  greylistWaitMs: 0,
};

/** The lab's run folder (configs, logs, pid files), as in lab.conf.sh. */
export const LAB_RUN = process.env.RCPT_LAB_RUN ?? '/run/rcpt-lab';

/** What a Postfix instance's log says of the SMTP sessions in a slice of it. */
export interface PostfixSessions {
  /** Sessions that began. */
  readonly sessions: number;
  /** The most open at once. */
  readonly maxOpen: number;
  /** Sessions Postfix ended with "421 … too many errors". */
  readonly tooManyErrors: number;
  /** The rejected RCPTs of each session that ended, in the order they ended. */
  readonly rejects: readonly number[];
  /** How many times each recipient was refused. */
  readonly refusedTimes: ReadonlyMap<string, number>;
}

/**
 * Reads the sessions in lines of a Postfix log: smtpd logs `connect from` and `disconnect from` per
 * process id, in order, through postlogd, and each rejected RCPT as `NOQUEUE: reject: RCPT` before a
 * queue file exists, `<queue id>: reject: RCPT` after.
 */
export function postfixSessions(lines: readonly string[]): PostfixSessions {
  const open = new Map<string, number>();
  const rejects: number[] = [];
  const refusedTimes = new Map<string, number>();
  let sessions = 0;
  let maxOpen = 0;
  let tooManyErrors = 0;
  for (const line of lines) {
    if (/too many errors after/.test(line)) tooManyErrors += 1;
    const match = /postfix\/smtpd\[(\d+)\]: (connect from|disconnect from|\w+: reject: RCPT from) /.exec(
      line,
    );
    if (match === null) continue;
    const [, pid = '', event] = match;
    if (event === 'connect from') {
      open.set(pid, 0);
      sessions += 1;
      maxOpen = Math.max(maxOpen, open.size);
    } else if (event === 'disconnect from') {
      rejects.push(open.get(pid) ?? 0);
      open.delete(pid);
    } else {
      open.set(pid, (open.get(pid) ?? 0) + 1);
      const to = / to=<([^>]*)>/.exec(line)?.[1] ?? '';
      refusedTimes.set(to, (refusedTimes.get(to) ?? 0) + 1);
    }
  }
  return { sessions, maxOpen, tooManyErrors, rejects, refusedTimes };
}
