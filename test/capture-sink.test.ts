import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import { describe, expect, it } from 'vitest';
import { startCaptureSink } from '../src/sink/capture.js';

describe('startCaptureSink', () => {
  it('names saved files after the decoded subject and defers a recipient once when told to', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'capture-sink-'));
    const sink = await startCaptureSink({ dir });
    const transport = nodemailer.createTransport({
      host: sink.host,
      port: sink.port,
      ignoreTLS: true,
      logger: false,
    });
    try {
      sink.failNext('parent@example.org', 451);
      const mail = {
        from: 'messenger@district.k12.us',
        to: 'parent@example.org',
        subject: 'Été déjà',
        text: 'x',
      };
      await expect(transport.sendMail(mail)).rejects.toMatchObject({ responseCode: 451 });
      await transport.sendMail(mail);
      expect(sink.messages).toHaveLength(1);
      expect(sink.messages[0]?.to).toEqual(['parent@example.org']);
      expect(await readdir(dir)).toEqual(['0001-ete-deja.eml']);
    } finally {
      transport.close();
      await sink.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
