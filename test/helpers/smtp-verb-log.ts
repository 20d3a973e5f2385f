/**
 * Every command verb any test SMTP server (persona or raw) received in this test process, so a test
 * at the end of a file can assert that the prober never sent DATA or BDAT to any of them.
 */
const verbs = new Map<string, number>();

/** Records the verb of a command line as the server received it. */
export function recordCommand(line: string): void {
  const verb = (line.trim().split(/\s+/, 1)[0] ?? '').toUpperCase();
  verbs.set(verb, (verbs.get(verb) ?? 0) + 1);
}

/** Verbs seen so far, with how many times each was received. */
export function seenVerbs(): ReadonlyMap<string, number> {
  return verbs;
}
