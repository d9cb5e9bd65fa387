/**
 * A token service on 127.0.0.1 that plays the three OAuth 2.0 providers the settings know, and checks what a real
 * one checks:
 *
 * - Microsoft: `POST /<tenant>/oauth2/v2.0/token`, the client-credentials grant with the client's id and secret
 *   and Exchange Online's scope; refusals carry the `AADSTS` codes Microsoft gives.
 * - Google: `POST /google/token`, the JWT-bearer grant; the assertion's RS256 signature is verified with the service
 *   account's public key, and its issuer, subject, audience, scope and times are checked against this service's
 *   clock.
 * - Custom: `POST /custom/token`, the client-credentials grant, with an optional scope.
 *
 * It issues random tokens with a lifetime it is told, and can revoke them, answer slowly, fail with 503, or keep a
 * clock that is off.
 */
import { generateKeyPairSync, randomBytes, verify } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
export const CLIENT_ID = '0a1b2c3d-1111-2222-3333-444455556666';
export const CLIENT_SECRET = 'Qx8~client-SECRET-value_7Zt.Kq+/=&%';
export const SERVICE_ACCOUNT = 'mailer@district-messaging.iam.gserviceaccount.com';
export const MAILBOX = 'messenger@district.k12.us';
export const CUSTOM_SCOPE = 'smtp.send';
export const EXCHANGE_SCOPE = 'https://outlook.office365.com/.default';

/** An RSA key pair for the service account, made once per process. */
const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
export const PRIVATE_KEY = keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const PUBLIC_KEY = keys.publicKey;

/** One request the service answered. */
export interface TokenCall {
  provider: 'microsoft365' | 'google' | 'custom';
  status: number;
  /** The token issued, when one was. */
  token?: string;
}

export interface TokenEndpoint {
  /** `http://127.0.0.1:<port>`. */
  readonly origin: string;
  /** The endpoints to give the Mailer (`oauthEndpoints`). */
  readonly endpoints: { microsoftLogin: string; googleToken: string };
  /** The custom provider's token URL. */
  readonly customUrl: string;
  /** Every request, in order. */
  readonly calls: TokenCall[];
  /** Seconds each token issued from now on lives. @default 3600 */
  lifetimeS: number;
  /** Milliseconds each answer is held back. @default 0 */
  delayMs: number;
  /** Answer every request with this HTTP status (e.g. 503) instead. */
  failWith: number | undefined;
  /** Answer every request with what this returns instead, given the posted form (e.g. one that echoes it). */
  answerWith:
    | ((form: URLSearchParams) => { status: number; body: unknown; headers?: Record<string, string> })
    | undefined;
  /** How far this service's clock is from the test's, in milliseconds (its `Date` header and its checks). */
  clockOffsetMs: number;
  /** Whether `token` was issued here, is not revoked, and has not expired by this service's clock. */
  isValid(token: string): boolean;
  /** Revokes every token issued so far. */
  revokeAll(): void;
  close(): Promise<void>;
}

function json(response: ServerResponse, status: number, body: object, now: number): void {
  response.writeHead(status, { 'content-type': 'application/json', date: new Date(now).toUTCString() });
  response.end(JSON.stringify(body));
}

async function readForm(request: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

type Refusal = { status: number; error: string; description: string };

function microsoftRefusal(tenant: string, form: URLSearchParams): Refusal | undefined {
  if (form.get('grant_type') !== 'client_credentials') {
    return {
      status: 400,
      error: 'unsupported_grant_type',
      description: 'AADSTS70003: unsupported grant type',
    };
  }
  if (tenant !== TENANT) {
    return {
      status: 400,
      error: 'invalid_request',
      description: `AADSTS90002: Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID.`,
    };
  }
  if (form.get('client_id') !== CLIENT_ID) {
    return {
      status: 400,
      error: 'unauthorized_client',
      description: `AADSTS700016: Application with identifier '${form.get('client_id')}' was not found in the directory.`,
    };
  }
  if (form.get('client_secret') !== CLIENT_SECRET) {
    return {
      status: 401,
      error: 'invalid_client',
      description: 'AADSTS7000215: Invalid client secret provided.',
    };
  }
  if (form.get('scope') !== EXCHANGE_SCOPE) {
    return {
      status: 400,
      error: 'invalid_scope',
      description: 'AADSTS70011: The provided value for scope is not valid.',
    };
  }
  return undefined;
}

function googleRefusal(form: URLSearchParams, audience: string, now: number): Refusal | undefined {
  const invalid = (description: string): Refusal => ({ status: 400, error: 'invalid_grant', description });
  if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') {
    return { status: 400, error: 'unsupported_grant_type', description: 'Invalid grant_type' };
  }
  const [header, payload, signature] = (form.get('assertion') ?? '').split('.');
  if (header === undefined || payload === undefined || signature === undefined) return invalid('Invalid JWT');
  const signed = verify(
    'RSA-SHA256',
    Buffer.from(`${header}.${payload}`),
    PUBLIC_KEY,
    Buffer.from(signature, 'base64url'),
  );
  if (!signed) return invalid('Invalid JWT Signature.');
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
  if (claims.iss !== SERVICE_ACCOUNT)
    return { status: 401, error: 'invalid_client', description: 'The OAuth client was not found.' };
  const seconds = now / 1000;
  const iat = Number(claims.iat);
  const exp = Number(claims.exp);
  if (!(iat <= seconds + 60 && exp > seconds && exp - iat <= 3600)) {
    return invalid(
      'Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.',
    );
  }
  if (claims.aud !== audience) return invalid('Invalid JWT: Failed audience check.');
  if (claims.scope !== 'https://mail.google.com/') {
    return {
      status: 401,
      error: 'unauthorized_client',
      description:
        'Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.',
    };
  }
  if (claims.sub !== MAILBOX) return invalid('Invalid email or User ID');
  return undefined;
}

function customRefusal(form: URLSearchParams): Refusal | undefined {
  if (form.get('grant_type') !== 'client_credentials') {
    return { status: 400, error: 'unsupported_grant_type', description: 'grant type not supported' };
  }
  if (form.get('client_id') !== CLIENT_ID || form.get('client_secret') !== CLIENT_SECRET) {
    return { status: 401, error: 'invalid_client', description: 'Client authentication failed' };
  }
  if (form.get('scope') !== CUSTOM_SCOPE)
    return { status: 400, error: 'invalid_scope', description: 'unknown scope' };
  return undefined;
}

/** Starts the token service on 127.0.0.1 and a random port. */
export async function startTokenEndpoint(): Promise<TokenEndpoint> {
  const issued = new Map<string, number>(); // token -> expiry, by this service's clock
  const sockets = new Set<Socket>();
  // assigned once the server listens, before any request can arrive
  let endpoint: TokenEndpoint;
  let server: Server;
  const now = () => Date.now() + endpoint.clockOffsetMs;

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const form = await readForm(request);
    if (endpoint.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, endpoint.delayMs));
    if (response.destroyed) return;
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    const microsoft = /^\/([^/]+)\/oauth2\/v2\.0\/token$/.exec(url.pathname);
    const provider: TokenCall['provider'] | undefined =
      url.pathname === '/google/token'
        ? 'google'
        : url.pathname === '/custom/token'
          ? 'custom'
          : microsoft
            ? 'microsoft365'
            : undefined;
    if (request.method !== 'POST' || provider === undefined) {
      json(response, 404, { error: 'not_found' }, now());
      return;
    }
    if (endpoint.answerWith !== undefined) {
      const answer = endpoint.answerWith(form);
      endpoint.calls.push({ provider, status: answer.status });
      response.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
      response.end(typeof answer.body === 'string' ? answer.body : JSON.stringify(answer.body));
      return;
    }
    if (endpoint.failWith !== undefined) {
      endpoint.calls.push({ provider, status: endpoint.failWith });
      json(
        response,
        endpoint.failWith,
        { error: 'temporarily_unavailable', description: 'try again later' },
        now(),
      );
      return;
    }
    const refusal =
      provider === 'microsoft365'
        ? microsoftRefusal(decodeURIComponent(microsoft?.[1] ?? ''), form)
        : provider === 'google'
          ? googleRefusal(form, endpoint.endpoints.googleToken, now())
          : customRefusal(form);
    if (refusal !== undefined) {
      endpoint.calls.push({ provider, status: refusal.status });
      json(response, refusal.status, { error: refusal.error, error_description: refusal.description }, now());
      return;
    }
    const token = `at-${provider}-${randomBytes(18).toString('base64url')}`;
    issued.set(token, now() + endpoint.lifetimeS * 1000);
    endpoint.calls.push({ provider, status: 200, token });
    json(response, 200, { token_type: 'Bearer', expires_in: endpoint.lifetimeS, access_token: token }, now());
  }

  server = createServer((request, response) => {
    handle(request, response).catch(() => response.destroy());
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;

  endpoint = {
    origin,
    endpoints: { microsoftLogin: origin, googleToken: `${origin}/google/token` },
    customUrl: `${origin}/custom/token`,
    calls: [],
    lifetimeS: 3600,
    delayMs: 0,
    failWith: undefined,
    answerWith: undefined,
    clockOffsetMs: 0,
    isValid(token) {
      const expiry = issued.get(token);
      return expiry !== undefined && now() < expiry;
    },
    revokeAll() {
      issued.clear();
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return endpoint;
}
