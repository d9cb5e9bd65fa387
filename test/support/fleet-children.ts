/**
 * The parent's side of test/support/fleet-child.ts and fleet-outbox-child.ts: starts one with `node --import tsx`,
 * collects the JSON lines it says, and tells it commands as JSON lines on its stdin.
 */
import { type ChildProcessByStdio, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import type { Readable, Writable } from 'node:stream';

/** The child scripts, by what they run. */
const SCRIPTS = {
  permits: resolve(import.meta.dirname, 'fleet-child.ts'),
  outbox: resolve(import.meta.dirname, 'fleet-outbox-child.ts'),
};
/** Longest wait for one line (a child starting with tsx on a slow, busy machine takes a few seconds). */
const STEP_MS = 30_000;

/** A child process of the fleet, and the JSON lines it said. */
export interface FleetChild {
  readonly process: ChildProcessByStdio<Writable, Readable, Readable>;
  readonly lines: Record<string, unknown>[];
  until(test: (line: Record<string, unknown>) => boolean, what: string): Promise<Record<string, unknown>>;
  readonly exited: Promise<number | null>;
  /** Writes one command line to its stdin. */
  tell(command: object): void;
}

/** Starts a child with `options` (see test/support/fleet-child.ts, or fleet-outbox-child.ts for `'outbox'`). */
export function startFleetChild(options: object, script: keyof typeof SCRIPTS = 'permits'): FleetChild {
  const child = spawn(process.execPath, ['--import', 'tsx', SCRIPTS[script], JSON.stringify(options)], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const lines: Record<string, unknown>[] = [];
  const waiters: (() => void)[] = [];
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString('utf8');
    let end = stdout.indexOf('\n');
    while (end !== -1) {
      lines.push(JSON.parse(stdout.slice(0, end)) as Record<string, unknown>);
      stdout = stdout.slice(end + 1);
      end = stdout.indexOf('\n');
    }
    for (const waiter of waiters.splice(0)) waiter();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const until = (test: (line: Record<string, unknown>) => boolean, what: string) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`child ${child.pid}: no ${what} after ${STEP_MS} ms; stderr: ${stderr}`)),
        STEP_MS,
      );
      const check = (): void => {
        const found = lines.find(test);
        if (found !== undefined) {
          clearTimeout(timer);
          resolve(found);
        } else if (child.exitCode !== null) {
          clearTimeout(timer);
          reject(
            new Error(
              `child ${child.pid} exited before ${what}: ${JSON.stringify(lines)}; stderr: ${stderr}`,
            ),
          );
        } else {
          waiters.push(check);
        }
      };
      check();
      void exited.then(() => {
        for (const waiter of waiters.splice(0)) waiter();
      });
    });
  const tell = (command: object): void => {
    child.stdin.write(`${JSON.stringify(command)}\n`);
  };
  return { process: child, lines, until, exited, tell };
}
