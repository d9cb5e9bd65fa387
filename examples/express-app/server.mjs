// Runs the messages app: `node examples/express-app/server.mjs` after `npm run build`. The environment says
// everything: SETTINGS_FILE (or SETTINGS_JSON) and SMTP_PASSWORD for the Email Settings, SPOOL_DIR for a durable
// outbox, PORT and HOST for where to listen. SIGTERM or SIGINT shuts it down without losing queued messages.
import { startMessagesApp } from './app.mjs';
import { loadSettings } from './settings.mjs';

function portFromEnv(text = '3000') {
  const port = Number(text);
  if (text.trim() === '' || !Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`PORT must be a whole number from 0 to 65535 (received "${text}")\n`);
    process.exit(1);
  }
  return port;
}

const loaded = await loadSettings({ file: process.env.SETTINGS_FILE });
if (!loaded.success) {
  for (const issue of loaded.issues) process.stderr.write(`email settings: ${issue.message}\n`);
  process.stderr.write('email is not configured: POST /messages answers 503 until the settings are fixed\n');
}

const app = await startMessagesApp({
  port: portFromEnv(process.env.PORT),
  host: process.env.HOST || '127.0.0.1',
  settings: loaded.success ? loaded.settings : undefined,
  spoolDir: process.env.SPOOL_DIR || undefined,
});
process.stdout.write(`Messages app on ${app.url}\n`);

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    process.stderr.write(`${signal}: shutting down (again to stop at once)\n`);
    process.once(signal, () => process.exit(1));
    app.close().then(
      () => process.exit(0),
      (error) => {
        process.stderr.write(`shutdown failed: ${error.stack ?? error}\n`);
        process.exit(1);
      },
    );
  });
}
