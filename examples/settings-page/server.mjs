// Run with `node examples/settings-page/server.mjs` after `npm run build`. PORT (default 3000, 0 = any free
// port) and HOST (default 127.0.0.1) choose where it listens.
import { startSettingsPage } from './app.mjs';

function portFromEnv(text = '3000') {
  const port = Number(text);
  if (text.trim() === '' || !Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`PORT must be a whole number from 0 to 65535 (received "${text}")\n`);
    process.exit(1);
  }
  return port;
}

const page = await startSettingsPage({
  port: portFromEnv(process.env.PORT),
  host: process.env.HOST || '127.0.0.1',
});
process.stdout.write(`Settings page on ${page.url}\n`);

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    page.close().then(() => process.exit(0));
  });
}
