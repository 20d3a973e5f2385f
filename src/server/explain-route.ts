/**
 * `POST /v1/explain`: `explainReply()` over HTTP. A `text/plain` body is a reply, a multi-line reply or
 * a session transcript; a JSON body is `{ "reply": "…", "command"?: "RCPT", "provider"?: "google" }`.
 * The answer is `{ "explanations": [ … ] }`, one per reply found; input with no reply in it (empty,
 * binary, no reply code) gets one explanation of category `not_a_reply` that says why. A
 * `message/rfc822` body (or RFC 6532's `message/global`) is a bounce: `explainBounce()` answers in
 * `bounce`, and `explanations` holds its recipients' explanations. Authentication, the rate limit and
 * the body limit are the app's, as for `/v1/verify`.
 */
import { createRoute, z, type OpenAPIHono } from '@hono/zod-openapi';
import type { Context } from 'hono';

import {
  ACTION_KINDS,
  CATEGORY_IDS,
  EXPLAIN_COMMANDS,
  REASONS,
  SMTP_STAGES,
  VERDICTS,
  BOUNCE_KINDS,
  explainBounce,
  explainBounceText,
  explainReply,
  looksLikeMessage,
  type BounceExplanation,
  type ExplainReplyOptions,
  type Reason,
  type ReplyExplanation,
} from '../index.js';
import { InputError, textDecoderOf } from '../jobs/index.js';
import type { AppEnv } from './app-env.js';
import { charsetOf } from './body-limit.js';
import { HttpError } from './http-error.js';
import { ErrorSchema } from './schemas.js';

const ExplainRequestSchema = z
  .object({
    reply: z.string().openapi({
      description: 'A reply, a multi-line reply, a reply quoted in a bounce, or an SMTP session transcript',
      example: '550 5.1.1 <x@example.com>: Recipient address rejected: User unknown in virtual mailbox table',
    }),
    command: z.enum(EXPLAIN_COMMANDS).nullable().optional().openapi({
      description: 'The command the reply answered, when the text does not say (default: read as RCPT)',
    }),
    provider: z.string().max(253).nullable().optional().openapi({
      description: 'The provider id (`google`, `outlook`, …) or MX host name that sent the reply',
    }),
  })
  .openapi('ExplainRequest');

export const ExplanationSchema = z
  .object({
    reply: z.object({
      code: z.number().int().nullable(),
      enhanced: z.string().nullable(),
      text: z.string(),
      command: z.enum(EXPLAIN_COMMANDS).nullable(),
    }),
    readAs: z.enum(SMTP_STAGES).nullable(),
    verdict: z.enum(VERDICTS),
    reason: z.enum(Object.keys(REASONS) as [Reason, ...Reason[]]),
    category: z.enum(CATEGORY_IDS),
    permanence: z.enum(['success', 'temporary', 'permanent']).nullable(),
    side: z.enum(['recipient', 'sender', 'message', 'network']).nullable(),
    meaning: z.string(),
    action: z.object({
      kind: z.enum(ACTION_KINDS),
      advice: z.string(),
      retryAfterMs: z.number().int().nullable(),
      url: z.string().nullable(),
    }),
    rule: z.object({ id: z.string(), source: z.string(), url: z.string().nullable() }),
    provider: z.string().nullable(),
    note: z.string().nullable().openapi({
      description:
        'How the input was read, when it matters: an enhanced status code without its reply code (`5.1.1 user unknown`) is read by its class, and says so here',
    }),
  })
  .openapi('ReplyExplanation');

const BounceRecipientSchema = z
  .object({
    address: z.string(),
    originalRecipient: z.string().nullable(),
    action: z.enum(['failed', 'delayed', 'delivered', 'relayed', 'expanded']).nullable(),
    status: z.string().nullable().openapi({ description: 'RFC 3463 status (`5.1.1`)' }),
    reply: z
      .string()
      .nullable()
      .openapi({ description: "The remote server's reply as the bounce quotes it" }),
    command: z.enum(EXPLAIN_COMMANDS).nullable(),
    remoteMta: z.string().nullable(),
    diagnostic: z
      .string()
      .nullable()
      .openapi({ description: 'The diagnosis in words, when there is no reply' }),
    date: z.string().nullable(),
    explanation: ExplanationSchema.nullable(),
    explainedFrom: z.enum(['reply', 'status', 'diagnostic']).nullable(),
    bounceRule: z.string().nullable(),
  })
  .openapi('BounceRecipient');

const FeedbackRecipientSchema = z
  .object({
    address: z.string(),
    source: z.enum(['original-rcpt-to', 'removal-recipient', 'original-to', 'ses', 'jmrp', 'from']).openapi({
      description:
        "Where the report names the person: RFC 5965 Original-Rcpt-To, the pre-RFC 5965 ARF drafts' Removal-Recipient, the reported message's To, SES complainedRecipients, JMRP X-HmXmrOriginalRecipient, an unsubscribe request's From",
    }),
    redacted: z.boolean().openapi({ description: 'The reporter hid the address (RFC 6590)' }),
    date: z.string().nullable().openapi({ description: 'When the complaint or request was made, ISO 8601' }),
  })
  .openapi('FeedbackRecipient');

export const BounceSchema = z
  .object({
    kind: z.enum(BOUNCE_KINDS).openapi({
      description:
        'bounce, delay, delivery_report, auto_reply, feedback_report (ARF), not_a_bounce, not_a_message, empty, binary, unreadable',
    }),
    format: z.enum(['dsn', 'ses', 'text']).nullable(),
    reportingMta: z.string().nullable(),
    from: z.string().nullable(),
    subject: z.string().nullable(),
    date: z.string().nullable(),
    recipients: z.array(BounceRecipientSchema),
    feedbackType: z.string().nullable(),
    feedbackRecipients: z.array(FeedbackRecipientSchema).openapi({
      description:
        'For a feedback_report: who complained (an ARF abuse or fraud report, an Amazon SES complaint) or asked to be unsubscribed; a redacted address is marked, never a row of the suppression list',
    }),
    truncated: z.boolean(),
    problem: z.string().nullable(),
  })
  .openapi('BounceExplanation');

const ExplainResponseSchema = z
  .object({
    explanations: z.array(ExplanationSchema),
    bounce: BounceSchema.optional().openapi({
      description: 'For a message/rfc822 body: the bounce, per recipient',
    }),
  })
  .openapi('ExplainResponse');

/** Media types of a whole message: RFC 2046 §5.2.1, and RFC 6532 §3.7 for an internationalised one. */
const MESSAGE_TYPES = new Set(['message/rfc822', 'message/global']);

function explainRoute() {
  return createRoute({
    method: 'post',
    path: '/v1/explain',
    summary: 'Explain an SMTP reply, a transcript or a bounce message',
    description:
      'What a reply means for the address (the verdict and reason `verify` would give), a finer category, whose side it is on (recipient, sender, message, network), what to do, and the rule with its source. Send the reply as `text/plain`, or `{"reply": "…", "command"?: "RCPT", "provider"?: "google"}`. A transcript gets one explanation per reply, each with the command it answered. A bounce message (`message/rfc822`, an .eml file) is answered in `bounce`: what kind of message it is (a bounce, an auto-reply, an abuse report …) and per failed recipient the address, the reply, the command it answered, the remote MTA and the explanation.',
    security: [{ bearer: [] }],
    request: {
      body: {
        // Not `required`: a required body makes the JSON validator run for text bodies too.
        required: false,
        content: {
          'application/json': { schema: ExplainRequestSchema },
          'text/plain': { schema: z.string() },
          'message/rfc822': {
            schema: z.string().openapi({ description: 'A bounce message (an .eml file)' }),
          },
          'message/global': {
            schema: z.string().openapi({ description: 'An internationalised bounce message (RFC 6532)' }),
          },
        },
      },
    },
    responses: {
      200: {
        description: 'One explanation per reply found',
        content: { 'application/json': { schema: ExplainResponseSchema } },
      },
      400: { description: 'Malformed JSON body', content: { 'application/json': { schema: ErrorSchema } } },
      401: {
        description: 'Missing or unknown API key',
        content: { 'application/json': { schema: ErrorSchema } },
      },
      413: { description: 'Body too large', content: { 'application/json': { schema: ErrorSchema } } },
      415: {
        description: 'Unsupported content type',
        content: { 'application/json': { schema: ErrorSchema } },
      },
      429: { description: 'Rate limit reached', content: { 'application/json': { schema: ErrorSchema } } },
    },
  });
}

/**
 * A text body as text: in its Content-Type's charset, or UTF-16 by its byte-order mark (PowerShell 5
 * writes one), else UTF-8. Read as UTF-8, every other byte of UTF-16 was a NUL: "binary data".
 */
async function bodyText(c: Context<AppEnv>): Promise<string> {
  const bytes = new Uint8Array(await c.req.arrayBuffer());
  let decoder;
  try {
    decoder = textDecoderOf(bytes, charsetOf(c));
  } catch (error) {
    if (error instanceof InputError) throw new HttpError(400, 'bad_request', error.message);
    throw error;
  }
  return (decoder ?? new TextDecoder()).decode(bytes);
}

/** The media type of the request, without parameters, lowercased. */
function mediaType(c: Context<AppEnv>): string {
  return (c.req.header('content-type') ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
}

/**
 * Adds `POST /v1/explain`. The app's `/v1/*` middleware authenticates and charges the caller, and its
 * body limit applies. Other media types (a bounce message) are answered by `explainOther` when given.
 */
export function registerExplainRoute(
  app: OpenAPIHono<AppEnv>,
  explainOther?: (c: Context<AppEnv>, type: string) => Promise<ReplyExplanation[] | null>,
): void {
  app.openapi(explainRoute(), async (c) => {
    const type = mediaType(c);
    let explanations: ReplyExplanation[];
    const bounceAnswer = (bounce: BounceExplanation) => {
      const fromRecipients = bounce.recipients.flatMap((r) =>
        r.explanation === null ? [] : [r.explanation],
      );
      return c.json({ explanations: fromRecipients, bounce }, 200);
    };
    if (type === 'application/json' || type.endsWith('+json') || type === 'text/plain' || type === '') {
      let text: string;
      let options: ExplainReplyOptions = {};
      if (type === 'text/plain' || type === '') text = await bodyText(c);
      else {
        // Only JSON bodies are validated (and only they reach here); text is read above.
        const body = c.req.valid('json') as z.infer<typeof ExplainRequestSchema>;
        text = body.reply;
        options = {
          ...(body.command === undefined ? {} : { command: body.command }),
          ...(body.provider === undefined ? {} : { provider: body.provider }),
        };
      }
      // A whole message sent as text (`curl --data-binary @bounce.eml` with text/plain) is a bounce, as
      // rcpt explain reads a file of it.
      if (looksLikeMessage(text)) return bounceAnswer(await explainBounce(text));
      explanations = explainReply(text, options);
      if (explanations.every((e) => e.reply.code === null)) {
        // A bounce's text without its headers (copied from a mail client) where no reply starts a
        // line: the bounce side's rules for bounce text read it as a message body (before an enhanced
        // code alone is read by its class: the bounce names the recipient too).
        const bounce = await explainBounceText(text);
        if (bounce !== null) return bounceAnswer(bounce);
      }
    } else if (MESSAGE_TYPES.has(type)) {
      return bounceAnswer(await explainBounce(new Uint8Array(await c.req.arrayBuffer())));
    } else {
      const other = explainOther === undefined ? null : await explainOther(c, type);
      if (other === null) {
        throw new HttpError(
          415,
          'unsupported_media_type',
          `Send text/plain (a reply or transcript), application/json ({"reply": "…"}) or message/rfc822 (a bounce), not ${type}`,
        );
      }
      explanations = other;
    }
    return c.json({ explanations }, 200);
  });
}
