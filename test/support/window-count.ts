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
