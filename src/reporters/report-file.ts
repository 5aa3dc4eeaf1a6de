import { readFileSync } from "node:fs";
import * as z from "zod";
import type { Report } from "../analysis/report.js";
import { SEVERITIES } from "../config/schema.js";
import { UsageError } from "../errors.js";

/**
 * A report JSON written by `run --json` (or the Action's report-path), read back for
 * `flaky-detector report`: checked where the reporters depend on it, loose elsewhere so a newer
 * writer's extra fields do not break an older reader.
 */
const interval = z.tuple([z.number(), z.number()]);
const verdict = z.enum(["stable", "flaky", "failing", "error", "skipped"]);

const testSchema = z.looseObject({
  id: z.string(),
  name: z.string(),
  file: z.string().nullable(),
  attempts: z.int().min(0),
  failures: z.int().min(0),
  failureRate: z.number().min(0).max(1),
  interval,
  severity: z.enum(SEVERITIES),
  verdict,
  firstFailure: z.looseObject({ message: z.string() }).nullable(),
  reproduce: z.string().nullable(),
  seedDeterministic: z.boolean().nullable(),
});

const reportSchema = z.looseObject({
  schemaVersion: z.literal(1),
  id: z.string(),
  createdAt: z.string(),
  request: z.looseObject({
    command: z.array(z.string()),
    tests: z.array(z.string()),
    parallelism: z.int(),
    seed: z.number(),
  }),
  summary: z.looseObject({
    attempts: z.int().min(0),
    failureRate: z.number(),
    interval,
    confidence: z.number(),
    severity: z.enum(SEVERITIES),
    verdict,
    statement: z.string(),
  }),
  tests: z.array(testSchema),
  attempts: z.array(z.looseObject({ index: z.int() })),
});

export function readReportFile(path: string): Report {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new UsageError(
      "E_REPORT_FILE",
      `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new UsageError(
      "E_REPORT_FILE",
      `${path} is not JSON: ${(e as Error).message}; give the file written by run --json`,
    );
  }
  const check = reportSchema.safeParse(value);
  if (!check.success) {
    const problems = check.error.issues
      .slice(0, 10)
      .map((i) => `  ${i.path.join(".") || "(root)"}: ${i.message}`);
    throw new UsageError(
      "E_REPORT_FILE",
      [
        `${path} is not a flaky-detector report (schemaVersion 1) — give the file written by run --json:`,
        ...problems,
      ].join("\n"),
    );
  }
  return value as Report;
}
