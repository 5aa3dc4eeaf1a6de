import { relative } from "node:path/posix";
import { type ParsedTest, ResultParseError, type TestStatus } from "./types.js";

/**
 * Jest's `--json` output; Vitest's `json` reporter writes the same shape. Identity is
 * `file > describe > test` with the file relative to the project root.
 */
interface Assertion {
  title?: string;
  fullName?: string;
  ancestorTitles?: string[];
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

export function parseJestJson(text: string, rootDir: string): ParsedTest[] {
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
    for (const a of file.assertionResults ?? []) {
      const status = statusOf(a.status);
      if (!status) continue;
      const title = a.title ?? a.fullName ?? "";
      out.push({
        id: [path ?? "", ...(a.ancestorTitles ?? []), title].filter((p) => p !== "").join(" > "),
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
