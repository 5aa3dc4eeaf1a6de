import { readdirSync, rmSync } from "node:fs";
import { isAbsolute, join, relative, sep } from "node:path";
import picomatch from "picomatch";
import type { FrameworkAdapter, ParseContext } from "../frameworks/index.js";
import type { ParsedTest } from "../parsers/types.js";
import { ResultFileTooLarge, readResultFile } from "../util/read-limited.js";

/** Where one attempt's machine-readable results go, and how to read them back. */
export interface ResultSink {
  resultFile: string | null;
  stdoutFile: string | null;
}

export function resultSink(adapter: FrameworkAdapter, dir: string, index: number, tag = ""): ResultSink {
  const file = join(dir, `attempt-${index}${tag}.${adapter.extension || "out"}`);
  return {
    resultFile: adapter.results === "file" ? file : null,
    stdoutFile: adapter.results === "stdout" ? file : null,
  };
}

export type Collected = { ok: true; tests: ParsedTest[] } | { ok: false; reason: string };

/**
 * A test's file relative to the workspace: reporters that write absolute paths (mocha's xunit,
 * jest) would otherwise point into the slot's temporary copy, deleted when the job ends and
 * different in every slot.
 */
export function repoRelativeFile(file: string | null, cwd: string): string | null {
  if (file === null || !isAbsolute(file)) return file;
  const rel = relative(cwd, file);
  if (rel === "" || rel.startsWith("..") || isAbsolute(rel)) return file;
  return rel.split(sep).join("/");
}

/**
 * Files, and the paths in failure messages (a stack's frames, mocha's "(…/test/a.js)"), relative to
 * the workspace. A message naming the slot's temporary copy points at nothing once the job ends,
 * and reads differently in every slot.
 */
export function withRelativePaths(tests: ParsedTest[], cwd: string): ParsedTest[] {
  const relativeIn = pathsRelativeIn(cwd);
  return tests.map((t) => {
    const file = repoRelativeFile(t.file, cwd);
    const message = t.message === null ? null : relativeIn(t.message);
    const reruns = t.reruns?.messages.some((m) => relativeIn(m) !== m)
      ? { ...t.reruns, messages: t.reruns.messages.map(relativeIn) }
      : t.reruns;
    if (file === t.file && message === t.message && reruns === t.reruns) return t;
    return { ...t, file, message, ...(reruns ? { reruns } : {}) };
  });
}

/** Text with `dir/…` (and `file://dir/…`) written as `…`. */
export function pathsRelativeIn(dir: string): (text: string) => string {
  const prefix = dir.endsWith(sep) ? dir : `${dir}${sep}`;
  const url = `file://${prefix.split(sep).join("/")}`;
  return (text) => (text.includes(prefix) ? text.replaceAll(url, "").replaceAll(prefix, "") : text);
}

const OCCURRENCE = / \[(\d+)\]$/;

/**
 * Tests sharing an id in one attempt (two files with the same describe and title under node:test,
 * whose JUnit has no file; the same title twice in a jest file) are different tests: the second
 * becomes "id [2]", the third "id [3]", in the order the framework reported them — never merged.
 */
export function distinguishDuplicates(tests: ParsedTest[], adapter: FrameworkAdapter): ParsedTest[] {
  if (adapter.repeatsShareId) return tests;
  const seen = new Map<string, number>();
  return tests.map((t) => {
    const n = (seen.get(t.id) ?? 0) + 1;
    seen.set(t.id, n);
    return n === 1 ? t : { ...t, id: `${t.id} [${n}]`, name: `${t.name} [${n}]` };
  });
}

/** The framework's own id of "id [2]": its filter selects every test of that name. */
export function frameworkIds(ids: readonly string[], adapter: FrameworkAdapter): string[] {
  if (adapter.repeatsShareId) return [...ids];
  return [...new Set(ids.map((id) => id.replace(OCCURRENCE, "")))];
}

/** Read and parse the attempt's results, then delete the files (a 10,000-attempt job must not fill the disk). */
export function collectResults(
  adapter: FrameworkAdapter,
  sink: ResultSink,
  cwd: string,
  junitGlob: string | undefined,
  run?: ParseContext,
): Collected {
  const got = collectParsed(adapter, sink, cwd, junitGlob, run);
  return got.ok ? { ok: true, tests: distinguishDuplicates(got.tests, adapter) } : got;
}

function collectParsed(
  adapter: FrameworkAdapter,
  sink: ResultSink,
  cwd: string,
  junitGlob: string | undefined,
  run: ParseContext | undefined,
): Collected {
  if (adapter.results === "none") return { ok: true, tests: [] };
  try {
    if (adapter.results === "glob") {
      const files = globFiles(cwd, junitGlob ?? "");
      if (files.length === 0) return { ok: false, reason: `no file matched --junit ${junitGlob}` };
      return {
        ok: true,
        tests: withRelativePaths(
          files.flatMap((f) => adapter.parse(readResultFile(f), cwd, run)),
          cwd,
        ),
      };
    }
    const file = sink.resultFile ?? sink.stdoutFile;
    if (!file) return { ok: true, tests: [] };
    let text: string;
    try {
      text = readResultFile(file);
    } catch (e) {
      if (e instanceof ResultFileTooLarge) return { ok: false, reason: e.message };
      return { ok: false, reason: `${adapter.name} wrote no results file` };
    }
    return { ok: true, tests: withRelativePaths(adapter.parse(text, cwd, run), cwd) };
  } catch (e) {
    return { ok: false, reason: (e as Error).message };
  } finally {
    for (const f of [sink.resultFile, sink.stdoutFile]) if (f) rmSync(f, { force: true });
  }
}

/** Stale result files from the slot's previous attempt would be read as this attempt's: remove them first. */
export function clearGlob(cwd: string, glob: string | undefined): void {
  if (!glob) return;
  for (const f of globFiles(cwd, glob)) rmSync(f, { force: true });
}

const SKIP_DIRS = new Set([".git", "node_modules", ".venv", ".flaky-venv"]);

export function globFiles(cwd: string, glob: string): string[] {
  const isMatch = picomatch(glob.replace(/^\.\//, ""), { dot: true });
  const out: string[] = [];
  const walk = (dir: string, depth: number) => {
    if (depth > 12) return;
    let entries: import("node:fs").Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const full = join(dir, e.name);
      if (e.isDirectory()) {
        if (!SKIP_DIRS.has(e.name)) walk(full, depth + 1);
      } else if (isMatch(relative(cwd, full))) out.push(full);
    }
  };
  walk(cwd, 0);
  return out.sort();
}
