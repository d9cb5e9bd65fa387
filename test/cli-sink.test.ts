import { describe, expect, it } from 'vitest';
import { CliError } from '../src/cli/output.js';
import { decodeHeader, describeCaptured, parsePort } from '../src/cli/sink.js';

describe('decodeHeader', () => {
  it('decodes base64 and quoted-printable encoded words, joining adjacent ones', () => {
    expect(decodeHeader('=?UTF-8?B?w4l0w6k=?= =?UTF-8?Q?_d=C3=A9j=C3=A0?=')).toBe('Été déjà');
  });

  it('leaves plain text alone', () => {
    expect(decodeHeader('Attendance notice')).toBe('Attendance notice');
  });
});

describe('describeCaptured', () => {
  it('shows the number, the envelope, the subject and the file', () => {
    const line = describeCaptured({
      seq: 3,
      from: 'messenger@district.k12.us',
      to: ['a@example.org', 'b@example.org'],
      subject: 'Snow day',
      raw: Buffer.from(''),
      header: () => undefined,
      file: 'mail/0003-snow-day.eml',
    });
    expect(line).toBe(
      '#3 messenger@district.k12.us -> a@example.org, b@example.org "Snow day" (saved as mail/0003-snow-day.eml)',
    );
  });
});

describe('parsePort', () => {
  it('defaults to 2525 and accepts 0', () => {
    expect(parsePort(undefined)).toBe(2525);
    expect(parsePort('0')).toBe(0);
  });

  it('refuses what is not a port', () => {
    for (const value of ['abc', '-1', '70000', '25.5']) expect(() => parsePort(value)).toThrow(CliError);
  });
});
