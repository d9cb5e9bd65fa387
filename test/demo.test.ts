import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);

describe('npm run demo', () => {
  it('runs the school-day scenario against the embedded sink and writes what it received', async () => {
    // a folder of its own: the suite may run on several Node versions at once in the same checkout
    const out = join(await mkdtemp(join(tmpdir(), 'messenger-email-demo-')), 'demo-out');
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'demo/demo.ts', '--out', out], {
      timeout: 60_000,
    });
    expect(stdout).toMatch(/SMTP sink listening on 127\.0\.0\.1:\d+/);
    expect(stdout).toMatch(/attachmentsDropped\s+with-attachment: report-card\.pdf/);
    expect(stdout).toMatch(/refused\s+too-large: yearbook\.pdf is 2 MB; the limit is 1 MB/);
    expect(stdout).toMatch(/failed\s+retried attempt 1: .*451.*\(will retry\)/);
    expect(stdout).toContain('Done: 12 sent, 0 cancelled.');
    expect(stdout).toContain('Minutes Between Retries 0, so a retry comes at the next free slot [5]');
    // each saved file is named with the id the events used
    expect(stdout).toMatch(/0001-attendance-notice-0\.eml +teacher-note +from ms\.rivera@district\.k12\.us/);
    expect(stdout).toMatch(/-shelter-in-place\.eml +emergency-alert +from messenger@district\.k12\.us/);
    const emergency = stdout.indexOf('sending             emergency-alert');
    expect(emergency).toBeGreaterThan(0);
    expect(stdout.indexOf('sending             attendance-2')).toBeGreaterThan(emergency);
    const files = (await readdir(out)).sort();
    expect(files).toHaveLength(12);
    const alert = await readFile(join(out, files[2] ?? ''), 'utf8');
    expect(alert).toMatch(/^Subject: EMERGENCY: shelter in place$/m);
    expect(alert).toMatch(/^From: messenger@district\.k12\.us$/m);
    await rm(join(out, '..'), { recursive: true, force: true });
  });
});
