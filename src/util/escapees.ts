import { existsSync, openSync, readdirSync, readFileSync, readSync } from "node:fs";
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

/** Pids from `first` to `last` as the kernel gives them out (wrapped when `last` < `first`). */
export interface PidWindow {
  first: number;
  last: number;
}

/**
 * The pids the kernel can have given out since `first` was: the ones after it up to the last pid it
 * allocated (the fifth field of /proc/loadavg, in this pid namespace), or, once the counter has
 * wrapped, the ones after `first` and the ones up to the last. A process started by `first`'s run
 * has one of them, so the environ blocks of older processes need not be read: on a busy machine
 * that read was most of an attempt's own cost. Null when the last pid cannot be read (scan all).
 */
export function pidsSince(first: number): PidWindow | null {
  const last = lastPid();
  if (last === null) return null;
  return { first, last };
}

/**
 * /proc/loadavg stays open: it is read after every attempt, and a read at offset 0 of an open proc
 * file regenerates it, where opening, reading and closing it again cost three times as much.
 */
let loadavg: number | null | undefined;
const loadavgBuffer = Buffer.alloc(128);

function lastPid(): number | null {
  try {
    loadavg ??= openSync("/proc/loadavg", "r");
    if (loadavg === null) return null;
    const text = loadavgBuffer.toString("latin1", 0, readSync(loadavg, loadavgBuffer, 0, 128, 0));
    const last = Number(text.trim().split(/\s+/)[4]);
    return Number.isInteger(last) && last > 0 ? last : null;
  } catch {
    loadavg = null;
    return null;
  }
}

export function inWindow(w: PidWindow, pid: number): boolean {
  return w.last >= w.first ? pid >= w.first && pid <= w.last : pid >= w.first || pid <= w.last;
}

/**
 * A window this small is probed pid by pid: listing /proc (hundreds of entries on any machine) was
 * most of the search's cost after every attempt, while an attempt of a short test leaves a window
 * of a few pids.
 */
const PROBE_AT_MOST = 128;

function candidates(only: PidWindow | null | undefined, known?: ReadonlySet<number>): number[] {
  if (only && only.last >= only.first && only.last - only.first < PROBE_AT_MOST) {
    const pids: number[] = [];
    // /proc/<tid> answers for every thread too (listing /proc shows only processes): a
    // multithreaded escapee must count once, not once per thread.
    for (let pid = only.first; pid <= only.last; pid++)
      if (!known?.has(pid) && existsSync(`/proc/${pid}`) && isProcess(pid)) pids.push(pid);
    return pids;
  }
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return [];
  }
  const pids: number[] = [];
  for (const name of entries) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if ((!only || inWindow(only, pid)) && !known?.has(pid)) pids.push(pid);
  }
  return pids;
}

/** Whether a live pid is a process (its thread group's leader), not another of its threads. */
function isProcess(pid: number): boolean {
  try {
    return /^Tgid:\s*(\d+)$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] === String(pid);
  } catch {
    return false;
  }
}

/** Live processes other than this one, with their environment block (empty off Linux). */
function* processes(
  only?: PidWindow | null,
  known?: ReadonlySet<number>,
): Generator<{ pid: number; env: Buffer }> {
  for (const pid of candidates(only, known)) {
    if (pid === process.pid) continue;
    try {
      yield { pid, env: readFileSync(`/proc/${pid}/environ`) };
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
 * machine; they did not escape. `others` are pids known not to carry the mark (the leaders of the
 * other runs still going, each started by us with a mark of its own): they are not read. At
 * parallelism 2 with a test that starts no subprocess, the window after an attempt holds only its
 * own leader and the other slot's, so the search reads nothing.
 */
export function findMarked(mark: string, group?: number, others?: ReadonlySet<number>): number[] {
  const found: number[] = [];
  // The group's leader is the first process of the run: every marked process came after it.
  const window = group === undefined ? null : pidsSince(group);
  // No pid given out since the leader's (a test that started no process, at parallelism 1): the
  // leader has been reaped and nothing else can carry the mark; not even its pid is probed.
  if (window && window.last === window.first) return found;
  for (const p of processes(window, others)) {
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
export function killMarked(mark: string, group?: number, others?: ReadonlySet<number>): number[] {
  const pids = findMarked(mark, group, others);
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // Exited in between.
    }
  }
  return pids;
}
