import { InfraError } from "../errors.js";
import { copyTree, SHARED_DEPENDENCY_DIRS } from "../util/copy-tree.js";
import type { TempDirs } from "../util/temp-dirs.js";

export interface SlotPlan {
  dirs: string[];
  /** How the slots were made, for the report and docs. */
  strategy: "shared" | "copy";
}

/**
 * One working directory per parallel slot. With isolation "copy" no two concurrent attempts share a
 * writable directory (shared checkouts manufacture flakiness: files written by one attempt are
 * seen by another); dependency folders are symlinked, not copied. A workspace we own is reused as
 * slot 0; the user's own directory is never written to by a parallel slot.
 */
export async function prepareSlots(
  base: string,
  owned: boolean,
  count: number,
  isolation: "copy" | "shared",
  temp: TempDirs,
): Promise<SlotPlan> {
  if (isolation === "shared" || count === 1)
    return { dirs: Array(count).fill(base), strategy: isolation === "shared" ? "shared" : "copy" };
  const dirs: string[] = owned ? [base] : [];
  const copies = Array.from({ length: count - dirs.length }, () => temp.create("slot"));
  // The temp root may lie inside the source (running from /tmp): never copy our own directories.
  const skipPaths = new Set(temp.list());
  try {
    await Promise.all(copies.map((dir) => copyTree(base, dir, { share: SHARED_DEPENDENCY_DIRS, skipPaths })));
  } catch (e) {
    throw new InfraError(
      "E_SLOT_COPY",
      `cannot make a working copy per parallel slot: ${(e as Error).message}; free disk space, or use --isolation shared if the tests never write to their directory`,
    );
  }
  return { dirs: [...dirs, ...copies], strategy: "copy" };
}
