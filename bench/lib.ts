/** Shared helpers of the benchmark: the sink process, statistics, and running a case in a fresh process. */
import { type ChildProcess, execFile, fork } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { promisify } from 'node:util';
import { maxInWindow } from '../test/support/window-count.js';

export { maxInWindow };

export const now = () => performance.timeOrigin + performance.now();

/** The p-th percentile (0-100) of a list. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] as number;
}

export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

/** Rate, sliding-window maximum and jitter of a list of start times at a target rate. */
export function startStats(starts: readonly number[], perSecond: number) {
  const sorted = [...starts].sort((a, b) => a - b);
  const span = (sorted.at(-1) ?? 0) - (sorted[0] ?? 0);
  const ideal = 1000 / perSecond;
  const jitter = sorted.slice(1).map((t, i) => Math.abs(t - (sorted[i] as number) - ideal));
  return {
    count: sorted.length,
    rate: span > 0 ? ((sorted.length - 1) * 1000) / span : Number.NaN,
    maxWindow: maxInWindow(sorted),
    jitterP50: percentile(jitter, 50),
    jitterP99: percentile(jitter, 99),
  };
}

/** The sink process. */
export interface Sink {
  port: number;
  reset(): Promise<void>;
  stats(): Promise<{ mailFrom: number[]; messages: number; bytes: number }>;
  stop(): void;
}

function request<T>(child: ChildProcess, message: object): Promise<T> {
  return new Promise((resolve) => {
    child.once('message', (reply) => resolve(reply as T));
    child.send(message);
  });
}

export async function startSink(): Promise<Sink> {
  const child = fork(new URL('./sink.ts', import.meta.url).pathname, [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const { port } = await new Promise<{ port: number }>((resolve) =>
    child.once('message', (m) => resolve(m as never)),
  );
  return {
    port,
    reset: () => request(child, { cmd: 'reset' }),
    stats: () => request(child, { cmd: 'stats' }),
    stop: () => child.kill(),
  };
}

const run = promisify(execFile);

/**
 * Runs one case in a fresh Node process (with `--expose-gc`, and `env` added to the environment) and returns what
 * it printed as JSON.
 */
export async function inChild<T>(name: string, args: object, env: Record<string, string> = {}): Promise<T> {
  const worker = new URL('./worker.ts', import.meta.url).pathname;
  const { stdout } = await run(
    process.execPath,
    ['--expose-gc', '--import', 'tsx', worker, name, JSON.stringify(args)],
    {
      maxBuffer: 64 * 1024 * 1024,
      timeout: 10 * 60_000,
      env: { ...process.env, ...env },
    },
  );
  const last = stdout.trim().split('\n').at(-1) ?? '{}';
  return JSON.parse(last) as T;
}

export async function machine(): Promise<string> {
  const cpu = cpus();
  return `${cpu.length} × ${cpu[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${process.platform} ${process.arch}`;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
