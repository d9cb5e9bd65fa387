// Prints the closing lines from the vitest JSON reports: "tests: N passed, N failed, N skipped", and for skipped
// tests, which files skipped them and what to install to run them.
import { existsSync, readFileSync } from 'node:fs';
import { relative } from 'node:path';

/** What a file's tests need when they skip on a machine without it. */
const NEEDS = [
  [/settings-page|browser-settings/, 'Chromium (apt-get install chromium)'],
  [/fleet-/, 'redis-server (apt-get install redis-server)'],
];

// the reports given as arguments, or those of `npm test`
const named = process.argv.slice(2);
const files = (named.length > 0 ? named : ['.tmp/vitest.json', '.tmp/vitest-e2e.json']).filter((file) =>
  existsSync(file),
);
let passed = 0;
let failed = 0;
let skipped = 0;
let total = 0;
const skippedIn = new Map();
for (const file of files) {
  const report = JSON.parse(readFileSync(file, 'utf8'));
  passed += report.numPassedTests;
  failed += report.numFailedTests;
  skipped += report.numPendingTests + report.numTodoTests;
  total += report.numTotalTests;
  for (const result of report.testResults ?? []) {
    const count = (result.assertionResults ?? []).filter((test) =>
      ['pending', 'skipped', 'todo', 'disabled'].includes(test.status),
    ).length;
    if (count > 0) skippedIn.set(relative(process.cwd(), result.name), count);
  }
}
process.stdout.write(
  `tests: ${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}\n`,
);
for (const [file, count] of skippedIn) {
  const need = NEEDS.find(([pattern]) => pattern.test(file))?.[1];
  process.stdout.write(`  skipped: ${count} in ${file}${need === undefined ? '' : `: needs ${need}`}\n`);
}
if (total === 0 || failed > 0) process.exitCode = 1;
