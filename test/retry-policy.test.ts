import { describe, expect, it } from 'vitest';
import { parseEmailSettings } from '../src/index.js';
import { afterFailure, mayAttemptAgain, retryDelayMs } from '../src/retry-policy.js';

const settings = parseEmailSettings({
  defaultSenderAddress: 'messenger@district.k12.us',
  smtpHost: 'smtp.district.k12.us',
  minutesBetweenRetries: 5,
  maxErrorsBeforeCancel: 3,
});

describe('afterFailure', () => {
  it('gives up a permanent failure at once, whatever the count', () => {
    expect(afterFailure(1, false, false, settings)).toEqual({ retry: false, reason: 'permanent' });
  });

  it('retries after Minutes Between Retries until the failures reach Max Errors Before Cancel', () => {
    expect(afterFailure(1, true, false, settings)).toEqual({ retry: true, delayMs: 300_000 });
    expect(afterFailure(2, true, false, settings)).toEqual({ retry: true, delayMs: 300_000 });
    expect(afterFailure(3, true, false, settings)).toEqual({ retry: false, reason: 'max-errors' });
  });

  it('retries nothing while the Mailer closes, but keeps the real reason of a permanent or last failure', () => {
    expect(afterFailure(1, true, true, settings)).toEqual({ retry: false, reason: 'closed' });
    expect(afterFailure(1, false, true, settings)).toEqual({ retry: false, reason: 'permanent' });
    expect(afterFailure(3, true, true, settings)).toEqual({ retry: false, reason: 'max-errors' });
  });
});

describe('mayAttemptAgain and retryDelayMs', () => {
  it('allows attempts while the failures are below Max Errors Before Cancel (10 means at most 10 attempts)', () => {
    const ten = { ...settings, maxErrorsBeforeCancel: 10 };
    expect(mayAttemptAgain(0, ten)).toBe(true);
    expect(mayAttemptAgain(9, ten)).toBe(true);
    expect(mayAttemptAgain(10, ten)).toBe(false);
  });

  it('turns minutes into milliseconds, 0 meaning the next free slot', () => {
    expect(retryDelayMs(settings)).toBe(300_000);
    expect(retryDelayMs({ ...settings, minutesBetweenRetries: 0 })).toBe(0);
  });
});
