import { readFileSync } from "node:fs";

/**
 * Who started something, as `pid start-time`: the start time (from /proc, Linux) tells a reused
 * pid apart, so leftovers of a process killed with -9 can be told from those of a live one.
 */
export function ownerId(pid = process.pid): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Field 22 (starttime), counted after the parenthesised command name, which may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return `${pid} ${fields[19]}`;
  } catch {
    return pid === process.pid ? `${pid} ?` : undefined;
  }
}

/** This process's id, computed once. */
export const SELF = ownerId() ?? `${process.pid} ?`;

export function ownerAlive(owner: string): boolean {
  const [pid, start] = owner.trim().split(" ");
  const n = Number(pid);
  if (!Number.isInteger(n) || n <= 0) return false;
  try {
    process.kill(n, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  if (start === undefined || start === "?") return true;
  return ownerId(n) === `${n} ${start}`;
}
