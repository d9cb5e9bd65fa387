import { defineConfig } from 'tsup';

export default defineConfig([
  {
    // The library and its `fleet` and `settings` entry points. Split, so that all load the same error classes
    // (`instanceof` holds across them); ioredis, an optional peer dependency, stays outside and is loaded by the
    // fleet entry alone. The settings entry imports no Node built-in: a browser bundle takes it.
    entry: { index: 'src/index.ts', fleet: 'src/fleet/index.ts', settings: 'src/settings/index.ts' },
    format: ['esm', 'cjs'],
    dts: true,
    splitting: true,
    sourcemap: true,
    clean: false,
    target: 'node20',
    platform: 'node',
    external: ['ioredis'],
  },
  {
    // The command-line tool: one ESM file with its shebang, the library bundled in.
    entry: { cli: 'src/cli/main.ts' },
    format: ['esm'],
    dts: false,
    sourcemap: true,
    target: 'node20',
    platform: 'node',
    banner: { js: '#!/usr/bin/env node' },
  },
]);
