import { describe, expect, it } from 'vitest';
import { CliError } from '../src/cli/output.js';
import { parseAddressCell, parseCsv, recipientsFromRows } from '../src/cli/recipients-file.js';

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
      recipients: [{ line: 2, address: 'jane@example.org', to: 'jane@example.org' }],
      blank: [3],
      duplicates: [4],
      split: [],
      invalid: [],
      ignoredColumns: [],
    });
  });

  it('finds a column whose header names an email among other words, and reports a second one it leaves', () => {
    const rows = parseCsv(
      'Student,Guardian Email,Guardian 2 Email\nAna,g1@example.org,g2@example.org\nBo,g3@example.org,\n',
    );
    const list = recipientsFromRows(rows, 'guardians.csv');
    expect(list.recipients.map((r) => r.address)).toEqual(['g1@example.org', 'g3@example.org']);
    expect(list.ignoredColumns).toEqual(['Guardian 2 Email']);
  });

  it('reads the column --column names, in any case, and nothing else', () => {
    const rows = parseCsv('Student,Guardian Email,Guardian 2 Email\nAna,g1@example.org,g2@example.org\n');
    const list = recipientsFromRows(rows, 'guardians.csv', 'guardian 2 email');
    expect(list.recipients.map((r) => r.address)).toEqual(['g2@example.org']);
    expect(list.ignoredColumns).toEqual([]);
    expect(() => recipientsFromRows(rows, 'guardians.csv', 'Parent Email')).toThrow(
      /has no column named "Parent Email" \(its first row is: Student, Guardian Email, Guardian 2 Email\)/,
    );
  });

  it('prefers a column headed email to one that only mentions it', () => {
    const rows = parseCsv('Guardian Email,email\nx@example.org,y@example.org\n');
    const list = recipientsFromRows(rows, 'list.csv');
    expect(list.recipients.map((r) => r.address)).toEqual(['y@example.org']);
    expect(list.ignoredColumns).toEqual(['Guardian Email']);
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

describe('parseAddressCell', () => {
  it('reads one address, with or without a display name', () => {
    expect(parseAddressCell(' jo@example.org ')).toEqual({
      mailboxes: [{ address: 'jo@example.org', name: '' }],
      problems: [],
    });
    expect(parseAddressCell('Jo Smith <jo@example.org>').mailboxes).toEqual([
      { address: 'jo@example.org', name: 'Jo Smith' },
    ]);
    expect(parseAddressCell('"Doe, Jane" <jane@example.org>').mailboxes).toEqual([
      { address: 'jane@example.org', name: 'Doe, Jane' },
    ]);
  });

  it('splits a cell with several addresses separated by a comma or a semicolon', () => {
    for (const cell of ['a@example.org, b@example.org', 'a@example.org; b@example.org']) {
      expect(parseAddressCell(cell).mailboxes.map((m) => m.address)).toEqual([
        'a@example.org',
        'b@example.org',
      ]);
    }
  });

  it('refuses text that is not an address, saying why', () => {
    expect(parseAddressCell('not-an-address').problems).toEqual([
      { text: 'not-an-address', reason: 'is not an email address' },
    ]);
    expect(parseAddressCell('a@example.org, nobody')).toEqual({
      mailboxes: [{ address: 'a@example.org', name: '' }],
      problems: [{ text: 'nobody', reason: 'is not an email address' }],
    });
  });

  it('refuses two addresses separated only by a space rather than sending to one of them', () => {
    const cell = parseAddressCell('jo@example.org jane@example.org');
    expect(cell.mailboxes).toEqual([]);
    expect(cell.problems[0]?.reason).toContain('separate them with a comma');
  });

  it('refuses a cell with a control character', () => {
    expect(parseAddressCell('jo\x1b[2J@example.org').problems[0]?.reason).toBe('holds a control character');
    expect(parseAddressCell('Jo <jo@example.org>\u202e').mailboxes).toEqual([]);
  });

  it('keeps no display name that only repeats the address', () => {
    expect(parseAddressCell('"jo@example.org" <jo@example.org>').mailboxes).toEqual([
      { address: 'jo@example.org', name: '' },
    ]);
  });
});

describe('recipientsFromRows (cells)', () => {
  it('sends each address of a cell its own message, and says which lines were split', () => {
    const list = recipientsFromRows(
      parseCsv('email\n"a@example.org, b@example.org"\nc@example.org\n'),
      'l.csv',
    );
    expect(list.recipients.map((r) => [r.line, r.to])).toEqual([
      [2, 'a@example.org'],
      [2, 'b@example.org'],
      [3, 'c@example.org'],
    ]);
    expect(list.split).toEqual([2]);
  });

  it('sends an address once, whatever its letter case or display name', () => {
    const list = recipientsFromRows(
      parseCsv('email\nJo <jo@example.org>\nJO@example.org\njo@example.org\n'),
      'l.csv',
    );
    expect(list.recipients).toEqual([{ line: 2, address: 'jo@example.org', to: '"Jo" <jo@example.org>' }]);
    expect(list.duplicates).toEqual([3, 4]);
  });

  it('lists what is not an address with its line, apart from the recipients', () => {
    const list = recipientsFromRows(parseCsv('email\nok@example.org\nnot-an-address\n'), 'l.csv');
    expect(list.recipients.map((r) => r.address)).toEqual(['ok@example.org']);
    expect(list.invalid).toEqual([{ line: 3, text: 'not-an-address', reason: 'is not an email address' }]);
  });

  it('quotes a display name so that the To reads back as the same mailbox', () => {
    const cell = '"A \\"B\\" C" <ab@example.org>';
    const rows = [
      { line: 1, fields: ['email'] },
      { line: 2, fields: [cell] },
    ];
    const [recipient] = recipientsFromRows(rows, 'l.csv').recipients;
    expect(parseAddressCell(cell).mailboxes).toEqual([{ address: 'ab@example.org', name: 'A "B" C' }]);
    expect(parseAddressCell(recipient?.to ?? '').mailboxes).toEqual(parseAddressCell(cell).mailboxes);
  });
});
