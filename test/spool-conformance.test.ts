import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spoolOutbox } from '../src/index.js';
import { describeOutbox } from './support/outbox-conformance.js';

for (const encrypted of [false, true]) {
  describeOutbox(encrypted ? 'spoolOutbox, encrypted' : 'spoolOutbox', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'messenger-email-spool-conformance-'));
    const options = encrypted ? { encryptionKey: randomBytes(32) } : {};
    return {
      outbox: spoolOutbox(dir, options),
      reopen: () => spoolOutbox(dir, options),
      cleanup: () => rm(dir, { recursive: true, force: true }),
    };
  });
}
