/**
 * The built command-line tool (dist/cli.js), run as a user runs it: a child process, real SMTP servers on 127.0.0.1.
 * Run `npm run build` first.
 */
import { type ChildProcessWithoutNullStreams, execFile, spawn } from 'node:child_process';
import { type FileHandle, mkdtemp, open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CapturedMessage, type CaptureSink, startCaptureSink } from '../../src/sink/capture.js';
import { startDnsServer, type TestDnsServer } from '../support/dns-server.js';
import { runCli } from '../support/run-cli.js';
import { type SmtpSink, startSmtpSink } from '../support/smtp-sink.js';

const root = resolve(import.meta.dirname, '../..');
const cliPath = join(root, 'dist', 'cli.js');
const version = (JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { version: string })
  .version;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

let dir: string;
let sink: CaptureSink;
let authSink: SmtpSink;
/** The DNS server every `check` asks (`--dns-server`), so that no test asks a public one. */
let dns: TestDnsServer;
const AUTH = { username: 'messenger', password: 'Corr3ct-Horse-Battery' };

/**
 * Runs the built CLI and resolves with its exit code and output (never rejects on a non-zero exit). A `check` asks
 * the test's DNS server.
 */
function cli(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const local = args[0] === 'check' && !args.includes('--dns-server') ? ['--dns-server', dns.address] : [];
  return runCli(cliPath, [...args, ...local], { cwd: dir, env });
}

/** Writes a file in the test folder and returns its path. */
async function file(name: string, content: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, content);
  return path;
}

/** Settings for the capture sink, with overrides. */
function settingsFile(name: string, overrides: Record<string, unknown> = {}): Promise<string> {
  const settings = {
    defaultSenderAddress: 'messenger@district.k12.us',
    smtpHost: '127.0.0.1',
    smtpPort: sink.port,
    throttlePerSecond: 999,
    minutesBetweenRetries: 0,
    maxErrorsBeforeCancel: 1,
    ...overrides,
  };
  return file(name, JSON.stringify(settings, null, 2));
}

/** Settings for the sink that requires a login. */
function authSettingsFile(name: string, password: string): Promise<string> {
  return settingsFile(name, {
    smtpPort: authSink.port,
    useAuthentication: true,
    username: AUTH.username,
    password,
  });
}

function receivedBy(address: string): CapturedMessage[] {
  return sink.messages.filter((message) => message.to.includes(address));
}

/** A port on 127.0.0.1 that nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((ready) => server.listen(0, '127.0.0.1', ready));
  const { port } = server.address() as { port: number };
  await new Promise<void>((closed) => server.close(() => closed()));
  return port;
}

/** Resolves with the first text of `child`'s stdout (or stderr) that matches `pattern`. */
function waitForLine(
  child: ChildProcessWithoutNullStreams,
  pattern: RegExp,
  stream: 'stdout' | 'stderr' = 'stdout',
): Promise<RegExpExecArray> {
  return new Promise((found, fail) => {
    let buffer = '';
    const timer = setTimeout(() => fail(new Error(`no line matching ${pattern} in: ${buffer}`)), 10_000);
    const onData = (chunk: Buffer) => {
      buffer += chunk.toString();
      const match = pattern.exec(buffer);
      if (match === null) return;
      clearTimeout(timer);
      child[stream].off('data', onData);
      found(match);
    };
    child[stream].on('data', onData);
  });
}

/** A running CLI: the child process, and its exit code and whole output once it exits. */
interface Started {
  child: ChildProcessWithoutNullStreams;
  exited: Promise<Run>;
}

/** Starts the built CLI as a child process, to signal it while it runs. */
function startCli(args: string[]): Started {
  const child = spawn(process.execPath, [cliPath, ...args], { cwd: dir });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = new Promise<Run>((done) => {
    child.once('close', (code) => done({ code: code ?? -1, stdout, stderr }));
  });
  return { child, exited };
}

/** A named pipe in the test folder: the CLI's read of it blocks until the test writes and closes it. */
async function fifo(name: string): Promise<string> {
  const path = join(dir, name);
  await new Promise<void>((made, fail) =>
    execFile('mkfifo', [path], (error) => (error === null ? made() : fail(error))),
  );
  return path;
}

/** Writes the rest of a named pipe and closes it; the reader may be gone already (EPIPE), having stopped reading. */
async function finish(writer: FileHandle, text: string): Promise<void> {
  try {
    await writer.write(text);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPIPE') throw error;
  } finally {
    await writer.close();
  }
}

/** The district's DNS: mail servers, SPF for one relay address, DMARC that rejects what fails. */
const DISTRICT_ZONE = {
  'district.k12.us': {
    MX: [{ exchange: 'mx.district.k12.us', priority: 10 }],
    TXT: ['v=spf1 ip4:192.0.2.10 -all'],
  },
  'mx.district.k12.us': { A: ['192.0.2.25'] },
  '_dmarc.district.k12.us': { TXT: ['v=DMARC1; p=reject; rua=mailto:dmarc@district.k12.us'] },
};

/** What a terminal must never receive raw from the tool: control characters but the line break, bidi overrides. */
const UNSAFE = /(?!\n)[\p{Cc}\u2028\u2029\u202a-\u202e\u2066-\u2069]/u;

/** Messages the sink received with this subject. */
function withSubject(subject: string): CapturedMessage[] {
  return sink.messages.filter((message) => message.subject === subject);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'messenger-email-cli-'));
  sink = await startCaptureSink({ host: '127.0.0.1', port: 0 });
  authSink = await startSmtpSink({ auth: AUTH });
  dns = await startDnsServer(DISTRICT_ZONE);
  await file('body.txt', 'Your student was absent today.\n');
});

afterAll(async () => {
  await dns?.close();
  await sink?.close();
  await authSink?.close();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describe('messenger-email (arguments)', () => {
  it('prints the version of package.json with --version', async () => {
    const run = await cli(['--version']);
    expect(run).toMatchObject({ code: 0, stdout: `${version}\n` });
  });

  it('prints the usage with --help and help, naming every command', async () => {
    for (const args of [['--help'], ['help']]) {
      const run = await cli(args);
      expect(run.code).toBe(0);
      for (const command of ['check', 'send', 'sink', 'Exit codes']) expect(run.stdout).toContain(command);
    }
    const send = await cli(['help', 'send']);
    expect(send.stdout).toContain('--to-file');
  });

  it('exits 1 with a usage hint on an unknown command', async () => {
    const run = await cli(['frobnicate']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('unknown command "frobnicate"');
    expect(run.stderr).toContain("Run 'messenger-email --help' for usage.");
    expect(run.stdout).toBe('');
  });

  it('exits 1 with a usage hint on an unknown flag, without a stack trace', async () => {
    const run = await cli(['send', '--bogus']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain("unknown option '--bogus'");
    expect(run.stderr).toContain("Run 'messenger-email help send' for usage.");
    expect(run.stderr).not.toMatch(/\n\s+at /);
  });

  it('says how to give a value that starts with "-"', async () => {
    const run = await cli(['send', '--settings', 'x.json', '--subject', '-- Reminder --']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('the value of --subject starts with "-"');
    expect(run.stderr).toContain('--subject="..."');
  });

  it('names --ca in the general help', async () => {
    const run = await cli(['--help']);
    expect(run.stdout).toMatch(/check SETTINGS\.json [^\n]*\n[^\n]*--ca FILE/);
  });

  it('refuses a password on the command line', async () => {
    const run = await cli(['check', 'x.json', '--password', 'hunter22']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('--password-env');
    expect(run.stderr).not.toContain('hunter22');
  });
});

describe('messenger-email check', () => {
  it('exits 0 when the server accepts the settings', async () => {
    const run = await cli(['check', await settingsFile('ok.json')]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`OK: the SMTP server accepted the connection: 127.0.0.1:${sink.port}`);
  });

  it('exits 1 and lists every problem by its label when the settings are not valid', async () => {
    const path = await file(
      'invalid.json',
      JSON.stringify({
        defaultSenderAddress: 'alerts@infinitecampus.org',
        smtpHost: 'smtp://mail.district.k12.us',
        useTls: true,
        useAuthentication: true,
        throttlePerSecond: 0,
      }),
    );
    const run = await cli(['check', path]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('are not valid (6 problems)');
    const problems = run.stderr.split('\n').filter((line) => line.startsWith('  - '));
    expect(problems).toHaveLength(6);
    for (const label of [
      'Default Sender Email Address',
      'SMTP Host',
      'SMTP Port',
      'Username',
      'Password',
      'Throttle Email Messages',
    ]) {
      expect(problems.some((line) => line.startsWith(`  - ${label} `))).toBe(true);
    }
  });

  it('exits 2 at stage connect, with the hint, when nothing listens on the port', async () => {
    const path = await settingsFile('closed.json', { smtpPort: await closedPort() });
    const run = await cli(['check', path]);
    expect(run.code).toBe(2);
    expect(run.stdout).toContain('FAILED at stage "connect"');
    expect(run.stdout).toContain('Hint: Check SMTP Port');

    const json = await cli(['check', path, '--json']);
    expect(json.code).toBe(2);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, stage: 'connect', hint: expect.any(String) });
  });

  it('prints one JSON object without the password with --json', async () => {
    const run = await cli(['check', await authSettingsFile('auth-ok.json', AUTH.password), '--json']);
    expect(run.code).toBe(0);
    const result = JSON.parse(run.stdout);
    expect(result).toMatchObject({ ok: true, port: authSink.port, authenticated: true });
    expect(result.settings.password).toBe('********');
    expect(run.stdout + run.stderr).not.toContain(AUTH.password);
  });

  it('prints the issues as JSON with --json when the settings are not valid', async () => {
    const path = await file(
      'invalid-json.json',
      JSON.stringify({ smtpHost: 'mail.example.org', password: 'pw-1234' }),
    );
    const run = await cli(['check', path, '--json']);
    expect(run.code).toBe(1);
    const result = JSON.parse(run.stdout);
    expect(result).toMatchObject({ ok: false, code: 'INVALID_SETTINGS' });
    expect(result.issues).toContainEqual(
      expect.objectContaining({ field: 'defaultSenderAddress', label: 'Default Sender Email Address' }),
    );
  });

  it('takes the password from --password-env over the file', async () => {
    const path = await authSettingsFile('auth-file-wrong.json', 'file-password-wrong');
    const run = await cli(['check', path, '--password-env', 'SMTP_PW'], { SMTP_PW: AUTH.password });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('login as messenger');
    expect(run.stdout + run.stderr).not.toContain(AUTH.password);
  });

  it('exits 2 at stage auth on a wrong password, and never prints it', async () => {
    const wrong = 'Wr0ng-Secret-Passw0rd';
    const path = await authSettingsFile('auth-wrong.json', 'file-password-too');
    for (const extra of [[], ['--json']]) {
      const run = await cli(['check', path, '--password-env', 'SMTP_PW', ...extra], { SMTP_PW: wrong });
      expect(run.code).toBe(2);
      expect(run.stdout).toContain('auth');
      expect(run.stdout + run.stderr).not.toContain(wrong);
      expect(run.stdout + run.stderr).not.toContain('file-password-too');
    }
  });

  it('exits 1 naming the variable when --password-env is not set', async () => {
    const path = await authSettingsFile('auth-env.json', AUTH.password);
    const run = await cli(['check', path, '--password-env', 'NO_SUCH_VARIABLE_SET']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('NO_SUCH_VARIABLE_SET');
  });

  it('exits 1 with a clear message when the file is missing or not JSON, without quoting it', async () => {
    const missing = await cli(['check', join(dir, 'nowhere.json')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('no such file');
    const broken = await file('broken.json', '{ "password": "Sec-ret-9876" \n "smtpHost": 1 }');
    const run = await cli(['check', broken]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('is not valid JSON at line 2');
    expect(run.stderr).not.toContain('Sec-ret-9876');
  });

  it('sends a test email to the sink with --send-test-to', async () => {
    const run = await cli([
      'check',
      await settingsFile('test-send.json'),
      '--send-test-to',
      'admin@district.k12.us',
    ]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Test email sent to admin@district.k12.us');
    const [message] = receivedBy('admin@district.k12.us');
    expect(message?.subject).toBe('messenger-email test');
    expect(message?.raw.toString()).toContain('test-send.json');
  });
});

describe('messenger-email check --send-test-to', () => {
  it('refuses an address that is not one before connecting to anything', async () => {
    const path = await settingsFile('test-bad-address.json', { smtpPort: await closedPort() });
    const run = await cli(['check', path, '--send-test-to', 'notanaddress']);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('--send-test-to:');
    expect(run.stdout).not.toContain('Checking'); // nothing was connected to
  });

  it('exits 2 when the server refuses the test email', async () => {
    sink.failNext('refuses-tests@district.k12.us', 550, 'Mailbox unavailable');
    const path = await settingsFile('test-refused.json');
    const run = await cli(['check', path, '--send-test-to', 'refuses-tests@district.k12.us']);
    expect(run.code).toBe(2);
    expect(run.stdout).toContain('FAILED to send the test email to refuses-tests@district.k12.us');
    expect(run.stdout).toContain('Mailbox unavailable');
  });
});

describe('messenger-email send', () => {
  it('sends one message with --text and --attach and prints the delivery report', async () => {
    const settings = await settingsFile('attach.json', { allowAttachments: true });
    const attachment = await file('report-card.txt', 'Grades: all A\n');
    const run = await cli([
      'send',
      '--settings',
      settings,
      '--to',
      'single@example.org',
      '--subject',
      'Report card',
      '--text',
      'body.txt',
      '--attach',
      attachment,
    ]);
    expect(run.code).toBe(0);
    for (const field of [
      'id:',
      'from:       messenger@district.k12.us',
      'attempts:   1',
      'accepted:   single@example.org',
      'response:   250',
    ]) {
      expect(run.stdout).toContain(field);
    }
    const raw = receivedBy('single@example.org')[0]?.raw.toString() ?? '';
    expect(raw).toContain('filename=report-card.txt');
    expect(raw).toContain(Buffer.from('Grades: all A\n').toString('base64'));
    expect(raw).toContain('Your student was absent today.');
  });

  it('sends an --emergency message from the default sender, ignoring --census and --from', async () => {
    const settings = await settingsFile('senders.json', {
      useCensusSenderAddress: true,
      allowCustomSenderAddress: true,
    });
    const run = await cli([
      'send',
      ...[
        '--settings',
        settings,
        '--to',
        'emergency@example.org',
        '--subject',
        'Closed',
        '--text',
        'body.txt',
      ],
      ...['--emergency', '--census', 'teacher@district.k12.us', '--from', 'office@district.k12.us'],
    ]);
    expect(run.code).toBe(0);
    expect(receivedBy('emergency@example.org')[0]?.from).toBe('messenger@district.k12.us');
    expect(run.stdout).toContain('ignored:    census sender');
  });

  it('sends from the --census address when Use Census Sender Address is on', async () => {
    const settings = await settingsFile('census.json', { useCensusSenderAddress: true });
    const run = await cli([
      'send',
      ...['--settings', settings, '--to', 'census@example.org', '--subject', 'Note', '--text', 'body.txt'],
      ...['--census', 'teacher@district.k12.us'],
    ]);
    expect(run.code).toBe(0);
    expect(receivedBy('census@example.org')[0]?.from).toBe('teacher@district.k12.us');
    expect(run.stdout).toContain('teacher@district.k12.us (the Census address)');
  });

  it('sends from --from when Allow Custom Sender Address is on, and ignores it when off', async () => {
    const args = ['--subject', 'Note', '--text', 'body.txt', '--from', 'office@district.k12.us'];
    const on = await settingsFile('custom-on.json', { allowCustomSenderAddress: true });
    expect((await cli(['send', '--settings', on, '--to', 'custom-on@example.org', ...args])).code).toBe(0);
    expect(receivedBy('custom-on@example.org')[0]?.from).toBe('office@district.k12.us');

    const off = await settingsFile('custom-off.json');
    const run = await cli(['send', '--settings', off, '--to', 'custom-off@example.org', ...args]);
    expect(run.code).toBe(0);
    expect(receivedBy('custom-off@example.org')[0]?.from).toBe('messenger@district.k12.us');
    expect(run.stdout).toContain('ignored:    custom sender');
  });

  it('exits 1 on an invalid recipient and 2 when the server refuses the message', async () => {
    const settings = await settingsFile('refuse.json');
    const base = ['send', '--settings', settings, '--subject', 'x', '--text', 'body.txt'];
    const invalid = await cli([...base, '--to', 'not-an-address']);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toContain('invalid address');

    sink.failNext('refused@example.org', 550, 'Mailbox unavailable');
    const refused = await cli([...base, '--to', 'refused@example.org', '--json']);
    expect(refused.code).toBe(2);
    expect(JSON.parse(refused.stdout)).toMatchObject({ ok: false, code: 'DELIVERY_CANCELLED' });
  });

  it('sends to 20 addresses of a --to-file list and ends with a summary', async () => {
    const addresses = Array.from({ length: 20 }, (_, i) => `bulk${i + 1}@example.org`);
    const list = await file('list.csv', `Email\n${addresses.join('\n')}\n`);
    const run = await cli([
      'send',
      ...[
        '--settings',
        await settingsFile('bulk.json'),
        '--to-file',
        list,
        '--subject',
        'Bulk',
        '--text',
        'body.txt',
      ],
    ]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/Sent 20 of 20 in .+ \(.+\/s\); 0 cancelled, 0 refused/);
    expect(
      sink.messages
        .filter((m) => m.subject === 'Bulk')
        .map((m) => m.to[0])
        .sort(),
    ).toEqual([...addresses].sort());
  });

  it('takes the address column a --column names, and warns of another it does not use', async () => {
    const list = await file(
      'guardians.csv',
      'Student,Guardian Email,Guardian 2 Email\nAna,first-g1@example.org,second-g1@example.org\n',
    );
    const send = (subject: string, extra: string[]) =>
      cli([
        'send',
        '--settings',
        'bulk.json',
        '--to-file',
        list,
        '--subject',
        subject,
        '--text',
        'body.txt',
        ...extra,
      ]);
    await settingsFile('bulk.json');
    const found = await send('Guardians found', []);
    expect(found.code).toBe(0);
    expect(found.stderr).toContain(
      'the column "Guardian 2 Email" also names an email address and is not used',
    );
    expect(withSubject('Guardians found').map((m) => m.to[0])).toEqual(['first-g1@example.org']);
    const chosen = await send('Guardians chosen', ['--column', 'Guardian 2 Email']);
    expect(chosen.code).toBe(0);
    expect(chosen.stderr).not.toContain('is not used');
    expect(withSubject('Guardians chosen').map((m) => m.to[0])).toEqual(['second-g1@example.org']);
    const alone = await cli(['send', '--settings', 'bulk.json', '--to', 'a@example.org', '--column', 'x']);
    expect(alone.code).toBe(1);
    expect(alone.stderr).toContain('--column names a column of --to-file');
  });

  it('reads a CSV whose quoted fields hold commas and quotes, and reports bad rows', async () => {
    const list = await file(
      'quoted.csv',
      'name,email,note\r\n"Doe, Jane",jane@example.org,"says ""hi"", twice"\r\n\r\n"Roe, Rick","rick@example.org",x\r\nBad,not-an-address,y\r\n',
    );
    const settings = await settingsFile('quoted.json');
    const run = await cli([
      'send',
      '--settings',
      settings,
      '--to-file',
      list,
      '--subject',
      'Quoted',
      '--text',
      'body.txt',
      '--json',
    ]);
    expect(run.code).toBe(2);
    const result = JSON.parse(run.stdout);
    expect(result).toMatchObject({ ok: false, total: 3, sent: 2, invalid: 1, refused: 0 });
    expect(result.failures).toEqual([
      expect.objectContaining({ line: 5, to: 'not-an-address', code: 'INVALID_MESSAGE' }),
    ]);
    expect(receivedBy('jane@example.org').some((m) => m.subject === 'Quoted')).toBe(true);
    expect(receivedBy('rick@example.org').some((m) => m.subject === 'Quoted')).toBe(true);
  });

  it('exits 1 when a list has several columns and none is "email"', async () => {
    const list = await file('no-email.csv', 'name,phone\nJane,555\n');
    const run = await cli([
      'send',
      '--settings',
      await settingsFile('no-email.json'),
      '--to-file',
      list,
      '--subject',
      'x',
      '--text',
      'body.txt',
    ]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('has no "email" column');
  });
});

describe('messenger-email send --to-file (the cells of the list)', () => {
  it('sends each address of a cell its own message, and each address once whatever its case or name', async () => {
    const list = await file(
      'cells.csv',
      [
        'name,email',
        'Family A,"cell-a1@example.org, cell-a2@example.org"',
        'Family B,cell-b1@example.org; cell-b2@example.org',
        'Jo,Jo <cell-jo@example.org>',
        'Jo again,CELL-JO@example.org',
        'Jo once more,cell-jo@example.org',
        '',
      ].join('\n'),
    );
    const run = await cli([
      'send',
      ...['--settings', await settingsFile('cells.json'), '--to-file', list],
      ...['--subject', 'Cells', '--text', 'body.txt'],
    ]);
    expect(run.code).toBe(0);
    const messages = withSubject('Cells');
    expect(messages.map((m) => m.to.map((to) => to.toLowerCase()))).toEqual(
      expect.arrayContaining([
        ['cell-a1@example.org'],
        ['cell-a2@example.org'],
        ['cell-b1@example.org'],
        ['cell-b2@example.org'],
        ['cell-jo@example.org'],
      ]),
    );
    expect(messages).toHaveLength(5);
    for (const message of messages) {
      const others = ['a1', 'a2', 'b1', 'b2', 'jo']
        .map((id) => `cell-${id}@example.org`)
        .filter((address) => address !== message.to[0]?.toLowerCase());
      for (const other of others) expect(message.raw.toString().toLowerCase()).not.toContain(other);
    }
    expect(run.stderr).toMatch(/line 2, 3 hold several addresses/);
    expect(run.stderr).toMatch(/2 duplicate address\(es\) sent once \(line 5, 6\)/);
    expect(run.stdout).toMatch(/Sent 5 of 5 in /);
  });

  it('escapes control characters from the list, file names and server replies in what it prints', async () => {
    const list = await file(
      'control.csv',
      'email\nbad\x1b[2Jaddress@example.org\nc1\u009b31m@example.org\nctl-refused@example.org\nctl-ok@example.org\n',
    );
    const settings = await settingsFile('control.json');
    const args = [
      'send',
      '--settings',
      settings,
      '--to-file',
      list,
      '--subject',
      'Control',
      '--text',
      'body.txt',
    ];

    sink.failNext('ctl-refused@example.org', 550, 'No \x1b[31mred\x1b[0m \u202erlt mailbox');
    const human = await cli(args);
    expect(human.code).toBe(2);
    expect(human.stdout + human.stderr).not.toMatch(UNSAFE);
    expect(human.stdout).toContain('bad\\u001b[2Jaddress@example.org');
    expect(human.stdout).toContain('c1\\u009b31m@example.org');
    expect(human.stdout).toContain('\\u202erlt mailbox');
    expect(human.stdout).toMatch(/Sent 1 of 4 in .+; 0 cancelled, 1 refused, 2 invalid/);

    sink.failNext('ctl-refused@example.org', 550, 'No \x1b[31mred\x1b[0m \u202erlt mailbox');
    const json = await cli([...args, '--json']);
    expect(json.code).toBe(2);
    expect(json.stdout + json.stderr).not.toMatch(UNSAFE);
    const result = JSON.parse(json.stdout);
    expect(result).toMatchObject({ total: 4, sent: 1, refused: 1, invalid: 2, cancelled: 0 });
    expect(result.failures.map((f: { to: string }) => f.to)).toContain('c1\u009b31m@example.org');

    const missing = await cli([...args.slice(0, 7), '--text', 'missing\x1b[2J\x07.txt']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).not.toMatch(UNSAFE);
    expect(missing.stderr).toContain('missing\\u001b[2J\\u0007.txt');
  });
});

describe('messenger-email send (Ctrl+C)', () => {
  it('sends nothing when interrupted while it reads the body', async () => {
    const body = await fifo('body.fifo');
    const settings = await settingsFile('interrupt-body.json');
    const run = startCli([
      'send',
      ...['--settings', settings, '--to', 'interrupt-body@example.org'],
      ...['--subject', 'Interrupted body', '--text', body],
    ]);
    const writer = await open(body, 'w'); // opens once the command opened the pipe to read it
    const stopping = waitForLine(run.child, /stopping/, 'stderr');
    run.child.kill('SIGINT');
    await stopping;
    await finish(writer, 'Your student was absent today.\n');
    const result = await run.exited;
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('interrupted');
    expect(withSubject('Interrupted body')).toEqual([]);
  });

  it('sends nothing when interrupted while it reads the list', async () => {
    const list = await fifo('list.fifo');
    const run = startCli([
      'send',
      ...['--settings', await settingsFile('interrupt-list.json'), '--to-file', list],
      ...['--subject', 'Interrupted list', '--text', 'body.txt'],
    ]);
    const writer = await open(list, 'w');
    await writer.write('email\ninterrupt-list0@example.org\n');
    const stopping = waitForLine(run.child, /stopping/, 'stderr');
    run.child.kill('SIGINT');
    await stopping;
    const rest = Array.from({ length: 50 }, (_, i) => `interrupt-list${i + 1}@example.org`);
    await finish(writer, `${rest.join('\n')}\n`);
    const result = await run.exited;
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('interrupted');
    expect(withSubject('Interrupted list')).toEqual([]);
  });

  it('cancels a single message waiting to be retried, at once', async () => {
    sink.failNext('interrupt-retry@example.org', 451, 'Try again later');
    const settings = await settingsFile('interrupt-retry.json', {
      minutesBetweenRetries: 10,
      maxErrorsBeforeCancel: 5,
    });
    const run = startCli([
      'send',
      ...['--settings', settings, '--to', 'interrupt-retry@example.org'],
      ...['--subject', 'Interrupted retry', '--text', 'body.txt'],
    ]);
    await waitForLine(run.child, /trying again in 10 min/, 'stderr');
    const signalled = performance.now();
    run.child.kill('SIGINT');
    const result = await run.exited;
    expect(performance.now() - signalled).toBeLessThan(5_000);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('interrupted: the message was not sent');
    expect(withSubject('Interrupted retry')).toEqual([]);
  });

  it('stops a list being sent: nothing more reaches the server, one line for the rest, the summary', async () => {
    const total = 300;
    const addresses = Array.from({ length: total }, (_, i) => `interrupt-bulk${i + 1}@example.org`);
    const list = await file('interrupt-bulk.csv', `email\n${addresses.join('\n')}\n`);
    const settings = await settingsFile('interrupt-bulk.json', { throttlePerSecond: 20 });
    const run = startCli([
      'send',
      ...['--settings', settings, '--to-file', list, '--subject', 'Interrupted bulk', '--text', 'body.txt'],
    ]);
    await waitForLine(run.child, /^progress: /m, 'stderr'); // not a terminal: progress on stderr
    const atSignal = withSubject('Interrupted bulk').length;
    run.child.kill('SIGINT');
    const result = await run.exited;
    const received = withSubject('Interrupted bulk').length;
    expect(result.code).toBe(2);
    expect(received).toBeGreaterThan(0);
    expect(received - atSignal).toBeLessThanOrEqual(5); // only attempts already under way may finish
    expect(result.stdout).toContain(`interrupted: ${total - received} messages not sent`);
    expect(result.stdout).toMatch(
      new RegExp(`Sent ${received} of ${total} in .+; 0 cancelled, 0 refused, 0 invalid`),
    );
    expect(result.stdout).not.toMatch(/^progress: /m); // the summary alone on stdout
    const lines = `${result.stdout}${result.stderr}`.split('\n').filter((line) => line !== '');
    expect(lines.length).toBeLessThan(15);
  });

  it('reports the messages not sent as interrupted in --json, without listing each', async () => {
    const total = 300;
    const addresses = Array.from({ length: total }, (_, i) => `interrupt-json${i + 1}@example.org`);
    const list = await file('interrupt-json.csv', `email\n${addresses.join('\n')}\n`);
    const settings = await settingsFile('interrupt-json.json', { throttlePerSecond: 20 });
    const run = startCli([
      'send',
      ...['--settings', settings, '--to-file', list, '--subject', 'Interrupted json', '--text', 'body.txt'],
      '--json',
    ]);
    while (withSubject('Interrupted json').length < 3) await new Promise((tick) => setTimeout(tick, 20));
    run.child.kill('SIGINT');
    const result = await run.exited;
    expect(result.code).toBe(2);
    const sent = withSubject('Interrupted json').length;
    expect(JSON.parse(result.stdout)).toMatchObject({
      ok: false,
      total,
      sent,
      interrupted: total - sent,
      cancelled: 0,
      refused: 0,
      invalid: 0,
      failures: [],
    });
  });

  it('writes the addresses not sent to --remaining, and sending that list resumes exactly where it stopped', async () => {
    const total = 200;
    const addresses = Array.from({ length: total }, (_, i) => `resume${i + 1}@example.org`);
    const rows = addresses.map((address, i) => `Student ${i + 1},"Guardian ${i + 1}, Jr <${address}>"`);
    const list = await file('resume.csv', `Student,Guardian Email\n${rows.join('\n')}\n`);
    const remaining = join(dir, 'resume-remaining.csv');
    const settings = await settingsFile('resume.json', { throttlePerSecond: 20 });
    const args = ['--subject', 'Resumed bulk', '--text', 'body.txt', '--remaining', remaining];
    const run = startCli(['send', '--settings', settings, '--to-file', list, ...args]);
    while (withSubject('Resumed bulk').length < 5) await new Promise((tick) => setTimeout(tick, 20));
    run.child.kill('SIGINT');
    const first = await run.exited;
    expect(first.code).toBe(2);
    const sentFirst = withSubject('Resumed bulk').flatMap((message) => message.to);
    const left = (await readFile(remaining, 'utf8')).trim().split('\n');
    expect(left[0]).toBe('email');
    expect(left.length - 1).toBe(total - sentFirst.length);
    expect(first.stdout).toContain(`interrupted: ${total - sentFirst.length} messages not sent`);
    expect(first.stdout).toContain(`The addresses not sent are in ${remaining}: resume with --to-file`);

    const same = await cli(['send', '--settings', settings, '--to-file', remaining, ...args]);
    expect(same.code).toBe(1); // the list itself is never replaced
    expect(same.stderr).toContain('is the list being sent: give another file');
    const next = join(dir, 'resume-remaining-2.csv');
    const resume = ['--subject', 'Resumed bulk', '--text', 'body.txt', '--remaining', next, '--json'];
    const second = await cli(['send', '--settings', settings, '--to-file', remaining, ...resume]);
    expect(second.code).toBe(0);
    await expect(readFile(next, 'utf8')).rejects.toMatchObject({ code: 'ENOENT' }); // nothing left: no file
    expect(JSON.parse(second.stdout)).toMatchObject({ ok: true, sent: total - sentFirst.length });
    const received = withSubject('Resumed bulk');
    const to = received.flatMap((message) => message.to);
    expect(to.length).toBe(total); // every address once: none lost, none sent twice
    expect(new Set(to)).toEqual(new Set(addresses));
    expect(received.at(-1)?.raw.toString()).toMatch(/^To: "Guardian 200, Jr" <resume200@example.org>/m);
    expect((await readFile(remaining, 'utf8')).trim().split('\n').length).toBe(left.length); // untouched
  });

  it('refuses --remaining without --to-file, and a folder that does not exist before sending anything', async () => {
    const settings = await settingsFile('resume-usage.json');
    const message = ['--subject', 'Never sent', '--text', 'body.txt'];
    const alone = await cli([
      'send',
      '--settings',
      settings,
      '--to',
      'x@example.org',
      ...message,
      '--remaining',
      'r.csv',
    ]);
    expect(alone.code).toBe(1);
    expect(alone.stderr).toContain('--remaining keeps the addresses of --to-file not sent');
    const list = await file('resume-usage.csv', 'email\nnever@example.org\n');
    const missing = join(dir, 'no-such-folder', 'r.csv');
    const bad = await cli([
      'send',
      '--settings',
      settings,
      '--to-file',
      list,
      ...message,
      '--remaining',
      missing,
    ]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/--remaining .*r\.csv: the folder .*no-such-folder does not exist/);
    expect(withSubject('Never sent')).toEqual([]);
  });
});

describe('messenger-email check (the sender domain)', () => {
  it('prints the domain findings after the connection, with the record and the fix; --strict makes a problem exit 3', async () => {
    const path = await settingsFile('domain.json');
    const relay = ['--relay-address', '192.0.2.99'];
    const run = await cli(['check', path, ...relay]);
    expect(run.code).toBe(0); // findings do not change the exit code unless asked
    const lines = run.stdout.split('\n');
    const connected = lines.findIndex((line) =>
      line.startsWith('OK: the SMTP server accepted the connection'),
    );
    const heading = lines.indexOf('Sender domain district.k12.us:');
    expect(connected).toBeGreaterThan(-1);
    expect(heading).toBeGreaterThan(connected);
    expect(run.stdout).toMatch(/^ {2}PROBLEM {2}SPF: .*192\.0\.2\.99/m);
    expect(run.stdout).toMatch(/^ {11}Found: v=spf1 ip4:192\.0\.2\.10 -all$/m);
    expect(run.stdout).toMatch(/^ {11}Fix: .*ip4:192\.0\.2\.99/m);
    expect(run.stdout).toMatch(/^ {2}PROBLEM {2}DMARC: .*reject/im);
    expect(run.stdout).toMatch(/^ {2}ok {7}MX: /m);

    const strict = await cli(['check', path, ...relay, '--strict']);
    expect(strict.code).toBe(3);
    const authorized = await cli(['check', path, '--relay-address', '192.0.2.10', '--strict']);
    expect(authorized.stdout).toMatch(/^ {2}ok {7}SPF: /m);
    expect(authorized.code).toBe(0);
  });

  it('includes the findings in --json, checks another sender and DKIM selectors when asked, and skips on request', async () => {
    dns.set('s1._domainkey.district.k12.us', { TXT: ['v=DKIM1; k=rsa; p='] });
    const path = await settingsFile('domain-json.json');
    const json = await cli([
      'check',
      path,
      '--json',
      '--dkim-selector',
      's1',
      '--check-sender',
      'ms.lee@other.example',
    ]);
    const report = JSON.parse(json.stdout) as {
      ok: boolean;
      domain: {
        worst: string;
        timedOut: boolean;
        findings: { check: string; domain: string; severity: string }[];
      };
    };
    expect(report.ok).toBe(true);
    expect(report.domain.timedOut).toBe(false);
    expect(report.domain.findings).toContainEqual(
      expect.objectContaining({ check: 'dkim', domain: 'district.k12.us', severity: 'problem' }), // revoked key
    );
    expect(report.domain.findings.some((f) => f.domain === 'other.example')).toBe(true);

    dns.clearLog();
    const skipped = await cli(['check', path, '--skip-domain']);
    expect(skipped.code).toBe(0);
    expect(skipped.stdout).not.toContain('Sender domain');
    expect(dns.queries).toEqual([]);
  });

  it('reports an unreachable DNS server as findings within the time limit, never as a crash', async () => {
    const path = await settingsFile('domain-dead-dns.json');
    const started = Date.now();
    const run = await cli(['check', path, '--dns-server', `127.0.0.1:${await closedPort()}`]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Sender domain district.k12.us:');
    expect(run.stdout).toMatch(/WARNING/);
    expect(run.stderr).toBe('');
    expect(Date.now() - started).toBeLessThan(20_000);
  });
});

describe('messenger-email (a settings file that is not an object)', () => {
  it('never echoes it: a bare value may be the password', async () => {
    const secret = 'Bare-Secret-4321';
    const cases = [
      ['bare-string.json', JSON.stringify(secret)],
      ['bare-list.json', JSON.stringify([secret])],
      ['bare-number.json', '43214321'],
    ] as const;
    for (const [name, content] of cases) {
      const path = await file(name, content);
      const runs = [
        await cli(['check', path]),
        await cli(['check', path, '--json']),
        await cli([
          'send',
          '--settings',
          path,
          '--to',
          'x@example.org',
          '--subject',
          'x',
          '--text',
          'body.txt',
        ]),
      ];
      for (const run of runs) {
        expect(run.code).toBe(1);
        const out = run.stdout + run.stderr;
        expect(out).not.toContain(secret);
        expect(out).not.toContain('4321');
        expect(out).toContain('JSON object');
      }
    }
  });
});

describe('messenger-email sink', () => {
  it('prints one line per message, saves it, and stops cleanly on SIGTERM', async () => {
    const mailDir = join(dir, 'sink-mail');
    const child = spawn(process.execPath, [cliPath, 'sink', '--port', '0', '--dir', mailDir], { cwd: dir });
    try {
      const [, port] = await waitForLine(child, /listening on 127\.0\.0\.1:(\d+)/);
      const settings = await settingsFile('to-sink-command.json', { smtpPort: Number(port) });
      const received = waitForLine(child, /#1 (\S+) -> (\S+) "(.*)" \(saved as (.+)\)/);
      const send = await cli([
        'send',
        '--settings',
        settings,
        '--to',
        'sinkcmd@example.org',
        '--subject',
        'Via the sink',
        '--text',
        'body.txt',
      ]);
      expect(send.code).toBe(0);
      const [, from, to, subject, saved] = await received;
      expect({ from, to, subject }).toEqual({
        from: 'messenger@district.k12.us',
        to: 'sinkcmd@example.org',
        subject: 'Via the sink',
      });
      expect(await readdir(mailDir)).toEqual([saved?.split('/').at(-1)]);
      expect(await readFile(saved ?? '', 'utf8')).toContain('Your student was absent today.');
    } finally {
      const stopped = waitForLine(child, /stopped after 1 message/);
      const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
      child.kill('SIGTERM');
      await stopped;
      expect(await exited).toBe(0);
    }
  });
});
