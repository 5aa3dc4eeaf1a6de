import { type ParsedTest, ResultParseError, type TestStatus } from "./types.js";

/**
 * `go test -json` (test2json) events, one JSON object per line. A test's last pass/fail/skip action
 * is its result; its output lines become the failure message. Lines that are not JSON (build
 * errors printed before the stream) are ignored.
 */
interface Event {
  Action?: string;
  Package?: string;
  Test?: string;
  Output?: string;
  Elapsed?: number;
}

/** The stream's JSON lines with their events; other lines (build output) are skipped. */
function* eventsOf(stream: string): Generator<{ line: string; e: Event }> {
  for (const line of stream.split("\n")) {
    if (!line.startsWith("{")) continue;
    try {
      yield { line, e: JSON.parse(line) as Event };
    } catch {
      // A line that only looks like JSON (a test's own output interleaved): not an event.
    }
  }
}

export function parseGoTestJson(stream: string): ParsedTest[] {
  const tests = new Map<
    string,
    { pkg: string; name: string; status?: TestStatus; output: string[]; elapsed?: number; paused?: boolean }
  >();
  /** Packages whose test binary ended: "pass" or "fail" (a package-level action). */
  const ended = new Map<string, string>();
  let sawEvent = false;
  for (const { e } of eventsOf(stream)) {
    sawEvent = true;
    if (!e.Test && e.Package && (e.Action === "pass" || e.Action === "fail")) ended.set(e.Package, e.Action);
    if (!e.Test || !e.Package) continue;
    const key = `${e.Package}\u0000${e.Test}`;
    let t = tests.get(key);
    if (!t) {
      t = { pkg: e.Package, name: e.Test, output: [] };
      tests.set(key, t);
    }
    if (e.Action === "output" && e.Output !== undefined) {
      if (t.output.length < 200) t.output.push(e.Output);
    } else if (e.Action === "pause" || e.Action === "cont") {
      t.paused = e.Action === "pause";
    } else if (e.Action === "pass" || e.Action === "fail" || e.Action === "skip") {
      t.status = e.Action === "pass" ? "passed" : e.Action === "fail" ? "failed" : "skipped";
      if (e.Elapsed !== undefined) t.elapsed = e.Elapsed;
    }
  }
  if (!sawEvent && stream.trim() !== "")
    throw new ResultParseError("go test -json", "no JSON events in the output");
  const out: ParsedTest[] = [];
  const unfinished = [...tests.values()].filter((t) => !t.status);
  for (const t of tests.values()) {
    if (!t.status) {
      // Still running when its package's binary died (os.Exit, a signal, our timeout): that test
      // crashed — the innermost running test, not the parent waiting on its subtest, and not a
      // paused parallel test. A stream cut before the package ended (the whole tree killed at our
      // timeout) counts the same; the session turns it into a timeout when the attempt timed out.
      const innermost = !unfinished.some(
        (u) => u !== t && u.pkg === t.pkg && u.name.startsWith(`${t.name}/`),
      );
      if (ended.get(t.pkg) !== "pass" && innermost && !t.paused) {
        out.push({
          id: `${t.pkg}.${t.name}`,
          name: t.name,
          file: null,
          status: "failed",
          message: `crashed: the test binary died while this test ran\n${failureMessage(t.output)}`.trim(),
          durationMs: null,
          died: "crashed",
        });
      }
      continue;
    }
    out.push({
      id: `${t.pkg}.${t.name}`,
      name: t.name,
      file: null,
      status: t.status,
      message: t.status === "failed" ? failureMessage(t.output) : null,
      durationMs: t.elapsed === undefined ? null : Math.round(t.elapsed * 1000),
    });
  }
  return out;
}

function failureMessage(lines: string[]): string {
  const body = lines.filter((l) => !/^(=== RUN|=== PAUSE|=== CONT|--- FAIL|--- PASS)/.test(l.trimStart()));
  return body.join("").trim() || "failed";
}

/**
 * A `go test -json -count=K` stream as one stream per repetition (docs/design/repeat.md), for the
 * repetitions every package with tests started. Each package's binary runs its whole test list K
 * times in order, so a test's event belongs to the repetition of its top-level test's latest `run`
 * (a subtest run only some of the time keeps its parent's repetition). A package's own lines (its
 * end, its build output) go to every stream, so each parses like the stream of one attempt. A
 * binary that died (a panic, os.Exit, a kill) started the repetition it died in and no later one;
 * the later ones are not in this process's account. A repetition's time is its slowest package's
 * (packages run side by side): the sum of that package's top-level tests' times.
 */
export function splitGoRepetitions(stream: string): { text: string; durationMs: number | null }[] {
  const perRep: { lines: string[]; seconds: Map<string, number> }[] = [];
  const packageLines: string[] = [];
  /** Per package, how many times each top-level test has started. */
  const runs = new Map<string, Map<string, number>>();
  for (const { line, e } of eventsOf(stream)) {
    if (!e.Package) continue;
    if (!e.Test) {
      packageLines.push(line);
      continue;
    }
    const top = e.Test.split("/")[0] as string;
    let tops = runs.get(e.Package);
    if (!tops) {
      tops = new Map();
      runs.set(e.Package, tops);
    }
    if (e.Action === "run" && top === e.Test) tops.set(top, (tops.get(top) ?? 0) + 1);
    const index = Math.max(0, (tops.get(top) ?? 1) - 1);
    while (perRep.length <= index) perRep.push({ lines: [], seconds: new Map() });
    const rep = perRep[index] as (typeof perRep)[number];
    rep.lines.push(line);
    if (top === e.Test && e.Elapsed !== undefined && /^(pass|fail|skip)$/.test(e.Action ?? ""))
      rep.seconds.set(e.Package, (rep.seconds.get(e.Package) ?? 0) + e.Elapsed);
  }
  const reachedPer = [...runs.values()].map((tops) => Math.max(0, ...tops.values()));
  const reached = reachedPer.length === 0 ? 0 : Math.min(...reachedPer);
  return perRep.slice(0, reached).map((rep) => ({
    text: [...rep.lines, ...packageLines].join("\n"),
    durationMs: rep.seconds.size === 0 ? null : Math.round(Math.max(...rep.seconds.values()) * 1000),
  }));
}
