/**
 * A JSON job body, `{"emails": [...], "name"?, "webhook"?}` (or Reacher's `{"input": [...], …}`: the
 * list's member and the fields kept are the caller's `JsonListShape`), read as it streams in: each address is
 * handed on as soon as its string ends and nothing of the list is kept here, so a list as long as the
 * upload limit costs about one chunk of memory, not the body plus its parse. `@streamparser/json`
 * tokenizes and assembles; between its two halves a guard holds the body to the shape of a job and to
 * limits the parser has none of, so that no body, however built, costs more than a few chunks:
 *
 * - a string or number longer than `MAX_VALUE_CHARS` (a 10 MB "address") is refused as it grows;
 * - nesting deeper than `MAX_DEPTH` is refused at its first bracket;
 * - everything beside the list (`name`, `webhook`, fields rcpt does not know, which it ignores) may
 *   take `MAX_FIELDS_CHARS` in all, since the parser builds those values whole;
 * - more than `maxAddresses` addresses is a 413 at the first one over, as a CSV or text upload's.
 *
 * Each problem is an `HttpError` (400, or 413 for a limit) whose message says what and where.
 */
import { TokenParser, TokenType, Tokenizer, type ParsedTokenInfo } from '@streamparser/json';

import { HttpError } from './http-error.js';

/**
 * Longest string or number, in characters. An address has at most 254 (RFC 5321 §4.5.3.1.3); this is
 * the longest line a text or CSV upload reads as one row (src/jobs/read-input.ts, MAX_LINE_CHARS).
 */
export const MAX_VALUE_CHARS = 65_536;
/** Deepest nesting: a job body needs 3 (`{"webhook": {"headers": {…}}}`); the rest is room. */
export const MAX_DEPTH = 16;
/** Characters of everything beside the list, together: the size of any other request body. */
export const MAX_FIELDS_CHARS = 64 * 1024;

/** The fields of a JSON job beside its list that its shape keeps, as sent (checked by the caller). */
export type JsonJobFields = Readonly<Record<string, unknown>>;

/** Where a kind of JSON job body keeps its list, and what else of it is kept. */
export interface JsonListShape {
  /** The top-level member holding the addresses. */
  readonly key: string;
  /** The other top-level members kept and handed back; the rest are ignored (within the fields' budget). */
  readonly fields: readonly string[];
  /** The 400's message for a list of no address. */
  readonly emptyMessage: string;
}

/** rcpt's own job body (`POST /v1/jobs`). */
export const JOB_LIST_SHAPE: JsonListShape = {
  key: 'emails',
  fields: ['name', 'webhook'],
  emptyMessage: '"emails" is empty',
};

export interface JsonJobListOptions {
  /** Most addresses; one more is a 413. */
  readonly maxAddresses: number;
  /** Where the list is. Default: `JOB_LIST_SHAPE`. */
  readonly shape?: JsonListShape;
  /** Called with the addresses of each chunk of the body, in order; awaited before the next chunk. */
  readonly onAddresses: (addresses: readonly string[]) => Promise<void>;
}

export interface JsonJobList {
  /** How many addresses were handed on. */
  readonly count: number;
  readonly fields: JsonJobFields;
}

const malformed = (detail: string) => new HttpError(400, 'bad_request', `Malformed JSON: ${detail}`);
const badShape = (detail: string) => new HttpError(400, 'bad_request', detail);
const tooLong = (offset: number) =>
  badShape(`A value is longer than ${MAX_VALUE_CHARS} characters (from byte ${offset})`);

/** Where the guard is in the body: the nesting depth and the top-level member being read. */
class ShapeGuard {
  depth = 0;
  /** The top-level key whose value is being read; `null` between members. */
  key: string | null = null;
  /** At depth 1, the next string is a key (after `{` or `,`), not a value. */
  expectKey = false;
  /** Inside the `emails` array (depth 2 there). */
  inList = false;
  seenList = false;
  count = 0;
  fieldChars = 0;

  constructor(
    private readonly maxAddresses: number,
    private readonly list: string,
  ) {}

  /** Checks one token before the parser sees it. */
  check({ token, value }: Omit<ParsedTokenInfo, 'offset'>): void {
    if (this.depth === 0) {
      if (token !== TokenType.LEFT_BRACE) {
        throw badShape(`the body must be a JSON object {"${this.list}": ["…", …]}, not ${describe(token)}`);
      }
    } else if (this.depth === 1 && this.expectKey && token === TokenType.STRING) {
      this.key = value as string;
      this.expectKey = false;
      if (this.key === this.list) {
        if (this.seenList) throw badShape(`"${this.list}" is given twice`);
        this.seenList = true;
      } else {
        this.countField(this.key.length + 2);
      }
    } else if (this.inList) {
      this.checkListToken(token);
    } else if (this.key === this.list && this.depth === 1 && token !== TokenType.COLON) {
      if (token !== TokenType.LEFT_BRACKET) {
        throw badShape(`"${this.list}" must be an array of addresses, not ${describe(token)}`);
      }
      this.inList = true;
    } else if (this.key !== null && this.key !== this.list) {
      this.countField(typeof value === 'string' ? value.length + 2 : 1);
    }
    this.track(token);
  }

  /** Everything beside the list is built whole by the parser: it has a budget. */
  private countField(chars: number): void {
    this.fieldChars += chars;
    if (this.fieldChars > MAX_FIELDS_CHARS) {
      throw new HttpError(
        413,
        'payload_too_large',
        `The fields beside "${this.list}" may be ${MAX_FIELDS_CHARS} characters in all`,
      );
    }
  }

  /** Inside the list: strings and commas; anything else is an element that is not an address. */
  private checkListToken(token: TokenType): void {
    if (token === TokenType.STRING) {
      this.count += 1;
      if (this.count > this.maxAddresses) {
        throw new HttpError(413, 'payload_too_large', `At most ${this.maxAddresses} addresses per job`);
      }
    } else if (token === TokenType.RIGHT_BRACKET) {
      this.inList = false;
    } else if (token !== TokenType.COMMA) {
      throw badShape(`"${this.list}"[${this.count}] is ${describe(token)}, not a string`);
    }
  }

  /** Depth and member bookkeeping. */
  private track(token: TokenType): void {
    if (token === TokenType.LEFT_BRACE || token === TokenType.LEFT_BRACKET) {
      this.depth += 1;
      if (this.depth > MAX_DEPTH) throw badShape(`The body is nested deeper than ${MAX_DEPTH} levels`);
      if (this.depth === 1) this.expectKey = true;
    } else if (token === TokenType.RIGHT_BRACE || token === TokenType.RIGHT_BRACKET) {
      this.depth -= 1;
      if (this.depth === 1 || this.depth === 0) this.key = null;
    } else if (token === TokenType.COMMA && this.depth === 1) {
      this.key = null;
      this.expectKey = true;
    }
  }
}

function describe(token: TokenType): string {
  switch (token) {
    case TokenType.LEFT_BRACE:
      return 'an object';
    case TokenType.LEFT_BRACKET:
      return 'an array';
    case TokenType.STRING:
      return 'a string';
    case TokenType.NUMBER:
      return 'a number';
    case TokenType.TRUE:
    case TokenType.FALSE:
      return 'a boolean';
    case TokenType.NULL:
      return 'null';
    default:
      return `"${TokenType[token]}"`;
  }
}

/**
 * Reads `body` (UTF-8 JSON), handing the addresses on chunk by chunk, and resolves with their number
 * and the other fields once the body has ended as one complete object. Rejects with an `HttpError`
 * at the first problem (see the module's comment); what `body` itself fails with (the body-limit
 * middleware's 413) is passed through.
 */
export async function readJsonJobList(
  body: AsyncIterable<Uint8Array>,
  options: JsonJobListOptions,
): Promise<JsonJobList> {
  const shape = options.shape ?? JOB_LIST_SHAPE;
  const tokenizer = new Tokenizer({ emitPartialTokens: true, stringBufferSize: 64 * 1024 });
  // Member names without dots (the parser's selectors are split at them).
  const parser = new TokenParser({
    paths: [`$.${shape.key}.*`, ...shape.fields.map((key) => `$.${key}`)],
    keepStack: false,
  });
  const guard = new ShapeGuard(options.maxAddresses, shape.key);
  const kept = new Set(shape.fields);
  const fields: Record<string, unknown> = {};
  let addresses: string[] = [];
  // Bytes written to the tokenizer: a partial token's length so far is this minus its offset.
  let written = 0;
  let failure: Error | null = null;
  const fail = (error: unknown): never => {
    // Kept as well as thrown: the tokenizer swallows what its callback throws for a partial number.
    failure ??= error instanceof Error ? error : new Error(String(error));
    throw failure;
  };
  tokenizer.onToken = (info) => {
    try {
      if (info.partial === true) {
        // A value still growing at the end of a chunk: refused once too long, never passed on.
        const chars = info.token === TokenType.STRING ? (info.value as string).length : written - info.offset;
        if (chars > MAX_VALUE_CHARS) throw tooLong(info.offset);
        return;
      }
      if (info.token === TokenType.STRING && (info.value as string).length > MAX_VALUE_CHARS) {
        throw tooLong(info.offset);
      }
      guard.check(info);
      parser.write(info);
    } catch (error) {
      fail(error);
    }
  };
  // Errors raised inside the callbacks come back through the tokenizer's onError, which would rethrow
  // them wrapped; kept as they are instead.
  tokenizer.onError = (error) => {
    failure ??= error;
  };
  parser.onError = (error) => {
    failure ??= error;
  };
  // As JSONParser wires them: once the object has ended, the tokenizer refuses anything but spaces.
  parser.onEnd = () => {
    if (!tokenizer.isEnded) tokenizer.end();
  };
  parser.onValue = ({ value, key, stack }) => {
    if (stack.length === 1 && typeof key === 'string' && kept.has(key)) fields[key] = value;
    else if (typeof value === 'string') addresses.push(value);
  };
  const rethrow = () => {
    if (failure === null) return;
    if (failure instanceof HttpError) throw failure;
    throw malformed(failure.message);
  };
  for await (const chunk of body) {
    written += chunk.byteLength;
    tokenizer.write(chunk);
    rethrow();
    if (addresses.length > 0) {
      const ready = addresses;
      addresses = [];
      await options.onAddresses(ready);
    }
  }
  if (written === 0) throw badShape('The body is empty');
  if (!parser.isEnded) {
    tokenizer.end();
    rethrow();
    throw malformed('the body ends before its object does');
  }
  if (!guard.seenList) throw badShape(`"${shape.key}" is missing`);
  if (guard.count === 0) throw badShape(shape.emptyMessage);
  return { count: guard.count, fields };
}
