import { describe, expect, it } from 'vitest';
import {
  estimateEtaMs,
  formatDuration,
  formatEta,
  rateOver,
  renderBar,
  renderInterrupted,
  renderProgress,
  renderSummary,
} from '../src/cli/progress.js';

const snapshot = { total: 100, sent: 40, failed: 2, interrupted: 0, retrying: 0, rate: 9.5, etaMs: 5800 };

describe('formatDuration', () => {
  it('shows milliseconds, seconds, minutes and hours', () => {
    expect(formatDuration(850)).toBe('850 ms');
    expect(formatDuration(4_210)).toBe('4.2 s');
    expect(formatDuration(185_000)).toBe('3 min 05 s');
    expect(formatDuration(3_720_000)).toBe('1 h 02 min');
  });
});

describe('formatEta', () => {
  it('rounds up to whole seconds under a minute', () => {
    expect(formatEta(2_100)).toBe('3 s');
    expect(formatEta(90_000)).toBe('1 min 30 s');
  });
});

describe('rateOver', () => {
  it('counts the events of the window, per second', () => {
    expect(rateOver([1_000, 2_500, 3_000, 3_500], 4_000, 0, 3_000)).toBe(1);
  });

  it('uses the count itself over the first second', () => {
    expect(rateOver([100, 200, 300], 400, 0)).toBe(3);
  });
});

describe('estimateEtaMs', () => {
  it('uses the throttle when nothing was observed yet', () => {
    expect(estimateEtaMs(50, 10, 0)).toBe(5_000);
  });

  it('uses the observed rate when it is slower than the throttle', () => {
    expect(estimateEtaMs(50, 10, 5)).toBe(10_000);
    expect(estimateEtaMs(50, 10, 40)).toBe(5_000);
  });

  it('is 0 when nothing remains', () => {
    expect(estimateEtaMs(0, 10, 0)).toBe(0);
  });
});

describe('renderBar', () => {
  it('fills in proportion to what is done', () => {
    expect(renderBar(5, 10, 10)).toBe('[#####.....]');
    expect(renderBar(0, 0, 4)).toBe('[####]');
  });
});

describe('renderProgress', () => {
  it('shows done/total, sent, failed, waiting, rate and ETA', () => {
    expect(renderProgress(snapshot)).toBe('progress: 42/100  sent 40  failed 2  waiting 58  9.5/s  ETA 6 s');
  });

  it('mentions messages waiting to be retried', () => {
    expect(renderProgress({ ...snapshot, retrying: 3 })).toContain('waiting 58 (3 to retry)');
  });

  it('counts the messages interrupted instead of those waiting once Ctrl+C was pressed', () => {
    expect(renderProgress({ ...snapshot, interrupted: 58 })).toBe(
      'progress: 42/100  sent 40  failed 2  interrupted 58  9.5/s',
    );
  });

  it('starts with a bar and fits in the terminal on a TTY', () => {
    const line = renderProgress(snapshot, 60);
    expect(line.startsWith('[####......]')).toBe(true);
    expect(line.length).toBeLessThanOrEqual(59);
  });
});

describe('renderSummary', () => {
  const summary = {
    total: 20,
    sent: 16,
    cancelled: 1,
    refused: 1,
    invalid: 2,
    interrupted: 0,
    elapsedMs: 2_000,
  };

  it('shows sent, cancelled, refused, invalid, the time and the rate', () => {
    expect(renderSummary(summary)).toBe('Sent 16 of 20 in 2.0 s (8.0/s); 1 cancelled, 1 refused, 2 invalid');
  });

  it('counts invalid addresses apart from what a server refused', () => {
    expect(renderSummary({ ...summary, refused: 0, invalid: 3 })).toContain('0 refused, 3 invalid');
  });
});

describe('renderInterrupted', () => {
  it('counts the messages not sent on one line', () => {
    expect(renderInterrupted(4_990)).toBe('interrupted: 4990 messages not sent');
    expect(renderInterrupted(1)).toBe('interrupted: 1 message not sent');
  });
});
