/**
 * The demo: a Mailer sending to an embedded SMTP sink on 127.0.0.1, through a short school-day scenario.
 * Run with `npm run demo`; what the sink received is written to demo-out/*.eml (`npm run demo -- --out DIR` writes
 * it elsewhere).
 */
import { rm } from 'node:fs/promises';
import { AttachmentTooLargeError, EMAIL_SETTINGS_DEFAULTS, Mailer, MB } from '../src/index.js';
import { startCaptureSink } from '../src/sink/capture.js';

const outAt = process.argv.indexOf('--out');
const OUT = outAt >= 0 ? (process.argv[outAt + 1] ?? 'demo-out') : 'demo-out';
const started = performance.now();
const stamp = () => `+${((performance.now() - started) / 1000).toFixed(3)}s`;
const line = (what: string, text: string) =>
  process.stdout.write(`${stamp().padStart(8)}  ${what.padEnd(19)} ${text}\n`);
const heading = (text: string) => process.stdout.write(`\n== ${text}\n`);

await rm(OUT, { recursive: true, force: true });
const sink = await startCaptureSink({ dir: OUT });
process.stdout.write(`SMTP sink listening on ${sink.host}:${sink.port}, saving to ${OUT}/\n`);

const settings = {
  defaultSenderAddress: 'messenger@district.k12.us',
  smtpHost: sink.host,
  smtpPort: sink.port,
  throttlePerSecond: 4,
  minutesBetweenRetries: 0,
  maxErrorsBeforeCancel: 3,
  useCensusSenderAddress: true,
};
const mailer = new Mailer({ settings });
const defaults = EMAIL_SETTINGS_DEFAULTS;
process.stdout.write(
  [
    'Settings for the demo (the defaults in brackets):',
    `  Throttle Email Messages ${settings.throttlePerSecond} a second [${defaults.throttlePerSecond}]`,
    `  Minutes Between Retries ${settings.minutesBetweenRetries}, so a retry comes at the next free slot [${defaults.minutesBetweenRetries}]`,
    `  Max Errors Before Cancel ${settings.maxErrorsBeforeCancel} [${defaults.maxErrorsBeforeCancel}]`,
    `  Use Sender's Email from Census on [off]`,
    '',
  ].join('\n'),
);

/** The id of each message sent, by its Message-ID, to name the files the sink saved. */
const idByMessageId = new Map<string, string>();
mailer.on('sent', (e) => idByMessageId.set(e.messageId, e.id));

mailer.on('queued', (e) =>
  line(
    'queued',
    `${e.id} [${e.kind}] from ${e.sender.address} (${e.sender.source}) to ${e.recipients.join(', ')}`,
  ),
);
mailer.on('sending', (e) => line('sending', `${e.id} attempt ${e.attempt}`));
mailer.on('sent', (e) => line('sent', `${e.id} after ${e.attempts} attempt(s): ${e.response}`));
mailer.on('failed', (e) =>
  line('failed', `${e.id} attempt ${e.attempt}: ${e.error.message}${e.willRetry ? ' (will retry)' : ''}`),
);
mailer.on('cancelled', (e) => line('cancelled', `${e.id} after ${e.attempts} attempt(s), ${e.reason}`));
mailer.on('attachmentsDropped', (e) =>
  line('attachmentsDropped', `${e.id}: ${e.filenames.join(', ')} left out (attachments are off)`),
);
mailer.on('settingsChanged', (e) =>
  line(
    'settingsChanged',
    `throttle ${e.settings.throttlePerSecond}/s, attachments ${e.settings.allowAttachments ? `on, ${e.settings.attachmentSizeLimitMb} MB` : 'off'}`,
  ),
);

const attendance = (n: number) => ({
  to: `parent${n}@example.org`,
  subject: `Attendance notice ${n}`,
  text: `Your student was marked absent in period ${n}.`,
});

heading('1. A standard message from the teacher (Census sender)');
await mailer.send(attendance(0), { id: 'teacher-note', censusAddress: 'ms.rivera@district.k12.us' });

heading('2. A backlog of attendance messages at 4 a second, overtaken by an emergency alert');
const backlog = Array.from({ length: 8 }, (_, i) =>
  mailer.send(attendance(i + 1), { id: `attendance-${i + 1}` }),
);
await new Promise((resolve) => mailer.once('sent', resolve));
const alert = mailer.send(
  {
    to: 'all-families@example.org',
    subject: 'EMERGENCY: shelter in place',
    text: 'All schools are sheltering in place.',
  },
  { id: 'emergency-alert', kind: 'emergency', censusAddress: 'ms.rivera@district.k12.us' },
);
await Promise.all([...backlog, alert]);

heading('3. An attachment while attachments are not allowed');
await mailer.send(
  { ...attendance(9), attachments: [{ filename: 'report-card.pdf', content: Buffer.alloc(2048) }] },
  { id: 'with-attachment' },
);

heading('4. Attachments allowed up to 1 MB: a 2 MB file is refused before any attempt');
mailer.configure({ ...settings, allowAttachments: true, attachmentSizeLimitMb: 1 });
try {
  await mailer.send(
    { ...attendance(10), attachments: [{ filename: 'yearbook.pdf', content: Buffer.alloc(2 * MB) }] },
    { id: 'too-large' },
  );
} catch (error) {
  if (!(error instanceof AttachmentTooLargeError)) throw error;
  line('refused', `too-large: ${error.message}`);
}

heading('5. The relay defers a recipient once (451): the message is retried and delivered');
sink.failNext('parent11@example.org', 451, 'Greylisted, try again');
await mailer.send(attendance(11), { id: 'retried' });

await mailer.close();
await sink.close();
const stats = mailer.stats();
process.stdout.write(
  `\nDone: ${stats.sent} sent, ${stats.cancelled} cancelled. The sink received ${sink.messages.length} messages, saved in ${OUT}/:\n`,
);
const width = Math.max(...sink.messages.map((message) => (message.file ?? '').length));
for (const message of sink.messages) {
  const messageId = /^Message-ID:\s*(\S+)/im.exec(message.raw.toString('latin1'))?.[1] ?? '';
  const id = idByMessageId.get(messageId) ?? '?';
  process.stdout.write(`  ${(message.file ?? '').padEnd(width)}  ${id.padEnd(16)} from ${message.from}\n`);
}
