/**
 * fleetSettings with a real redis-server on 127.0.0.1: settings saved on one server reach the others within a
 * second (a change notice, or the version check when a notice is lost), never with the password in Redis; a server
 * with another password reports it; settings a server cannot apply are reported and its old settings stay.
 * Without redis-server the file is skipped, except in CI, where it fails.
 */
import { generateKeyPairSync } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type FleetSettings, type FleetSettingsEventMap, fleetSettings } from '../src/fleet/index.js';
import {
  EmailSettingsError,
  type EmailSettingsInput,
  Mailer,
  type SettingsChangedEvent,
} from '../src/index.js';
import { type RedisServer, redisServerMissing, startRedisServer } from './support/redis-server.js';

const missing = redisServerMissing();
const PASSWORD = 'district-relay-secret-91';
let keys = 0;

const base: EmailSettingsInput = {
  defaultSenderAddress: 'messenger@district.k12.us',
  smtpHost: '127.0.0.1',
  smtpPort: 2525,
  useAuthentication: true,
  username: 'district',
  throttlePerSecond: 7,
};

function nextEvent<E extends keyof FleetSettingsEventMap>(
  shared: FleetSettings,
  event: E,
): Promise<FleetSettingsEventMap[E][0]> {
  return new Promise((resolve) => {
    shared.once(event, ((value: FleetSettingsEventMap[E][0]) => resolve(value)) as never);
  });
}

if (missing !== undefined && process.env.CI) {
  describe('fleetSettings', () => {
    it('needs redis-server in CI', () => {
      throw new Error(`The fleet tests need a real Redis: ${missing}`);
    });
  });
}

describe.skipIf(missing !== undefined)('fleetSettings', () => {
  let redis: RedisServer;
  const opened: (Mailer | FleetSettings)[] = [];

  beforeAll(async () => {
    redis = await startRedisServer();
  });
  afterAll(async () => {
    await redis?.close();
  });
  afterEach(async () => {
    for (const item of opened.splice(0)) await item.close();
  });

  function server(key: string, password: string | undefined): { mailer: Mailer; shared: FleetSettings } {
    const mailer = new Mailer();
    const shared = fleetSettings({
      connection: { host: redis.host, port: redis.port },
      key,
      ...(password === undefined ? {} : { password }),
    });
    opened.push(shared, mailer);
    return { mailer, shared };
  }

  it('brings settings saved on one server to the others within a second, never writing the password', async () => {
    const key = `settings-${++keys}`;
    const a = server(key, PASSWORD);
    const b = server(key, PASSWORD);
    const c = server(key, 'another-password');
    expect(await a.shared.attach(a.mailer)).toBe(false); // nothing saved yet
    await a.shared.save(base);
    const mismatch = nextEvent(c.shared, 'passwordMismatch');
    expect(await b.shared.attach(b.mailer)).toBe(true);
    expect(await c.shared.attach(c.mailer)).toBe(true);
    expect((await mismatch).message).toContain("This server's SMTP password is not the one");
    const changes: SettingsChangedEvent[] = [];
    b.mailer.on('settingsChanged', (e) => changes.push(e));

    const reached = nextEvent(b.shared, 'applied');
    const started = performance.now();
    await a.shared.save({ ...base, throttlePerSecond: 9, password: PASSWORD });
    const { version } = await reached;
    const tookMs = performance.now() - started;
    console.log(`settings saved on A reached B in ${tookMs.toFixed(1)} ms (version ${version})`);
    expect(tookMs).toBeLessThan(1000);
    expect(changes.at(-1)?.settings.throttlePerSecond).toBe(9);
    expect(b.shared.version).toBe(2);

    const client = new Redis({ host: redis.host, port: redis.port });
    const fields = await client.hgetall(key);
    client.disconnect();
    expect(JSON.parse(fields.settings as string)).toMatchObject({
      throttlePerSecond: 9,
      username: 'district',
    });
    const stored = JSON.stringify(fields);
    expect(stored).not.toContain(PASSWORD);
    expect(stored).not.toContain(Buffer.from(PASSWORD).toString('base64'));
  });

  it('keeps the OAuth 2.0 client secret out of Redis, and reports a server whose secret differs', async () => {
    const key = `settings-${++keys}`;
    const SECRET = 'Qx8~oauth-client-SECRET_41';
    const make = (secret: string) => {
      const mailer = new Mailer();
      const shared = fleetSettings({
        connection: { host: redis.host, port: redis.port },
        key,
        oauthClientSecret: secret,
      });
      opened.push(shared, mailer);
      return { mailer, shared };
    };
    const a = make(SECRET);
    const b = make(SECRET);
    const c = make('an-older-secret');
    await a.shared.attach(a.mailer);
    const oauth: EmailSettingsInput = {
      ...base,
      authMethod: 'oauth2',
      username: 'messenger@district.k12.us',
      oauthProvider: 'microsoft365',
      oauthTenantId: 'district.onmicrosoft.com',
      oauthClientId: '0a1b2c3d-1111-2222-3333-444455556666',
    };
    await a.shared.save(oauth); // this server's own secret joins the settings
    const mismatches: string[] = [];
    b.shared.on('passwordMismatch', ({ message }) => mismatches.push(`b: ${message}`));
    const mismatch = nextEvent(c.shared, 'passwordMismatch');
    expect(await b.shared.attach(b.mailer)).toBe(true);
    expect(await c.shared.attach(c.mailer)).toBe(true);
    expect((await mismatch).message).toContain("This server's OAuth 2.0 client secret is not the one");
    expect(mismatches).toEqual([]);
    const client = new Redis({ host: redis.host, port: redis.port });
    const fields = await client.hgetall(key);
    client.disconnect();
    expect(JSON.parse(fields.settings as string)).toMatchObject({ oauthProvider: 'microsoft365' });
    const stored = JSON.stringify(fields);
    for (const form of [SECRET, encodeURIComponent(SECRET), Buffer.from(SECRET).toString('base64')]) {
      expect(stored).not.toContain(form);
    }
  });

  it('takes the same private key pasted another way as the same key', async () => {
    const key = `settings-${++keys}`;
    const pem = generateKeyPairSync('rsa', { modulusLength: 1024 })
      .privateKey.export({ type: 'pkcs8', format: 'pem' })
      .toString();
    const make = (oauthPrivateKey: string) => {
      const mailer = new Mailer();
      const shared = fleetSettings({
        connection: { host: redis.host, port: redis.port },
        key,
        oauthPrivateKey,
      });
      opened.push(shared, mailer);
      return { mailer, shared };
    };
    const a = make(pem);
    const b = make(pem.replace(/\n/g, '\r\n')); // the same key with Windows line ends
    const c = make(JSON.stringify(pem).slice(1, -1)); // and with the escapes of the JSON key file
    await a.shared.attach(a.mailer);
    await a.shared.save({
      ...base,
      authMethod: 'oauth2',
      username: 'messenger@district.k12.us',
      oauthProvider: 'google',
      oauthServiceAccount: 'mailer@district.iam.gserviceaccount.com',
    });
    const mismatches: string[] = [];
    for (const other of [b, c]) {
      other.shared.on('passwordMismatch', ({ message }) => mismatches.push(message));
      expect(await other.shared.attach(other.mailer)).toBe(true);
    }
    expect(mismatches).toEqual([]);
  });

  it('ends with every server on the same settings when two servers save at the same moment', async () => {
    const key = `settings-${++keys}`;
    const a = server(key, PASSWORD);
    const b = server(key, PASSWORD);
    await a.shared.attach(a.mailer);
    await b.shared.attach(b.mailer);
    await a.shared.save(base);
    const applied = { a: 0, b: 0 };
    a.mailer.on('settingsChanged', (e) => {
      applied.a = e.settings.throttlePerSecond;
    });
    b.mailer.on('settingsChanged', (e) => {
      applied.b = e.settings.throttlePerSecond;
    });
    await Promise.all([
      a.shared.save({ ...base, throttlePerSecond: 22 }),
      b.shared.save({ ...base, throttlePerSecond: 11 }),
    ]);
    await new Promise((resolve) => setTimeout(resolve, 1200));
    console.log(
      `two saves at once: A runs ${applied.a} (version ${a.shared.version}), B runs ${applied.b} (version ${b.shared.version})`,
    );
    expect(a.shared.version).toBe(3);
    expect(b.shared.version).toBe(3);
    expect(applied.a).toBe(applied.b);
  });

  it('catches up within a second when a change notice is lost', async () => {
    const key = `settings-${++keys}`;
    const a = server(key, PASSWORD);
    const b = server(key, PASSWORD);
    await a.shared.attach(a.mailer);
    await a.shared.save(base);
    await b.shared.attach(b.mailer);
    // a change written without its notice, as when a server was cut off from Pub/Sub at that moment
    const client = new Redis({ host: redis.host, port: redis.port });
    const settings = JSON.parse((await client.hget(key, 'settings')) as string);
    await client
      .multi()
      .hincrby(key, 'version', 1)
      .hset(key, 'settings', JSON.stringify({ ...settings, throttlePerSecond: 3 }))
      .exec();
    client.disconnect();
    const started = performance.now();
    const { settings: applied, version } = await nextEvent(b.shared, 'applied');
    expect(version).toBe(2);
    console.log(`a lost notice was made up for in ${(performance.now() - started).toFixed(0)} ms`);
    expect(applied.throttlePerSecond).toBe(3);
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('reports settings this server cannot apply, and keeps its own', async () => {
    const key = `settings-${++keys}`;
    const a = server(key, PASSWORD);
    const b = server(key, undefined); // no password configured on this server
    await a.shared.attach(a.mailer);
    b.mailer.configure({ ...base, useAuthentication: false, throttlePerSecond: 5 });
    await b.shared.attach(b.mailer);
    const failed = nextEvent(b.shared, 'error');
    await a.shared.save(base);
    const error = await failed;
    expect(error).toBeInstanceOf(EmailSettingsError);
    expect(error.message).toContain(
      "The fleet's Email Settings (version 1) cannot be applied on this server",
    );
    expect(b.mailer.stats).toBeDefined();
    expect(b.shared.version).toBe(1);
  });
});
