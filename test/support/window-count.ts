/** The most times found in any window of `windowMs` (a window that opens at each time): a sliding-second count. */
export function maxInWindow(times: readonly number[], windowMs = 1000): number {
  const sorted = [...times].sort((a, b) => a - b);
  let best = 0;
  let tail = 0;
  for (let head = 0; head < sorted.length; head += 1) {
    while ((sorted[head] as number) - (sorted[tail] as number) >= windowMs) tail += 1;
    best = Math.max(best, head - tail + 1);
  }
  return best;
}

/**
 * Starts a second as the server saw them: the MAIL FROM in the first K whole seconds from the first one, over K
 * (K as many whole seconds as the run lasted). Never above R when the throttle holds; bursts do not inflate it.
 */
export function achievedRate(times: readonly number[]): number {
  const sorted = [...times].sort((a, b) => a - b);
  const first = sorted[0] ?? 0;
  const seconds = Math.floor(((sorted.at(-1) ?? first) - first) / 1000);
  if (seconds < 1) return Number.NaN;
  return sorted.filter((t) => t < first + seconds * 1000).length / seconds;
}
