/**
 * The fault soak's plan: which fault the SMTP server injects into each attempt of each message, drawn from a seeded
 * pseudo-random generator so that a seed reproduces a run. Also the messages the soak process and its SMTP server
 * exchange over IPC.
 */

/**
 * A fault injected into one attempt, by the stage of the SMTP transaction it hits.
 *
 * - `rcpt-451`, `data-451`: a transient refusal of the recipient, or of the message once it was read;
 * - `rcpt-421-close`: "service not available" at RCPT TO, then the server closes the connection;
 * - `rcpt-stall`: RCPT TO is never answered, so the client's timeout ends the attempt;
 * - `data-drop-mid`: the connection is destroyed while the message is being transferred, before the final dot
 *   (not accepted, though the client may have written it all);
 * - `data-drop-after`, `data-stall-after`: the whole message is read and accepted, then the connection is destroyed,
 *   or the reply never comes: the client cannot know the outcome, and a retry delivers it a second time;
 * - `rcpt-550`, `data-550`: a permanent refusal of the recipient or of the message.
 */
export type SoakFault =
  | 'rcpt-451'
  | 'data-451'
  | 'rcpt-421-close'
  | 'rcpt-stall'
  | 'data-drop-mid'
  | 'data-drop-after'
  | 'data-stall-after'
  | 'rcpt-550'
  | 'data-550';

/** Every fault, each once. */
export const ALL_FAULTS: readonly SoakFault[] = [
  'rcpt-451',
  'data-451',
  'rcpt-421-close',
  'rcpt-stall',
  'data-drop-mid',
  'data-drop-after',
  'data-stall-after',
  'rcpt-550',
  'data-550',
];

/** Faults after which the server holds the message but the client never learns it: a retry may duplicate it. */
export const UNKNOWN_OUTCOME_FAULTS: ReadonlySet<SoakFault> = new Set([
  'data-drop-after',
  'data-stall-after',
]);

/** Permanent (5xx) faults: the message must be cancelled at once, never retried. */
export const PERMANENT_FAULTS: ReadonlySet<SoakFault> = new Set(['rcpt-550', 'data-550']);

/** Faults injected at the data stage: the recipient is accepted and the fault waits for DATA. */
export const DATA_FAULTS: ReadonlySet<SoakFault> = new Set([
  'data-451',
  'data-drop-mid',
  'data-drop-after',
  'data-stall-after',
  'data-550',
]);

/** The chance that an attempt meets each transient fault; whatever is left, the attempt succeeds. */
export const TRANSIENT_WEIGHTS: readonly (readonly [SoakFault, number])[] = [
  ['rcpt-451', 0.05],
  ['data-451', 0.04],
  ['rcpt-421-close', 0.03],
  ['data-drop-mid', 0.03],
  ['data-drop-after', 0.02],
  ['rcpt-stall', 0.015],
  ['data-stall-after', 0.01],
];

/** The share of messages that meet a permanent 550 at one of their attempts. */
export const PERMANENT_SHARE = 0.05;

/** mulberry32: a small, fast 32-bit generator; the same seed gives the same sequence. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** What the plan says should become of a message, if every attempt reaches the server as planned. */
export type PlannedOutcome =
  | { outcome: 'delivered'; attempts: number }
  | { outcome: 'cancelled'; reason: 'permanent' | 'max-errors'; attempts: number };

/** One message of the soak: its recipient (unique, so the server can tell messages apart) and its faults. */
export interface PlannedMessage {
  id: string;
  recipient: string;
  /** The fault of each attempt in order, `null` for an attempt that succeeds; attempts past the end succeed. */
  faults: (SoakFault | null)[];
  expected: PlannedOutcome;
}

/**
 * The plan for `count` messages at a given Max Errors Before Cancel: each attempt fails with the transient weights
 * above, and 5 % of the messages meet a 550 (at RCPT TO or after DATA) at one of their attempts.
 */
export function makePlan(seed: number, count: number, maxErrors: number): PlannedMessage[] {
  const random = seededRandom(seed);
  const transient = (): SoakFault | null => {
    let roll = random();
    for (const [fault, weight] of TRANSIENT_WEIGHTS) {
      if (roll < weight) return fault;
      roll -= weight;
    }
    return null;
  };
  const plan: PlannedMessage[] = [];
  for (let i = 0; i < count; i += 1) {
    const number = String(i + 1).padStart(4, '0');
    const permanentAt = random() < PERMANENT_SHARE ? 1 + Math.floor(random() * maxErrors) : 0;
    const permanent: SoakFault = random() < 0.5 ? 'rcpt-550' : 'data-550';
    const faults: (SoakFault | null)[] = [];
    let expected: PlannedOutcome | undefined;
    for (let attempt = 1; attempt <= maxErrors && expected === undefined; attempt += 1) {
      const fault = attempt === permanentAt ? permanent : transient();
      faults.push(fault);
      if (fault === null) expected = { outcome: 'delivered', attempts: attempt };
      else if (PERMANENT_FAULTS.has(fault))
        expected = { outcome: 'cancelled', reason: 'permanent', attempts: attempt };
    }
    plan.push({
      id: `soak-${number}`,
      recipient: `family${number}@example.org`,
      faults,
      expected: expected ?? { outcome: 'cancelled', reason: 'max-errors', attempts: maxErrors },
    });
  }
  return plan;
}

/** An RCPT TO the server saw: the attempt's number for that recipient and the fault it met (`null`: none). */
export interface RcptRecord {
  recipient: string;
  attempt: number;
  fault: SoakFault | null;
  at: number;
}

/** A message the server read in full and accepted, and whether its 250 reply was sent. */
export interface AcceptedRecord {
  recipient: string;
  messageId: string;
  attempt: number;
  /** `sent`: the client got 250; otherwise the fault that kept the reply from it. */
  reply: 'sent' | 'data-drop-after' | 'data-stall-after';
  at: number;
}

/** What the server reports at the end: times on the server's own clock (ms since the epoch, sub-millisecond). */
export interface SinkReport {
  mailFrom: number[];
  rcpt: RcptRecord[];
  accepted: AcceptedRecord[];
  connections: number;
}

/** Messages from the soak process to its server. */
export type SinkCommand = { cmd: 'start'; faults: Record<string, (SoakFault | null)[]> } | { cmd: 'report' };
