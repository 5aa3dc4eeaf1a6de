import { readdirSync, readFileSync } from "node:fs";

/**
 * Processes that leave their process group (setsid, a daemonizing double fork) survive the group
 * kill. Every process we start carries a unique mark in its environment, which children inherit
 * and which stays in /proc/<pid>/environ whatever the process does with its own variables; after
 * the run, any process still carrying the mark is a leftover of that run. (CI agents find
 * leftovers of a build the same way.) Linux only: elsewhere nothing is found.
 */

export const MARK_VARIABLE = "FLAKY_DETECTOR_RUN_MARK";

/** Pids of live processes whose environment holds `MARK_VARIABLE=mark`. */
export function findMarked(mark: string): number[] {
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return [];
  }
  const needle = Buffer.from(`\0${MARK_VARIABLE}=${mark}\0`);
  const first = Buffer.from(`${MARK_VARIABLE}=${mark}\0`);
  const found: number[] = [];
  for (const name of entries) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (pid === process.pid) continue;
    let env: Buffer;
    try {
      env = readFileSync(`/proc/${name}/environ`);
    } catch {
      continue; // gone, or not ours to read
    }
    if (env.includes(needle) || env.subarray(0, first.length).equals(first)) found.push(pid);
  }
  return found;
}

/** Kill every process still carrying the mark; returns their pids (empty when none escaped). */
export function killMarked(mark: string): number[] {
  const pids = findMarked(mark);
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Exited in between.
    }
  }
  return pids;
}
