import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readRecipientsFile } from '../src/cli/recipients-file.js';
import { checkRemainingPath, remainingList, writeRemaining } from '../src/cli/remaining.js';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'messenger-email-remaining-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const signal = new AbortController().signal;

describe('remainingList', () => {
  it('writes a list that reads back to the same recipients, names with quotes and commas included', async () => {
    const source = join(dir, 'source.csv');
    await writeFile(
      source,
      [
        'Student,Guardian Email',
        'Ana,ana@example.org',
        'Bo,"""Smith, Jo"" <jo@example.org>"',
        'Cy,"Ö Ünal <o@example.org>; p@example.org"',
        'Di,"""Say \\""hi\\"""" <q@example.org>"',
        '',
      ].join('\n'),
    );
    const original = await readRecipientsFile(source, signal, 'Guardian Email');
    expect(original.recipients.map((r) => r.address)).toEqual([
      'ana@example.org',
      'jo@example.org',
      'o@example.org',
      'p@example.org',
      'q@example.org',
    ]);
    const written = join(dir, 'remaining.csv');
    await writeRemaining(written, original.recipients);
    const text = await readFile(written, 'utf8');
    expect(text.split('\n')[0]).toBe('email');
    const back = await readRecipientsFile(written, signal);
    expect(back.recipients.map((r) => r.to)).toEqual(original.recipients.map((r) => r.to));
    expect(back.invalid).toEqual([]);
    expect(back.duplicates).toEqual([]);
  });

  it('is a header alone when nothing remains', () => {
    expect(remainingList([])).toBe('email\n');
  });
});

describe('writeRemaining', () => {
  it('replaces an existing file whole, and leaves no temporary file', async () => {
    const folder = await mkdtemp(join(dir, 'replace-'));
    const list = join(folder, 'list.csv');
    await writeFile(list, 'email\na@example.org\nb@example.org\nc@example.org\n');
    const recipients = (await readRecipientsFile(list, signal)).recipients.slice(1);
    await writeRemaining(list, recipients);
    expect(await readFile(list, 'utf8')).toBe('email\nb@example.org\nc@example.org\n');
    expect(await readdir(folder)).toEqual(['list.csv']);
  });

  it('says which file could not be written, and leaves no temporary file', async () => {
    const folder = await mkdtemp(join(dir, 'blocked-'));
    const target = join(folder, 'is-a-folder');
    await mkdir(target);
    await expect(writeRemaining(target, [])).rejects.toThrow(
      /could not write the addresses not sent to .*is-a-folder \(E[A-Z]+\)/,
    );
    expect(await readdir(folder)).toEqual(['is-a-folder']);
  });
});

describe('checkRemainingPath', () => {
  it('accepts a new file in a folder that exists, and an existing file', async () => {
    await expect(checkRemainingPath(join(dir, 'new.csv'))).resolves.toBeUndefined();
    const existing = join(dir, 'existing.csv');
    await writeFile(existing, 'email\n');
    await expect(checkRemainingPath(existing)).resolves.toBeUndefined();
  });

  it('refuses a folder, a missing folder and a folder that cannot be written, before anything is sent', async () => {
    await expect(checkRemainingPath(dir)).rejects.toThrow(/is a folder: give a file name/);
    await expect(checkRemainingPath(join(dir, 'list.csv'), join(dir, '.', 'list.csv'))).rejects.toThrow(
      /is the list being sent: give another file/,
    );
    await expect(checkRemainingPath(join(dir, 'missing', 'rest.csv'))).rejects.toThrow(
      /the folder .*missing does not exist/,
    );
    const aFile = join(dir, 'plain-file');
    await writeFile(aFile, 'x');
    await expect(checkRemainingPath(join(aFile, 'rest.csv'))).rejects.toThrow(
      /the folder .*plain-file is not a folder/,
    );
    if (process.getuid?.() === 0) return; // root writes anywhere
    const locked = await mkdtemp(join(dir, 'locked-'));
    await chmod(locked, 0o500);
    try {
      await expect(checkRemainingPath(join(locked, 'rest.csv'))).rejects.toThrow(/cannot be written to/);
    } finally {
      await chmod(locked, 0o700);
    }
  });
});
