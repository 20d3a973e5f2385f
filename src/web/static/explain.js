// The "Explain a bounce" panel: a reply, a transcript or a bounce message (pasted or an .eml file)
// goes to POST /v1/explain; the answer is shown per reply or per failed recipient. Every value from
// the server is put in the page as text, never as HTML.

import { wireFileDrop } from './file-drop.js';

const $ = (id) => document.getElementById(id);
const KEY_STORAGE = 'rcpt.apiKey';

const KINDS = {
  bounce: 'A bounce',
  delay: 'A delay notice: delivery is still being tried',
  delivery_report: 'A delivery report: nothing failed',
  auto_reply: 'An automatic reply (out of office, vacation), not a bounce',
  feedback_report: 'An abuse feedback report (ARF), not a bounce',
  not_a_bounce: 'A message that reports no failed delivery',
  not_a_message: 'Not an email message',
  empty: 'Nothing to explain',
  binary: 'A binary file, not an email message',
  unreadable: 'A message that could not be read',
};

/** Header fields nearly every message has: text that starts with them is a message, not a reply. */
const MESSAGE_HEAD = /^(?:From |[A-Za-z][A-Za-z0-9-]*[ \t]*:)/;
const COMMON_HEADER =
  /^(?:from|to|subject|date|received|return-path|message-id|mime-version|content-type)[ \t]*:/im;

/**
 * The server's default body limit (64 KiB). A bounce's report and text come before the returned
 * message, so a larger .eml is sent cut to its start rather than refused.
 */
const MAX_MESSAGE_BYTES = 64 * 1024;

let explainFile = null;

function chooseExplainFile(file) {
  explainFile = file;
  $('explain-file-name').textContent = file ? file.name : '';
  $('explain-clear-file').hidden = !file;
  $('explain-text').disabled = Boolean(file);
}

function looksLikeMessage(text) {
  const head = text.trimStart();
  return MESSAGE_HEAD.test(head) && COMMON_HEADER.test(head.split(/\r?\n\r?\n/, 1)[0] ?? '');
}

async function explain(event) {
  event.preventDefault();
  $('explain-error').textContent = '';
  let body;
  let type;
  let note = '';
  if (explainFile) {
    body = explainFile.size > MAX_MESSAGE_BYTES ? explainFile.slice(0, MAX_MESSAGE_BYTES) : explainFile;
    if (explainFile.size > MAX_MESSAGE_BYTES)
      note = 'Only the first 64 KB of the file were sent: they hold the report.';
    type = 'message/rfc822';
  } else {
    const text = $('explain-text').value;
    if (text.trim() === '') {
      $('explain-error').textContent = 'Paste a reply or a bounce, or choose an .eml file.';
      $('explain-text').focus();
      return;
    }
    body = text;
    type = looksLikeMessage(text) ? 'message/rfc822' : 'text/plain; charset=utf-8';
  }
  $('explain-start').disabled = true;
  try {
    const headers = new Headers({ 'Content-Type': type, Accept: 'application/json' });
    const key = sessionStorage.getItem(KEY_STORAGE);
    if (key) headers.set('Authorization', `Bearer ${key}`);
    const response = await fetch('/v1/explain', { method: 'POST', headers, body });
    let answer = null;
    try {
      answer = await response.json();
    } catch {
      // Not JSON: the status says enough.
    }
    if (!response.ok) {
      throw new Error(
        answer && typeof answer.message === 'string'
          ? answer.message
          : `The server answered ${response.status}`,
      );
    }
    render(answer, note);
  } catch (error) {
    $('explain-error').textContent = error instanceof Error ? error.message : String(error);
  } finally {
    $('explain-start').disabled = false;
  }
}

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

function badge(verdict) {
  return element('span', `badge ${verdict}`, verdict);
}

/** One explanation as a list of facts: what it means, whose side, what to do, and the rule. */
function facts(explanation, extra) {
  const list = element('dl', 'explain-facts');
  const add = (term, value, code = false) => {
    if (value === null || value === undefined || value === '') return;
    list.append(element('dt', '', term));
    const dd = element('dd');
    if (code) dd.append(element('code', '', value));
    else dd.textContent = String(value);
    list.append(dd);
  };
  for (const [term, value, code] of extra) add(term, value, code);
  if (explanation) {
    add('Means', `${explanation.reason} · ${String(explanation.category).replace(/_/g, ' ')}`);
    add('In words', explanation.meaning);
    const placed = [explanation.side ? `${explanation.side} side` : null, explanation.permanence].filter(
      Boolean,
    );
    add('Whose side', placed.join(', '));
    add('What to do', explanation.action?.advice);
    // An enhanced code read without its reply code says so.
    add('Note', explanation.note);
    add(
      'Rule',
      explanation.rule?.source ? `${explanation.rule.id} · ${explanation.rule.source}` : explanation.rule?.id,
    );
  }
  return list;
}

function replyText(reply) {
  if (!reply) return '';
  return [reply.code, reply.enhanced, reply.text]
    .filter((part) => part !== null && part !== undefined && part !== '')
    .join(' ');
}

function replyItem(explanation) {
  const item = element('li');
  const head = element('p', 'explain-head');
  head.append(badge(explanation.verdict), element('code', '', replyText(explanation.reply)));
  item.append(head, facts(explanation, [['Command', explanation.reply?.command]]));
  return item;
}

function recipientItem(recipient) {
  const item = element('li');
  const head = element('p', 'explain-head');
  if (recipient.explanation) head.append(badge(recipient.explanation.verdict));
  head.append(element('span', '', recipient.address), element('span', 'hint', recipient.action ?? ''));
  item.append(
    head,
    facts(recipient.explanation, [
      ['Reply', recipient.reply, true],
      ['Command', recipient.command],
      ['Server', recipient.remoteMta],
      ['Status', recipient.status],
      ['Says', recipient.diagnostic],
    ]),
  );
  return item;
}

/** The explanations of replies, whether the server sent them as an array or under a key. */
function replyExplanations(answer) {
  if (Array.isArray(answer)) return answer;
  for (const key of ['explanations', 'replies', 'results']) {
    if (Array.isArray(answer?.[key])) return answer[key];
  }
  return [];
}

/** A feedback report: an unsubscribe or a complaint, and who it is about (a redacted address said so). */
function feedbackSummary(bounce) {
  const unsubscribe = bounce.feedbackType === 'unsubscribe';
  const kind = unsubscribe
    ? "An unsubscribe request from the recipient's mail client, not a bounce"
    : `A feedback report (ARF${bounce.feedbackType ? `, ${bounce.feedbackType}` : ''}), not a bounce`;
  const people = (bounce.feedbackRecipients ?? []).map((recipient) =>
    recipient.redacted ? `${recipient.address} (redacted by the reporter)` : recipient.address,
  );
  if (people.length === 0)
    return `${kind}; it does not say who ${unsubscribe ? 'asked to leave' : 'complained'}`;
  return `${kind}; ${unsubscribe ? 'asked to leave' : 'about'}: ${people.join(', ')}`;
}

function render(answer, note) {
  const items = $('explain-items');
  items.replaceChildren();
  let summary;
  const bounce = answer?.bounce;
  if (bounce && typeof bounce.kind === 'string' && Array.isArray(bounce.recipients)) {
    summary = KINDS[bounce.kind] ?? bounce.kind;
    if (bounce.kind === 'feedback_report') summary = feedbackSummary(bounce);
    if (bounce.problem) summary += `: ${bounce.problem}`;
    else if (bounce.recipients.length > 0) {
      summary += ` (${bounce.recipients.length} recipient${bounce.recipients.length === 1 ? '' : 's'})`;
    }
    for (const recipient of bounce.recipients) items.append(recipientItem(recipient));
  } else {
    const replies = replyExplanations(answer);
    const found = replies.filter((explanation) => explanation.category !== 'not_a_reply');
    summary = found.length === 1 ? 'One reply' : `${found.length} replies`;
    if (found.length === 0) summary = replies[0]?.meaning ?? 'No reply found';
    for (const explanation of found) items.append(replyItem(explanation));
  }
  $('explain-summary').textContent = note ? `${summary}. ${note}` : summary;
  $('explain-result').hidden = false;
  $('explain-summary').focus();
}

function setUp() {
  wireFileDrop(
    { drop: 'explain-drop', input: 'explain-file', clear: 'explain-clear-file' },
    chooseExplainFile,
  );
  $('explain-form').addEventListener('submit', explain);
}

setUp();
