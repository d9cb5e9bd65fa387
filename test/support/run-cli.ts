import { execFile } from 'node:child_process';

/** What a run of the command-line tool gave. */
export interface CliRun {
  /** The exit code (-1 when it was killed). */
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the built command-line tool as a user runs it, in a child process, and resolves with its exit code and output;
 * never rejects on a non-zero exit. Killed after 20 s.
 *
 * @param cliPath - `dist/cli.js`
 * @param args - the arguments
 * @param options - the working folder, and variables added to this process's environment
 */
export function runCli(
  cliPath: string,
  args: string[],
  options: { cwd: string; env?: Record<string, string> },
): Promise<CliRun> {
  return new Promise((done) => {
    execFile(
      process.execPath,
      [cliPath, ...args],
      { cwd: options.cwd, env: { ...process.env, ...options.env }, timeout: 20_000 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
        done({ code, stdout, stderr });
      },
    );
  });
}
