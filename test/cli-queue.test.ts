import { describe, expect, it } from 'vitest';
import {
  describeHolder,
  lastErrorText,
  localTime,
  nextAttemptText,
  renderQueue,
  renderQueueSummary,
} from '../src/cli/queue-listing.js';
import type { SpoolItem, SpoolListing } from '../src/outbox/spool/admin.js';

const NOW = new Date(2025, 10, 28, 21, 7, 5).getTime(); // local time

function item(overrides: Partial<SpoolItem> = {}): SpoolItem {
  return {
    id: 'm-1',
    kind: 'standard',
    recipients: 1,
    attempts: 0,
    failures: 0,
    state: 'queued',
    queuedAt: NOW - 60_000,
    ...overrides,
  };
}

function listing(overrides: Partial<SpoolListing> = {}): SpoolListing {
  return { dir: '/var/spool/mail', items: [], quarantined: [], ...overrides };
}

describe('localTime', () => {
  it('shows the local date and time to the second', () => {
    expect(localTime(NOW)).toBe('2025-11-28 21:07:05');
    expect(localTime(new Date(2026, 0, 2, 3, 4, 5).getTime())).toBe('2026-01-02 03:04:05');
  });
});

describe('nextAttemptText', () => {
  it('says now for a message that is due, and the local time for one waiting for a retry', () => {
    expect(nextAttemptText(item(), NOW)).toBe('now');
    expect(nextAttemptText(item({ state: 'waiting', nextAttemptAt: NOW - 1 }), NOW)).toBe('now');
    expect(nextAttemptText(item({ state: 'waiting', nextAttemptAt: NOW + 300_000 }), NOW)).toBe(
      '2025-11-28 21:12:05',
    );
  });

  it('shows a dash while an attempt is under way', () => {
    expect(nextAttemptText(item({ state: 'sending', nextAttemptAt: NOW + 1 }), NOW)).toBe('-');
  });
});

describe('lastErrorText', () => {
  it('puts the code first', () => {
    expect(lastErrorText({ message: 'connect ECONNREFUSED 127.0.0.1:25', code: 'ECONNREFUSED' })).toBe(
      'ECONNREFUSED connect ECONNREFUSED 127.0.0.1:25',
    );
    expect(lastErrorText({ message: '421 try later' })).toBe('421 try later');
  });

  it('escapes control characters and shortens a long error', () => {
    expect(lastErrorText({ message: 'bad\x1b[2Jreply\nnext' })).toBe('bad\\u001b[2Jreply\\u000anext');
    const long = lastErrorText({ message: 'x'.repeat(5000) });
    expect(long).toBe(`${'x'.repeat(100)}… (5,000 characters)`);
  });
});

describe('renderQueueSummary', () => {
  it('counts what waits and the emergencies', () => {
    const items = [item(), item({ id: 'm-2', kind: 'emergency' }), item({ id: 'm-3' })];
    expect(renderQueueSummary(listing({ items }), 'spool')).toBe('-- 3 waiting, 1 emergency in spool');
  });

  it('says when no message waits, and counts the quarantined files', () => {
    const quarantined = [{ file: 'quarantine/a.rec', reason: 'truncated' }];
    expect(renderQueueSummary(listing({ quarantined }), 'spool')).toBe(
      '-- no message waits, 1 quarantined in spool',
    );
  });

  it('names the process whose Mailer holds the spool, in local time', () => {
    const lockedBy = { pid: 4242, hostname: 'web-1', since: new Date(NOW).toISOString() };
    expect(renderQueueSummary(listing({ lockedBy }), 'spool')).toBe(
      '-- no message waits in spool; locked by pid 4242 on web-1 since 2025-11-28 21:07:05',
    );
  });
});

describe('describeHolder', () => {
  it('shows a lock time that is not a time as it is, escaped', () => {
    expect(describeHolder({ pid: 1, hostname: 'h\x07', since: 'yesterday\x1b' })).toBe(
      'pid 1 on h\\u0007 since "yesterday\\u001b"',
    );
  });
});

describe('renderQueue', () => {
  it('lists each message in the order given, in aligned columns, its last error below it, then the summary', () => {
    const lines = renderQueue(
      listing({
        items: [
          item({ id: 'first', queuedAt: NOW - 5000 }),
          item({
            id: 'second',
            kind: 'emergency',
            recipients: 12,
            attempts: 3,
            failures: 3,
            state: 'waiting',
            queuedAt: NOW - 9000, // older, yet listed second: the spool's order is kept
            nextAttemptAt: NOW + 300_000,
            lastError: { message: '421 4.7.0 try again later', code: 'EENVELOPE' },
          }),
        ],
        quarantined: [{ file: 'quarantine/x.rec', reason: 'cannot be decrypted with the key' }],
      }),
      '/var/spool/mail',
      NOW,
    );
    expect(lines).toEqual([
      'ID      KIND       RCPTS  ATTEMPTS  STATE    NEXT ATTEMPT',
      'first   standard       1         0  queued   now',
      'second  emergency     12         3  waiting  2025-11-28 21:12:05',
      '    last error: EENVELOPE 421 4.7.0 try again later',
      '',
      '-- 2 waiting, 1 emergency, 1 quarantined in /var/spool/mail',
      '   quarantined quarantine/x.rec: cannot be decrypted with the key',
    ]);
  });

  it('escapes control characters in ids and file names', () => {
    const lines = renderQueue(
      listing({
        items: [item({ id: 'evil\x1b]0;title\x07' })],
        quarantined: [{ file: 'a\u202eb', reason: 'r' }],
      }),
      'spool',
      NOW,
    );
    for (const line of lines) expect(line).not.toMatch(/[\p{Cc}\u202e]/u);
    expect(lines[1]).toContain('evil\\u001b]0;title\\u0007');
  });

  it('is only the summary when nothing waits', () => {
    expect(renderQueue(listing(), 'spool', NOW)).toEqual(['-- no message waits in spool']);
  });
});
