#!/usr/bin/env node
import { processIo } from "./io.js";
import { main } from "./program.js";

main(process.argv, processIo()).then(
  (code) => {
    // Exit explicitly: a test's leftover handle must not keep the detector alive after its report.
    process.exitCode = code;
    process.stdout.write("", () => process.exit(code));
  },
  (error: unknown) => {
    process.stderr.write(`flaky-detector: internal error: ${String(error)}\n`);
    process.exit(4);
  },
);
