import { fileURLToPath } from 'node:url';
import { type DependencyTree, parseCircular, parseDependencyTree } from 'dpdm';
import { beforeAll, describe, expect, it } from 'vitest';

// dpdm (a devDependency) rather than a graph walk of our own: it is maintained, small beside the TypeScript it
// builds on, and resolves imports with the compiler and this tsconfig, so `./x.js` finds `./x.ts` as tsc does.
// With `transform: false` it keeps type-only imports in the graph: a cycle through `import type` still ties two
// modules together for a reader, and becomes a runtime cycle the day one of the imports gains a value.
const root = fileURLToPath(new URL('..', import.meta.url));

let tree: DependencyTree;

beforeAll(async () => {
  tree = await parseDependencyTree('src/**/*.ts', {
    context: root,
    tsconfig: `${root}tsconfig.json`,
    transform: false,
    skipDynamicImports: false,
  });
});

describe('import cycles in src', () => {
  it('reads every module and resolves every relative import', () => {
    expect(tree['src/index.ts']).toBeTruthy();
    const unresolved = Object.values(tree)
      .flatMap((dependencies) => dependencies ?? [])
      .filter((dependency) => dependency.request.startsWith('.') && dependency.id === null)
      .map((dependency) => `${dependency.issuer} imports ${dependency.request}`);
    expect(unresolved).toEqual([]);
  });

  it('has no cycle, type-only imports included', () => {
    const cycles = parseCircular(tree).map((cycle) => [...cycle, cycle[0]].join(' -> '));
    expect(cycles).toEqual([]);
  });
});
