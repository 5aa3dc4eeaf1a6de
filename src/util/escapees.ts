import { readdirSync, readFileSync } from "node:fs";
import { ownerAlive } from "./owner.js";

/**
 * Processes that leave their process group (setsid, a daemonizing double fork) survive the group
 * kill. Every process we start carries a unique mark in its environment, which children inherit
 * and which stays in /proc/<pid>/environ whatever the process does with its own variables; after
 * the run, any process still carrying the mark is a leftover of that run. (CI agents find
 * leftovers of a build the same way.) Linux only: elsewhere nothing is found.
 */

export const MARK_VARIABLE = "FLAKY_DETECTOR_RUN_MARK";
/** Which flaky-detector process started the run (owner.ts): finds orphans of one killed with -9. */
export const OWNER_VARIABLE = "FLAKY_DETECTOR_RUN_OWNER";

/** Live processes other than this one, with their environment block (empty off Linux). */
function* processes(): Generator<{ pid: number; env: Buffer }> {
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return;
  }
  for (const name of entries) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (pid === process.pid) continue;
    try {
      yield { pid, env: readFileSync(`/proc/${name}/environ`) };
    } catch {
      // Gone, or not ours to read.
    }
  }
}

/** The value of a variable in a raw /proc environ block. */
function valueIn(env: Buffer, name: string): string | undefined {
  const key = Buffer.from(`${name}=`);
  let at = env.subarray(0, key.length).equals(key) ? 0 : env.indexOf(Buffer.from(`\0${name}=`));
  if (at < 0) return undefined;
  if (at > 0 || env[0] === 0) at += 1;
  const start = at + key.length;
  const end = env.indexOf(0, start);
  return env.subarray(start, end < 0 ? env.length : end).toString();
}

/**
 * Pids of live processes whose environment holds `MARK_VARIABLE=mark`, except members of process
 * group `group`: those were just sent SIGKILL with their group and may not be gone yet on a busy
 * machine; they did not escape.
 */
export function findMarked(mark: string, group?: number): number[] {
  const found: number[] = [];
  for (const p of processes()) {
    if (valueIn(p.env, MARK_VARIABLE) !== mark) continue;
    if (group !== undefined && groupOf(p.pid) === group) continue;
    found.push(p.pid);
  }
  return found;
}

/** The process group of a pid (field 5 of /proc/<pid>/stat, after the parenthesised name). */
function groupOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(fields[2]);
  } catch {
    return undefined;
  }
}

/**
 * Kill processes started by a flaky-detector process that no longer runs (a server or worker
 * killed with -9 leaves its attempts running). Returns their pids.
 */
export function killOrphans(): number[] {
  const killed: number[] = [];
  for (const p of processes()) {
    const owner = valueIn(p.env, OWNER_VARIABLE);
    if (owner === undefined || ownerAlive(owner)) continue;
    try {
      process.kill(p.pid, "SIGKILL");
      killed.push(p.pid);
    } catch {
      // Exited in between.
    }
  }
  return killed;
}

/** Kill every process still carrying the mark; returns their pids (empty when none escaped). */
export function killMarked(mark: string, group?: number): number[] {
  const pids = findMarked(mark, group);
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Exited in between.
    }
  }
  return pids;
}
