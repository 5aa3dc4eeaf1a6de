import { relative } from "node:path/posix";
import { type ParsedTest, ResultParseError, type TestStatus } from "./types.js";

/**
 * Jest's `--json` output; Vitest's `json` reporter writes the same shape. Identity is
 * `file > describe > test` with the file relative to the project root.
 */
interface Assertion {
  title?: unknown;
  fullName?: unknown;
  ancestorTitles?: unknown[];
  status?: string;
  failureMessages?: string[];
  duration?: number | null;
  location?: { line?: number } | null;
}
interface FileResult {
  name?: string;
  assertionResults?: Assertion[];
  status?: string;
  message?: string;
}

/**
 * `flavor` decides what "pending" means: jest writes it for skipped tests; vitest writes "skipped"
 * and "todo" for those and "pending" for tests that never ran because the worker running their
 * file died (process.exit, a kill, a segfault) — while still calling the run a success.
 */
export function parseJestJson(
  text: string,
  rootDir: string,
  flavor: "jest" | "vitest" = "jest",
): ParsedTest[] {
  let doc: { testResults?: FileResult[] };
  try {
    doc = JSON.parse(text) as { testResults?: FileResult[] };
  } catch (e) {
    throw new ResultParseError("jest json", `not JSON: ${(e as Error).message}`);
  }
  if (!Array.isArray(doc.testResults)) throw new ResultParseError("jest json", "no testResults array");
  const out: ParsedTest[] = [];
  for (const file of doc.testResults) {
    const path = file.name ? toRelative(file.name, rootDir) : null;
    const assertions = file.assertionResults ?? [];
    const neverRan = flavor === "vitest" ? assertions.filter((a) => a.status === "pending").length : 0;
    const ran = assertions.some((a) => a.status === "passed" || a.status === "failed");
    if (path && ((file.status === "failed" && !ran && file.message) || neverRan > 0)) {
      // The file itself failed (an import error, a dead worker): a finding of the file, counted
      // over every attempt (absent = it ran), never silently nothing.
      out.push(fileFinding(path, file.message, neverRan));
    }
    for (const a of assertions) {
      if (flavor === "vitest" && a.status === "pending") continue; // not run: absent, not skipped
      const status = statusOf(a.status);
      if (!status) continue;
      // Titles are whatever `it(...)` was given: `it(2010, …)` and `it([2010, 6], …)` exist in real
      // suites (dayjs), and jest prints them as String() does.
      const title = String(a.title ?? a.fullName ?? "");
      out.push({
        id: [path ?? "", ...(a.ancestorTitles ?? []).map(String), title].filter((p) => p !== "").join(" > "),
        name: title,
        file: path,
        status,
        message: status === "failed" ? (a.failureMessages ?? []).join("\n").trim() || "failed" : null,
        durationMs: typeof a.duration === "number" ? Math.round(a.duration) : null,
        ...(a.location?.line ? { line: a.location.line } : {}),
      });
    }
  }
  return out;
}

function fileFinding(path: string, message: string | undefined, neverRan: number): ParsedTest {
  const first = (message ?? "")
    .split("\n")
    .find((l) => l.trim() !== "")
    ?.trim();
  const why =
    neverRan > 0
      ? `${path} did not finish: ${neverRan} of its tests never ran (the worker running it died — a crash, a kill or process.exit — or the run bailed)`
      : `${path} failed outside its tests: ${first ?? "no message"}`;
  return {
    id: path,
    name: `file ${path}`,
    file: path,
    status: "failed",
    message: message && neverRan === 0 ? `${why}\n${message}` : why,
    durationMs: null,
    kind: "collection",
  };
}

function statusOf(s: string | undefined): TestStatus | null {
  if (s === "passed") return "passed";
  if (s === "failed") return "failed";
  if (s === "pending" || s === "skipped" || s === "todo" || s === "disabled") return "skipped";
  return null;
}

function toRelative(file: string, rootDir: string): string {
  const posix = file.replace(/\\/g, "/");
  const root = rootDir.replace(/\\/g, "/");
  return posix.startsWith(`${root}/`) ? relative(root, posix) : posix;
}
