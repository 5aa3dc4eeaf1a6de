import { readFileSync, statSync } from "node:fs";

/**
 * Result files are read whole and parsed in memory (about four times their size at the peak), so
 * one over this size is refused with a message instead of taking the machine's memory. Real
 * JUnit files past it are almost always full captured output per test case.
 */
export const MAX_RESULT_FILE_BYTES = 64 * 1024 * 1024;

export class ResultFileTooLarge extends Error {}

/** A result file's text, or ResultFileTooLarge naming the file, its size and the fix. */
export function readResultFile(path: string, limit = MAX_RESULT_FILE_BYTES): string {
  const size = statSync(path).size;
  if (size > limit) {
    throw new ResultFileTooLarge(
      `${path} is ${mib(size)} MiB, over the ${mib(limit)} MiB limit for a results file; have the reporter leave out captured output (system-out/system-err), or split the suite`,
    );
  }
  return readFileSync(path, "utf8");
}

function mib(bytes: number): string {
  return (bytes / (1024 * 1024)).toFixed(bytes < 10 * 1024 * 1024 ? 1 : 0);
}
