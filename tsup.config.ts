import { sep } from 'node:path';
import type { Plugin } from 'esbuild';
import { defineConfig } from 'tsup';

/** Resolves the command-line tool's imports of the library entry (`../index.js`) to the built `dist/index.js`. */
const libraryFromBuild: Plugin = {
  name: 'library-from-build',
  setup(build) {
    build.onResolve({ filter: /^\.\.\/index\.js$/ }, (args) =>
      args.importer.includes(`${sep}src${sep}cli${sep}`) ? { path: './index.js', external: true } : undefined,
    );
  },
};

export default defineConfig([
  {
    // The library and its `fleet`, `settings` and `testing` entry points. Split, so that all load the same error classes
    // (`instanceof` holds across them); ioredis, an optional peer dependency, stays outside and is loaded by the
    // fleet entry alone. The settings entry imports no Node built-in: a browser bundle takes it.
    entry: {
      index: 'src/index.ts',
      fleet: 'src/fleet/index.ts',
      settings: 'src/settings/index.ts',
      testing: 'src/testing/index.ts',
    },
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
    // The command-line tool: one ESM file with its shebang. It loads the library from the build above
    // (`./index.js`) rather than carrying a second copy of it, so that the two share one set of classes.
    entry: { cli: 'src/cli/main.ts' },
    esbuildPlugins: [libraryFromBuild],
    format: ['esm'],
    dts: false,
    sourcemap: true,
    target: 'node20',
    platform: 'node',
    banner: { js: '#!/usr/bin/env node' },
  },
]);
