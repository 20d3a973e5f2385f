/**
 * Amazon SES bounce notifications delivered by email (an SNS topic subscribed by email): a JSON
 * object with `notificationType` `Bounce`, `Complaint` or `Delivery`, and per bounced recipient
 * `emailAddress`, `action`, `status`, `diagnosticCode`; per complained recipient (`complainedRecipients`)
 * `emailAddress`, with the complaint's `complaintFeedbackType` (Amazon SES Developer Guide, "Contents
 * of notifications for Amazon SES"). Mail systems fold such long lines, so the fields are read one
 * recipient object at a time rather than with one JSON.parse.
 */

export interface SesNotification {
  readonly type: 'Bounce' | 'Complaint' | 'Delivery';
  readonly recipients: readonly SesRecipient[];
  readonly reportingMta: string | null;
  readonly timestamp: string | null;
  /** A complaint's `complaintFeedbackType`: the ISP report's RFC 5965 Feedback-Type, when it had one. */
  readonly feedbackType: string | null;
}

export interface SesRecipient {
  readonly address: string;
  readonly action: string | null;
  readonly status: string | null;
  readonly diagnosticCode: string | null;
}

/** A JSON string's value: the field after `"name":`, escapes decoded. */
function field(text: string, name: string): string | null {
  const match = new RegExp(`"${name}"\\s*:\\s*"((?:[^"\\\\]|\\\\.)*)"`).exec(text);
  if (match === null) return null;
  try {
    return JSON.parse(`"${match[1] ?? ''}"`) as string;
  } catch {
    return match[1] ?? null;
  }
}

/**
 * An Amazon SNS notification delivered by email-json (or pasted from an HTTP endpoint): `"Type" :
 * "Notification"` with the SES notification as a JSON *string* in `"Message"` (Amazon SNS Developer
 * Guide, "Parsing message formats"). The string is decoded so its fields read like a plain one's.
 */
function unwrapSns(text: string): string {
  if (!/"Type"\s*:\s*"Notification"/.test(text)) return text;
  const message = field(text.replace(/\r?\n[ \t]+/g, ''), 'Message');
  return message !== null && /"notificationType"/.test(message) ? message : text;
}

/**
 * A field of the `complaint` object itself (its `timestamp` is when the ISP sent the complaint; the
 * `mail` object has a `timestamp` of its own, the sending time): read with the recipient list taken
 * out, which leaves the object flat.
 */
function complaintField(json: string, name: string): string | null {
  const flat = json.replace(/"complainedRecipients"\s*:\s*\[[^\]]*\]/, '"complainedRecipients":[]');
  const complaint = /"complaint"\s*:\s*\{([^{}]*)\}/.exec(flat)?.[1];
  return complaint === undefined ? null : field(complaint, name);
}

export function readSesNotification(input: string): SesNotification | null {
  const text = unwrapSns(input);
  const type = /"notificationType"\s*:\s*"(Bounce|Complaint|Delivery)"/.exec(text)?.[1];
  if (type === undefined) return null;
  // Undo the folding of a long line (`…"name":"!\n Content-…`) before reading fields.
  const json = text.replace(/!?\r?\n[ \t]+/g, '');
  const list = /"(?:bouncedRecipients|complainedRecipients)"\s*:\s*\[([^\]]*)\]/.exec(json)?.[1] ?? '';
  let recipients: SesRecipient[] = [...list.matchAll(/\{[^{}]*\}/g)]
    .map((object) => ({
      address: field(object[0], 'emailAddress') ?? '',
      action: field(object[0], 'action'),
      status: field(object[0], 'status'),
      diagnosticCode: field(object[0], 'diagnosticCode'),
    }))
    .filter((recipient) => recipient.address !== '');
  if (type === 'Delivery') {
    // A delivery notification lists its recipients as strings: `"delivery": {"recipients": ["a@x"], …}`.
    const delivered = /"delivery"\s*:\s*\{[^{}]*?"recipients"\s*:\s*\[([^\]]*)\]/.exec(json)?.[1] ?? '';
    recipients = [...delivered.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((match) => ({
      address: match[1] ?? '',
      action: 'delivered',
      status: field(json, 'smtpResponse')?.match(/\b2\.\d{1,3}\.\d{1,3}\b/)?.[0] ?? null,
      diagnosticCode: field(json, 'smtpResponse'),
    }));
  }
  const reportingMta = field(json, 'reportingMTA');
  return {
    type: type as SesNotification['type'],
    recipients,
    reportingMta: reportingMta === null ? null : reportingMta.replace(/^dsn;\s*/i, ''),
    timestamp:
      type === 'Complaint'
        ? (complaintField(json, 'timestamp') ?? field(json, 'timestamp'))
        : field(json, 'timestamp'),
    feedbackType: type === 'Complaint' ? field(json, 'complaintFeedbackType') : null,
  };
}
