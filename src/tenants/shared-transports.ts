/**
 * One SMTP connection pool for all the districts that reach the shared hosted relay the same way (same host, port,
 * TLS, timeout and login), instead of a pool per district: the relay sees at most the budget's connections, and a
 * district's first message finds a connection already open.
 */
import { createHash } from 'node:crypto';
import { SETTINGS_FIELD_NAMES } from '../settings/defaults.js';
import type { EmailSettings } from '../settings/schema.js';
import type { Transport } from '../transport/types.js';

/**
 * The settings that decide how a connection is made and logged in: on the settings screen, every field from SMTP
 * Host to Use TLS. The rest (sender, retries, throttle, attachments) do not.
 */
const CONNECTION_FIELDS = SETTINGS_FIELD_NAMES.slice(
  SETTINGS_FIELD_NAMES.indexOf('smtpHost'),
  SETTINGS_FIELD_NAMES.indexOf('useTls') + 1,
);

/** A digest of how the settings connect: the credentials are in it, so only the digest is kept. */
function connectionKey(settings: EmailSettings): string {
  const fields = CONNECTION_FIELDS.map((name) => [name, settings[name] ?? null]);
  return createHash('sha256').update(JSON.stringify(fields)).digest('base64url');
}

interface Pooled {
  transport: Transport;
  users: number;
}

/** Transports shared by every district that connects the same way; each is closed when its last user lets go. */
export class SharedTransports {
  readonly #pools = new Map<string, Pooled>();
  readonly #make: (settings: EmailSettings) => Transport;

  /** @param make - creates the transport for the first district that connects a given way */
  constructor(make: (settings: EmailSettings) => Transport) {
    this.#make = make;
  }

  /** Open pools. */
  get size(): number {
    return this.#pools.size;
  }

  /**
   * A district's handle on the pool for its settings: sends and checks through the shared transport; closing the
   * handle (which the Mailer does when its settings change or it closes) lets go of it once.
   */
  acquire(settings: EmailSettings): Transport {
    const key = connectionKey(settings);
    let pooled = this.#pools.get(key);
    if (pooled === undefined) {
      pooled = { transport: this.#make(settings), users: 0 };
      this.#pools.set(key, pooled);
    }
    pooled.users += 1;
    const shared = pooled;
    let held = true;
    const handle: Transport = {
      send: (mail, signal, progress) => shared.transport.send(mail, signal, progress),
      close: async () => {
        if (!held) return;
        held = false;
        shared.users -= 1;
        if (shared.users > 0) return;
        if (this.#pools.get(key) === shared) this.#pools.delete(key);
        await shared.transport.close?.();
      },
    };
    if (shared.transport.verify !== undefined)
      handle.verify = () => (shared.transport.verify as () => Promise<void>)();
    return handle;
  }
}
