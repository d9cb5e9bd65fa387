/**
 * One line of the spool's journal: one change of one record.
 *
 * ```text
 * <CRC-32 of the rest of the line, 8 hex digits> p m-<id>.rec<TAB><the whole record, its newlines as TABs>
 * <…> d m-<id>.rec
 * ```
 *
 * `p` puts a record (its file name and its whole text, exactly as the file would hold it); `d` removes one. A
 * record never holds a TAB of its own (its lines are JSON, which escapes them, or base64), so it is carried as it
 * is, without escaping.
 */
import * as zlib from 'node:zlib';

const NEWLINE = 0x0a;
const TAB = 0x09;
const SPACE = 0x20;
const CRC_LENGTH = 8;
/**
 * CRC-32 (the polynomial of zlib and gzip), from `node:zlib` where Node.js has it (20.15 and later), else computed
 * here from a table: the journal must be readable by every Node.js this package supports.
 */
const crc32: (data: Uint8Array, value?: number) => number =
  (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32 ?? crc32InJs;
const NEWLINE_BYTES = Buffer.from('\n');

/** One change as the journal holds it: a record's new text, or `null` for its removal. */
export interface JournalChange {
  readonly name: string;
  readonly text: string | null;
}

let crcTable: Uint32Array | undefined;

/** CRC-32 computed in JavaScript, for a Node.js without `zlib.crc32` (exported for its test). */
export function crc32InJs(data: Uint8Array, value = 0): number {
  if (crcTable === undefined) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n += 1) {
      let c = n;
      for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let crc = (value ^ 0xffffffff) >>> 0;
  for (const byte of data) crc = ((crcTable[(crc ^ byte) & 0xff] as number) ^ (crc >>> 8)) >>> 0;
  return (crc ^ 0xffffffff) >>> 0;
}

/** Replaces every byte `from` of `bytes` with `to`, in place. */
function swap(bytes: Uint8Array, from: number, to: number): void {
  for (let i = bytes.indexOf(from); i !== -1; i = bytes.indexOf(from, i + 1)) bytes[i] = to;
}

/** The checksum of the parts of a line after its checksum: CRC-32, 8 hex digits. */
function checksum(parts: readonly Uint8Array[]): string {
  let value = 0;
  for (const part of parts) value = crc32(part, value);
  return value.toString(16).padStart(CRC_LENGTH, '0');
}

/**
 * The line of one change: a record's new text (UTF-8), or `null` for its removal.
 *
 * @throws TypeError when the record holds a TAB (records never do)
 */
export function encodeChange(name: string, record: Uint8Array | string | null): Buffer {
  const head = Buffer.from(record === null ? `d ${name}` : `p ${name}\t`, 'utf8');
  const parts: Uint8Array[] = [head];
  if (record !== null) {
    const body = typeof record === 'string' ? Buffer.from(record, 'utf8') : Buffer.from(record);
    if (body.includes(TAB)) throw new TypeError(`the record ${name} holds a TAB`);
    swap(body, NEWLINE, TAB);
    parts.push(body);
  }
  const sum = Buffer.from(`${checksum(parts)} `, 'latin1');
  return Buffer.concat([sum, ...parts, NEWLINE_BYTES]);
}

/** Whether a line (without its newline) is as it was written: its checksum matches. */
export function lineIntact(line: Buffer): boolean {
  const space = line.indexOf(SPACE);
  return space === CRC_LENGTH && checksum([line.subarray(space + 1)]) === line.toString('latin1', 0, space);
}

/** The change of one line (without its newline); undefined when the line is damaged. */
export function decodeChange(line: Buffer): JournalChange | undefined {
  if (!lineIntact(line)) return undefined;
  const rest = line.subarray(CRC_LENGTH + 1);
  if (rest.length < 3 || rest[1] !== SPACE) return undefined;
  if (rest[0] === 0x64 /* d */) return { name: rest.toString('utf8', 2), text: null };
  if (rest[0] !== 0x70 /* p */) return undefined;
  const tab = rest.indexOf(TAB, 2);
  if (tab === -1) return undefined;
  const body = Buffer.from(rest.subarray(tab + 1));
  swap(body, TAB, NEWLINE);
  return { name: rest.toString('utf8', 2, tab), text: body.toString('utf8') };
}
