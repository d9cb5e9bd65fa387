/**
 * How validation messages quote a value a person or a program gave: short, and safe to print in a log line,
 * a terminal or a web page.
 */

/** The most characters of a value a message quotes; longer values are cut and their length is given. */
export const SHOWN_CHARACTERS = 80;

/**
 * Characters that are never shown as they are: control characters (C0, DEL, C1), format characters such as the
 * bidirectional overrides that reorder what follows them, line and paragraph separators, and lone surrogates.
 */
const UNSAFE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}]/gu;

function escapeCharacter(character: string): string {
  const code = character.codePointAt(0) ?? 0;
  const hex = code.toString(16);
  return code > 0xffff ? `\\u{${hex}}` : `\\u${hex.padStart(4, '0')}`;
}

/** Options of {@link showValue}. */
export interface ShowValueOptions {
  /**
   * Put the value in double quotes, escaping `"` and `\` inside it, as in `"smtp.example.org"`. Without quotes
   * the value reads as part of the sentence (`report.pdf is 2 MB`).
   * @default true
   */
  quote?: boolean;
  /**
   * The most characters shown.
   * @default 80 ({@link SHOWN_CHARACTERS})
   */
  max?: number;
}

/**
 * A value as a validation message quotes it: at most {@link SHOWN_CHARACTERS} characters, then `…` and the
 * value's full length (`"aaaa…" (5,000,001 characters)`); control, format and separator characters are shown
 * as `\u` escapes (`\u0007`, `\u202e`) so that a message never rings a bell, breaks a log line or reverses the
 * text around it. A short, plain value is shown unchanged.
 *
 * @param value - what was given
 * @param options - quotes and the length shown
 */
export function showValue(value: string, options: ShowValueOptions = {}): string {
  const { quote = true, max = SHOWN_CHARACTERS } = options;
  let head = value;
  const cut = value.length > max;
  if (cut) {
    head = value.slice(0, max);
    // never end on half of a surrogate pair
    if (/[\uD800-\uDBFF]$/.test(head)) head = head.slice(0, -1);
  }
  if (quote) head = head.replace(/["\\]/g, (c) => `\\${c}`);
  let shown = head.replace(UNSAFE, escapeCharacter);
  if (quote) shown = `"${shown}"`;
  if (!cut) return shown;
  const length = `(${value.length.toLocaleString('en-US')} characters)`;
  return quote ? `${shown.slice(0, -1)}…" ${length}` : `${shown}… ${length}`;
}
