import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readTextFile } from '../src/cli/files.js';
import { checkpoint, InterruptedError, startEach, whenInterrupted } from '../src/cli/interrupt.js';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'messenger-email-interrupt-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('startEach', () => {
  it('starts every item in order when nothing interrupts', async () => {
    const started = await startEach([1, 2, 3, 4, 5], new AbortController().signal, (n) => n * 10, 2);
    expect(started).toEqual([10, 20, 30, 40, 50]);
  });

  it('stops queuing a long list at the first turn after Ctrl+C, leaving the rest unstarted', async () => {
    const controller = new AbortController();
    const items = Array.from({ length: 10_000 }, (_, i) => i);
    setImmediate(() => controller.abort()); // as a signal handler runs: in a turn of the event loop
    const started = await startEach(items, controller.signal, (n) => n, 100);
    expect(started.length).toBeGreaterThan(0);
    expect(started.length).toBeLessThanOrEqual(200);
  });

  it('starts nothing once interrupted', async () => {
    const controller = new AbortController();
    controller.abort();
    expect(await startEach([1, 2], controller.signal, (n) => n)).toEqual([]);
  });
});

describe('whenInterrupted', () => {
  it('runs the stop at once when Ctrl+C was pressed before it was set up', () => {
    const controller = new AbortController();
    controller.abort();
    let stopped = 0;
    whenInterrupted(controller.signal, () => stopped++);
    expect(stopped).toBe(1);
  });

  it('runs the stop on Ctrl+C, and not after it was removed', () => {
    const first = new AbortController();
    let stopped = 0;
    whenInterrupted(first.signal, () => stopped++);
    first.abort();
    expect(stopped).toBe(1);

    const second = new AbortController();
    whenInterrupted(second.signal, () => stopped++)();
    second.abort();
    expect(stopped).toBe(1);
  });
});

describe('readTextFile', () => {
  it('reads nothing once interrupted, with exit code 2', async () => {
    const path = join(dir, 'body.txt');
    await writeFile(path, 'Hello');
    const controller = new AbortController();
    controller.abort();
    const read = readTextFile('the text body (--text)', path, controller.signal);
    await expect(read).rejects.toBeInstanceOf(InterruptedError);
    await expect(read).rejects.toMatchObject({ exitCode: 2, code: 'INTERRUPTED' });
  });

  it('reads the file when not interrupted', async () => {
    const path = join(dir, 'bom.txt');
    await writeFile(path, '\uFEFFHello');
    expect(await readTextFile('the text body (--text)', path, new AbortController().signal)).toBe('Hello');
  });
});

describe('checkpoint', () => {
  it('sees a Ctrl+C that came during synchronous work, and throws', async () => {
    const controller = new AbortController();
    setImmediate(() => controller.abort()); // pending, as a signal is while a large list is parsed
    expect(controller.signal.aborted).toBe(false);
    await expect(checkpoint(controller.signal)).rejects.toBeInstanceOf(InterruptedError);
  });

  it('passes when nothing interrupted', async () => {
    await expect(checkpoint(new AbortController().signal)).resolves.toBeUndefined();
  });
});
