/** Runs one benchmark case in this (fresh) process and prints its result as one line of JSON. */
import * as cases from './cases.js';

const [name, json] = process.argv.slice(2);
const fn = (cases as Record<string, (args: never) => Promise<unknown>>)[name ?? ''];
if (fn === undefined) {
  process.stderr.write(`unknown case ${name}\n`);
  process.exit(2);
}
const result = await fn(JSON.parse(json ?? '{}') as never);
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(0);
