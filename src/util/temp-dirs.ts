import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ownerAlive, SELF } from "./owner.js";

const PREFIX = "flaky-detector-";
/** Beside each directory: who made it, so a later server can tell a dead owner's leftovers. */
const OWNER_SUFFIX = ".owner";

/**
 * Remove temporary directories whose owner process is gone (a server or worker killed with -9
 * never runs its cleanup). Directories of live processes, and ones without an owner file, are
 * left alone. Returns what was removed.
 */
export function sweepStaleTempDirs(root = tmpdir()): string[] {
  let names: string[];
  try {
    names = readdirSync(root);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    if (!name.startsWith(PREFIX) || !name.endsWith(OWNER_SUFFIX)) continue;
    const marker = join(root, name);
    const dir = marker.slice(0, -OWNER_SUFFIX.length);
    let owner: string;
    try {
      if (!statSync(marker).isFile()) continue;
      owner = readFileSync(marker, "utf8");
    } catch {
      continue;
    }
    if (ownerAlive(owner)) continue;
    rmSync(dir, { recursive: true, force: true });
    rmSync(marker, { force: true });
    removed.push(dir);
  }
  return removed;
}

/**
 * A temporary directory with its owner file beside it, so that `sweepStaleTempDirs` removes it
 * if this process is killed with -9 before `removeOwnedDir`.
 */
export function createOwnedDir(prefix: string, root = tmpdir()): string {
  const dir = mkdtempSync(join(root, `${PREFIX}${prefix}-`));
  try {
    writeFileSync(dir + OWNER_SUFFIX, SELF);
  } catch {
    // Without the marker only a later sweep misses it; the directory itself works.
  }
  return dir;
}

export function removeOwnedDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  rmSync(dir + OWNER_SUFFIX, { force: true });
}

/**
 * Temporary directories of one job. Removed by the pipeline's `finally`; the process `exit` hook is
 * the last resort for paths that never reach it (an uncaught error, a second Ctrl-C).
 */
export class TempDirs {
  private readonly dirs = new Set<string>();
  private readonly onExit = () => this.removeAllSync();

  constructor(private readonly root = tmpdir()) {
    process.on("exit", this.onExit);
  }

  create(prefix: string): string {
    const dir = mkdtempSync(join(this.root, `${PREFIX}${prefix}-`));
    this.dirs.add(dir);
    try {
      writeFileSync(dir + OWNER_SUFFIX, SELF);
    } catch {
      // Only the sweep after a crash needs it.
    }
    return dir;
  }

  list(): string[] {
    return [...this.dirs];
  }

  /** Stop tracking without removing (preserve_temp_dir); the kept ones are no longer swept. */
  release(): string[] {
    const kept = this.list();
    for (const d of kept) rmSync(d + OWNER_SUFFIX, { force: true });
    this.dirs.clear();
    process.off("exit", this.onExit);
    return kept;
  }

  async removeAll(): Promise<void> {
    await Promise.all(
      [...this.dirs].map(async (d) => {
        await rm(d, { recursive: true, force: true, maxRetries: 3 });
        await rm(d + OWNER_SUFFIX, { force: true });
      }),
    );
    this.dirs.clear();
    process.off("exit", this.onExit);
  }

  private removeAllSync(): void {
    for (const d of this.dirs) {
      try {
        rmSync(d, { recursive: true, force: true });
        rmSync(d + OWNER_SUFFIX, { force: true });
      } catch {
        // Best effort at exit.
      }
    }
    this.dirs.clear();
  }
}
