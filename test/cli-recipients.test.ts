import { describe, expect, it } from 'vitest';
import { CliError } from '../src/cli/output.js';
import { parseCsv, recipientsFromRows } from '../src/cli/recipients-file.js';

describe('parseCsv', () => {
  it('keeps commas, doubled quotes and line breaks inside quoted fields', () => {
    expect(
      parseCsv('name,email\r\n"Doe, Jane",jane@example.org\n"say ""hi""\nthere",x@example.org\n'),
    ).toEqual([
      { line: 1, fields: ['name', 'email'] },
      { line: 2, fields: ['Doe, Jane', 'jane@example.org'] },
      { line: 3, fields: ['say "hi"\nthere', 'x@example.org'] },
    ]);
  });

  it('skips blank lines and keeps counting lines', () => {
    expect(parseCsv('a@example.org\n\n  \nb@example.org')).toEqual([
      { line: 1, fields: ['a@example.org'] },
      { line: 4, fields: ['b@example.org'] },
    ]);
  });

  it('reads a semicolon-separated file', () => {
    expect(parseCsv('name;email\nJane;jane@example.org\n')[1]?.fields).toEqual(['Jane', 'jane@example.org']);
  });

  it('names the line of a quote that is not closed', () => {
    expect(() => parseCsv('email\n"jane@example.org\n')).toThrow('line 2: a quoted field is not closed');
  });
});

describe('recipientsFromRows', () => {
  it('takes the email column, whatever its case', () => {
    const rows = parseCsv('Name,EMAIL\nJane,jane@example.org\nRick,\nJ,JANE@example.org\n');
    expect(recipientsFromRows(rows, 'list.csv')).toEqual({
      recipients: [{ line: 2, address: 'jane@example.org' }],
      blank: [3],
      duplicates: [4],
    });
  });

  it('reads a single column without a header as one address a line', () => {
    const rows = parseCsv('a@example.org\nb@example.org\n');
    expect(recipientsFromRows(rows, 'list.txt').recipients.map((r) => r.address)).toEqual([
      'a@example.org',
      'b@example.org',
    ]);
  });

  it('refuses several columns without an email column', () => {
    expect(() => recipientsFromRows(parseCsv('name,phone\nJane,555\n'), 'list.csv')).toThrow(CliError);
  });
});
