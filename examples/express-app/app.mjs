// The messages app: an Express 5 server whose route hands messages to a Mailer, and a delivery log that follows
// them through the Mailer's events. Startup and shutdown are here; the routes are in routes.mjs and the worker in
// delivery-log.mjs.
import { createServer } from 'node:http';
import express from 'express';
import { Mailer, safeParseEmailSettings, spoolOutbox } from 'messenger-email';
import { recordDeliveries } from './delivery-log.mjs';
import { drain } from './drain.mjs';
import { errorHandler, notFound } from './errors.mjs';
import { messagesRouter } from './routes.mjs';

/** How long requests already under way may take to finish at shutdown before their connections are cut. */
const HTTP_GRACE_MS = 5_000;
/** How long shutdown waits for the in-memory queue to empty: under a typical 30-second termination grace. */
const DRAIN_MS = 20_000;

const stderrLog = {
  info: (text) => process.stderr.write(`${text}\n`),
  warn: (text) => process.stderr.write(`warning: ${text}\n`),
  error: (text) => process.stderr.write(`error: ${text}\n`),
};

/**
 * The Mailer: configured when the settings are valid, else left unconfigured (every POST then answers 503 until
 * the settings are fixed) with each problem logged. Messages wait in a spool on disk when `spoolDir` is given.
 */
function createMailer({ settings, policy, spoolDir, log }) {
  const options = { policy, ...(spoolDir ? { outbox: spoolOutbox(spoolDir) } : {}) };
  if (settings === undefined) return new Mailer(options);
  const parsed = safeParseEmailSettings(settings, policy);
  if (parsed.success) return new Mailer({ ...options, settings: parsed.data });
  for (const issue of parsed.error.issues) log.warn(`email settings: ${issue.message}`);
  return new Mailer(options);
}

/** Loads what the last process left in the spool; its messages are announced by `queued` events. */
async function resume(mailer, spoolDir, log) {
  const { resumed, quarantined } = await mailer.resume();
  if (resumed > 0) log.info(`resumed ${resumed} message(s) from ${spoolDir}`);
  for (const record of quarantined)
    log.warn(`spool record moved aside: ${record.file ?? record.id}: ${record.reason}`);
}

function listen(server, port, host) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function urlOf(server) {
  const { address, port } = server.address();
  return `http://${address.includes(':') ? `[${address}]` : address}:${port}`;
}

/** Stops accepting connections and waits for the requests under way; cuts those still open after the grace. */
async function stopHttp(server) {
  const closed = new Promise((resolve) => server.close(resolve));
  server.closeIdleConnections();
  const cut = setTimeout(() => server.closeAllConnections(), HTTP_GRACE_MS);
  await closed;
  clearTimeout(cut);
}

/**
 * Starts the messages app.
 *
 * @param {object} [options] - see app.d.mts
 * @returns {Promise<{ url: string, deliveries: object, close(): Promise<void> }>}
 */
export async function startMessagesApp({
  port = 3000,
  host = '127.0.0.1',
  settings,
  policy = {},
  spoolDir,
  drainTimeoutMs = spoolDir ? 0 : DRAIN_MS,
  log = stderrLog,
} = {}) {
  const mailer = createMailer({ settings, policy, spoolDir, log });
  // The listeners come before anything is queued, so that no event is missed (resume()'s included).
  const deliveries = recordDeliveries(mailer, { log });

  let closing = false;
  const app = express();
  app.disable('x-powered-by');
  app.use((_req, res, next) => {
    res.locals.closing = closing;
    if (closing) res.set('connection', 'close'); // no keep-alive once shutdown began
    next();
  });
  app.use(express.json({ limit: '256kb' }));
  app.use(messagesRouter({ mailer, deliveries, log }));
  app.use(notFound);
  app.use(errorHandler(log));

  const server = createServer(app);
  try {
    if (spoolDir && mailer.configured) await resume(mailer, spoolDir, log);
    await listen(server, port, host);
  } catch (error) {
    await mailer.close(); // a spool locked by another process, or a port in use
    throw error;
  }

  let closed;
  /**
   * Shutdown, in the order that loses nothing: no new requests, then the queue emptied (in memory: for up to
   * `drainTimeoutMs`), then the Mailer closed (it lets attempts under way finish; a spool keeps what still waits
   * for the next start, the in-memory outbox cancels it).
   */
  async function shutdown() {
    closing = true;
    await stopHttp(server);
    const drained = await drain(mailer, drainTimeoutMs);
    if (!drained) {
      const { queued, waitingRetry } = mailer.stats();
      const what = spoolDir ? `kept in ${spoolDir} for the next start` : 'cancelled';
      log.info(`closing with ${queued + waitingRetry} message(s) not sent yet: ${what}`);
    }
    await mailer.close();
    deliveries.stop();
  }
  return {
    url: urlOf(server),
    deliveries,
    close: () => {
      closed ??= shutdown();
      return closed;
    },
  };
}
