import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import { describe, expect, it } from 'vitest';
import { Mailer } from '../src/index.js';
import { CAPTURE_SENDER, captureSettings, startCaptureSink } from '../src/testing/index.js';

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

describe('the testing entry: captureSettings, waitFor, clear, auth, header', () => {
  it('sends through a Mailer with captureSettings, and waitFor resolves with the messages in order', async () => {
    const sink = await startCaptureSink();
    const mailer = new Mailer({ settings: captureSettings(sink, { throttlePerSecond: 50 }) });
    try {
      const waiting = sink.waitFor(2);
      await Promise.all([
        mailer.send({ to: 'a@example.org', subject: 'Première', text: 'x' }),
        mailer.send({ to: 'b@example.org', subject: 'Second', text: 'y' }),
      ]);
      const messages = await waiting;
      expect(messages.map((m) => m.header('Subject'))).toEqual(['Première', 'Second']);
      expect(messages[0]?.from).toBe(CAPTURE_SENDER);
      expect(messages[0]?.header('x-no-such-header')).toBeUndefined();
      expect(await sink.waitFor(1)).toHaveLength(1); // already there: at once
    } finally {
      await mailer.close();
      await sink.close();
    }
  });

  it('retries a deferral at once with captureSettings (no wait between retries)', async () => {
    const sink = await startCaptureSink();
    const mailer = new Mailer({ settings: captureSettings(sink) });
    try {
      sink.failNext('parent@example.org', 451);
      const report = await mailer.send({ to: 'parent@example.org', subject: 'Retried', text: 'x' });
      expect(report.attempts).toBe(2);
      expect(sink.messages).toHaveLength(1);
    } finally {
      await mailer.close();
      await sink.close();
    }
  });

  it('rejects a wait that runs out, listing what did arrive, and rejects waits pending at close', async () => {
    const sink = await startCaptureSink();
    const transport = nodemailer.createTransport({ host: sink.host, port: sink.port, ignoreTLS: true });
    try {
      await transport.sendMail({
        from: 'x@example.org',
        to: 'y@example.org',
        subject: 'Only one',
        text: 'x',
      });
      await expect(sink.waitFor(2, { timeoutMs: 50 })).rejects.toThrow(
        'Waited 50 ms for 2 message(s) at the capture sink; 1 arrived: #1 to y@example.org: Only one',
      );
      sink.clear();
      expect(sink.messages).toEqual([]);
      await expect(sink.waitFor(1, { timeoutMs: 50 })).rejects.toThrow(/none arrived/);
      await transport.sendMail({
        from: 'x@example.org',
        to: 'z@example.org',
        subject: 'After clear',
        text: 'x',
      });
      const [next] = await sink.waitFor(1);
      expect(next?.seq).toBe(2); // numbers go on, so saved files are never overwritten
      const pending = sink.waitFor(5, { timeoutMs: 60_000 });
      transport.close();
      await sink.close();
      await expect(pending).rejects.toThrow('The capture sink closed while waiting for 5 message(s)');
    } finally {
      transport.close();
      await sink.close().catch(() => undefined);
    }
  });

  it('asks for a login when given one: the right one is recorded, a wrong one is refused', async () => {
    const sink = await startCaptureSink({ auth: { username: 'app', password: 'S3cret-pass' } });
    const good = new Mailer({ settings: captureSettings(sink) });
    const bad = new Mailer({ settings: captureSettings(sink, { password: 'wrong-pass' }) });
    try {
      expect(await bad.verify()).toMatchObject({ ok: false, stage: 'auth' });
      expect(await good.verify()).toMatchObject({ ok: true, authenticated: true });
      await good.send({ to: 'parent@example.org', subject: 'Logged in', text: 'x' });
      const [message] = await sink.waitFor(1);
      expect(message?.user).toBe('app');
    } finally {
      await good.close();
      await bad.close();
      await sink.close();
    }
  });
});

describe('the capture sink under misuse', () => {
  it('keeps answering when onMessage throws, and reports it as a warning', async () => {
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.message);
    process.on('warning', onWarning);
    const sink = await startCaptureSink({
      onMessage() {
        throw new Error('expect failed inside onMessage');
      },
    });
    const mailer = new Mailer({ settings: captureSettings(sink) });
    try {
      const report = await mailer.send({ to: 'a@example.org', subject: 'Still answered', text: 'x' });
      expect(report.attempts).toBe(1);
      expect(await sink.waitFor(1)).toHaveLength(1);
      await new Promise((tick) => setImmediate(tick));
      expect(warnings).toContainEqual(expect.stringContaining('onMessage threw for message 1'));
    } finally {
      process.off('warning', onWarning);
      await mailer.close();
      await sink.close();
    }
  });

  it('rejects the waits pending at clear(), and waits with no limit when told Infinity', async () => {
    const sink = await startCaptureSink();
    const transport = nodemailer.createTransport({ host: sink.host, port: sink.port, ignoreTLS: true });
    try {
      const stale = sink.waitFor(1, { timeoutMs: 60_000 });
      sink.clear();
      await expect(stale).rejects.toThrow('The capture sink was cleared while waiting for 1 message(s)');
      const unbounded = sink.waitFor(1, { timeoutMs: Number.POSITIVE_INFINITY });
      await new Promise((later) => setTimeout(later, 20)); // a timer of Infinity would have fired at once
      await transport.sendMail({ from: 'x@example.org', to: 'y@example.org', subject: 'Late', text: 'x' });
      await expect(unbounded).resolves.toHaveLength(1);
    } finally {
      transport.close();
      await sink.close();
    }
  });
});
