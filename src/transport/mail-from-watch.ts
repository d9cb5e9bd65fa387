/**
 * Learns the moment the SMTP server has seen a message's MAIL FROM: when its reply arrives.
 *
 * The throttle's promise is made to the relay, which counts MAIL FROM commands as it processes them. The relay
 * processes a command at some moment between when it is written and when its reply comes back, so a start counted
 * from the reply can never be earlier than the relay's own count, whatever the network or the relay's own load
 * does in between. The cost is one round trip per start (under a millisecond on a local network).
 *
 * nodemailer has no event for either moment, but it logs them. Its pool logs one entry (`tnx: 'send'`, with the
 * message's Message-ID) when it hands a message to a connection; that connection then writes MAIL FROM in the
 * same synchronous step, and with `transactionLog` it logs that command and every reply (`tnx: 'client'` and
 * `tnx: 'server'`, tagged with the connection's `sid`). This watch is the transport's logger: it pairs the three
 * entries and tells whoever waits for the Message-ID. It writes nothing anywhere and keeps no log text. Should a
 * later nodemailer stop logging them, nobody is told and the throttle counts each attempt from when it settles
 * instead: later than the truth, never earlier.
 */

/** The fields of a nodemailer log entry this watch reads. */
interface LogEntry {
  tnx?: unknown;
  messageId?: unknown;
  sid?: unknown;
}

const ignore = (): void => undefined;

/** A Message-ID as a key: without the angle brackets nodemailer may or may not keep. */
function key(messageId: string): string {
  return messageId.trim().replace(/^<|>$/g, '');
}

/** Calls back when the server answers the MAIL FROM of a watched message. */
export class MailFromWatch {
  /** Callbacks by Message-ID, oldest first (one message can be watched twice, e.g. the same id sent again). */
  readonly #waiting = new Map<string, (() => void)[]>();
  /** The message the pool just handed to a connection, whose MAIL FROM is written next. */
  #handed: string | undefined;
  /** By connection: the message whose MAIL FROM was written and not yet answered. */
  readonly #written = new Map<string, string>();

  /** A bunyan-style logger for nodemailer's `logger` option (with `transactionLog: true`). */
  readonly logger = {
    trace: ignore,
    debug: (entry: unknown, message?: unknown): void => this.#onDebug(entry, message),
    info: (entry: unknown): void => this.#onInfo(entry),
    warn: ignore,
    error: ignore,
    fatal: ignore,
  };

  /**
   * Waits for the reply to the MAIL FROM of the message with this Message-ID.
   *
   * @returns a function that stops waiting (call it when the attempt ends)
   */
  watch(messageId: string, answered: () => void): () => void {
    const id = key(messageId);
    const list = this.#waiting.get(id);
    if (list === undefined) this.#waiting.set(id, [answered]);
    else list.push(answered);
    return () => this.#remove(id, answered);
  }

  #onInfo(entry: unknown): void {
    const { tnx, messageId, sid } = (entry ?? {}) as LogEntry;
    if (tnx === 'send' && typeof messageId === 'string') this.#handed = key(messageId);
    else if (tnx === 'network' && typeof sid === 'string') this.#written.delete(sid); // closed before the reply
  }

  #onDebug(entry: unknown, message: unknown): void {
    const { tnx, sid } = (entry ?? {}) as LogEntry;
    if (typeof sid !== 'string') return;
    if (tnx === 'client') {
      if (this.#handed !== undefined && typeof message === 'string' && message.startsWith('MAIL FROM:')) {
        this.#written.set(sid, this.#handed);
        this.#handed = undefined;
      }
      return;
    }
    if (tnx !== 'server') return;
    const id = this.#written.get(sid);
    if (id === undefined) return;
    this.#written.delete(sid); // the first reply after MAIL FROM is its reply, even when pipelined
    this.#take(id)?.();
  }

  #take(id: string): (() => void) | undefined {
    const list = this.#waiting.get(id);
    const answered = list?.shift();
    if (list !== undefined && list.length === 0) this.#waiting.delete(id);
    return answered;
  }

  #remove(id: string, answered: () => void): void {
    const list = this.#waiting.get(id);
    if (list === undefined) return;
    const index = list.indexOf(answered);
    if (index >= 0) list.splice(index, 1);
    if (list.length === 0) this.#waiting.delete(id);
  }
}
