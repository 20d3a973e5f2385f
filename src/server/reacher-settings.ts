/**
 * The per-request settings of Reacher's check requests (`from_email`, `hello_name`, `smtp_port`,
 * `smtp_timeout`, `proxy`, the `*_verif_method` fields), read from a request body: each value is
 * checked, a bad one is refused with a message in Reacher's manner (its backend answers
 * `{"error": "hello_name must be a hostname or an address literal."}`), and a setting the operator has
 * locked (`rcpt serve --reacher-lock`) is refused rather than ignored. Field names and types follow
 * Reacher's `CheckEmailRequest` (reacherhq/check-if-email-exists backend 0.11); docs/reacher.md maps
 * each one to what rcpt does.
 */
import { parseAddress, parseProxyUrl, type ProxyEndpoint, type VerifyCallOptions } from '../index.js';
import { HttpError } from './http-error.js';

/** Every request field that changes how a check is made, listed once (what `--reacher-lock` names). */
export const REACHER_SETTINGS = [
  'from_email',
  'hello_name',
  'smtp_port',
  'smtp_timeout',
  'proxy',
  'gmail_verif_method',
  'hotmailb2b_verif_method',
  'hotmailb2c_verif_method',
  'yahoo_verif_method',
  'check_gravatar',
] as const;
export type ReacherSetting = (typeof REACHER_SETTINGS)[number];

/**
 * The methods Reacher names per provider (its `*VerifMethod` enums; serde's variant names, so exact
 * case). rcpt verifies every provider by SMTP, so `Smtp` is the only one it can honour.
 */
const VERIF_METHODS = {
  gmail_verif_method: ['Api', 'Smtp'],
  hotmailb2b_verif_method: ['Smtp'],
  hotmailb2c_verif_method: ['Api', 'Headless', 'Smtp'],
  yahoo_verif_method: ['Api', 'Headless', 'Smtp'],
} as const satisfies Partial<Record<ReacherSetting, readonly string[]>>;

/** A SOCKS5 proxy as Reacher's `CheckEmailInputProxy` names it. */
export interface ReacherProxy {
  readonly host: string;
  readonly port: number;
  readonly username: string | null;
  readonly password: string | null;
}

/**
 * Which proxies a request may name: only the operator's (`rcpt serve --proxy`, docs/proxies.md). A
 * client-chosen proxy would let any API user make the server connect anywhere.
 */
export interface ProxyPolicy {
  /** The operator's proxy that `requested` names (and its URL for the verifier), or why it is refused. */
  accept(
    requested: ReacherProxy,
  ): { readonly proxy: ReacherProxy; readonly url: string } | { readonly refused: string };
}

/** No proxy is configured: every request that names one is refused, saying so. */
export const NO_PROXIES: ProxyPolicy = {
  accept: () => ({
    refused:
      'proxy: this server accepts only proxies configured by its operator, and none is configured; leave "proxy" out',
  }),
};

/**
 * The operator's proxies (`socks5://` URLs, as `rcpt serve --proxy` takes them): a request's `proxy`
 * is honoured when host, port, username and password all match one of them; anything else is refused.
 */
export function configuredProxies(urls: readonly string[]): ProxyPolicy {
  const endpoints = urls.flatMap((url) => {
    const parsed = parseProxyUrl(url);
    return parsed.ok ? [{ url, endpoint: parsed.endpoint }] : [];
  });
  if (endpoints.length === 0) return NO_PROXIES;
  const same = (endpoint: ProxyEndpoint, requested: ReacherProxy): boolean =>
    endpoint.host.toLowerCase() === requested.host.toLowerCase().replace(/^\[|\]$/g, '') &&
    endpoint.port === requested.port &&
    endpoint.username === requested.username &&
    endpoint.password === requested.password;
  return {
    accept(requested) {
      const match = endpoints.find(({ endpoint }) => same(endpoint, requested));
      if (match === undefined) {
        return {
          refused: `proxy: ${requested.host}:${requested.port} is not one of the proxies configured by this server's operator (with those credentials)`,
        };
      }
      return { proxy: requested, url: match.url };
    },
  };
}

/** What the operator decides about per-request settings. */
export interface ReacherSettingsPolicy {
  /** Settings a request may not set (refused with 403). */
  readonly locked: ReadonlySet<ReacherSetting>;
  readonly proxies: ProxyPolicy;
  /** Longest `smtp_timeout` honoured, in milliseconds (the synchronous deadline); longer ones are capped. */
  readonly maxTimeoutMs: number;
}

/** How a check presents itself to mail servers, as Reacher echoes it in `debug.smtp.verif_method`. */
export interface SmtpSettingsEcho {
  readonly from_email: string;
  readonly hello_name: string;
  readonly proxy: string | null;
  readonly smtp_port: number;
  readonly smtp_timeout: { readonly secs: number; readonly nanos: number } | null;
  readonly retries: number;
}

/** The server's own settings, echoed when a request sets none. */
export interface ServerSmtpSettings {
  readonly fromEmail: string;
  readonly helloName: string;
  readonly smtpPort: number;
  readonly timeoutMs: number;
}

/** A request's settings, checked. */
export interface ReacherCheckSettings {
  /** What to pass to `verifier.verify()` (only what the request set). */
  readonly call: Pick<VerifyCallOptions, 'helo' | 'mailFrom' | 'smtpPort' | 'timeoutMs' | 'proxy'>;
  /** The effective settings, for `debug.smtp.verif_method.verif_method`. */
  readonly echo: SmtpSettingsEcho;
}

/** The server's own settings as Reacher echoes them (bulk jobs run with these). */
export function serverEcho(server: ServerSmtpSettings): SmtpSettingsEcho {
  return {
    from_email: server.fromEmail,
    hello_name: server.helloName,
    proxy: null,
    smtp_port: server.smtpPort,
    smtp_timeout: toDuration(server.timeoutMs),
    // rcpt makes one conversation per address (plus a greylisting retry when the deadline allows).
    retries: 1,
  };
}

/** A DNS host name (RFC 1123 §2.1 labels) or an address literal (RFC 5321 §4.1.3). */
const HOST_NAME =
  /^(?=.{1,253}\.?$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;
const ADDRESS_LITERAL = /^\[(?:\d{1,3}(?:\.\d{1,3}){3}|IPv6:[0-9A-Fa-f:.]{2,45})\]$/;

/** Whether `name` may be sent in EHLO: a host name or an address literal, nothing that could split a line. */
export function isValidHelloName(name: string): boolean {
  return HOST_NAME.test(name) || ADDRESS_LITERAL.test(name);
}

function bad(message: string): HttpError {
  return new HttpError(400, 'bad_request', message);
}

/** Rust's `Duration` as serde writes it, from milliseconds. */
export function toDuration(ms: number): { secs: number; nanos: number } {
  const whole = Math.max(0, Math.round(ms));
  return { secs: Math.floor(whole / 1000), nanos: (whole % 1000) * 1_000_000 };
}

/** `smtp_timeout` in milliseconds: Reacher's `Duration` (`{"secs","nanos"}`), or a number of seconds. */
function timeoutMsOf(value: unknown): number {
  const message =
    'smtp_timeout must be a number of seconds or a duration {"secs": 30, "nanos": 0}, greater than 0';
  let ms: number;
  if (typeof value === 'number') {
    ms = value * 1000;
  } else if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const { secs, nanos = 0 } = value as { secs?: unknown; nanos?: unknown };
    if (typeof secs !== 'number' || typeof nanos !== 'number' || !Number.isInteger(secs)) throw bad(message);
    if (!Number.isInteger(nanos) || nanos < 0 || nanos >= 1_000_000_000) throw bad(message);
    ms = secs * 1000 + nanos / 1_000_000;
  } else {
    throw bad(message);
  }
  if (!Number.isFinite(ms) || ms < 1) throw bad(message);
  return Math.round(ms);
}

/** A TCP port (`smtp_port`, `proxy.port`): an integer from 1 to 65535, else a 400 naming `field`. */
function portOf(field: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 65_535) {
    throw bad(
      `${field} must be an integer from 1 to 65535, got ${value === undefined ? 'none' : JSON.stringify(value)}`,
    );
  }
  return value;
}

function proxyOf(value: unknown): ReacherProxy {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw bad('proxy must be an object {"host": "…", "port": 1080, "username"?: "…", "password"?: "…"}');
  }
  const { host, port: portValue, username, password } = value as Record<string, unknown>;
  if (typeof host !== 'string' || host === '') throw bad('proxy.host must be a non-empty string');
  const port = portOf('proxy.port', portValue);
  for (const [name, field] of [
    ['username', username],
    ['password', password],
  ] as const) {
    if (field !== undefined && field !== null && typeof field !== 'string') {
      throw bad(`proxy.${name} must be a string`);
    }
  }
  return {
    host,
    port,
    username: typeof username === 'string' ? username : null,
    password: typeof password === 'string' ? password : null,
  };
}

/** A `*_verif_method` value: Reacher's enum name, or its newer tagged form `{"type": "smtp", …}`. */
function verifMethodOf(field: keyof typeof VERIF_METHODS, value: unknown): void {
  const allowed: readonly string[] = VERIF_METHODS[field];
  let name: unknown = value;
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const type = (value as { type?: unknown }).type;
    // The tagged form is lower-case (`#[serde(tag = "type", rename_all = "lowercase")]`).
    name = typeof type === 'string' ? allowed.find((method) => method.toLowerCase() === type) : undefined;
    if (name === undefined) {
      throw bad(
        `${field}: unknown variant ${JSON.stringify(type)}, expected one of ${allowed.map((m) => `"${m.toLowerCase()}"`).join(', ')}`,
      );
    }
  }
  if (typeof name !== 'string' || !allowed.includes(name)) {
    throw bad(
      `${field}: unknown variant ${JSON.stringify(name)}, expected one of ${allowed.map((m) => `"${m}"`).join(', ')}`,
    );
  }
  if (name !== 'Smtp') {
    throw bad(
      `${field}: rcpt verifies every provider by SMTP; "${name}" is not available here (send "Smtp" or leave the field out)`,
    );
  }
}

/**
 * Reads and checks a Reacher request's settings. Throws an `HttpError`: 400 for a bad value, 403 for a
 * setting the operator locked. `to_email` is checked by the caller.
 */
export function readReacherSettings(
  body: Readonly<Record<string, unknown>>,
  policy: ReacherSettingsPolicy,
  server: ServerSmtpSettings,
): ReacherCheckSettings {
  for (const setting of REACHER_SETTINGS) {
    if (body[setting] !== undefined && body[setting] !== null && policy.locked.has(setting)) {
      throw new HttpError(
        403,
        'forbidden',
        `${setting} is locked by this server's operator: requests may not set it`,
      );
    }
  }
  const present = (name: ReacherSetting): unknown => body[name] ?? undefined;

  const helloName = present('hello_name');
  if (helloName !== undefined && (typeof helloName !== 'string' || !isValidHelloName(helloName))) {
    throw bad('hello_name must be a hostname or an address literal.');
  }
  const fromEmail = present('from_email');
  // '' is the null reverse-path `<>`, as the server's own echo shows it when it probes with it: a
  // client that sends back what it was shown is not refused.
  if (
    fromEmail !== undefined &&
    (typeof fromEmail !== 'string' || (fromEmail !== '' && !parseAddress(fromEmail).valid))
  ) {
    throw bad('from_email must be an email address, or "" for the null reverse-path <>.');
  }
  const portValue = present('smtp_port');
  const port = portValue === undefined ? undefined : portOf('smtp_port', portValue);
  const timeout = present('smtp_timeout');
  // Capped like Reacher's request deadline: one check may not outlast the synchronous request.
  const timeoutMs = timeout === undefined ? undefined : Math.min(timeoutMsOf(timeout), policy.maxTimeoutMs);
  for (const field of Object.keys(VERIF_METHODS) as (keyof typeof VERIF_METHODS)[]) {
    const value = present(field);
    if (value !== undefined) verifMethodOf(field, value);
  }
  const gravatar = present('check_gravatar');
  if (gravatar !== undefined && typeof gravatar !== 'boolean') throw bad('check_gravatar must be a boolean');
  if (gravatar === true) {
    throw bad('check_gravatar: rcpt makes no third-party lookups (Gravatar, HaveIBeenPwned); leave it out');
  }
  const proxyValue = present('proxy');
  let proxy: ReacherProxy | null = null;
  let proxyUrl: string | null = null;
  if (proxyValue !== undefined) {
    const accepted = policy.proxies.accept(proxyOf(proxyValue));
    if ('refused' in accepted) throw bad(accepted.refused);
    proxy = accepted.proxy;
    proxyUrl = accepted.url;
  }

  return {
    call: {
      ...(typeof helloName === 'string' ? { helo: helloName } : {}),
      ...(typeof fromEmail === 'string' ? { mailFrom: fromEmail } : {}),
      ...(typeof port === 'number' ? { smtpPort: port } : {}),
      ...(timeoutMs === undefined ? {} : { timeoutMs }),
      ...(proxyUrl === null ? {} : { proxy: proxyUrl }),
    },
    echo: {
      ...serverEcho(server),
      ...(typeof fromEmail === 'string' ? { from_email: fromEmail } : {}),
      ...(typeof helloName === 'string' ? { hello_name: helloName } : {}),
      ...(proxy === null ? {} : { proxy: `${proxy.host}:${proxy.port}` }),
      ...(typeof port === 'number' ? { smtp_port: port } : {}),
      ...(timeoutMs === undefined ? {} : { smtp_timeout: toDuration(timeoutMs) }),
    },
  };
}

/** Parses `--reacher-lock`'s value: setting names separated by commas; `all` locks every one. */
export function parseLockedSettings(value: string): Set<ReacherSetting> {
  const locked = new Set<ReacherSetting>();
  for (const raw of value.split(/[\s,]+/)) {
    const name = raw.trim();
    if (name === '') continue;
    if (name === 'all') {
      for (const setting of REACHER_SETTINGS) locked.add(setting);
      continue;
    }
    if (!(REACHER_SETTINGS as readonly string[]).includes(name)) {
      throw new RangeError(`unknown setting "${name}" (one of ${REACHER_SETTINGS.join(', ')}, or all)`);
    }
    locked.add(name as ReacherSetting);
  }
  return locked;
}
