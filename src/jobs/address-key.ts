/**
 * The key under which a job verifies an address once, however many rows carry it.
 */
import { parseAddress } from '../syntax/index.js';

/**
 * The normalised form of an address for de-duplication: the local part as typed (RFC 5321 §2.4: only
 * the receiving server may fold its case) and the domain in A-label form, lowercased (so `Bob@ACME.test`
 * and `Bob@acme.test`, or a U-label and its A-label, are one mailbox). An input that is not an address
 * is its own key, prefixed so it can never equal a valid address's key.
 *
 * @example
 * addressKey('Bob@ACME.test') // "Bob@acme.test"
 */
export function addressKey(input: string): string {
  const syntax = parseAddress(input);
  if (syntax.valid && syntax.localPart !== null && syntax.asciiDomain !== null) {
    return `${syntax.localPart}@${syntax.asciiDomain}`;
  }
  return `!${input}`;
}

/**
 * The key of a row that could not be read: unique per row, never verified. It has no `@` and does not
 * start with `!`, so it equals neither a valid address's key nor an invalid input's.
 */
export function malformedKey(row: number): string {
  return `#row:${row}`;
}
