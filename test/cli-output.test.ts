import { describe, expect, it } from 'vitest';
import { createOutput } from '../src/cli/output.js';
import { printable } from '../src/cli/terminal.js';

/** An Output writing into strings. */
function capture(json: boolean, isTTY = false) {
  const written = { stdout: '', stderr: '' };
  const output = createOutput({
    json,
    streams: {
      stdout: { write: (text: string) => (written.stdout += text), isTTY },
      stderr: { write: (text: string) => (written.stderr += text) },
    },
  });
  return { output, written };
}

describe('createOutput', () => {
  it('escapes control characters and bidi overrides in lines and warnings, keeping line breaks', () => {
    const { output, written } = capture(false);
    output.line('line 3 evil\x1b[2J\x1b]0;owned\x07@example.org\nnext');
    output.warn('from \u009b31m \u202eevil\x08');
    expect(written.stdout).toBe('line 3 evil\\u001b[2J\\u001b]0;owned\\u0007@example.org\nnext\n');
    expect(written.stderr).toBe('from \\u009b31m \\u202eevil\\u0008\n');
  });

  it('keeps only the carriage return and the erase-line sequence of a progress redraw', () => {
    const { output, written } = capture(false, true);
    output.write('\r[##..] 2/4 \x1b[31m\x1b[K');
    expect(written.stdout).toBe('\r[##..] 2/4 \\u001b[31m\x1b[K');
  });

  it('escapes in JSON what JSON.stringify leaves raw (DEL, C1, separators, bidi), still valid JSON', () => {
    const { output, written } = capture(true);
    const value = { to: 'c1\u009b31m@example.org', note: 'del\x7f \u2028 \u202e \x1b' };
    output.result(value);
    expect(written.stdout).not.toMatch(/[\u007f-\u009f\u2028\u202e]/);
    expect(written.stdout).toContain('c1\\u009b31m@example.org');
    expect(JSON.parse(written.stdout)).toEqual(value);
  });

  it('hides a secret before escaping, whatever characters it holds', () => {
    const { output, written } = capture(false);
    output.addSecret('pa\x1bss-word');
    output.line('login with pa\x1bss-word failed');
    expect(written.stdout).toBe('login with ******** failed\n');
  });
});

describe('printable', () => {
  it('escapes line breaks as well, for a value inside one line', () => {
    expect(printable('a\r\nb\tc')).toBe('a\\u000d\\u000ab\\u0009c');
  });

  it('leaves ordinary text alone, accents and emoji included', () => {
    expect(printable('Élève <élève@example.org> 👨‍👩‍👧')).toBe('Élève <élève@example.org> 👨‍👩‍👧');
  });
});
