import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeFailure, reportFailure } from '../src/cli/failure.js';
import { CliError, createOutput } from '../src/cli/output.js';
import { loadSettings, readSettingsFile, unknownFieldWarnings } from '../src/cli/settings-file.js';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'messenger-email-settings-file-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function settingsFile(name: string, content: unknown): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

/** An Output writing into one string, stdout and stderr together. */
function capture() {
  const written = { text: '' };
  const stream = { write: (text: string) => (written.text += text) };
  return { output: createOutput({ json: false, streams: { stdout: stream, stderr: stream } }), written };
}

/** Loads a settings file as `check` and `send` do, and returns everything they would print. */
async function printedBy(path: string, passwordEnv?: string): Promise<string> {
  const { output, written } = capture();
  try {
    await loadSettings(path, passwordEnv, output);
  } catch (error) {
    reportFailure(output, describeFailure(error, 'check'));
  }
  return written.text;
}

const valid = { defaultSenderAddress: 'messenger@district.k12.us', smtpHost: 'smtp.district.k12.us' };

describe('readSettingsFile', () => {
  it('refuses JSON that is not an object without quoting it: a bare value may be the password', async () => {
    for (const content of ['"hunter2-Secret"', '["hunter2-Secret"]', '12345678', 'null', 'true']) {
      const path = await settingsFile('bare.json', content);
      const read = readSettingsFile(path);
      await expect(read).rejects.toBeInstanceOf(CliError);
      await expect(read).rejects.toThrow(/must hold one JSON object/);
      const printed = await printedBy(path);
      expect(printed).not.toContain('hunter2');
      expect(printed).not.toContain('12345678');
    }
  });

  it('says what a file that is not an object holds', async () => {
    await expect(readSettingsFile(await settingsFile('list.json', '[1]'))).rejects.toThrow('holds a list');
    await expect(readSettingsFile(await settingsFile('text.json', '"x"'))).rejects.toThrow('holds a text');
  });
});

describe('unknownFieldWarnings', () => {
  it('never shows a field name that may hold a secret', async () => {
    const path = await settingsFile('keys.json', {
      ...valid,
      'password: Key-Secret-77': true,
      pass: 'Pass-Secret-88',
      smtpPassword: 'Smtp-Secret-99',
    });
    const warnings = unknownFieldWarnings(await readSettingsFile(path)).join('\n');
    expect(warnings).not.toContain('Key-Secret-77');
    expect(warnings).not.toMatch(/"pass"|smtpPassword/);
    expect(warnings).toContain('the SMTP password goes in "password"');
    expect(warnings.split('\n')).toHaveLength(3);
  });

  it('shows other unknown names, escaped, with "did you mean"', async () => {
    const path = await settingsFile('typos.json', {
      ...valid,
      smtpHots: 'x',
      Password: 'y',
      'odd\x1bname': 1,
    });
    const warnings = unknownFieldWarnings(await readSettingsFile(path));
    expect(warnings).toContain(
      `warning: ${path}: "smtpHots" is not an Email Settings field and is ignored (did you mean "smtpHost"?)`,
    );
    expect(
      warnings.some((w) => w.includes('"Password" is not') && w.includes('did you mean "password"')),
    ).toBe(true);
    expect(warnings.some((w) => w.includes('"odd\\u001bname"'))).toBe(true);
    expect(warnings.join('\n')).not.toContain('\x1b');
  });
});

describe('loadSettings', () => {
  it("hides the file's password even when --password-env gives the one used", async () => {
    process.env.CLI_SETTINGS_TEST_PW = 'Env-Secret-1234';
    try {
      const path = await settingsFile('both.json', {
        ...valid,
        smtpHost: 'File-Secret-5678!',
        useAuthentication: true,
        username: 'messenger',
        password: 'File-Secret-5678!',
      });
      const printed = await printedBy(path, 'CLI_SETTINGS_TEST_PW');
      expect(printed).toContain('SMTP Host');
      expect(printed).not.toContain('File-Secret-5678');
    } finally {
      delete process.env.CLI_SETTINGS_TEST_PW;
    }
  });

  it('hides the texts under any field named like a secret, at any depth', async () => {
    const path = await settingsFile('nested.json', {
      ...valid,
      smtpHost: 'Nested-Secret-42!',
      auth: { user: 'messenger', pass: 'Nested-Secret-42!' },
    });
    const printed = await printedBy(path);
    expect(printed).toContain('SMTP Host');
    expect(printed).not.toContain('Nested-Secret-42');
  });
});
