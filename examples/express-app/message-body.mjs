// The body of POST /messages, checked before anything reaches the Mailer. This checks the shape of the request
// (which fields, of which types); the Mailer then checks the message itself (addresses, line breaks in the
// subject) and refuses with an InvalidMessageError, which the route also answers with 400.

/** The fields a request may carry. */
const FIELDS = ['to', 'subject', 'text', 'html', 'emergency'];
/** Most recipients one request may name. */
const MAX_RECIPIENTS = 50;

/** A request the client must fix: answered with 400 and this message. */
export class BadRequestError extends Error {
  /** @param {string} message - what is wrong, for the client */
  constructor(message) {
    super(message);
    this.name = 'BadRequestError';
    this.status = 400;
    this.expose = true; // the message is written for the client
  }
}

function fail(message) {
  throw new BadRequestError(message);
}

function recipients(to) {
  const list = typeof to === 'string' ? [to] : to;
  if (!Array.isArray(list) || list.length === 0 || list.some((entry) => typeof entry !== 'string')) {
    fail('"to" must be an email address or a non-empty list of email addresses');
  }
  if (list.length > MAX_RECIPIENTS) fail(`"to" may name at most ${MAX_RECIPIENTS} recipients`);
  return to;
}

function text(body, field, { required }) {
  const value = body[field];
  if (value === undefined && !required) return undefined;
  if (typeof value !== 'string' || value.trim() === '') fail(`"${field}" is required: a non-empty string`);
  return value;
}

/**
 * Reads the body of POST /messages: `{ to, subject, text, html?, emergency? }`.
 *
 * @param {unknown} body - the parsed JSON
 * @returns {{ message: import('messenger-email').MailMessage, emergency: boolean }}
 * @throws BadRequestError naming the first field at fault
 */
export function readMessageBody(body) {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    fail('The body must be a JSON object: { "to", "subject", "text", "html"?, "emergency"? }');
  }
  const unknown = Object.keys(body).find((key) => !FIELDS.includes(key));
  if (unknown !== undefined)
    fail(`Unknown field "${unknown.slice(0, 40)}": the fields are ${FIELDS.join(', ')}`);
  if (body.emergency !== undefined && typeof body.emergency !== 'boolean') {
    fail('"emergency" must be true or false');
  }
  const message = {
    to: recipients(body.to),
    subject: text(body, 'subject', { required: true }),
    text: text(body, 'text', { required: true }),
  };
  const html = text(body, 'html', { required: false });
  if (html !== undefined) message.html = html;
  return { message, emergency: body.emergency === true };
}
