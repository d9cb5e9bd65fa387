/**
 * Turns anything a command throws into an exit code and one line a person can act on (or one JSON object), never
 * a stack trace.
 */
import { isMailerError } from '../index.js';
import { EXIT_DELIVERY, EXIT_INPUT } from './exit-codes.js';
import { CliError, messageOf, type Output } from './output.js';
import { InvalidSettingsFileError } from './settings-file.js';

export { EXIT_DELIVERY, EXIT_INPUT, EXIT_OK, EXIT_QUIT } from './exit-codes.js';

/** A failure, ready to report. */
export interface Failure {
  /** The process exit code. */
  exitCode: number;
  /** A stable code for `--json`: a library error code, or `USAGE`, `INPUT`, `NOT_FOUND`, `INVALID_SETTINGS`, `UNEXPECTED`. */
  code: string;
  /** One line for a person. */
  message: string;
  /** Further lines for a person (each problem of the settings, the usage hint). */
  details: string[];
  /** Further fields of the `--json` object. */
  extra: Record<string, unknown>;
}

/**
 * The exit code for an error of the library: 2 when delivery was given up, 1 for anything wrong with the input.
 *
 * @param error - what `send` or the settings parser threw
 */
export function exitCodeFor(error: unknown): number {
  if (isMailerError(error, 'DELIVERY_CANCELLED') || isMailerError(error, 'MAILER_CLOSED'))
    return EXIT_DELIVERY;
  return EXIT_INPUT;
}

function cliFailure(error: CliError, command: string | undefined): Failure {
  const details: string[] = [];
  const extra: Record<string, unknown> = {};
  if (error instanceof InvalidSettingsFileError) {
    for (const issue of error.issues) details.push(`  - ${issue.message}`);
    extra.issues = error.issues;
  }
  if (error.usage) {
    const topic = command === undefined ? '--help' : `help ${command}`;
    details.push(`Run 'messenger-email ${topic}' for usage.`);
  }
  return { exitCode: error.exitCode, code: error.code, message: error.message, details, extra };
}

/**
 * Describes anything thrown by a command.
 *
 * @param error - what was thrown
 * @param command - the command that ran, for the usage hint
 */
export function describeFailure(error: unknown, command?: string): Failure {
  if (error instanceof CliError) return cliFailure(error, command);
  if (isMailerError(error)) {
    const extra: Record<string, unknown> = {};
    if (isMailerError(error, 'DELIVERY_CANCELLED')) {
      const cancelled = error as unknown as { reason: string; attempts: number };
      extra.reason = cancelled.reason;
      extra.attempts = cancelled.attempts;
    }
    return { exitCode: exitCodeFor(error), code: error.code, message: messageOf(error), details: [], extra };
  }
  return {
    exitCode: EXIT_INPUT,
    code: 'UNEXPECTED',
    message: `unexpected error: ${messageOf(error)}`,
    details: [],
    extra: {},
  };
}

/**
 * Writes a failure: one JSON object in `--json` mode, otherwise lines on stderr.
 *
 * @param output - where to write
 * @param failure - what to write
 */
export function reportFailure(output: Output, failure: Failure): void {
  if (output.json) {
    output.result({ ok: false, code: failure.code, message: failure.message, ...failure.extra });
    return;
  }
  output.warn(`messenger-email: ${failure.message}`);
  for (const line of failure.details) output.warn(line);
}
