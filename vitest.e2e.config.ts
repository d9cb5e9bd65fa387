import { defineConfig } from 'vitest/config';

/**
 * Tests of the built package as users run it: the CLI, the packed tarball, the settings page in a browser, and the
 * examples' own tests.
 */
export default defineConfig({
  test: {
    include: ['test/e2e/**/*.test.ts', 'examples/**/*.test.mjs'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    fileParallelism: false,
  },
});
