/**
 * What the tests of the ceiling on RCPTs per minute (`hostRate`) count at a server: the most RCPTs
 * that arrived within any window, from the arrival times the server recorded.
 */

/** The most RCPTs that arrived within any `windowMs` (every window starting at an arrival). */
export function busiestWindow(times: readonly number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  let most = 0;
  let end = 0;
  for (let start = 0; start < sorted.length; start += 1) {
    while (end < sorted.length && (sorted[end] ?? 0) < (sorted[start] ?? 0) + windowMs) end += 1;
    most = Math.max(most, end - start);
  }
  return most;
}
