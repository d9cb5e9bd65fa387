/**
 * Where the command-line tool writes. The only module of the package that touches stdout and stderr: the rest of
 * the CLI goes through an {@link Output}, which hides every known secret from what is written and escapes the
 * characters a terminal would act on.
 */
import { jsonText, redrawText, terminalText } from './terminal.js';

/** What a known secret is replaced by in the tool's output. */
const HIDDEN = '********';

/** Secrets shorter than this are not searched for: hiding every "a" would garble the output and reveal nothing. */
const MIN_SECRET_LENGTH = 4;

/** A failure the tool explains in one line and turns into an exit code. */
export class CliError extends Error {
  /** The process exit code: 1 for bad input, 2 for a server that cannot be used, 3 for a locked spool. */
  readonly exitCode: number;
  /** A stable code for `--json` output, e.g. `USAGE` or `INPUT`. */
  readonly code: string;
  /** Whether to point the user at the usage text. */
  readonly usage: boolean;

  /**
   * @param message - what happened and what to do, for a person
   * @param options - the exit code (default 1), the code (default `INPUT`) and whether the usage hint applies
   */
  constructor(message: string, options: { exitCode?: number; code?: string; usage?: boolean } = {}) {
    super(message);
    this.name = 'CliError';
    this.exitCode = options.exitCode ?? 1;
    this.code = options.code ?? (options.usage === true ? 'USAGE' : 'INPUT');
    this.usage = options.usage ?? false;
  }
}

/** The tool's view of the terminal. */
export interface Output {
  /** Whether `--json` was given: then stdout carries one JSON object and nothing else. */
  readonly json: boolean;
  /** Whether stdout is a terminal (a progress bar may redraw its line). */
  readonly isTTY: boolean;
  /** Width of the terminal in characters, or 80. */
  readonly columns: number;
  /** A line for the user on stdout; dropped in JSON mode. Control characters but the line break are escaped. */
  line(text: string): void;
  /**
   * Text on stdout for a progress redraw, without a line end; dropped in JSON mode. Only a carriage return and
   * the erase-to-end-of-line sequence are written raw.
   */
  write(text: string): void;
  /** A warning or diagnostic line on stderr, in every mode. Control characters but the line break are escaped. */
  warn(text: string): void;
  /** The one JSON object of `--json` mode on stdout, every character a terminal would act on escaped; ignored otherwise. */
  result(value: unknown): void;
  /** Registers a secret (the SMTP password) that must never be written. */
  addSecret(secret: string | undefined): void;
}

/** Standard streams as {@link createOutput} needs them; tests may pass their own. */
export interface Streams {
  stdout: { write(text: string): unknown; isTTY?: boolean; columns?: number };
  stderr: { write(text: string): unknown };
}

/**
 * Makes the tool's output for the process's streams.
 *
 * @param options - `json`: machine mode; `streams`: where to write (default: the process's)
 */
export function createOutput(options: { json: boolean; streams?: Streams }): Output {
  const streams = options.streams ?? { stdout: process.stdout, stderr: process.stderr };
  const secrets = new Set<string>();
  const hide = (text: string): string => {
    let out = text;
    for (const secret of secrets) out = out.split(secret).join(HIDDEN);
    return out;
  };
  const { json } = options;
  return {
    json,
    isTTY: streams.stdout.isTTY === true,
    columns: streams.stdout.columns || 80, // 0 under some pseudo-terminals
    line: (text) => {
      if (!json) streams.stdout.write(`${terminalText(hide(text))}\n`);
    },
    write: (text) => {
      if (!json) streams.stdout.write(redrawText(hide(text)));
    },
    warn: (text) => {
      streams.stderr.write(`${terminalText(hide(text))}\n`);
    },
    result: (value) => {
      if (json) streams.stdout.write(`${jsonText(hide(JSON.stringify(value, null, 2)))}\n`);
    },
    addSecret: (secret) => {
      if (secret === undefined || secret.length < MIN_SECRET_LENGTH) return;
      secrets.add(secret);
      secrets.add(JSON.stringify(secret).slice(1, -1)); // as it reads inside JSON output
    },
  };
}

/**
 * The message of anything thrown, on one line, without a stack trace.
 *
 * @param error - what was thrown
 */
export function messageOf(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.replace(/\s*\r?\n\s*/g, ' ').trim() || 'unknown error';
}
