// Types of app.mjs, for the end-to-end test. The package's types are taken from the sources so that type checking
// works before `npm run build`.
import type { EmailSettingsInput, HostPolicy } from '../../src/index.js';
import type { DeliveryLog } from './delivery-log.mjs';

export type { DeliveryLog, DeliveryRecord, DeliveryStatus, PublicError } from './delivery-log.mjs';

/** Where the app reports what an operator should know. */
export interface AppLog {
  info(text: string): void;
  warn(text: string): void;
  error(text: string): void;
}

/** Options of {@link startMessagesApp}. */
export interface MessagesAppOptions {
  /** Port to listen on; 0 picks a free one. @default 3000 */
  port?: number;
  /** Address to listen on. @default '127.0.0.1' */
  host?: string;
  /** The Email Settings. Absent or invalid: the app runs unconfigured and POST /messages answers 503. */
  settings?: EmailSettingsInput | undefined;
  /** The host's limits, given to the parser and the Mailer. */
  policy?: Partial<HostPolicy>;
  /** A spool directory: messages wait on disk, survive a restart, and are resumed at start. */
  spoolDir?: string | undefined;
  /**
   * At shutdown, how long to wait for the queue to empty before closing the Mailer.
   * @default 20000 with the in-memory outbox, 0 with a spool (it keeps what waits)
   */
  drainTimeoutMs?: number;
  /** Where problems are reported. @default standard error */
  log?: AppLog;
}

/** A running messages app. */
export interface MessagesApp {
  /** Where it listens, e.g. `http://127.0.0.1:3000`. */
  url: string;
  /** The delivery log, as GET /messages/:id reads it. */
  deliveries: DeliveryLog;
  /** Stops taking requests, drains the queue (in memory), closes the Mailer. Calling it again returns the same promise. */
  close(): Promise<void>;
}

/** Starts the messages app. */
export function startMessagesApp(options?: MessagesAppOptions): Promise<MessagesApp>;
