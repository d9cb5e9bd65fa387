import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type CaptureSink, startCaptureSink } from '../../src/sink/capture.js';
import { type SmtpSink, startSmtpSink } from '../support/smtp-sink.js';

const cli = resolve(import.meta.dirname, '../../dist/cli.js');
const SECRET = 'cli-secret-never-printed';

/** Runs the built command as a user would; never rejects, so the exit code can be checked. */
function messengerEmail(args: string[], env: Record<string, string> = {}) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((done) => {
    execFile(
      process.execPath,
      [cli, ...args],
      { env: { ...process.env, ...env }, timeout: 60_000 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
        done({ code, stdout, stderr });
      },
    );
  });
}

let dir: string;
let sink: CaptureSink;
const children: ChildProcess[] = [];
const authSinks: SmtpSink[] = [];

async function settingsFile(name: string, settings: Record<string, unknown>): Promise<string> {
  const file = join(dir, `${name}.json`);
  await writeFile(file, JSON.stringify(settings));
  return file;
}

const base = () => ({
  defaultSenderAddress: 'messenger@district.k12.us',
  smtpHost: '127.0.0.1',
  smtpPort: sink.port,
  throttlePerSecond: 999,
  minutesBetweenRetries: 0,
  maxErrorsBeforeCancel: 1,
});

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'messenger-email-cli-'));
  sink = await startCaptureSink();
  await writeFile(join(dir, 'body.txt'), 'Your student was absent today.');
  await writeFile(join(dir, 'report.txt'), 'Report card');
});

afterEach(async () => {
  for (const child of children.splice(0)) child.kill('SIGTERM');
  for (const s of authSinks.splice(0)) await s.close();
});

afterAll(async () => {
  await sink?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('messenger-email check', () => {
  it('exits 0 and says the connection works', async () => {
    const result = await messengerEmail(['check', await settingsFile('ok', base())]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`127.0.0.1:${sink.port}`);
  });

  it('exits 1 and lists every problem by its label', async () => {
    const file = await settingsFile('bad', {
      defaultSenderAddress: 'noreply@infinitecampus.com',
      smtpHost: 'smtp://x',
      useTls: true,
    });
    const result = await messengerEmail(['check', file]);
    expect(result.code).toBe(1);
    const text = result.stdout + result.stderr;
    expect(text).toContain('Default Sender Email Address must not contain "infinitecampus"');
    expect(text).toContain('SMTP Host must not include a scheme');
    expect(text).toContain('SMTP Port is required when Use TLS is checked');
  });

  it('exits 2 with the stage and a hint when nothing listens on the port', async () => {
    const closed = await startCaptureSink();
    const port = closed.port;
    await closed.close();
    const result = await messengerEmail([
      'check',
      await settingsFile('closed', { ...base(), smtpPort: port }),
      '--json',
    ]);
    expect(result.code).toBe(2);
    const report = JSON.parse(result.stdout) as { ok: boolean; stage: string; hint: string };
    expect(report.ok).toBe(false);
    expect(report.stage).toBe('connect');
    expect(report.hint).toMatch(/SMTP Port/);
  });

  it('takes the password from --password-env and never prints it, even when the login fails', async () => {
    const server = await startSmtpSink({ auth: { username: 'district', password: 'another-password' } });
    authSinks.push(server);
    const file = await settingsFile('auth', {
      ...base(),
      smtpPort: server.port,
      useAuthentication: true,
      username: 'district',
      password: 'placeholder-in-file',
    });
    for (const json of [[], ['--json']]) {
      const result = await messengerEmail(['check', file, '--password-env', 'SMTP_PASSWORD', ...json], {
        SMTP_PASSWORD: SECRET,
      });
      expect(result.code).toBe(2);
      expect(result.stdout + result.stderr).toMatch(/auth/i);
      expect(result.stdout + result.stderr).not.toContain(SECRET);
      expect(result.stdout + result.stderr).not.toContain(
        Buffer.from(`\u0000district\u0000${SECRET}`).toString('base64'),
      );
    }
    expect(server.authFailures).toBeGreaterThan(0);
  });

  it('sends a test email with --send-test-to', async () => {
    const before = sink.messages.length;
    const result = await messengerEmail([
      'check',
      await settingsFile('test', base()),
      '--send-test-to',
      'admin@district.k12.us',
    ]);
    expect(result.code).toBe(0);
    expect(sink.messages.slice(before).map((m) => m.to)).toEqual([['admin@district.k12.us']]);
  });
});

describe('messenger-email send', () => {
  it('sends one message with an attachment', async () => {
    const before = sink.messages.length;
    const file = await settingsFile('attach', { ...base(), allowAttachments: true });
    const result = await messengerEmail([
      'send',
      '--settings',
      file,
      '--to',
      'parent@example.org',
      '--subject',
      'Report card',
      '--text',
      join(dir, 'body.txt'),
      '--attach',
      join(dir, 'report.txt'),
    ]);
    expect(result.code).toBe(0);
    const [received] = sink.messages.slice(before);
    expect(received?.subject).toBe('Report card');
    expect(received?.raw.toString()).toContain('report.txt');
  });

  it('sends an emergency message from the default sender, and a custom sender when allowed', async () => {
    const before = sink.messages.length;
    const file = await settingsFile('senders', { ...base(), allowCustomSenderAddress: true });
    const common = ['--settings', file, '--to', 'parent@example.org', '--text', join(dir, 'body.txt')];
    const emergency = await messengerEmail([
      'send',
      ...common,
      '--subject',
      'Closed',
      '--emergency',
      '--from',
      'office@district.k12.us',
    ]);
    const custom = await messengerEmail([
      'send',
      ...common,
      '--subject',
      'Note',
      '--from',
      'office@district.k12.us',
    ]);
    expect([emergency.code, custom.code]).toEqual([0, 0]);
    expect(sink.messages.slice(before).map((m) => m.from)).toEqual([
      'messenger@district.k12.us',
      'office@district.k12.us',
    ]);
  });

  it('sends to every address of a CSV list and ends with a summary', async () => {
    const before = sink.messages.length;
    const rows = Array.from({ length: 20 }, (_, i) => `"Family ${i}, Parent",parent${i}@example.org`);
    await writeFile(join(dir, 'list.csv'), `name,email\n${rows.join('\n')}\n`);
    const result = await messengerEmail([
      'send',
      '--settings',
      await settingsFile('bulk', base()),
      '--to-file',
      join(dir, 'list.csv'),
      '--subject',
      'Attendance',
      '--text',
      join(dir, 'body.txt'),
    ]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/Sent 20 of 20 .*0 cancelled/);
    const to = sink.messages.slice(before).flatMap((m) => m.to);
    expect(new Set(to).size).toBe(20);
    expect(to).toContain('parent13@example.org');
  });

  it('exits 1 with a usage hint for an unknown option', async () => {
    const result = await messengerEmail(['send', '--nope']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/help/);
  });
});

describe('messenger-email sink', () => {
  it('saves what it receives as .eml and prints one line per message', async () => {
    const mail = join(dir, 'mail');
    const child = spawn(process.execPath, [cli, 'sink', '--port', '0', '--dir', mail]);
    children.push(child);
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    const port = await new Promise<number>((found, fail) => {
      const timer = setTimeout(() => fail(new Error(`no port in: ${out}`)), 10_000);
      child.stdout.on('data', () => {
        const match = /listening on 127\.0\.0\.1:(\d+)/.exec(out);
        if (match) {
          clearTimeout(timer);
          found(Number(match[1]));
        }
      });
    });
    const result = await messengerEmail([
      'send',
      '--settings',
      await settingsFile('to-sink', { ...base(), smtpPort: port }),
      '--to',
      'parent@example.org',
      '--subject',
      'Into the sink',
      '--text',
      join(dir, 'body.txt'),
    ]);
    expect(result.code).toBe(0);
    for (let i = 0; i < 100 && !out.includes('Into the sink'); i += 1)
      await new Promise((r) => setTimeout(r, 50));
    expect(out).toMatch(/#1 messenger@district\.k12\.us -> parent@example\.org "Into the sink"/);
    expect((await readdir(mail)).filter((f) => f.endsWith('.eml'))).toHaveLength(1);
  });

  it('prints its version', async () => {
    const result = await messengerEmail(['--version']);
    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toBe('0.1.0');
  });
});
