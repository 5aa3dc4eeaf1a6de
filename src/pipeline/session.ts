import { readFileSync, rmSync, statSync } from "node:fs";
import { constants as osConstants } from "node:os";
import { delimiter, join } from "node:path";
import type { TestAggregator } from "../analysis/per-test.js";
import type { ReportAttempt } from "../analysis/report.js";
import type { Config } from "../config/schema.js";
import type { FrameworkAdapter, ParseContext } from "../frameworks/index.js";
import { parseTestEvents, type TestEvents } from "../parsers/events.js";
import type { ParsedTest } from "../parsers/types.js";
import { type AttemptRecord, type AttemptSpec, holdAttempt, runAttempt } from "../runner/attempt.js";
import type { Masker } from "../util/secrets.js";
import { diagnoseNoTests, type NoTestDiagnosis } from "./diagnose.js";
import {
  type Collected,
  clearGlob,
  collectResults,
  distinguishDuplicates,
  frameworkIds,
  pathsRelativeIn,
  repoRelativeFile,
  resultSink,
  withRelativePaths,
} from "./results.js";
import type { AttemptTimeout } from "./timeout.js";

/** Everything needed to run one attempt of this job through its framework adapter. */
export interface Session {
  config: Config;
  adapter: FrameworkAdapter;
  argv: string[];
  commandEnv: Record<string, string>;
  baseEnv: NodeJS.ProcessEnv;
  slotDirs: string[];
  /**
   * A private temporary directory per slot (TMPDIR, TMP, TEMP): a test that writes a fixed file
   * name under the system temp directory must not race its own copy in the next slot.
   */
  slotTmpDirs: string[];
  resultsDir: string;
  junitGlob: string | undefined;
  logsDir: string | undefined;
  /** Secret values masked in output and logs. */
  masker: Masker;
  /** The per-attempt timeout, fixed or derived from the first attempts (timeout: auto). */
  timeout: AttemptTimeout;
  /** The command and environment the adapter's parser may read (cargo's thread count). */
  parseContext: ParseContext;
}

export interface AttemptRun {
  record: AttemptRecord;
  /** Parsed per-test results, or why there are none. */
  results: { ok: true; tests: ParsedTest[] } | { ok: false; reason: string };
  /** Set when the attempt ran no test (its outcome is then "errored"). */
  noTests?: NoTestDiagnosis;
}

export interface RunSpec {
  index: number;
  slot: number;
  seed: number;
  shuffled: boolean;
  tests: readonly string[];
  signal: AbortSignal;
  /** Distinguishes follow-up runs' files and logs from the main phase's. */
  tag?: string;
}

export async function runWithResults(s: Session, spec: RunSpec): Promise<AttemptRun> {
  const tag = spec.tag ?? "";
  const p = prepareProcess(s, { ...spec, tag, shuffle: spec.shuffled });
  const record = await launch(s, { ...spec, tag }, p.prepared, p.sink, s.timeout.ms);
  return afterProcess(s, spec, p, record);
}

/** What an attempt's process left behind, read once it ended (its time also feeds timeout: auto). */
function afterProcess(
  s: Session,
  spec: Pick<RunSpec, "tests" | "shuffled">,
  p: ReturnType<typeof prepareProcess>,
  record: AttemptRecord,
): AttemptRun {
  s.timeout.observe(record);
  return finishAttempt(s, spec, {
    record,
    sink: p.sink,
    eventsFile: p.eventsFile,
    cwd: p.cwd,
    addedWords: addedWords(s.argv, p.prepared.argv),
    eventsUsed: p.prepared.env.FLAKY_DETECTOR_EVENTS !== undefined,
  });
}

/** An attempt whose process was started ahead of its turn (docs/design/prestart.md). */
export interface HeldRun {
  /** Runs it now; the same as runWithResults, which it falls back to if the held process is gone. */
  run(signal: AbortSignal): Promise<AttemptRun>;
  /** It will not run: its process is killed before it became the command. */
  drop(): void;
}

/**
 * Starts the process of attempt `spec` without letting it run, or undefined where it cannot be held
 * (holdTree). A glob's stale results are cleared at release, not now: the slot's current attempt may
 * still be writing them.
 */
export function holdWithResults(s: Session, spec: Omit<RunSpec, "signal">): HeldRun | undefined {
  const tag = spec.tag ?? "";
  const p = prepareProcess(s, { ...spec, tag, shuffle: spec.shuffled }, false);
  const held = holdAttempt(attemptSpec(s, { ...spec, tag }, p.prepared, p.sink));
  if (!held) return undefined;
  return {
    drop: () => held.drop(),
    async run(signal) {
      if (s.adapter.results === "glob") clearGlob(p.cwd, s.junitGlob);
      const running = held.release(s.timeout.ms, signal);
      if (!running) {
        held.drop();
        return runWithResults(s, { ...spec, signal });
      }
      return afterProcess(s, spec, p, await running);
    },
  };
}

function isEmpty(file: string): boolean {
  try {
    return statSync(file).size === 0;
  } catch {
    return true;
  }
}

/**
 * Everything a process needs before it starts, for one attempt or for several repeated in it
 * (`repeat`): where its results go (a glob's stale files cleared), its events file, and the
 * adapter's argv and environment. The files are named after the first attempt and `tag`.
 */
export function prepareProcess(
  s: Session,
  at: {
    index: number;
    seed: number;
    slot: number;
    tag: string;
    shuffle: boolean;
    tests: readonly string[];
    repeat?: readonly { index: number; seed: number }[];
  },
  clearStale = true,
): {
  cwd: string;
  sink: ReturnType<typeof resultSink>;
  eventsFile: string;
  prepared: { argv: string[]; env: Record<string, string> };
} {
  const cwd = s.slotDirs[at.slot] as string;
  const sink = resultSink(s.adapter, s.resultsDir, at.index, at.tag);
  if (clearStale && s.adapter.results === "glob") clearGlob(cwd, s.junitGlob);
  const eventsFile = join(s.resultsDir, `attempt-${at.index}${at.tag}.events.jsonl`);
  const prepared = s.adapter.prepare(
    s.argv,
    {
      resultFile: sink.resultFile,
      eventsFile: s.config.event_reporters ? eventsFile : null,
      seed: at.seed,
      shuffle: at.shuffle,
      tests: frameworkIds(at.tests, s.adapter),
      ...(at.repeat ? { repeat: at.repeat } : {}),
    },
    true,
  );
  return { cwd, sink, eventsFile, prepared };
}

/**
 * Start an attempt's process in its slot: the adapter's argv and environment (its PYTHONPATH in
 * front of the user's), the slot's own temp directory, output to the result sink, a log when asked.
 */
export function launch(
  s: Session,
  at: { index: number; seed: number; slot: number; signal: AbortSignal; tag: string },
  prepared: { argv: string[]; env: Record<string, string> },
  sink: ReturnType<typeof resultSink>,
  timeoutMs: number,
): Promise<AttemptRecord> {
  return runAttempt({ ...attemptSpec(s, at, prepared, sink), timeoutMs, signal: at.signal });
}

function attemptSpec(
  s: Session,
  at: { index: number; seed: number; slot: number; tag: string },
  prepared: { argv: string[]; env: Record<string, string> },
  sink: ReturnType<typeof resultSink>,
): Omit<AttemptSpec, "timeoutMs" | "signal"> {
  const baseEnv = withTmpDir(s.baseEnv, s.slotTmpDirs[at.slot]);
  return {
    index: at.index,
    slot: at.slot,
    seed: at.seed,
    argv: prepared.argv,
    cwd: s.slotDirs[at.slot] as string,
    baseEnv,
    commandEnv: { ...s.commandEnv, ...withPathsPrepended(prepared.env, { ...baseEnv, ...s.commandEnv }) },
    killGraceMs: s.config.kill_grace * 1000,
    headBytes: s.config.output_head_bytes,
    tailBytes: s.config.output_tail_bytes,
    masker: s.masker,
    ...(sink.stdoutFile ? { stdoutFile: sink.stdoutFile } : {}),
    ...(sink.stdoutFile && s.adapter.stderrWithResults ? { stderrToStdoutFile: true } : {}),
    ...(s.logsDir ? { logFile: `${s.logsDir}/attempt-${at.index}${at.tag}.log` } : {}),
  };
}

/** Where an attempt's process left its results, for finishAttempt. */
export interface RanProcess {
  record: AttemptRecord;
  sink: ReturnType<typeof resultSink>;
  eventsFile: string;
  cwd: string;
  /** Words the adapter added to the user's command (a runner refusing one is our doing). */
  addedWords: string[];
  /** Our event reporter was given the events file (it writes a line before any test can end). */
  eventsUsed: boolean;
}

/** An attempt's per-test results from its results file and events, or why it ran no test. */
export function finishAttempt(
  s: Session,
  spec: Pick<RunSpec, "tests" | "shuffled">,
  ran: RanProcess,
): AttemptRun {
  const { record, sink, eventsFile, cwd } = ran;
  // Read before fromEvents removes the file: our reporter loads before any test can start, so an
  // empty or absent file means none did.
  const nothingStarted = ran.eventsUsed && isEmpty(eventsFile);
  const collected = timeoutsOf(
    fromEvents(
      collectResults(s.adapter, sink, cwd, s.junitGlob, s.parseContext),
      // Without our reporter there is no file to read or remove.
      ran.eventsUsed ? eventsFile : null,
      record,
      cwd,
      s.adapter,
      spec.shuffled,
    ),
    record,
  );
  const wanted = new Set(spec.tests);
  const results: AttemptRun["results"] =
    collected.ok && spec.tests.length > 0
      ? { ok: true, tests: collected.tests.filter((t) => wanted.has(t.id)) }
      : collected;
  const diagnosed = diagnoseNoTests(s.adapter, record, results, ran.addedWords, spec.tests, nothingStarted);
  // The reason quotes the output ("Preset ./x not found in /tmp/flaky-detector-slot-…"): name the
  // repository's paths, not the slot's.
  const noTests = diagnosed && { ...diagnosed, reason: pathsRelativeIn(cwd)(diagnosed.reason) };
  if (noTests) return { record: { ...record, outcome: "errored", error: noTests.reason }, results, noTests };
  return { record, results };
}

/**
 * What the event reporter's lines add to the results file (docs/design/events.md):
 * - No results file (the process died before writing it): the events are the account. Tests that
 *   ended count with their outcome; the one that was running crashed (or timed out); the ones
 *   after it did not run. Without events the attempt counts for no test.
 * - A results file with a file that did not finish (a jest or vitest worker that died is reported
 *   as a failure of its file, its tests pending or absent): the test the events say was running in
 *   that file crashed, and replaces the file's finding; tests of that file that ended before count
 *   with their outcome.
 * - A complete results file of a shuffled attempt: the events give the order the tests ran in,
 *   which vitest's json report does not (it lists tests as declared, whatever order ran them).
 */
function fromEvents(
  collected: Collected,
  eventsFile: string | null,
  record: AttemptRecord,
  cwd: string,
  adapter: FrameworkAdapter,
  shuffled: boolean,
): Collected {
  if (eventsFile === null) return collected;
  const incomplete = !collected.ok || collected.tests.some(isFileFailure);
  if (collected.ok && !incomplete && shuffled && record.outcome !== "cancelled") {
    const order = readEvents(eventsFile)?.startOrder;
    return order ? { ok: true, tests: inRunOrder(collected.tests, order) } : collected;
  }
  // A complete results file is the account: the events are not even read.
  if (!incomplete || record.outcome === "cancelled") {
    rmSync(eventsFile, { force: true });
    return collected;
  }
  const events = readEvents(eventsFile);
  if (events === null) return collected;
  return withEvents(collected, events, record, cwd, adapter);
}

/**
 * A results file that is missing or did not finish, completed from the events (fromEvents above);
 * also each repetition's own results file of a repeating jest process (repeat.ts).
 */
export function withEvents(
  collected: Collected,
  events: TestEvents,
  record: AttemptRecord,
  cwd: string,
  adapter: FrameworkAdapter,
): Collected {
  const died = record.timedOut ? ("timedOut" as const) : ("crashed" as const);
  const crashed = (r: TestEvents["running"][number], how: string): ParsedTest => ({
    id: r.id,
    name: r.name || r.id,
    file: repoRelativeFile(r.file, cwd),
    status: "failed",
    message: how,
    durationMs: null,
    died,
  });
  const ended = withRelativePaths(events.ended, cwd);
  if (!collected.ok) {
    if (ended.length === 0 && events.running.length === 0) return collected;
    const how = diedWhileRunning(record);
    return {
      ok: true,
      tests: distinguishDuplicates([...ended, ...events.running.map((r) => crashed(r, how))], adapter),
    };
  }
  const runningIn = new Map<string, TestEvents["running"]>();
  for (const r of events.running) {
    const file = repoRelativeFile(r.file, cwd);
    if (file !== null) runningIn.set(file, [...(runningIn.get(file) ?? []), r]);
  }
  const reported = new Set(collected.tests.map((t) => t.id));
  const tests: ParsedTest[] = [];
  for (const t of collected.tests) {
    const running = isFileFailure(t) && t.file !== null ? runningIn.get(t.file) : undefined;
    if (!running) {
      tests.push(t);
      continue;
    }
    const why =
      (t.message ?? "")
        .split("\n")
        .find((l) => l.trim() !== "")
        ?.trim() ?? "";
    const how = record.timedOut
      ? TIMED_OUT
      : `crashed: the process running ${t.file} died while this test ran${why ? ` (${why})` : ""}`;
    for (const r of running) tests.push(crashed(r, how));
    for (const e of ended) if (e.file === t.file && !reported.has(e.id)) tests.push(e);
  }
  return { ok: true, tests: distinguishDuplicates(tests, adapter) };
}

function readEvents(eventsFile: string): TestEvents | null {
  try {
    return parseTestEvents(readFileSync(eventsFile, "utf8"));
  } catch {
    return null;
  } finally {
    rmSync(eventsFile, { force: true });
  }
}

/**
 * The results in the order their tests started. Only when every test has a start event: a partial
 * account would move the tests it names ahead of the ones it does not, an order that never ran.
 */
export function inRunOrder(tests: readonly ParsedTest[], startOrder: readonly string[]): ParsedTest[] {
  const rank = new Map(startOrder.map((id, i) => [id, i] as const));
  const base = (t: ParsedTest) => rank.get(t.id.replace(OCCURRENCE, ""));
  if (tests.some((t) => t.kind !== "collection" && base(t) === undefined)) return [...tests];
  // Stable, so tests sharing an id ("x", "x [2]") keep their order; a file's finding (no start) leads.
  return [...tests].sort((a, b) => (base(a) ?? -1) - (base(b) ?? -1));
}

/** "name [2]", the second test of that name (results.ts distinguishDuplicates). */
const OCCURRENCE = / \[\d+\]$/;

/** A file's own failure (a dead worker, an import error) reported in place of its tests. */
function isFileFailure(t: ParsedTest): boolean {
  return t.kind === "collection" && t.status === "failed";
}

/**
 * A parser that saw a test running when the stream ended (go's test2json) reports it as crashed;
 * when our own timeout killed the attempt, it timed out.
 */
function timeoutsOf(collected: Collected, record: AttemptRecord): Collected {
  if (!collected.ok || !record.timedOut) return collected;
  return {
    ok: true,
    tests: collected.tests.map((t) =>
      t.died === "crashed"
        ? {
            ...t,
            died: "timedOut",
            message: TIMED_OUT,
          }
        : t,
    ),
  };
}

/** The failure message of the test that was running when our per-attempt timeout killed the attempt. */
export const TIMED_OUT = "timed out: the attempt was killed at the per-attempt timeout while this test ran";

/** The failure message of a test that was running when its process died or was killed. */
export function diedWhileRunning(record: AttemptRecord): string {
  return record.timedOut
    ? TIMED_OUT
    : `crashed: the process ${record.signal ? `was killed by ${record.signal}` : `exited with ${record.exitCode}${signalBehind(record.exitCode)}`} while this test ran`;
}

/** A wrapper (npx, a shell) exits 128 + n when its child died by signal n: name it. */
export function signalBehind(code: number | null): string {
  if (code === null || code <= 128 || code > 128 + 64) return "";
  const name = Object.entries(osConstants.signals).find(([, n]) => n === code - 128)?.[0];
  return name ? ` (${name} in a child process)` : "";
}

/** PYTHONPATH (and the like) from an adapter go in front of the user's, not instead of it. */
function withPathsPrepended(env: Record<string, string>, base: NodeJS.ProcessEnv): Record<string, string> {
  const out = { ...env };
  for (const name of ["PYTHONPATH", "NODE_PATH"]) {
    const mine = env[name];
    const theirs = base[name];
    if (mine !== undefined && theirs) out[name] = `${mine}${delimiter}${theirs}`;
  }
  return out;
}

/** Words of the attempt's command line that the adapter added to the user's. */
export function addedWords(user: readonly string[], prepared: readonly string[]): string[] {
  const left = [...user];
  return prepared.filter((w) => {
    const i = left.indexOf(w);
    if (i < 0) return true;
    left.splice(i, 1);
    return false;
  });
}

export function withTmpDir(env: NodeJS.ProcessEnv, dir: string | undefined): NodeJS.ProcessEnv {
  return dir === undefined ? env : { ...env, TMPDIR: dir, TMP: dir, TEMP: dir };
}

/**
 * Fold a main-phase attempt into the per-test tallies; returns its per-test summary for the report,
 * with the order its tests ran in when `withOrder` (a --shuffle job: declared and shuffled orders
 * are compared, and each attempt's order is what a developer replays). `reimports`: the framework's
 * repetitions import the test files again (vitest's new workers, adapter.repeats.workers).
 */
export function foldAttempt(
  agg: TestAggregator,
  run: AttemptRun,
  shuffled: boolean,
  withOrder = false,
  focus?: readonly string[],
  reimports = false,
): ReportAttempt["tests"] {
  if (!run.results.ok || run.record.outcome === "cancelled" || run.record.outcome === "errored") return null;
  const p = run.record.process;
  agg.add(
    {
      index: run.record.index,
      seed: run.record.seed,
      shuffled,
      laterInProcess: p !== undefined && run.record.index > p.first,
      reimports,
    },
    run.results.tests,
    focus,
  );
  const failed: string[] = [];
  let passed = 0;
  let skipped = 0;
  for (const t of run.results.tests) {
    if (t.status === "failed") failed.push(t.id);
    else if (t.status === "passed") passed++;
    else skipped++;
  }
  const counts = { passed, failed, skipped, ...(focus ? { focus: [...focus] } : {}) };
  if (!withOrder) return counts;
  const order = run.results.tests
    .filter((t) => t.kind !== "collection" && t.status !== "skipped")
    .map((t) => t.id);
  return { ...counts, order };
}
