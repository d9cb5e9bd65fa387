/**
 * A real `redis-server` for tests, on 127.0.0.1 and a free random port: started, made to fail (SIGKILL) and
 * restarted on the same port. By default nothing is written to disk; with `persist`, every write is in the
 * append-only file before Redis answers (`appendfsync always`), so a restart after SIGKILL keeps all it said it
 * stored. Needs `redis-server` on the PATH (Debian: `apt-get install
 * redis-server`); {@link redisServerMissing} tells the tests to skip, or to fail in CI.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const BINARY = process.env.REDIS_SERVER ?? 'redis-server';
/** Longest wait for a server to answer PING after it was started. */
const START_TIMEOUT_MS = 15_000;

/** Why redis-server cannot run here, or undefined when it can. */
export function redisServerMissing(): string | undefined {
  const probe = spawnSync(BINARY, ['--version'], { encoding: 'utf8' });
  if (probe.error === undefined && probe.status === 0) return undefined;
  return `${BINARY} is not installed (apt-get install redis-server)`;
}

/** A running (or stopped) redis-server. */
export interface RedisServer {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** Whether it runs now. */
  readonly running: boolean;
  /** Stops it: `SIGKILL` (a crash: connections are cut at once) or `SHUTDOWN NOSAVE` (a clean stop). */
  stop(how?: 'SIGKILL' | 'SHUTDOWN'): Promise<void>;
  /** Starts it again on the same port, empty (nothing is saved). */
  restart(): Promise<void>;
  /** Scripts run since it started (EVAL and EVALSHA calls, as `INFO commandstats` counts them). */
  scriptCalls(): Promise<number>;
  /** Stops it and removes its directory. */
  close(): Promise<void>;
}

/** A free TCP port of 127.0.0.1, found by listening on port 0 and closing. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address === null || typeof address === 'string') reject(new Error('no port'));
        else resolve(address.port);
      });
    });
  });
}

/** Sends one inline command and resolves with the reply once `complete` says it is whole. */
function ask(
  port: number,
  command: string,
  complete = (reply: string) => reply.includes('\r\n'),
): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = new Socket();
    let reply = '';
    socket.setTimeout(1000, () => socket.destroy(new Error('no answer')));
    socket.once('error', reject);
    socket.once('close', () => resolve(reply)); // closed by the server: what it said (nothing, after SHUTDOWN)
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString('utf8');
      if (complete(reply)) {
        socket.end();
        resolve(reply);
      }
    });
    socket.connect(port, '127.0.0.1', () => socket.write(`${command}\r\n`));
  });
}

/** The process id of the redis-server answering on `port` (not another program that took the port meanwhile). */
async function serverPid(port: number): Promise<number | undefined> {
  const info = await ask(port, 'INFO server', (reply) => /process_id:\d+\r\n/.test(reply)).catch(() => '');
  const match = /process_id:(\d+)/.exec(info);
  return match === null ? undefined : Number(match[1]);
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

class Server implements RedisServer {
  readonly host = '127.0.0.1';
  #child: ChildProcess | undefined;
  #exited: Promise<void> = Promise.resolve();

  constructor(
    readonly port: number,
    readonly dir: string,
    readonly persist: boolean,
  ) {}

  get running(): boolean {
    return this.#child !== undefined;
  }

  /** Starts redis-server; rejects with its output when it exits first (a port taken meanwhile) or never answers. */
  async start(): Promise<void> {
    const disk = this.persist ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no'];
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', ...disk];
    const child = spawn(BINARY, [...args, '--dir', this.dir, '--loglevel', 'warning'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
    let exited = false;
    this.#exited = new Promise((resolve) => {
      child.once('exit', () => {
        exited = true;
        resolve();
      });
    });
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (!exited && Date.now() < deadline) {
      const reply = await ask(this.port, 'PING').catch(() => '');
      if (reply.startsWith('+PONG') && (await serverPid(this.port)) === child.pid) {
        this.#child = child;
        return;
      }
      await pause(50);
    }
    child.kill('SIGKILL');
    await this.#exited;
    throw new Error(`redis-server did not start on port ${this.port}: ${output.trim() || 'no output'}`);
  }

  async stop(how: 'SIGKILL' | 'SHUTDOWN' = 'SIGKILL'): Promise<void> {
    const child = this.#child;
    if (child === undefined) return;
    this.#child = undefined;
    if (how === 'SHUTDOWN') await ask(this.port, 'SHUTDOWN NOSAVE').catch(() => '');
    else child.kill('SIGKILL');
    await this.#exited;
  }

  async restart(): Promise<void> {
    await this.stop();
    // the port is ours again once the old process is gone; another program may still take it meanwhile
    let failure: unknown;
    for (let tries = 0; tries < 20; tries += 1) {
      try {
        await this.start();
        return;
      } catch (error) {
        failure = error;
        await pause(250);
      }
    }
    throw failure;
  }

  async scriptCalls(): Promise<number> {
    const stats = await ask(this.port, 'INFO commandstats', (reply) => {
      const length = /^\$(\d+)\r\n/.exec(reply);
      return length !== null && Buffer.byteLength(reply) >= length[0].length + Number(length[1]) + 2;
    });
    let calls = 0;
    for (const match of stats.matchAll(/cmdstat_eval(?:sha)?:calls=(\d+)/g)) calls += Number(match[1]);
    return calls;
  }

  async close(): Promise<void> {
    await this.stop();
    await rm(this.dir, { recursive: true, force: true });
  }
}

/**
 * Starts a redis-server on a free port of 127.0.0.1 (another port when the one found is taken meanwhile).
 *
 * @param options - `persist`: keep every write in an append-only file, so that a restart keeps the data
 */
export async function startRedisServer(options: { persist?: boolean } = {}): Promise<RedisServer> {
  const dir = await mkdtemp(join(tmpdir(), 'messenger-email-redis-'));
  let failure: unknown;
  for (let tries = 0; tries < 5; tries += 1) {
    const server = new Server(await freePort(), dir, options.persist === true);
    try {
      await server.start();
      return server;
    } catch (error) {
      failure = error;
    }
  }
  await rm(dir, { recursive: true, force: true });
  throw failure;
}
