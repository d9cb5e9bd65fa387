/**
 * `messenger-email check` with OAuth 2.0, as an administrator runs it: the built tool in a child process, a token
 * service and an SMTP server with XOAUTH2 on 127.0.0.1, the client secret given through --client-secret-env.
 * Run `npm run build` first.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDnsServer, type TestDnsServer } from '../support/dns-server.js';
import { runCli } from '../support/run-cli.js';
import { type SmtpSink, startSmtpSink } from '../support/smtp-sink.js';
import {
  CLIENT_ID,
  CLIENT_SECRET,
  CUSTOM_SCOPE,
  MAILBOX,
  startTokenEndpoint,
  type TokenEndpoint,
} from '../support/token-endpoint.js';

const cliPath = join(resolve(import.meta.dirname, '../..'), 'dist', 'cli.js');

let dir: string;
let sink: SmtpSink;
let endpoint: TokenEndpoint;
/** An empty DNS server for `check`'s sender-domain check, so that no test asks a public one. */
let dns: TestDnsServer;

async function cli(args: string[], env: Record<string, string> = {}) {
  const local = args[0] === 'check' ? ['--dns-server', dns.address] : [];
  const run = await runCli(cliPath, [...args, ...local], { cwd: dir, env });
  return { code: run.code, out: `${run.stdout}\n${run.stderr}`, stdout: run.stdout };
}

async function settingsFile(name: string, extra: Record<string, unknown> = {}): Promise<string> {
  const path = join(dir, name);
  const settings = {
    defaultSenderAddress: MAILBOX,
    smtpHost: '127.0.0.1',
    smtpPort: sink.port,
    useAuthentication: true,
    authMethod: 'oauth2',
    username: MAILBOX,
    oauthProvider: 'custom',
    oauthTokenUrl: endpoint.customUrl,
    oauthClientId: CLIENT_ID,
    oauthScope: CUSTOM_SCOPE,
    ...extra,
  };
  await writeFile(path, JSON.stringify(settings, null, 2));
  return path;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'messenger-email-cli-oauth-'));
  endpoint = await startTokenEndpoint();
  dns = await startDnsServer({});
  sink = await startSmtpSink({
    xoauth2: (user, token) => (user === MAILBOX && endpoint.isValid(token) ? 'ok' : 'challenge'),
  });
});

afterAll(async () => {
  await sink?.close();
  await endpoint?.close();
  await dns?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('messenger-email check with OAuth 2.0', () => {
  it('logs in with a token, the client secret taken from the environment', async () => {
    const path = await settingsFile('oauth.json', { oauthClientSecret: 'not-this-one-from-the-file' });
    const run = await cli(['check', path, '--client-secret-env', 'OAUTH_SECRET'], {
      OAUTH_SECRET: CLIENT_SECRET,
    });
    expect(run.code).toBe(0);
    expect(run.out).toContain(`OAuth 2.0 (token endpoint) login as ${MAILBOX}`);
    expect(run.out).toContain('OK: the SMTP server accepted the connection');
    expect(sink.xoauth2Logins.at(-1)?.verdict).toBe('ok');
    expect(run.out).not.toContain(CLIENT_SECRET);
    expect(run.out).not.toContain('not-this-one-from-the-file');
  });

  it('exits 2 at stage token with the hint on a wrong secret, printing no secret (text and --json)', async () => {
    const path = await settingsFile('oauth-wrong.json', { oauthClientSecret: 'Wr0ng-client-SECRET' });
    for (const extra of [[], ['--json']]) {
      const run = await cli(['check', path, ...extra]);
      expect(run.code).toBe(2);
      expect(run.out).toContain('token');
      expect(run.out).toContain('Check Client ID and Client Secret');
      expect(run.out).not.toContain('Wr0ng-client-SECRET');
    }
    const json = JSON.parse((await cli(['check', path, '--json'])).stdout);
    expect(json).toMatchObject({
      ok: false,
      stage: 'token',
      settings: { oauthClientSecret: '********', oauthTokenUrl: endpoint.customUrl }, // a URL is no secret
    });
  });

  it('refuses a client secret typed on the command line, and names the variable not set', async () => {
    const path = await settingsFile('oauth-cli.json');
    const typed = await cli(['check', path, '--client-secret', CLIENT_SECRET]);
    expect(typed.code).toBe(1);
    expect(typed.out).toContain('the client secret cannot be given on the command line');
    expect(typed.out).toContain('--client-secret-env NAME');
    const unset = await cli(['check', path, '--client-secret-env', 'NO_SUCH_OAUTH_SECRET']);
    expect(unset.code).toBe(1);
    expect(unset.out).toContain('NO_SUCH_OAUTH_SECRET (--client-secret-env) is not set');
  });

  it('warns when a secret variable is not used by the settings', async () => {
    const path = await settingsFile('oauth-unused.json', { oauthClientSecret: CLIENT_SECRET });
    const run = await cli(['check', path, '--private-key-env', 'GOOGLE_KEY'], { GOOGLE_KEY: 'unused' });
    expect(run.code).toBe(0);
    expect(run.out).toContain(
      "--private-key-env GOOGLE_KEY is not used: the settings' Authentication Method",
    );
  });
});
