import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CaptureSink, startCaptureSink } from '../../src/sink/capture.js';

const run = promisify(execFile);
const root = resolve(import.meta.dirname, '../..');
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');

let dir: string;
let sink: CaptureSink;

/** The same few lines in each kind of project: parse settings, send one message through the sink. */
const program = (importLine: string, label: string) => `${importLine}
const port = Number(process.env.SINK_PORT);
const settings = parseEmailSettings({ defaultSenderAddress: 'messenger@district.k12.us', smtpHost: '127.0.0.1', smtpPort: port });
const mailer = new Mailer({ settings });
mailer.send({ to: 'parent@example.org', subject: 'from ${label}', text: 'installed from the tarball' })
  .then((report) => { process.stdout.write(report.response + '\\n'); return mailer.close(); })
  .catch((error) => { process.stderr.write(String(error) + '\\n'); process.exitCode = 1; return mailer.close(); });
`;

async function project(name: string, files: Record<string, string>): Promise<string> {
  const folder = join(dir, 'app', name);
  await mkdir(folder, { recursive: true });
  for (const [file, text] of Object.entries(files)) await writeFile(join(folder, file), text);
  return folder;
}

async function runIn(folder: string, file: string) {
  return run(process.execPath, [file], {
    cwd: folder,
    env: { ...process.env, SINK_PORT: String(sink.port) },
  });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'messenger-email-pack-'));
  // the tree is built already (npm test builds before these tests): no prepack here
  await run('npm', ['pack', '--ignore-scripts', '--pack-destination', dir, '--silent'], { cwd: root });
  const tarball = (await readdir(dir)).find((file) => file.endsWith('.tgz'));
  if (tarball === undefined) throw new Error('npm pack made no tarball');
  const app = join(dir, 'app');
  await mkdir(app);
  await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true }));
  await run(
    'npm',
    ['install', join(dir, tarball), '--no-audit', '--no-fund', '--prefer-offline', '--silent'],
    {
      cwd: app,
    },
  );
  sink = await startCaptureSink();
});

afterAll(async () => {
  await sink?.close();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describe('the packed package, installed from its tarball', () => {
  it('packs a whole package from a clean tree: prepack builds it', { timeout: 120_000 }, async () => {
    // the project's files as git knows them (a fresh clone has no dist), with the installed tools
    const clean = join(dir, 'clean');
    const { stdout: listed } = await run(
      'git',
      ['ls-files', '--cached', '--others', '--exclude-standard', '-z'],
      {
        cwd: root,
        maxBuffer: 16 * 1024 * 1024,
      },
    );
    for (const file of listed.split('\0').filter((name) => name !== '')) {
      await mkdir(dirname(join(clean, file)), { recursive: true });
      await copyFile(join(root, file), join(clean, file)).catch(() => undefined); // a file deleted but not staged
    }
    await symlink(join(root, 'node_modules'), join(clean, 'node_modules'), 'dir');
    const out = join(dir, 'clean-pack');
    await mkdir(out);
    await run('npm', ['pack', '--pack-destination', out], { cwd: clean, maxBuffer: 16 * 1024 * 1024 });
    const tarball = (await readdir(out)).find((file) => file.endsWith('.tgz')) ?? '';
    const { stdout } = await run('tar', ['-tzf', join(out, tarball)]);
    const files = stdout
      .trim()
      .split('\n')
      .map((file) => file.replace(/^package\//, ''));
    for (const file of [
      'dist/index.js',
      'dist/index.cjs',
      'dist/index.d.ts',
      'dist/cli.js',
      'dist/fleet.js',
    ]) {
      expect(files).toContain(file);
    }
    expect(files).toContain('dist/settings.js');
  });

  it('ships every file the README links to, so that its links resolve on the registry page', async () => {
    const tarball = (await readdir(dir)).find((f) => f.endsWith('.tgz')) ?? '';
    const { stdout } = await run('tar', ['-tzf', join(dir, tarball)]);
    const files = new Set(stdout.trim().split('\n'));
    const readme = await readFile(join(root, 'README.md'), 'utf8');
    const links = [...readme.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)]
      .map((match) => match[1] ?? '')
      .filter((link) => !/^[a-z]+:/i.test(link));
    expect(links).toContain('docs/providers.md');
    expect(links.filter((link) => !files.has(`package/${link}`))).toEqual([]);
  });

  it('ships only the built files, the guides, the README, the licence and package.json', async () => {
    const { stdout } = await run('tar', [
      '-tzf',
      join(dir, (await readdir(dir)).find((f) => f.endsWith('.tgz')) ?? ''),
    ]);
    const files = stdout.trim().split('\n');
    expect(
      files.every((file) =>
        /^package\/(dist\/|package\.json$|(fleet|settings|testing)\/package\.json$|README\.md$|LICENSE$|CHANGELOG\.md$|docs\/[\w-]+\.md$|bench\/(soak-)?results\.md$|examples\/(settings-page|testing|express-app)\/)/.test(
          file,
        ),
      ),
    ).toBe(true);
    expect(files).toContain('package/dist/index.js');
    expect(files).toContain('package/dist/index.cjs');
    expect(files).toContain('package/dist/index.d.ts');
    expect(files).toContain('package/dist/index.d.cts');
    expect(files).toContain('package/dist/cli.js');
    expect(files).toContain('package/dist/fleet.js');
    expect(files).toContain('package/dist/fleet.cjs');
    expect(files).toContain('package/dist/fleet.d.ts');
    expect(files).toContain('package/dist/fleet.d.cts');
    for (const kind of ['js', 'cjs', 'd.ts', 'd.cts'])
      expect(files).toContain(`package/dist/settings.${kind}`);
    // `messenger-email/fleet` and `/settings` for TypeScript's older `node` resolution, which reads no `exports`
    expect(files).toContain('package/fleet/package.json');
    expect(files).toContain('package/settings/package.json');
    expect(files).toContain('package/testing/package.json');
    for (const kind of ['js', 'cjs', 'd.ts', 'd.cts'])
      expect(files).toContain(`package/dist/testing.${kind}`);
  });

  it('sends from an ESM project', async () => {
    const folder = await project('esm', {
      'package.json': JSON.stringify({ type: 'module' }),
      'index.js': program("import { Mailer, parseEmailSettings } from 'messenger-email';", 'esm'),
    });
    expect((await runIn(folder, 'index.js')).stdout).toMatch(/^250/);
    expect(sink.messages.some((m) => m.subject === 'from esm')).toBe(true);
  });

  it('sends from a CommonJS project', async () => {
    const folder = await project('cjs', {
      'package.json': JSON.stringify({ type: 'commonjs' }),
      'index.js': program("const { Mailer, parseEmailSettings } = require('messenger-email');", 'cjs'),
    });
    expect((await runIn(folder, 'index.js')).stdout).toMatch(/^250/);
    expect(sink.messages.some((m) => m.subject === 'from cjs')).toBe(true);
  });

  it.each([
    ['node16', { module: 'node16', moduleResolution: 'node16' }, 'module'],
    ['node16 from CommonJS', { module: 'node16', moduleResolution: 'node16' }, 'commonjs'],
    ['bundler', { module: 'esnext', moduleResolution: 'bundler' }, 'module'],
  ] as const)(
    'type-checks and sends from a TypeScript project with moduleResolution %s',
    async (name, options, type) => {
      const label = `ts ${name}`;
      const importLine =
        "import { Mailer, parseEmailSettings, type DeliveryReport, type EmailSettings } from 'messenger-email';\n" +
        'const typed: (s: EmailSettings) => number = (s) => s.throttlePerSecond;\n' +
        'void typed;\nlet last: DeliveryReport | undefined;\nvoid last;';
      const folder = await project(label.replace(/\W+/g, '-'), {
        'package.json': JSON.stringify({ type }),
        'tsconfig.json': JSON.stringify({
          compilerOptions: {
            ...options,
            target: 'es2022',
            strict: true,
            exactOptionalPropertyTypes: true,
            skipLibCheck: false,
            typeRoots: [join(root, 'node_modules', '@types')],
            types: ['node'],
            outDir: 'out',
          },
          files: ['index.ts'],
        }),
        'index.ts': program(importLine, label),
      });
      await run(process.execPath, [tsc, '-p', folder]);
      expect((await runIn(folder, join('out', 'index.js'))).stdout).toMatch(/^250/);
      expect(sink.messages.some((m) => m.subject === `from ${label}`)).toBe(true);
    },
  );

  it('installs a working messenger-email command', async () => {
    const { stdout } = await run(join(dir, 'app', 'node_modules', '.bin', 'messenger-email'), ['--version']);
    expect(stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('gives the command the library build to load rather than a second copy of the library', async () => {
    const cli = await readFile(join(dir, 'app', 'node_modules', 'messenger-email', 'dist', 'cli.js'), 'utf8');
    expect(cli).toMatch(/from "\.\/index\.js"/);
    expect(cli).not.toMatch(/class Mailer\b/);
    expect(cli).not.toMatch(/class MailerError\b/); // one set of error classes, the library's
    console.info(`dist/cli.js: ${(Buffer.byteLength(cli) / 1024).toFixed(1)} kB`);
  });
});
