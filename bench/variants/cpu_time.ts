/**
 * Process CPU time, for speeds: on a machine whose two cores are shared with other work, the CPU
 * time a single-threaded loop consumes is steadier than the wall clock.
 * @module
 */
import process from "node:process";

/** Runs `fn` `runs` times; returns the median CPU milliseconds of one run. */
export function medianCpuMs(fn: () => void, runs: number): number {
  const times: number[] = [];
  for (let r = 0; r < runs; r++) {
    const start = process.cpuUsage();
    fn();
    const d = process.cpuUsage(start);
    times.push((d.user + d.system) / 1000);
  }
  times.sort((a, b) => a - b);
  return times[runs >> 1];
}
