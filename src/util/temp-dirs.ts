import { mkdtempSync, rmSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

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
    const dir = mkdtempSync(join(this.root, `flaky-detector-${prefix}-`));
    this.dirs.add(dir);
    return dir;
  }

  list(): string[] {
    return [...this.dirs];
  }

  /** Stop tracking without removing (preserve_temp_dir). */
  release(): string[] {
    const kept = this.list();
    this.dirs.clear();
    process.off("exit", this.onExit);
    return kept;
  }

  async removeAll(): Promise<void> {
    await Promise.all([...this.dirs].map((d) => rm(d, { recursive: true, force: true, maxRetries: 3 })));
    this.dirs.clear();
    process.off("exit", this.onExit);
  }

  private removeAllSync(): void {
    for (const d of this.dirs) {
      try {
        rmSync(d, { recursive: true, force: true });
      } catch {
        // Best effort at exit.
      }
    }
    this.dirs.clear();
  }
}
