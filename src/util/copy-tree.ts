import { constants } from "node:fs";
import { copyFile, link, mkdir, readdir, readlink, symlink } from "node:fs/promises";
import { join, resolve } from "node:path";

/** Dependency folders that are read-mostly and expensive to copy: shared by symlink into each slot. */
export const SHARED_DEPENDENCY_DIRS = new Set(["node_modules", ".venv", "venv", ".flaky-venv"]);
/** Folders never worth copying into a fresh workspace we will install into. */
export const REINSTALLED_DIRS = new Set([
  "node_modules",
  ".venv",
  "venv",
  ".flaky-venv",
  "__pycache__",
  ".pytest_cache",
]);

export interface CopyOptions {
  /** Directory names skipped at any depth. */
  exclude?: ReadonlySet<string>;
  /** Directory names replaced by a symlink to the source's copy, at any depth. */
  share?: ReadonlySet<string>;
  /** Absolute paths never copied: the destination itself and sibling temp dirs, when they lie inside the source. */
  skipPaths?: ReadonlySet<string>;
  /**
   * Hard-link files instead of copying them (a copy where the two sides are on different file
   * systems). Both names then share one file: only for trees nobody edits in place.
   */
  hardLink?: boolean;
}

/**
 * Copy a working tree. Files are cloned with copy-on-write where the file system supports it
 * (COPYFILE_FICLONE falls back to a plain copy), so a slot is cheap on btrfs/XFS and correct anywhere.
 */
export async function copyTree(src: string, dst: string, opts: CopyOptions = {}): Promise<{ files: number }> {
  let files = 0;
  const skip = new Set([resolve(dst), ...[...(opts.skipPaths ?? [])].map((p) => resolve(p))]);
  const walk = async (from: string, to: string): Promise<void> => {
    await mkdir(to, { recursive: true });
    const entries = await readdir(from, { withFileTypes: true });
    await Promise.all(
      entries.map(async (entry) => {
        const a = join(from, entry.name);
        const b = join(to, entry.name);
        if (skip.has(a)) return;
        if (entry.isDirectory()) {
          if (opts.exclude?.has(entry.name)) return;
          if (opts.share?.has(entry.name)) {
            await symlink(a, b, "dir");
            return;
          }
          await walk(a, b);
        } else if (entry.isSymbolicLink()) {
          await symlink(await readlink(a), b);
        } else if (entry.isFile()) {
          if (
            !opts.hardLink ||
            !(await link(a, b).then(
              () => true,
              () => false,
            ))
          ) {
            await copyFile(a, b, constants.COPYFILE_FICLONE);
          }
          files++;
        }
        // Sockets, FIFOs and devices are not part of a working tree.
      }),
    );
  };
  await walk(resolve(src), resolve(dst));
  return { files };
}
