// The worker side of the app: it follows every message through the Mailer's events and records its delivery
// status by id. The HTTP route only hands messages over; everything that happens afterwards (attempts, retries,
// delivery, giving up) arrives here, possibly minutes later.
//
// The records live in a bounded in-memory Map so that the example runs without a database. A real app writes
// each change to its own table instead (see the comments marked "database"), keyed by the same id, so that the
// status survives a restart and every instance of the app can answer GET /messages/:id.

/** How many messages the in-memory log remembers; the oldest are forgotten first. */
const DEFAULT_LIMIT = 10_000;

/** The status shown for a message given up, by the reason of its `cancelled` event. */
const GIVEN_UP = {
  'max-errors': 'failed', // Max Errors Before Cancel reached
  permanent: 'failed', // a permanent refusal, e.g. 550 no such mailbox
  outbox: 'failed', // a durable outbox lost its record
  closed: 'cancelled', // the Mailer closed before it could be sent
};

/**
 * What may be shown of an error: its message (the Mailer removes secrets from it) and the SMTP reply code when
 * the server gave one. Never the stack, the cause, or the raw error object.
 */
function publicError(error) {
  const code = error?.responseCode;
  return {
    message: String(error?.message ?? error),
    ...(typeof code === 'number' ? { smtpCode: code } : {}),
  };
}

/**
 * Subscribes to `mailer`'s events and keeps each message's delivery status.
 *
 * @param {import('messenger-email').Mailer} mailer - the Mailer whose messages to follow
 * @param {{ limit?: number, log?: { warn(text: string): void } }} [options] - how many messages to remember,
 *   and where to report problems the events tell of
 * @returns {{ get(id: string): object | undefined, stop(): void }} the log: `get` returns a copy of a message's
 *   record; `stop` removes the listeners
 */
export function recordDeliveries(mailer, { limit = DEFAULT_LIMIT, log = console } = {}) {
  const records = new Map();

  /** Applies a change to a message's record and keeps its history. */
  function update(id, change) {
    const at = new Date().toISOString();
    const record = records.get(id) ?? { id, status: 'queued', kind: 'standard', attempts: 0, history: [] };
    Object.assign(record, change, { updatedAt: at });
    for (const key of Object.keys(record)) if (record[key] === undefined) delete record[key];
    if (change.status !== undefined && record.history.at(-1)?.status !== change.status) {
      record.history.push({ status: change.status, at });
    }
    records.delete(id); // re-inserted: the Map's order is then the order of the last change
    records.set(id, record);
    if (records.size > limit) records.delete(records.keys().next().value);
    // database: UPDATE messages SET status = ..., attempts = ..., last_error = ... WHERE id = $id
    // (or INSERT a row per change into a message_events table, for a full audit trail)
  }

  const listeners = {
    queued: (e) => {
      // database: INSERT ... ON CONFLICT (id) DO UPDATE SET status = 'queued'. `resumed: true` means it was
      // loaded from the spool by mailer.resume() after a restart.
      update(e.id, { status: 'queued', kind: e.kind, ...(e.resumed ? { resumed: true } : {}) });
    },
    sending: (e) => update(e.id, { status: 'sending', attempts: e.attempt, nextAttemptAt: undefined }),
    failed: (e) => {
      const change = { attempts: e.attempt, lastError: publicError(e.error) };
      if (e.unknownOutcome) change.unknownOutcome = true; // cut off by a crash: it may have been delivered
      // willRetry false: a `cancelled` event follows at once and sets the final status
      if (e.willRetry) Object.assign(change, { status: 'retrying', nextAttemptAt: toIso(e.nextAttemptAt) });
      update(e.id, change);
    },
    sent: (e) => {
      update(e.id, {
        status: 'sent',
        attempts: e.attempts,
        messageId: e.messageId,
        response: e.response,
        durationMs: Math.round(e.durationMs),
        nextAttemptAt: undefined,
      });
    },
    cancelled: (e) => {
      update(e.id, {
        status: GIVEN_UP[e.reason] ?? 'failed',
        reason: e.reason,
        attempts: e.attempts,
        lastError: publicError(e.error),
        nextAttemptAt: undefined,
      });
    },
    outboxError: (e) => {
      // A durable outbox could not record a change (a full or read-only disk): delivery goes on, but an operator
      // must look. This is what a real app sends to its monitoring.
      log.warn(`outbox error${e.id === undefined ? '' : ` (message ${e.id})`}: ${e.error.message}`);
    },
    listenerError: (e) => {
      // One of these listeners threw or rejected (a database write that failed): delivery is not affected.
      log.warn(`delivery log: recording ${e.event} failed: ${e.error?.message ?? e.error}`);
    },
  };
  for (const [event, listener] of Object.entries(listeners)) mailer.on(event, listener);

  return {
    get(id) {
      const record = records.get(id);
      return record === undefined ? undefined : structuredClone(record);
    },
    stop() {
      for (const [event, listener] of Object.entries(listeners)) mailer.off(event, listener);
    },
  };
}

function toIso(ms) {
  return ms === undefined ? undefined : new Date(ms).toISOString();
}
