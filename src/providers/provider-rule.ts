/**
 * The shape of a provider rule: what rcpt knows about one mail provider or filtering gateway, keyed by
 * the DNS names of its MX hosts. Rules are data (`as const satisfies ProviderRule`), each citing the
 * replies or documentation that justify it (docs/verdicts.md, "Providers"). A pure module.
 */
export interface ProviderRule {
  /** Stable identifier, reported as `smtp.provider` in results and matched by classifier rules. */
  readonly id: string;
  /** Human-readable name. */
  readonly name: string;
  /**
   * DNS suffixes of the provider's MX hosts, matched on a label boundary, case-insensitively, with a
   * trailing dot tolerated: `google.com` matches `aspmx.l.google.com.` and `google.com`, never
   * `evilgoogle.com`.
   */
  readonly mxSuffixes: readonly string[];
  /**
   * Patterns for the 220 greeting text, tried only when no MX suffix matched (a vanity MX name such as
   * `mx.customer.example` pointing at the provider). The greeting's first word, the server's own name
   * (RFC 5321 §4.2), is matched against `mxSuffixes` first; these catch what that misses. No `g`/`y` flags.
   */
  readonly bannerPatterns?: readonly RegExp[];
  /** The provider answers 250 to every RCPT, existing or not: a 250 there proves nothing. */
  readonly acceptAll?: boolean;
  /** A second RCPT in one transaction is refused (452) or penalised: one RCPT, then RSET. */
  readonly oneRecipientPerTransaction?: boolean;
  /** Most simultaneous connections to one of the provider's MX hosts; unset: the scheduler's default. */
  readonly maxConnections?: number;
  /** RCPT replies are slow on purpose (tarpit-like): allow long command timeouts. */
  readonly slowRcpt?: boolean;
  /**
   * Rejected RCPTs per hour from one client IP after which the provider stops telling the truth (drops
   * the connection or silently accepts everything); unset: no documented threshold.
   */
  readonly maxInvalidRecipientsPerHour?: number;
  /**
   * Default ceiling on RCPTs per minute at one of the provider's MX host addresses, when the run sets
   * no `hostRate` (docs/bulk.md, "RCPTs per minute"); unset: none.
   */
  readonly maxRcptsPerMinute?: number;
  /** Anything a maintainer should know that the fields above do not say. */
  readonly notes?: string;
}
