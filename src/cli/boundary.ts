import { EXIT, isFlakyDetectorError } from "../errors.js";
import type { CliIo } from "./io.js";

/** The one place errors become a message and an exit code. */
export function reportError(error: unknown, io: CliIo): number {
  if (isFlakyDetectorError(error)) {
    io.stderr.write(`flaky-detector: error: ${error.message}\n`);
    for (const line of error.details) io.stderr.write(`  │ ${line}\n`);
    if (error.kind === "internal")
      io.stderr.write("this is a bug in flaky-detector; please report it with the command you ran\n");
    return error.exitCode;
  }
  const e = error as Error;
  io.stderr.write(`flaky-detector: internal error: ${e?.stack ?? String(error)}\n`);
  io.stderr.write("this is a bug in flaky-detector; please report it with the command you ran\n");
  return EXIT.internal;
}
