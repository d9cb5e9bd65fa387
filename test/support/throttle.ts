/**
 * The Mailer's start path without the Mailer: the in-memory outbox, the local start permits and the dispatcher,
 * wired as the Mailer wires them, over plain items. Lets the throttle tests drive the real parts with fake timers.
 */
import type { Clock } from '../../src/index.js';
import { Dispatcher } from '../../src/mailer/dispatcher.js';
import { memoryOutbox } from '../../src/outbox/memory.js';
import type { OutboxHost, OutboxMessage } from '../../src/outbox/types.js';
import { LocalPermits } from '../../src/permits/local.js';
import type { StartPermit } from '../../src/permits/types.js';

export { WINDOW_MS } from '../../src/permits/window.js';

/** Rate and concurrency. */
export interface ThrottleLimits {
  perSecond: number;
  maxConcurrent: number;
}

export class Throttle<T> {
  readonly #outbox = memoryOutbox();
  readonly #permits: LocalPermits;
  #dispatcher: Dispatcher;
  readonly #items = new Map<string, T>();
  readonly #clock: Clock;
  readonly #start: (item: T, permit: StartPermit) => Promise<unknown>;
  #next = 0;

  constructor(
    limits: ThrottleLimits,
    clock: Clock,
    start: (item: T, permit: StartPermit) => Promise<unknown>,
  ) {
    this.#clock = clock;
    this.#start = start;
    const host: OutboxHost = {
      now: () => clock.now(),
      setTimeout: (fn, ms) => clock.setTimeout(fn, ms),
      clearTimeout: (h) => clock.clearTimeout(h),
      wake: () => this.#dispatcher.poke(),
      dropped: () => undefined,
      recovered: () => undefined,
      finishedElsewhere: () => undefined,
    };
    this.#permits = new LocalPermits(limits.perSecond);
    this.#outbox.bind(host);
    this.#permits.bind(host);
    this.#dispatcher = this.#make(limits.maxConcurrent);
  }

  get waiting(): number {
    return this.#outbox.counts(this.#clock.now()).queued;
  }

  get running(): number {
    return this.#dispatcher.running;
  }

  push(item: T, urgent: boolean): void {
    const id = String(this.#next++);
    this.#items.set(id, item);
    this.#outbox.add({
      id,
      kind: urgent ? 'emergency' : 'standard',
      context: { kind: urgent ? 'emergency' : 'standard', censusAddress: null, customSender: null },
      recipients: [],
      mail: { to: [], cc: [], bcc: [], subject: '', headers: {} },
      attachments: [],
      queuedAt: this.#clock.now(),
      attempts: 0,
      failures: 0,
    });
    this.#dispatcher.poke();
  }

  update(limits: ThrottleLimits): void {
    this.#permits.setRate(limits.perSecond);
    this.#dispatcher.maxConcurrent = limits.maxConcurrent;
    this.#dispatcher.poke();
  }

  drain(): T[] {
    return this.#outbox.drain().map((message) => this.#items.get(message.id) as T);
  }

  async stop(): Promise<void> {
    this.#dispatcher.stop();
    await this.#permits.close();
    await this.#outbox.close();
  }

  #make(maxConcurrent: number): Dispatcher {
    return new Dispatcher(this.#outbox, this.#permits, this.#clock, maxConcurrent, {
      start: async (message: OutboxMessage, permit) => {
        try {
          await this.#start(this.#items.get(message.id) as T, permit);
        } catch {
          // a start that throws still frees its slot
        } finally {
          this.#outbox.settle(message, { state: 'sent' });
        }
      },
      failed: (error) => {
        throw error;
      },
    });
  }
}
