/**
 * CPU time of the calling thread, in microseconds (user + system), for benches that split a process's
 * CPU time (`process.cpuUsage()`, every thread) by thread: the world's servers run in a worker thread
 * of the bench's process, and its CPU is not rcpt's. Linux only: `/proc/thread-self/schedstat` (time on
 * the CPU in nanoseconds), else `/proc/thread-self/stat` (utime + stime in clock ticks, taken as 100 a
 * second); `null` where neither can be read.
 */
import { readFileSync } from 'node:fs';

export function threadCpuMicros(): number | null {
  try {
    const [ns] = readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ');
    const value = Number(ns);
    if (Number.isFinite(value) && value > 0) return value / 1000;
  } catch {
    // Not Linux, or no schedstat: try stat.
  }
  try {
    const stat = readFileSync('/proc/thread-self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // After the command's closing parenthesis: field 3 (state) is index 0, so utime (14) is 11, stime 12.
    const ticks = Number(fields[11]) + Number(fields[12]);
    return Number.isFinite(ticks) ? ticks * 10_000 : null;
  } catch {
    return null;
  }
}
