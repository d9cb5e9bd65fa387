/**
 * The recipient list of a bulk send: a CSV file with an `email` column, or a plain list of addresses, one a line.
 */
import { readTextFile } from './files.js';
import { CliError } from './output.js';

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
  /** The address as written (it may include a display name). */
  address: string;
}

/** What a recipient list holds. */
export interface RecipientList {
  /** Addresses to send to, duplicates removed, in file order. */
  recipients: Recipient[];
  /** Rows without an address, by line. */
  blank: number[];
  /** Rows whose address appeared earlier in the file, by line. */
  duplicates: number[];
}

/** The header of the column holding the addresses: `email`, `e-mail`, `email address` (any case). */
const EMAIL_HEADER = /^e-?mail(?:[ _-]?address)?$/i;

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

/** The column holding addresses and the rows holding data. */
function addressColumn(rows: CsvRow[], path: string): { column: number; data: CsvRow[] } {
  const header = rows[0];
  if (header === undefined) return { column: 0, data: [] };
  const column = header.fields.findIndex((field) => EMAIL_HEADER.test(field.trim()));
  if (column !== -1) return { column, data: rows.slice(1) };
  if (rows.every((row) => row.fields.length === 1)) return { column: 0, data: rows };
  const found = header.fields.map((field) => field.trim()).join(', ');
  throw new CliError(
    `${path} has no "email" column (its first row is: ${found}): add a header row with a column named email, or give one address a line`,
  );
}

/**
 * Picks the recipients out of parsed rows: the `email` column of a file with a header row, or the only column of
 * a file without one. Duplicate addresses (ignoring case) are sent once. Pure.
 *
 * @param rows - the parsed file
 * @param path - the file, for error messages
 * @throws CliError when a file of several columns has no `email` column
 */
export function recipientsFromRows(rows: CsvRow[], path: string): RecipientList {
  const { column, data } = addressColumn(rows, path);
  const seen = new Set<string>();
  const list: RecipientList = { recipients: [], blank: [], duplicates: [] };
  for (const row of data) {
    const address = (row.fields[column] ?? '').trim();
    const key = address.toLowerCase();
    if (address === '') list.blank.push(row.line);
    else if (seen.has(key)) list.duplicates.push(row.line);
    else {
      seen.add(key);
      list.recipients.push({ line: row.line, address });
    }
  }
  return list;
}

/**
 * Reads a recipient list file (`--to-file`).
 *
 * @param path - the CSV or text file
 * @throws CliError when it cannot be read, is not valid CSV, has no `email` column, or holds no address
 */
export async function readRecipientsFile(path: string): Promise<RecipientList> {
  const text = await readTextFile('the recipient list', path);
  let rows: CsvRow[];
  try {
    rows = parseCsv(text);
  } catch (error) {
    throw new CliError(`${path} is not valid CSV: ${(error as Error).message}`);
  }
  const list = recipientsFromRows(rows, path);
  if (list.recipients.length === 0) {
    throw new CliError(
      `${path} holds no address: give a header row with an email column and one address a row`,
    );
  }
  return list;
}
