// Prints one closing line from the vitest JSON reports: "tests: N passed, N failed".
import { existsSync, readFileSync } from 'node:fs';

const files = ['.tmp/vitest.json', '.tmp/vitest-e2e.json'].filter((file) => existsSync(file));
let passed = 0;
let failed = 0;
let skipped = 0;
let total = 0;
for (const file of files) {
  const report = JSON.parse(readFileSync(file, 'utf8'));
  passed += report.numPassedTests;
  failed += report.numFailedTests;
  skipped += report.numPendingTests + report.numTodoTests;
  total += report.numTotalTests;
}
process.stdout.write(
  `tests: ${passed} passed, ${failed} failed${skipped > 0 ? `, ${skipped} skipped` : ''}\n`,
);
if (total === 0 || failed > 0) process.exitCode = 1;
