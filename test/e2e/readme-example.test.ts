// The README's first example, run as written against the local sink (only the port changed to the sink's), and
// against a port where nothing listens: it must send, or stop at once on verify() with the stage and a hint.
// Needs `npm run build` first (the example imports the built package by its name).
import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CaptureSink, startCaptureSink } from '../../src/sink/capture.js';

const run = promisify(execFile);
const root = resolve(import.meta.dirname, '../..');
let sink: CaptureSink;
let example: string;

/** A port on 127.0.0.1 that nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as { port: number };
  await new Promise((done) => server.close(done));
  return port;
}

/** The example, written where `messenger-email` resolves to this package, with another port. */
async function exampleFile(port: number): Promise<string> {
  const path = join(root, '.tmp', `readme-example-${port}.mjs`);
  await mkdir(join(root, '.tmp'), { recursive: true });
  await writeFile(path, example.replace('smtpPort: 2525', `smtpPort: ${port}`));
  return path;
}

beforeAll(async () => {
  const readme = await readFile(join(root, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Example'));
  example = /```js\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
  sink = await startCaptureSink({ host: '127.0.0.1', port: 0 });
});

afterAll(async () => {
  await sink?.close();
});

describe("the README's example", () => {
  it('is the sink example: no TLS, no login, port 2525', () => {
    expect(example).toContain("smtpHost: '127.0.0.1', smtpPort: 2525");
    expect(example).toContain('await mailer.verify()');
  });

  it('sends through the local sink as written', async () => {
    const { stdout } = await run(process.execPath, [await exampleFile(sink.port)], {
      cwd: root,
      timeout: 30_000,
    });
    expect(stdout).toMatch(/^sent \S+: 250 /);
    expect(sink.messages.map((message) => message.to)).toEqual([['parent@example.org']]);
  });

  it('stops at once with the stage and a hint when nothing listens', async () => {
    const started = performance.now();
    const failure = await run(process.execPath, [await exampleFile(await closedPort())], {
      cwd: root,
      timeout: 30_000,
    }).catch((error: { code?: number; stderr?: string }) => error);
    expect((failure as { code?: number }).code).toBe(1);
    expect((failure as { stderr?: string }).stderr).toMatch(
      /The check stopped at connect: Nothing accepted a connection/,
    );
    expect(performance.now() - started).toBeLessThan(20_000); // not the 45 minutes of retries
  });
});
