/**
 * The closing summary of `npm test`: counts, and for tests skipped on a machine without a browser or a Redis, which
 * files skipped them and what to install.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const script = resolve(import.meta.dirname, '..', 'scripts', 'test-summary.mjs');
let dir: string | undefined;

afterEach(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

function report(results: { name: string; statuses: string[] }[]) {
  const all = results.flatMap((result) => result.statuses);
  return JSON.stringify({
    numTotalTests: all.length,
    numPassedTests: all.filter((status) => status === 'passed').length,
    numFailedTests: all.filter((status) => status === 'failed').length,
    numPendingTests: all.filter((status) => status === 'pending' || status === 'skipped').length,
    numTodoTests: 0,
    testResults: results.map((result) => ({
      name: join(dir ?? '', result.name),
      assertionResults: result.statuses.map((status) => ({ status })),
    })),
  });
}

describe('the test summary', () => {
  it('says which files skipped tests and what they need', async () => {
    dir = await mkdtemp(join(tmpdir(), 'messenger-email-summary-'));
    await mkdir(join(dir, '.tmp'));
    await writeFile(
      join(dir, '.tmp', 'vitest.json'),
      report([
        { name: 'test/throttle.test.ts', statuses: ['passed', 'passed'] },
        { name: 'test/fleet-outbox.test.ts', statuses: ['skipped', 'skipped', 'skipped'] },
      ]),
    );
    await writeFile(
      join(dir, '.tmp', 'vitest-e2e.json'),
      report([{ name: 'test/e2e/settings-page.test.ts', statuses: ['skipped', 'passed'] }]),
    );
    const { stdout } = await run(process.execPath, [script], { cwd: dir });
    expect(stdout.split('\n')).toEqual([
      'tests: 3 passed, 0 failed, 4 skipped',
      '  skipped: 3 in test/fleet-outbox.test.ts: needs redis-server (apt-get install redis-server)',
      '  skipped: 1 in test/e2e/settings-page.test.ts: needs Chromium (apt-get install chromium)',
      '',
    ]);
  });
});
