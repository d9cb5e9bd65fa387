/**
 * The `messenger-email` command: reads the arguments, runs a command, and exits with its code. Every failure is
 * one line on stderr (or one JSON object with `--json`), never a stack trace.
 */
import { createRequire } from 'node:module';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { runCheck } from './check.js';
import { describeFailure, EXIT_INPUT, EXIT_OK, EXIT_QUIT, reportFailure } from './failure.js';
import { CliError, createOutput, messageOf, type Output } from './output.js';
import { runQueue } from './queue.js';
import { runSend } from './send.js';
import { parsePort, runSink } from './sink.js';
import { printable } from './terminal.js';
import { COMMAND_HELP, type CommandName, GENERAL_HELP } from './usage.js';

type Options = NonNullable<ParseArgsConfig['options']>;
type Values = Record<string, string | boolean | string[] | boolean[] | undefined>;

const COMMON = { help: { type: 'boolean', short: 'h' } } as const satisfies Options;
const SECRET = {
  'password-env': { type: 'string' },
  'client-secret-env': { type: 'string' },
  'private-key-env': { type: 'string' },
  ca: { type: 'string' },
} as const satisfies Options;

/** Secrets that must not be typed on the command line, and the option that takes each from the environment. */
const SECRET_ON_COMMAND_LINE: readonly [RegExp, string, string][] = [
  [/'--password'/, 'the password', '--password-env NAME'],
  [/'--(client-secret|oauth-client-secret)'/, 'the client secret', '--client-secret-env NAME'],
  [/'--(private-key|oauth-private-key)'/, 'the private key', '--private-key-env NAME'],
];

const OPTIONS = {
  check: {
    ...COMMON,
    ...SECRET,
    'send-test-to': { type: 'string' },
    json: { type: 'boolean' },
    'skip-domain': { type: 'boolean' },
    'dns-server': { type: 'string', multiple: true },
    'dkim-selector': { type: 'string', multiple: true },
    'check-sender': { type: 'string', multiple: true },
    'relay-address': { type: 'string', multiple: true },
    strict: { type: 'boolean' },
  },
  send: {
    ...COMMON,
    ...SECRET,
    settings: { type: 'string' },
    to: { type: 'string', multiple: true },
    'to-file': { type: 'string' },
    column: { type: 'string' },
    remaining: { type: 'string' },
    subject: { type: 'string' },
    text: { type: 'string' },
    html: { type: 'string' },
    attach: { type: 'string', multiple: true },
    emergency: { type: 'boolean' },
    census: { type: 'string' },
    from: { type: 'string' },
    json: { type: 'boolean' },
  },
  sink: { ...COMMON, port: { type: 'string' }, host: { type: 'string' }, dir: { type: 'string' } },
  queue: {
    ...COMMON,
    delete: { type: 'string' },
    'retry-now': { type: 'string' },
    json: { type: 'boolean' },
  },
} as const satisfies Record<CommandName, Options>;

function isCommand(name: string): name is CommandName {
  return Object.hasOwn(COMMAND_HELP, name);
}

/** The version in package.json: next to `dist/` once built, two folders up when run from the sources. */
function version(): string {
  const require = createRequire(import.meta.url);
  for (const candidate of ['../package.json', '../../package.json']) {
    try {
      const pkg = require(candidate) as { name?: unknown; version?: unknown };
      if (pkg.name === 'messenger-email' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // not this one
    }
  }
  return 'unknown';
}

/** A parse error of node:util, in our words. */
function argumentProblem(command: CommandName, error: unknown): CliError {
  const code = (error as { code?: unknown }).code;
  const first = messageOf(error).split(/\.\s/)[0] ?? '';
  const secret = SECRET_ON_COMMAND_LINE.find(([pattern]) => pattern.test(first));
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && secret !== undefined) {
    return new CliError(
      `${secret[1]} cannot be given on the command line (other users could see it): put it in the settings file, or use ${secret[2]}`,
      { usage: true },
    );
  }
  const ambiguous = /^Option '(--[\w-]+)[^']*' argument is ambiguous/.exec(first);
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && ambiguous !== null) {
    const option = ambiguous[1] ?? '--option';
    return new CliError(
      `${command}: the value of ${option} starts with "-" and reads like another option: write it as ${option}="..." (for example ${option}="-- Reminder --")`,
      { usage: true },
    );
  }
  const text = first.replace(/^Unknown option/, 'unknown option').replace(/^Unexpected/, 'unexpected');
  return new CliError(`${command}: ${printable(text)}`, { usage: true });
}

function parse(command: CommandName, args: string[]): { values: Values; positionals: string[] } {
  try {
    const parsed = parseArgs({
      args,
      options: OPTIONS[command],
      allowPositionals: command === 'check' || command === 'queue',
      strict: true,
    });
    return { values: parsed.values as Values, positionals: parsed.positionals };
  } catch (error) {
    throw argumentProblem(command, error);
  }
}

function text(values: Values, name: string): string | undefined {
  const value = values[name];
  return typeof value === 'string' ? value : undefined;
}

function list(values: Values, name: string): string[] {
  const value = values[name];
  return Array.isArray(value) ? value.filter((item): item is string => typeof item === 'string') : [];
}

function settingsPathOf(positionals: string[]): string {
  const [path, ...extra] = positionals;
  if (path === undefined)
    throw new CliError('check needs a settings file: messenger-email check settings.json', { usage: true });
  if (extra.length > 0)
    throw new CliError(`check takes one settings file, not ${positionals.length}`, { usage: true });
  return path;
}

function spoolDirOf(positionals: string[]): string {
  const [dir, ...extra] = positionals;
  if (dir === undefined)
    throw new CliError('queue needs the spool directory: messenger-email queue /var/spool/messenger-email', {
      usage: true,
    });
  if (extra.length > 0)
    throw new CliError(`queue takes one spool directory, not ${positionals.length}`, { usage: true });
  return dir;
}

/** Runs a command whose arguments parsed. */
function dispatch(
  command: CommandName,
  parsed: ReturnType<typeof parse>,
  output: Output,
  signal: AbortSignal,
): Promise<number> {
  const { values, positionals } = parsed;
  const common = {
    passwordEnv: text(values, 'password-env'),
    clientSecretEnv: text(values, 'client-secret-env'),
    privateKeyEnv: text(values, 'private-key-env'),
    ca: text(values, 'ca'),
  };
  if (command === 'check') {
    const domain = {
      dnsServers: list(values, 'dns-server'),
      dkimSelectors: list(values, 'dkim-selector'),
      senders: list(values, 'check-sender'),
      relayAddresses: list(values, 'relay-address'),
    };
    const check = {
      ...common,
      settingsPath: settingsPathOf(positionals),
      sendTestTo: text(values, 'send-test-to'),
      domain: values['skip-domain'] === true ? undefined : domain,
      strict: values.strict === true,
    };
    return runCheck(check, output);
  }
  if (command === 'queue') {
    const queue = {
      dir: spoolDirOf(positionals),
      delete: text(values, 'delete'),
      retryNow: text(values, 'retry-now'),
    };
    return runQueue(queue, output);
  }
  if (command === 'send') {
    const send = {
      ...common,
      settingsPath: text(values, 'settings'),
      to: list(values, 'to'),
      toFile: text(values, 'to-file'),
      column: text(values, 'column'),
      remaining: text(values, 'remaining'),
      subject: text(values, 'subject'),
      textFile: text(values, 'text'),
      htmlFile: text(values, 'html'),
      attach: list(values, 'attach'),
      emergency: values.emergency === true,
      census: text(values, 'census'),
      from: text(values, 'from'),
    };
    return runSend(send, output, signal);
  }
  const sink = {
    port: parsePort(text(values, 'port')),
    host: text(values, 'host') ?? '127.0.0.1',
    dir: text(values, 'dir') ?? './mail',
  };
  return runSink(sink, output, signal);
}

/**
 * Aborts on the first Ctrl+C or SIGTERM (the command stops cleanly: `send` hands nothing more to the server and
 * exits with code 2), exits at once with code 130 on the second.
 */
function interruptSignal(output: Output): AbortSignal {
  const controller = new AbortController();
  const onSignal = (name: NodeJS.Signals) => {
    if (controller.signal.aborted) process.exit(EXIT_QUIT);
    if (name === 'SIGINT' && !output.json)
      output.warn('stopping... (press Ctrl+C again to quit at once, without the summary or --remaining)');
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return controller.signal;
}

function help(topic: string | undefined, output: Output): number {
  if (topic !== undefined && !isCommand(topic)) {
    throw new CliError(`there is no command "${printable(topic)}": use check, send, sink or queue`, {
      usage: true,
    });
  }
  output.line(topic === undefined ? GENERAL_HELP : COMMAND_HELP[topic]);
  return EXIT_OK;
}

/**
 * Runs the tool with its arguments (without `node` and the script).
 *
 * @param argv - the arguments
 * @param output - where to write
 * @returns the exit code
 */
async function run(argv: string[], output: Output): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined) throw new CliError('give a command: check, send, sink or queue', { usage: true });
  if (first === '--help' || first === '-h' || first === 'help') return help(rest[0], output);
  if (first === '--version' || first === '-v') {
    output.line(version());
    return EXIT_OK;
  }
  if (!isCommand(first)) {
    const shown = printable(first);
    const what = first.startsWith('-') ? `unknown option ${shown}` : `unknown command "${shown}"`;
    throw new CliError(`${what}: use check, send, sink or queue`, { usage: true });
  }
  const parsed = parse(first, rest);
  if (parsed.values.help === true) return help(first, output);
  const interruptible = first === 'send' || first === 'sink';
  const signal = interruptible ? interruptSignal(output) : new AbortController().signal;
  return dispatch(first, parsed, output, signal);
}

/** Exits on anything that escaped a command: one line, no stack trace, the password hidden. */
function installSafetyNet(output: Output): void {
  const fail = (error: unknown) => {
    reportFailure(output, describeFailure(error));
    process.exit(EXIT_INPUT);
  };
  process.on('uncaughtException', fail);
  process.on('unhandledRejection', fail);
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? EXIT_OK); // the reader went away
    fail(error);
  });
}

const argv = process.argv.slice(2);
const output = createOutput({ json: argv.includes('--json') });
installSafetyNet(output);
const command = argv[0] !== undefined && isCommand(argv[0]) ? argv[0] : undefined;
const code = await run(argv, output).catch((error: unknown) => {
  const failure = describeFailure(error, command);
  reportFailure(output, failure);
  return failure.exitCode;
});
process.exitCode = code;
// Whatever a library left open (an idle pooled connection, a timer) must not keep the tool running.
setTimeout(() => process.exit(code), 1000).unref();
