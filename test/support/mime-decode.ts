/**
 * Just enough of a MIME reader for tests to check what a mail client would show: encoded-words (RFC 2047),
 * parameter continuations (RFC 2231), quoted strings and address lists. UTF-8 only, which is what the package
 * writes. Written independently of nodemailer's encoder, so that a test does not grade the encoder by itself.
 */

/** Every line of a raw message, without its CRLF, as octets (latin1 keeps one character per byte). */
export function rawLines(raw: Buffer): string[] {
  return raw.toString('latin1').split('\r\n');
}

/** Every header line of the message and of its MIME parts, unfolded, as UTF-8 text. */
export function unfoldedHeaderLines(raw: Buffer): string[] {
  const lines = raw.toString('utf8').split('\r\n');
  const out: string[] = [];
  for (const line of lines) {
    const last = out.length - 1;
    if (/^[ \t]/.test(line) && last >= 0 && out[last] !== '') out[last] += line;
    else out.push(line);
  }
  return out.filter((line) => /^[!-9;-~]+:/.test(line));
}

/** The unfolded values of every header (top level or MIME part) named `name`, case-insensitive, in order. */
export function headerValues(raw: Buffer, name: string): string[] {
  const prefix = `${name.toLowerCase()}:`;
  return unfoldedHeaderLines(raw)
    .filter((line) => line.toLowerCase().startsWith(prefix))
    .map((line) => line.slice(prefix.length).trim());
}

function decodeQ(text: string): Buffer {
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (c === '_') bytes.push(0x20);
    else if (c === '=' && /^[0-9A-Fa-f]{2}$/.test(text.slice(i + 1, i + 3))) {
      bytes.push(Number.parseInt(text.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(c.charCodeAt(0));
  }
  return Buffer.from(bytes);
}

const ENCODED_WORD = /=\?([^?]+)\?([BbQq])\?([^?]*)\?=/y;

/**
 * Decodes the encoded-words of an unstructured header value or a phrase. Whitespace between two adjacent
 * encoded-words is dropped, as RFC 2047 section 6.2 says; the bytes of adjacent words are joined before UTF-8
 * decoding, so a character split across two words comes back whole.
 */
export function decodeWords(value: string): string {
  let out = '';
  let pending: Buffer[] = [];
  let pendingSpace = '';
  const flush = () => {
    if (pending.length > 0) out += Buffer.concat(pending).toString('utf8');
    pending = [];
  };
  let i = 0;
  while (i < value.length) {
    ENCODED_WORD.lastIndex = i;
    const match = ENCODED_WORD.exec(value);
    if (match !== null) {
      const [whole, charset, encoding, text] = match as unknown as [string, string, string, string];
      if (charset.toLowerCase() !== 'utf-8') throw new Error(`unexpected charset ${charset}`);
      pendingSpace = ''; // whitespace between encoded-words is not part of the text
      pending.push(encoding.toUpperCase() === 'B' ? Buffer.from(text, 'base64') : decodeQ(text));
      i += whole.length;
      continue;
    }
    const space = /^[ \t]+/.exec(value.slice(i, i + 200));
    if (space !== null && pending.length > 0) {
      pendingSpace = space[0];
      i += space[0].length;
      continue;
    }
    flush();
    out += pendingSpace;
    pendingSpace = '';
    out += value[i];
    i += 1;
  }
  flush();
  return out + pendingSpace;
}

/** The text of a quoted-string, quotes removed and quoted-pairs resolved. */
export function unquote(value: string): string {
  if (!value.startsWith('"') || !value.endsWith('"')) return value;
  return value.slice(1, -1).replace(/\\(.)/g, '$1');
}

/** Splits a header value at `separator` outside quoted strings, angle brackets and comments. */
function splitOutside(value: string, separator: string): string[] {
  const parts: string[] = [];
  let current = '';
  let quoted = false;
  let angle = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value[i] as string;
    if (quoted && c === '\\') {
      current += c + (value[i + 1] ?? '');
      i += 1;
      continue;
    }
    if (c === '"') quoted = !quoted;
    else if (!quoted && c === '<') angle += 1;
    else if (!quoted && c === '>') angle -= 1;
    if (c === separator && !quoted && angle === 0) {
      parts.push(current);
      current = '';
    } else current += c;
  }
  parts.push(current);
  return parts;
}

/** The mailboxes of an address header, each with its display name decoded as a mail client shows it. */
export function mailboxes(value: string): { name: string; address: string }[] {
  return splitOutside(value, ',').map((entry) => {
    const trimmed = entry.trim();
    const match = /^(.*?)\s*<([^<>]*)>$/s.exec(trimmed);
    if (match === null) return { name: '', address: trimmed };
    const phrase = (match[1] ?? '').trim();
    const name = phrase.startsWith('"') ? unquote(phrase) : decodeWords(phrase);
    return { name, address: match[2] ?? '' };
  });
}

/** The bytes of an RFC 2231 encoded section: `%XX` escapes and plain characters. */
function percentDecode(text: string): Buffer {
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '%' && /^[0-9A-Fa-f]{2}$/.test(text.slice(i + 1, i + 3))) {
      bytes.push(Number.parseInt(text.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(...Buffer.from(text[i] as string, 'utf8'));
  }
  return Buffer.from(bytes);
}

/**
 * A parameter of a structured header (`Content-Disposition: attachment; filename=...`), decoded: a plain or
 * quoted value, RFC 2231 continuations (`filename*0*=utf-8''...; filename*1*=...`), and encoded-words in a
 * quoted value, which some mailers write and most clients read.
 */
export function headerParam(value: string, name: string): string | undefined {
  const sections = new Map<number, { text: string; encoded: boolean }>();
  let plain: string | undefined;
  for (const part of splitOutside(value, ';').slice(1)) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const key = part.slice(0, eq).trim().toLowerCase();
    const raw = part.slice(eq + 1).trim();
    if (key === name) plain = decodeWords(unquote(raw));
    const match = /^(.+?)\*(?:(\d+))?(\*)?$/.exec(key);
    if (match === null || match[1] !== name) continue;
    const index = match[2] === undefined ? 0 : Number(match[2]);
    const encoded = match[3] === '*' || (match[2] === undefined && key.endsWith('*'));
    sections.set(index, { text: unquote(raw), encoded });
  }
  if (sections.size === 0) return plain;
  const bytes: Buffer[] = [];
  for (const index of [...sections.keys()].sort((a, b) => a - b)) {
    const section = sections.get(index) as { text: string; encoded: boolean };
    let text = section.text;
    if (section.encoded) {
      if (index === 0) {
        const charset = /^([^']*)'[^']*'/.exec(text);
        if (charset !== null) {
          if ((charset[1] ?? '').toLowerCase() !== 'utf-8')
            throw new Error(`unexpected charset ${charset[1]}`);
          text = text.slice(charset[0].length);
        }
      }
      bytes.push(percentDecode(text));
    } else bytes.push(Buffer.from(text, 'utf8'));
  }
  return Buffer.concat(bytes).toString('utf8');
}
