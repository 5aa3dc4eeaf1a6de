import { closeSync, mkdirSync, openSync, renameSync, writeSync } from "node:fs";
import { dirname } from "node:path";
import type { Report } from "../analysis/report.js";

/**
 * Write the Report atomically (a reader never sees half a file) and incrementally: one
 * JSON.stringify of a 10,000-attempt report would hold the whole text in memory at once.
 * The output is byte-for-byte what JSON.stringify(report, null, 2) gives.
 */
export function writeJsonReport(report: Report, file: string): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = openSync(tmp, "w");
  try {
    const entries = Object.entries(report);
    writeSync(fd, "{\n");
    entries.forEach(([key, value], i) => {
      writeSync(fd, `  ${JSON.stringify(key)}: `);
      if (Array.isArray(value) && value.length > 0) {
        writeSync(fd, "[\n");
        value.forEach((item, j) => {
          writeSync(
            fd,
            `    ${indent(JSON.stringify(item, null, 2), "    ")}${j < value.length - 1 ? "," : ""}\n`,
          );
        });
        writeSync(fd, "  ]");
      } else {
        writeSync(fd, indent(JSON.stringify(value, null, 2), "  "));
      }
      writeSync(fd, i < entries.length - 1 ? ",\n" : "\n");
    });
    writeSync(fd, "}\n");
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

// Newlines inside JSON strings are escaped, so every raw newline is structure.
function indent(text: string, prefix: string): string {
  return text.replace(/\n/g, `\n${prefix}`);
}
