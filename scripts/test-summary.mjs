// Prints one closing line from the vitest JSON report: "tests: N passed, N failed".
import { readFileSync } from 'node:fs';

const report = JSON.parse(readFileSync(process.argv[2] ?? '.tmp/vitest.json', 'utf8'));
const skipped = report.numPendingTests + report.numTodoTests;
const tail = skipped > 0 ? `, ${skipped} skipped` : '';
process.stdout.write(`tests: ${report.numPassedTests} passed, ${report.numFailedTests} failed${tail}\n`);
if (report.numTotalTests === 0 || report.numFailedTests > 0) process.exitCode = 1;
