// The HTTP side of the app: POST /messages hands a message to the Mailer and answers at once; GET /messages/:id
// reads what the delivery log recorded. No request ever waits for delivery: the Mailer may retry a message for
// many minutes (Minutes Between Retries x Max Errors Before Cancel), far longer than any HTTP client waits.
import { randomUUID } from 'node:crypto';
import { Router } from 'express';
import { isMailerError } from 'messenger-email';
import { readMessageBody } from './message-body.mjs';

/**
 * What a client is told when the Mailer cannot take a message, by the error's code. The Mailer's own messages are
 * written for the operator (they name settings and directories): those go to the log.
 */
const UNAVAILABLE = {
  NOT_CONFIGURED: 'Email is not configured on this server: an administrator must fix the Email Settings',
  MAILER_CLOSED: 'The server is shutting down and takes no new messages: try again in a moment',
  OUTBOX_UNAVAILABLE: 'Messages cannot be stored right now: try again later',
};

/** An error with the HTTP status to answer with and the message the client may see. */
function httpError(status, message, cause) {
  return Object.assign(new Error(message, { cause }), { status, expose: true });
}

/**
 * Turns what `mailer.enqueue()` rejected with into an HTTP error: the message is at fault (400), or the Mailer
 * cannot take messages now (503). Anything else is the app's own bug and is left as it is (500).
 */
function refusal(error, log) {
  if (isMailerError(error, 'INVALID_MESSAGE') || isMailerError(error, 'INVALID_SENDER')) {
    return httpError(400, error.message, error); // written for the sender of the message: safe to show
  }
  const unavailable = isMailerError(error) ? UNAVAILABLE[error.code] : undefined;
  if (unavailable === undefined) return error;
  log.warn(`message refused: ${error.message}`);
  return Object.assign(httpError(503, unavailable, error), { retryAfter: 30 });
}

/**
 * The routes of the messages API.
 *
 * @param {{ mailer: import('messenger-email').Mailer, deliveries: { get(id: string): object | undefined },
 *   log: { warn(text: string): void } }} app - the Mailer, the delivery log and where to report refusals
 */
export function messagesRouter({ mailer, deliveries, log }) {
  const router = Router();

  router.post('/messages', async (req, res) => {
    if (!req.is('application/json')) {
      throw httpError(415, 'Send the message as JSON, with Content-Type: application/json');
    }
    const { message, emergency } = readMessageBody(req.body);
    // The app's own id: random, so that one client cannot guess another's message and read its status.
    // database: a real app INSERTs the message's row with this id here, before handing it over, so that the
    // delivery log's updates always find their row (`queued` can be emitted inside enqueue()).
    const id = randomUUID();
    try {
      // enqueue() resolves once the message is in the outbox (on disk with a spool), never waiting for delivery;
      // send() would wait for the server's answer, and for every retry.
      await mailer.enqueue(message, { id, kind: emergency ? 'emergency' : 'standard' });
    } catch (error) {
      throw refusal(error, log);
    }
    res
      .status(202)
      .location(`/messages/${id}`)
      .json({ id, status: deliveries.get(id)?.status ?? 'queued' });
  });

  router.get('/messages/:id', (req, res) => {
    const record = deliveries.get(req.params.id);
    if (record === undefined) throw httpError(404, 'No message with this id');
    res.json(record);
  });

  router.get('/health', (_req, res) => {
    const ready = mailer.configured && !res.locals.closing;
    res.status(ready ? 200 : 503).json({ configured: mailer.configured, ...mailer.stats() });
  });

  return router;
}
