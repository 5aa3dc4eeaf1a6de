import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Report } from "../../src/analysis/report.js";
import { writeJsonReport } from "../../src/reporters/json.js";
import { tempDir } from "../helpers/cli.js";

let dir: { path: string; cleanup: () => void };
beforeEach(() => {
  dir = tempDir("fd-json-");
});
afterEach(() => dir.cleanup());

describe("writeJsonReport", () => {
  it("writes exactly JSON.stringify(report, null, 2), attempt by attempt", () => {
    const report = {
      schemaVersion: 1,
      id: "x",
      tests: [],
      attempts: [
        { index: 0, outputTail: 'line1\nline2 "quoted"', tests: null },
        { index: 1, outputTail: "", tests: { passed: 1, failed: ["a"], skipped: 0 } },
      ],
      nested: { a: [1, 2], b: {} },
      warnings: [],
    } as unknown as Report;
    const file = join(dir.path, "sub", "r.json");
    writeJsonReport(report, file);
    expect(readFileSync(file, "utf8")).toBe(`${JSON.stringify(report, null, 2)}\n`);
  });
});
