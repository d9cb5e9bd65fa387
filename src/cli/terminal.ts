/**
 * What the command-line tool prints is safe for a terminal: text that comes from outside the tool (a cell of the
 * recipient list, a file name, a server's reply) can neither move the cursor, retitle the window, ring the bell,
 * nor reverse the text around it. Pure functions, no I/O.
 */

/**
 * Characters a terminal may act on rather than show: control characters (C0, DEL, C1), line and paragraph
 * separators, and the bidirectional marks, embeddings, overrides and isolates.
 */
const UNSAFE = /[\p{Cc}\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/gu;

/** The same but the line break, which the tool's own lines may hold. */
const UNSAFE_BUT_LINE_BREAK = /(?!\n)[\p{Cc}\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/gu;

/** The same but the line break and the carriage return, which a progress redraw starts with. */
const UNSAFE_BUT_LINE_ENDS = /(?![\r\n])[\p{Cc}\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/gu;

/** The erase-to-end-of-line sequence the progress line of a terminal is redrawn with. */
const ERASE_LINE = '\x1b[K';

function escapeCharacter(character: string): string {
  return `\\u${(character.codePointAt(0) ?? 0).toString(16).padStart(4, '0')}`;
}

/**
 * A value from outside the tool, to print inside one line: every unsafe character, the line break included, is
 * shown as a `\u` escape (`\u001b`), as the library's own messages show them.
 *
 * @param value - a cell, a file name, an address, a server's reply
 */
export function printable(value: string): string {
  return value.replace(UNSAFE, escapeCharacter);
}

/**
 * A line (or lines) of the tool's output, made safe for a terminal: every unsafe character but the line break is
 * shown as a `\u` escape.
 *
 * @param text - what the tool is about to print
 */
export function terminalText(text: string): string {
  return text.replace(UNSAFE_BUT_LINE_BREAK, escapeCharacter);
}

/**
 * Raw text for a terminal's progress line: like {@link terminalText}, but a carriage return and the
 * erase-to-end-of-line sequence, which redraw the line, are kept.
 *
 * @param text - a progress redraw
 */
export function redrawText(text: string): string {
  return text
    .split(ERASE_LINE)
    .map((part) => part.replace(UNSAFE_BUT_LINE_ENDS, escapeCharacter))
    .join(ERASE_LINE);
}

/**
 * JSON text made safe for a terminal. `JSON.stringify` escapes C0 control characters but leaves DEL, C1 controls,
 * the line separators and the bidirectional marks as they are; this escapes them too. The text stays valid JSON
 * and parses to the same value: these characters can only occur inside its strings.
 *
 * @param json - what `JSON.stringify` returned
 */
export function jsonText(json: string): string {
  return json.replace(UNSAFE_BUT_LINE_BREAK, escapeCharacter);
}
