/**
 * The benchmark cases of many districts in one host (MailerGroup), each run in a fresh process (see worker.ts)
 * against the sink process, beside the same job done today: one lone Mailer per district, or one Mailer for all.
 */
import { Mailer, MailerGroup } from '../dist/index.js';
import { now, sleep } from './lib.js';

const gc = () => {
  for (let i = 0; i < 4; i += 1) global.gc?.();
};

const heap = () => {
  gc();
  return process.memoryUsage().heapUsed;
};

/** Handles that keep the process busy: timers, sockets, servers. */
const handles = () =>
  process.getActiveResourcesInfo().filter((name) => name !== 'TTYWrap' && name !== 'PipeWrap').length;

const districtSettings = (id: string, port: number, extra: Record<string, unknown> = {}) => ({
  defaultSenderAddress: `messenger@${id}.k12.example`,
  smtpHost: '127.0.0.1',
  smtpPort: port,
  ...extra,
});

/**
 * Idle districts: `count` districts that were used once and have nothing to send. `lone`: a Mailer per district,
 * as a host builds it today. `group`: a MailerGroup whose districts were opened, then closed when idle.
 */
export async function tenantsIdle(args: { variant: 'lone' | 'group'; port: number; count: number }) {
  const { variant, port, count } = args;
  const ids = Array.from({ length: count }, (_, i) => `d${i}`);
  // warm-up: compile the code paths, so the heap measured is what the districts keep
  const warm = new Mailer({ settings: districtSettings('warm', port) });
  await warm.close();
  await sleep(50);
  const baseHandles = handles();
  const before = heap();
  if (variant === 'lone') {
    const mailers = ids.map((id) => new Mailer({ settings: districtSettings(id, port) }));
    const after = heap();
    const result = {
      bytesPerDistrict: (after - before) / count,
      handlesPerDistrict: (handles() - baseHandles) / count,
      openBytesPerDistrict: (after - before) / count,
    };
    await Promise.all(mailers.map((m) => m.close()));
    return result;
  }
  let closed = 0;
  const group = new MailerGroup({ settings: (id) => districtSettings(id, port), idleMs: 500 });
  group.on('tenantClosed', () => {
    closed += 1;
  });
  await Promise.all(ids.map((id) => group.tenant(id)));
  const open = heap();
  while (closed < count) await sleep(50);
  await sleep(50);
  const after = heap();
  const result = {
    bytesPerDistrict: (after - before) / count,
    handlesPerDistrict: (handles() - baseHandles) / count,
    openBytesPerDistrict: (open - before) / count,
  };
  await group.close();
  return result;
}

/**
 * Active districts on the shared hosted relay: `districts` districts with `perDistrict` messages each, through a
 * MailerGroup whose relay budget is `perSecond`; against one Mailer sending the same messages at the same rate.
 * Returns the CPU per message and when the sink should have seen every message.
 */
export async function tenantsActive(args: {
  variant: 'group' | 'single';
  port: number;
  districts: number;
  perDistrict: number;
  perSecond: number;
}) {
  const { variant, port, districts, perDistrict, perSecond } = args;
  const total = districts * perDistrict;
  const message = (i: number) => ({
    to: `parent${i}@example.org`,
    subject: `Attendance notice ${i}`,
    text: `Your student was marked absent in period ${i % 7}. Please call the school office if this is a mistake.`,
  });
  const cpu = process.cpuUsage();
  const started = now();
  if (variant === 'single') {
    const mailer = new Mailer({ settings: districtSettings('one', port, { throttlePerSecond: perSecond }) });
    await Promise.all(Array.from({ length: total }, (_, i) => mailer.send(message(i))));
    await mailer.close();
  } else {
    const group = new MailerGroup({
      settings: (id) => districtSettings(id, port, { throttlePerSecond: 50 }),
      policy: { hostedSmtpHosts: ['127.0.0.1'] },
      hostedRelay: { perSecond, connections: 5 },
    });
    const sends: Promise<unknown>[] = [];
    for (let m = 0; m < perDistrict; m += 1) {
      for (let d = 0; d < districts; d += 1) sends.push(group.send(`d${d}`, message(m * districts + d)));
    }
    await Promise.all(sends);
    await group.close();
  }
  const used = process.cpuUsage(cpu);
  return { cpuMsPerMessage: (used.user + used.system) / 1000 / total, seconds: (now() - started) / 1000 };
}
