/**
 * The recipient list of a bulk send: a CSV file with an `email` column, or a plain list of addresses, one a line.
 * Each address gets its own message: a cell with several addresses is split, and an address is sent once however
 * often it appears (ignoring letter case and display names).
 */
import addressparser from 'nodemailer/lib/addressparser';
import { isEmailAddress } from '../address.js';
import { readTextFile } from './files.js';
import { checkpoint } from './interrupt.js';
import { CliError } from './output.js';
import { printable } from './terminal.js';

/** One row of a CSV file. */
export interface CsvRow {
  /** The line the row starts on, from 1. */
  line: number;
  /** Its fields, unquoted. */
  fields: string[];
}

/** A recipient read from the list. */
export interface Recipient {
  /** The line it is on, from 1. */
  line: number;
  /** The bare address, as written (`jo@example.org`). */
  address: string;
  /** The To of its message: the address, with its display name when the cell gave one (`"Jo" <jo@example.org>`). */
  to: string;
}

/** Text of a cell that is not an address: no message is sent for it. */
export interface InvalidEntry {
  /** The line it is on, from 1. */
  line: number;
  /** The text, as written. */
  text: string;
  /** Why it is not an address, for a person. */
  reason: string;
}

/** What a recipient list holds. */
export interface RecipientList {
  /** One per address to send to, duplicates removed, in file order. */
  recipients: Recipient[];
  /** Rows without an address, by line. */
  blank: number[];
  /** Rows whose address (or every address) appeared earlier in the file, by line. */
  duplicates: number[];
  /** Rows whose cell held several addresses, each sent its own message, by line. */
  split: number[];
  /** Text that is not an address, with its line: not sent. */
  invalid: InvalidEntry[];
  /** Other columns whose header names an email address: not used (`--column` chooses). */
  ignoredColumns: string[];
}

/** One mailbox of a cell. */
export interface Mailbox {
  /** The bare address. */
  address: string;
  /** The display name, or `''`. */
  name: string;
}

/** What one cell of the email column holds. */
export interface AddressCell {
  /** The addresses, in order (a cell may hold several, separated by `,` or `;`). */
  mailboxes: Mailbox[];
  /** The parts that are not addresses, each with the reason. */
  problems: { text: string; reason: string }[];
}

/** The header of the column holding the addresses: `email`, `e-mail`, `email address` (any case). */
const EMAIL_HEADER = /^e-?mail(?:[ _-]?address)?$/i;
/** A header that names an email address among other words: `Guardian Email`, `parent_e-mail`. */
const EMAIL_IN_HEADER = /e-?mail/i;

/** The delimiter of the file: a comma, or a semicolon or tab when the first line has those and no comma. */
function delimiterOf(text: string): string {
  const first = text.slice(0, text.search(/\r?\n|$/));
  if (first.includes(',')) return ',';
  if (first.includes(';')) return ';';
  return first.includes('\t') ? '\t' : ',';
}

/** Reads the fields of one row from `start`; returns them and where the next row begins. */
function readRow(
  text: string,
  start: number,
  delimiter: string,
): { fields: string[]; next: number; lines: number } {
  const fields: string[] = [];
  let field = '';
  let quoted = false;
  let lines = 0;
  let i = start;
  for (; i < text.length; i++) {
    const char = text[i];
    if (quoted) {
      if (char === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (char === '"') quoted = false;
      else {
        if (char === '\n') lines++;
        field += char;
      }
    } else if (char === '"' && field.trim() === '') {
      quoted = true;
      field = '';
    } else if (char === delimiter) {
      fields.push(field);
      field = '';
    } else if (char === '\n' || char === '\r') {
      break;
    } else field += char;
  }
  if (quoted) throw new Error('a quoted field is not closed: add the missing "');
  fields.push(field);
  const next = text[i] === '\r' && text[i + 1] === '\n' ? i + 2 : i + 1;
  return { fields, next, lines: lines + 1 };
}

/**
 * Parses CSV text: quoted fields may hold the delimiter, quotes (doubled) and line breaks; CRLF or LF line ends;
 * blank lines are skipped. Pure.
 *
 * @param text - the file's text
 * @throws Error naming the line of a quoted field that is not closed
 */
export function parseCsv(text: string): CsvRow[] {
  const delimiter = delimiterOf(text);
  const rows: CsvRow[] = [];
  let line = 1;
  for (let at = 0; at < text.length; ) {
    let row: ReturnType<typeof readRow>;
    try {
      row = readRow(text, at, delimiter);
    } catch (error) {
      throw new Error(`line ${line}: ${(error as Error).message}`);
    }
    const blank = row.fields.length === 1 && (row.fields[0] ?? '').trim() === '';
    if (!blank) rows.push({ line, fields: row.fields });
    line += row.lines;
    at = row.next;
  }
  return rows;
}

/** Characters that need the address parser: anything else that is an email address is one plain address. */
const SPECIAL = /[<>,;:"()\s\\]/;

/** Control characters, line breaks and bidirectional controls: never part of an address or a name. */
const CONTROL = /[\p{Cc}\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/u;

/**
 * Reads one cell of the email column: one address, optionally with a display name (`Jo Smith <jo@example.org>`),
 * or several separated by `,` or `;`. Text that is not an address is a problem, never guessed at: a cell with a
 * control character, or with two addresses separated only by a space (`jo@example.org jane@example.org`, which
 * a mail client would read as one address and a name). Pure.
 *
 * @param cell - the cell's text
 */
export function parseAddressCell(cell: string): AddressCell {
  const text = cell.trim();
  if (text === '') return { mailboxes: [], problems: [] };
  if (CONTROL.test(text)) {
    return { mailboxes: [], problems: [{ text, reason: 'holds a control character' }] };
  }
  if (!SPECIAL.test(text) && isEmailAddress(text))
    return { mailboxes: [{ address: text, name: '' }], problems: [] };
  const cellOf: AddressCell = { mailboxes: [], problems: [] };
  for (const part of addressparser(text, { flatten: true })) {
    const address = part.address ?? '';
    const name = (part.name ?? '').trim();
    if (address === '' && name === '') continue;
    if (!isEmailAddress(address)) {
      cellOf.problems.push({ text: address || name, reason: 'is not an email address' });
    } else if (name.includes('@') && name.toLowerCase() !== address.toLowerCase()) {
      cellOf.problems.push({
        text,
        reason: 'holds addresses separated by a space: separate them with a comma, or put one address a row',
      });
    } else {
      cellOf.mailboxes.push({ address, name: name.toLowerCase() === address.toLowerCase() ? '' : name });
    }
  }
  if (cellOf.mailboxes.length === 0 && cellOf.problems.length === 0) {
    cellOf.problems.push({ text, reason: 'is not an email address' });
  }
  return cellOf;
}

/** The To of a mailbox: `"Name" <address>` with `"` and `\` escaped in the name, or the bare address. */
function toOf(mailbox: Mailbox): string {
  if (mailbox.name === '') return mailbox.address;
  return `"${mailbox.name.replace(/["\\]/g, (c) => `\\${c}`)}" <${mailbox.address}>`;
}

/** The column holding addresses, the rows holding data, and the other address columns left unused. */
function addressColumn(
  rows: CsvRow[],
  path: string,
  name: string | undefined,
): { column: number; data: CsvRow[]; ignored: string[] } {
  const header = rows[0];
  if (header === undefined) return { column: 0, data: [], ignored: [] };
  const names = header.fields.map((field) => field.trim());
  const found = names.map((field) => printable(field)).join(', ');
  if (name !== undefined) {
    const column = names.findIndex((field) => field.toLowerCase() === name.trim().toLowerCase());
    if (column === -1) {
      throw new CliError(
        `${printable(path)} has no column named "${printable(name)}" (its first row is: ${found})`,
      );
    }
    return { column, data: rows.slice(1), ignored: [] };
  }
  const exact = names.findIndex((field) => EMAIL_HEADER.test(field));
  const column = exact !== -1 ? exact : names.findIndex((field) => EMAIL_IN_HEADER.test(field));
  if (column !== -1) {
    const ignored = names.filter((field, index) => index !== column && EMAIL_IN_HEADER.test(field));
    return { column, data: rows.slice(1), ignored };
  }
  if (rows.every((row) => row.fields.length === 1)) return { column: 0, data: rows, ignored: [] };
  throw new CliError(
    `${printable(path)} has no "email" column (its first row is: ${found}): add a header row with a column named email, give one address a line, or name the column with --column NAME`,
  );
}

/**
 * Picks the recipients out of parsed rows: the `email` column of a file with a header row, or the only column of
 * a file without one. Each cell is read by {@link parseAddressCell}: a cell with several addresses gives one
 * recipient each, and an address is sent once, however often it appears (ignoring letter case and display
 * names). Pure.
 *
 * @param rows - the parsed file
 * @param path - the file, for error messages
 * @param columnName - the header of the column to read (`--column`); none: `email`, `e-mail` or `email address`,
 *   else the first header that names an email address (`Guardian Email`)
 * @throws CliError when a file of several columns has no such column
 */
export function recipientsFromRows(rows: CsvRow[], path: string, columnName?: string): RecipientList {
  const { column, data, ignored } = addressColumn(rows, path, columnName);
  const seen = new Set<string>();
  const list: RecipientList = {
    recipients: [],
    blank: [],
    duplicates: [],
    split: [],
    invalid: [],
    ignoredColumns: ignored,
  };
  for (const row of data) {
    const { line } = row;
    const cell = parseAddressCell(row.fields[column] ?? '');
    if (cell.mailboxes.length === 0 && cell.problems.length === 0) list.blank.push(line);
    if (cell.mailboxes.length > 1) list.split.push(line);
    for (const problem of cell.problems) list.invalid.push({ line, ...problem });
    let fresh = 0;
    for (const mailbox of cell.mailboxes) {
      const key = mailbox.address.toLowerCase();
      if (seen.has(key)) continue;
      seen.add(key);
      fresh++;
      list.recipients.push({ line, address: mailbox.address, to: toOf(mailbox) });
    }
    if (fresh < cell.mailboxes.length) list.duplicates.push(line);
  }
  return list;
}

/**
 * Reads a recipient list file (`--to-file`).
 *
 * @param path - the CSV or text file
 * @param signal - aborted on Ctrl+C
 * @param columnName - the header of the address column (`--column`)
 * @throws CliError when it cannot be read, is not valid CSV, has no `email` column, or holds no valid address;
 *   InterruptedError when `signal` aborts first
 */
export async function readRecipientsFile(
  path: string,
  signal?: AbortSignal,
  columnName?: string,
): Promise<RecipientList> {
  const text = await readTextFile('the recipient list', path, signal);
  let rows: CsvRow[];
  try {
    rows = parseCsv(text);
  } catch (error) {
    throw new CliError(`${printable(path)} is not valid CSV: ${(error as Error).message}`);
  }
  await checkpoint(signal);
  const list = recipientsFromRows(rows, path, columnName);
  await checkpoint(signal);
  if (list.recipients.length === 0) {
    const none = list.invalid.length === 0 ? 'no address' : 'no valid address';
    throw new CliError(
      `${printable(path)} holds ${none}: give a header row with an email column and one address a row`,
    );
  }
  return list;
}
