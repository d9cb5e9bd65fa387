import { describe, expect, it } from 'vitest';
import { parseEmailSettings, type Transport } from '../src/index.js';
import { SharedTransports } from '../src/tenants/shared-transports.js';

const base = {
  defaultSenderAddress: 'messenger@a.k12.example',
  smtpHost: 'smtp.vendor.example',
  smtpPort: 587,
  useTls: true,
  useAuthentication: true,
  username: 'vendor',
  password: 'Shared-Relay-Secret-1',
};

describe('SharedTransports', () => {
  it('shares one pool among districts that connect the same way, and closes it when the last lets go', async () => {
    const made: { closed: number }[] = [];
    const pools = new SharedTransports(() => {
      const state = { closed: 0 };
      made.push(state);
      const transport: Transport = {
        send: async () => ({ messageId: '', accepted: [], rejected: [], response: '250' }),
        close: () => {
          state.closed += 1;
        },
      };
      return transport;
    });
    const a = pools.acquire(parseEmailSettings(base));
    const b = pools.acquire(
      parseEmailSettings({ ...base, defaultSenderAddress: 'messenger@b.k12.example', throttlePerSecond: 3 }),
    );
    expect(made).toHaveLength(1); // sender and throttle do not change how the relay is reached
    const other = pools.acquire(parseEmailSettings({ ...base, password: 'Another-Secret-22' }));
    expect(made).toHaveLength(2); // another login, another pool
    expect(pools.size).toBe(2);

    await a.close?.();
    await a.close?.(); // a second close of the same handle lets go only once
    expect(made[0]?.closed).toBe(0);
    await b.close?.();
    expect(made[0]?.closed).toBe(1);
    expect(pools.size).toBe(1);
    await other.close?.();
    expect(pools.size).toBe(0);
  });
});
