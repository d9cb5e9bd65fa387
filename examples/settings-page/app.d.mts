// Types of app.mjs, for the end-to-end test. The policy type is the package's own HostPolicy, taken from the
// sources so that type checking works before `npm run build`.
import type { HostPolicy, SenderDomainCheckOptions } from '../../src/index.js';

/** Options of {@link startSettingsPage}. */
export interface SettingsPageOptions {
  /** Port to listen on; 0 picks a free one. @default 3000 */
  port?: number;
  /** Address to listen on. @default '127.0.0.1' */
  host?: string;
  /** The host's limits, given to the form parser and the Mailer. */
  policy?: Partial<HostPolicy>;
  /**
   * The sender-domain check run with Send test email (SPF, DMARC, MX of the Default Sender's domain): its options,
   * or `false` for none. @default {} (the system's DNS)
   */
  domainCheck?: SenderDomainCheckOptions | false;
}

/** A running settings page. */
export interface SettingsPage {
  /** Where it listens, e.g. `http://127.0.0.1:3000`. */
  url: string;
  /** Stops the server and closes the Mailer. */
  close(): Promise<void>;
}

/** Starts the Email Settings page. */
export function startSettingsPage(options?: SettingsPageOptions): Promise<SettingsPage>;
