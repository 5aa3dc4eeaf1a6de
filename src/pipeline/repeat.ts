import { readFileSync, rmSync } from "node:fs";
import type { FrameworkAdapter } from "../frameworks/index.js";
import { type Repetition, splitRepetitions, type TestEvents } from "../parsers/events.js";
import type { ParsedTest } from "../parsers/types.js";
import type { AttemptRecord } from "../runner/attempt.js";
import { SEED_VARIABLES } from "../runner/attempt-env.js";
import { type Collected, distinguishDuplicates, repoRelativeFile, withRelativePaths } from "./results.js";
import {
  type AttemptRun,
  addedWords,
  diedWhileRunning,
  finishAttempt,
  launch,
  prepareProcess,
  type Session,
  signalBehind,
  TIMED_OUT,
  withEvents,
} from "./session.js";

/**
 * In-process repetition (docs/design/repeat.md): several attempts in one process of a framework that
 * can repeat its tests (`adapter.repeats`). Each repetition is its own attempt — its index, its seed,
 * its per-test results from the events between its repetition lines — so the tallies, the stopping
 * rule and the report count attempts exactly as with one process each. A repetition the process
 * died in counts like an attempt that died; the ones it never reached ran no test (errored), never
 * a failure.
 */
export interface RepeatSpec {
  slot: number;
  reps: readonly { index: number; seed: number }[];
  tests: readonly string[];
  signal: AbortSignal;
}

/**
 * The attempts of `spec.reps`, run in one process; when a process dies (a crash, the per-attempt
 * timeout) the repetitions it did not reach run in a new one, so a crash costs the attempt it
 * happened in and no other. Also the processes' whole wall time (start-ups included).
 */
export async function runRepeated(
  s: Session,
  spec: RepeatSpec,
): Promise<{ runs: AttemptRun[]; processMs: number }> {
  const runs: AttemptRun[] = [];
  let processMs = 0;
  let left = spec.reps;
  while (left.length > 0) {
    const one = await runProcess(s, { ...spec, reps: left });
    processMs += one.processMs;
    // A process that never reached its tests (an import error) is one attempt, like any process
    // per attempt; the attempts it was to repeat run in the next one.
    const used = Math.max(1, one.reached);
    runs.push(...one.runs.slice(0, used));
    if (used >= left.length || spec.signal.aborted) break;
    left = left.slice(used);
  }
  return { runs, processMs };
}

/** One process repeating `spec.reps`, and how many of them it reached. */
async function runProcess(
  s: Session,
  spec: RepeatSpec,
): Promise<{ runs: AttemptRun[]; processMs: number; reached: number }> {
  const first = spec.reps[0];
  if (!first) return { runs: [], processMs: 0, reached: 0 };
  const tag = `-x${spec.reps.length}`;
  const { cwd, sink, eventsFile, prepared } = prepareProcess(s, {
    ...first,
    slot: spec.slot,
    tag,
    shuffle: false,
    tests: spec.tests,
    repeat: spec.reps,
  });
  const perAttemptMs = s.timeout.ms;
  // The per-attempt timeout, once per repetition the process runs.
  const record = await launch(
    s,
    { ...first, slot: spec.slot, signal: spec.signal, tag },
    prepared,
    sink,
    perAttemptMs * spec.reps.length,
  );
  const process = { first: first.index, count: spec.reps.length };
  if (record.outcome === "cancelled")
    return {
      runs: spec.reps.map((r) => ({ record: { ...record, ...r }, results: cancelled })),
      processMs: 0,
      reached: 0,
    };
  const split = s.adapter.repeats?.split;
  const { before, repetitions } = split
    ? fromResults(s, split, sink.stdoutFile ?? sink.resultFile, spec.reps, cwd)
    : fromEvents(eventsFile);
  if (repetitions.length === 0) {
    // Never reached the test loop (an import or usage error): one attempt, read as any other; the
    // attempts it was to repeat are not reached (runRepeated runs them in a new process).
    const single = finishAttempt(
      s,
      { tests: spec.tests, shuffled: false },
      {
        record,
        sink,
        eventsFile,
        cwd,
        addedWords: addedWords(s.argv, prepared.argv),
        eventsUsed: prepared.env.FLAKY_DETECTOR_EVENTS !== undefined,
      },
    );
    s.timeout.observe(single.record);
    const why = `not run: the process meant to repeat attempts ${first.index}–${(spec.reps.at(-1) ?? first).index} in-process ended before its first repetition (${single.record.error ?? `exit ${record.exitCode}`})`;
    return {
      runs: [
        { ...single, record: { ...single.record, process } },
        ...spec.reps.slice(1).map((r) => notReached({ ...record, process }, r, why)),
      ],
      processMs: record.durationMs,
      reached: 0,
    };
  }
  const wanted = new Set(spec.tests);
  const last = repetitions.at(-1) as Repetition;
  const runs = spec.reps.map((r): AttemptRun => {
    const rep = repetitions.find((x) => x.attempt === r.index);
    if (!rep) {
      const died = describeEnd(record);
      return notReached(
        { ...record, process },
        r,
        `not run: the process repeating attempts ${first.index}–${(spec.reps.at(-1) ?? first).index} ${died} in attempt ${last.attempt}, before this one`,
      );
    }
    const all = testsOf(rep, before, record, cwd, s).filter((t) => wanted.size === 0 || wanted.has(t.id));
    // A framework's own repetitions (go) are timed per process only: its test times overlap
    // (subtests inside their parent, packages side by side), so they cannot be summed to a limit.
    // Nor are vitest's, whose test files run side by side in workers.
    const { tests, over } = withinLimit(
      all,
      rep.finished && !split && !s.adapter.repeats?.workers ? perAttemptMs : Number.POSITIVE_INFINITY,
    );
    const isLast = rep === last;
    const died = !rep.finished;
    const outcome: AttemptRecord["outcome"] =
      (died && record.timedOut) || over
        ? "timedOut"
        : tests.some((t) => t.status === "failed")
          ? "failed"
          : "passed";
    const rec: AttemptRecord = {
      ...record,
      index: r.index,
      seed: r.seed,
      outcome,
      timedOut: (died && record.timedOut) || over,
      exitCode: isLast ? record.exitCode : 0,
      signal: isLast ? record.signal : null,
      durationMs: rep.durationMs ?? record.durationMs,
      // The process's output once, on the attempt it ended in.
      output: isLast ? record.output : "",
      outputBytes: isLast ? record.outputBytes : 0,
      escapedProcesses: isLast ? (record.escapedProcesses ?? 0) : 0,
      process,
    };
    if (tests.length === 0) {
      return {
        record: { ...rec, outcome: "errored", error: "this repetition ran no test" },
        results: { ok: false, reason: "this repetition ran no test" },
      };
    }
    s.timeout.observe(rec);
    return { record: rec, results: { ok: true, tests } };
  });
  return { runs, processMs: record.durationMs, reached: repetitions.length };
}

/** Repetitions marked by our event reporter's lines (pytest's plugin). */
function fromEvents(eventsFile: string): { before: TestEvents; repetitions: Repetition[] } {
  let text = "";
  try {
    text = readFileSync(eventsFile, "utf8");
  } catch {
    // No events at all: read as a process that never reached its tests.
  }
  const split = splitRepetitions(text);
  // finishAttempt reads (and removes) the file itself when the process never reached a repetition.
  if (split.repetitions.length > 0) rmSync(eventsFile, { force: true });
  return split;
}

/**
 * Repetitions split out of the framework's own results (go's -json), the i-th for the i-th
 * attempt of the process. A test the process died in (no end in its repetition) is the running one.
 */
function fromResults(
  s: Session,
  split: NonNullable<NonNullable<FrameworkAdapter["repeats"]>["split"]>,
  file: string | null,
  reps: RepeatSpec["reps"],
  cwd: string,
): { before: TestEvents; repetitions: Repetition[] } {
  let text = "";
  try {
    if (file) text = readFileSync(file, "utf8");
  } catch {
    // No results: read as a process that never reached its tests (finishAttempt says why).
  }
  const before: TestEvents = { ended: [], running: [], collectErrors: [], startOrder: [] };
  const repetitions = split(text)
    .slice(0, reps.length)
    .map((part, i): Repetition => {
      let tests: ParsedTest[] = [];
      try {
        tests = s.adapter.parse(part.text, cwd, s.parseContext);
      } catch {
        // An unreadable repetition ran no test we can count (errored below).
      }
      const running = tests.filter((t) => t.died).map((t) => ({ id: t.id, name: t.name, file: t.file }));
      const rep = reps[i] as RepeatSpec["reps"][number];
      return {
        attempt: rep.index,
        seed: rep.seed,
        events: {
          ended: tests.filter((t) => !t.died),
          running,
          collectErrors: [],
          startOrder: tests.map((t) => t.id),
        },
        finished: running.length === 0,
        durationMs: part.durationMs,
      };
    });
  return { before, repetitions };
}

const cancelled: AttemptRun["results"] = { ok: false, reason: "cancelled" };

function notReached(record: AttemptRecord, r: { index: number; seed: number }, why: string): AttemptRun {
  return {
    record: {
      ...record,
      ...r,
      outcome: "errored",
      error: why,
      exitCode: null,
      signal: null,
      durationMs: 0,
      timedOut: false,
      output: "",
      outputBytes: 0,
      escapedProcesses: 0,
    },
    results: { ok: false, reason: why },
  };
}

function describeEnd(record: AttemptRecord): string {
  if (record.timedOut) return "was killed at the timeout";
  if (record.signal) return `was killed by ${record.signal}`;
  return `exited with ${record.exitCode}${signalBehind(record.exitCode)}`;
}

/**
 * A repetition's tests from its own results file (jest's --json, kept apart per run by our script),
 * read exactly as one attempt's file is, with the events naming the test a dead worker was running.
 * Null where there is none: a repetition the process died in wrote none.
 */
function fromOwnResults(
  rep: Repetition,
  record: AttemptRecord,
  cwd: string,
  s: Session,
): ParsedTest[] | null {
  if (!rep.results) return null;
  let text: string;
  try {
    text = readFileSync(rep.results, "utf8");
  } catch {
    return null;
  } finally {
    rmSync(rep.results, { force: true });
  }
  let collected: Collected;
  try {
    const parsed = withRelativePaths(s.adapter.parse(text, cwd, s.parseContext), cwd);
    collected = { ok: true, tests: distinguishDuplicates(parsed, s.adapter) };
  } catch {
    return null;
  }
  const merged = withEvents(collected, rep.events, { ...record, timedOut: false }, cwd, s.adapter);
  return merged.ok ? merged.tests : null;
}

/** A repetition's tests: those that ended, the one running when the process died, and files that failed to load. */
function testsOf(
  rep: Repetition,
  before: TestEvents,
  record: AttemptRecord,
  cwd: string,
  s: Session,
): ParsedTest[] {
  const own = rep.finished ? fromOwnResults(rep, record, cwd, s) : null;
  if (own) return own;
  const ended = rep.events.ended.map((t) => ({ ...t, file: repoRelativeFile(t.file, cwd) }));
  // A file that failed outside its tests in this repetition (vitest: an import error, a dead worker).
  const fileErrors = new Map(
    rep.events.collectErrors.map((c) => [repoRelativeFile(c.file, cwd) ?? c.file, c]),
  );
  // In a repetition the process finished, a test left running died with its own worker (vitest
  // runs each file in one); where tests run in the process itself, only the last can leave one.
  const workerDied = rep.finished && s.adapter.repeats?.workers === true;
  const running: ParsedTest[] =
    rep.finished && !workerDied
      ? []
      : rep.events.running.map((x) => {
          const file = repoRelativeFile(x.file, cwd);
          const why = firstLine(fileErrors.get(file ?? "")?.message);
          if (workerDied && file !== null) fileErrors.delete(file);
          return {
            id: x.id,
            name: x.name || x.id,
            file,
            status: "failed",
            message: workerDied
              ? `crashed: the process running ${file ?? x.id} died while this test ran${why ? ` (${why})` : ""}`
              : diedWhileRunning(record),
            durationMs: null,
            died: !workerDied && record.timedOut ? "timedOut" : "crashed",
          };
        });
  // A module that failed to import failed in every repetition (pytest --continue-on-collection-errors);
  // a vitest file, in the repetition that says so (its finding gives way to a test that crashed).
  const finding = (c: TestEvents["collectErrors"][number], message: (file: string) => string): ParsedTest => {
    const file = repoRelativeFile(c.file, cwd) ?? c.file;
    return {
      id: file,
      name: `collection of ${file}`,
      file,
      status: "failed",
      kind: "collection",
      message: message(file),
      durationMs: null,
    };
  };
  // Worded as the framework's own results word them (parsers/jest-json.ts for vitest).
  const collection = [
    ...before.collectErrors.map((c) => finding(c, () => `collection error: ${c.message}`)),
    ...[...fileErrors.values()].map((c) => finding(c, (f) => `${f} failed outside its tests: ${c.message}`)),
  ];
  return distinguishDuplicates([...collection, ...ended, ...running], s.adapter);
}

/**
 * How attempts [0, count) are grouped into processes, decided as slots ask for work:
 * - no process spans a checkpoint (the stopping rule and focus look there, and an attempt past one
 *   waits for its decision);
 * - an interval of L attempts between checkpoints is split over m processes, m from what the job
 *   has measured: one process when its repetitions take less than one process start-up
 *   (L × repetition time < start-up), more as the work grows, at most one per slot; before any
 *   process has finished, one per slot. Splitting a cheap interval would spend a start-up (pytest's
 *   is about a CPU-second) to save less wall time than that;
 * - at most `max` attempts per process.
 * The grouping depends on timing, so it can differ between runs of one job seed; what each attempt
 * runs and with which seed does not.
 */
export class RepetitionPlanner {
  private readonly edges: number[];
  private cursor = 0;
  private size = 1;
  private readonly startupMs: number[] = [];
  private readonly repMs: number[] = [];

  constructor(
    private readonly count: number,
    checkpoints: readonly number[],
    private readonly parallelism: number,
    private max: number,
  ) {
    this.edges = [...new Set([0, ...checkpoints.filter((c) => c > 0 && c < count), count])].sort(
      (a, b) => a - b,
    );
  }

  /** The next group of attempts, or null when all are handed out. */
  next(): { start: number; size: number } | null {
    if (this.cursor >= this.count) return null;
    const end = this.edges.find((e) => e > this.cursor) as number;
    if (this.edges.includes(this.cursor)) this.size = this.sizeFor(end - this.cursor);
    const group = { start: this.cursor, size: Math.min(this.size, end - this.cursor) };
    this.cursor += group.size;
    return group;
  }

  /** How many attempts have been handed out (the index of the next group's first). */
  get handedOut(): number {
    return this.cursor;
  }

  /** From the next group on, one process per attempt. */
  stopRepeating(): void {
    this.max = 1;
    this.size = 1;
  }

  /** Whether groups of more than one attempt may still be handed out. */
  get repeating(): boolean {
    return this.max > 1;
  }

  /** What a repeated process cost: its whole wall time and its repetitions' own. */
  observe(processMs: number, repetitionsMs: readonly number[]): void {
    if (repetitionsMs.length === 0) return;
    const work = repetitionsMs.reduce((a, b) => a + b, 0);
    this.startupMs.push(Math.max(1, processMs - work));
    this.repMs.push(work / repetitionsMs.length);
  }

  private sizeFor(length: number): number {
    if (this.max <= 1) return 1;
    const slots = Math.max(1, this.parallelism);
    let processes = slots;
    if (this.startupMs.length > 0) {
      const startup = median(this.startupMs);
      const rep = median(this.repMs);
      processes = Math.min(slots, Math.max(1, Math.ceil((length * rep) / startup)));
    }
    return Math.max(1, Math.min(this.max, Math.ceil(length / processes)));
  }
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** Most attempts per process with `repeat: auto`. */
export const AUTO_REPEAT = 20;

/**
 * Whether and how far this job repeats in-process: the framework must repeat (pytest through our
 * plugin, go through -count), pytest's event reporter must run (it marks the repetitions), the
 * order must be the declared one (a shuffled attempt's order is its own), and the command must not
 * refuse (repeatRefusal). `keepsState` names a test that fails only after an earlier repetition in
 * its process; the pool asks it at each checkpoint.
 */
export function repeatOf(
  s: Pick<Session, "config" | "adapter" | "argv" | "slotDirs">,
  checkpoints: readonly number[],
  keepsState?: () => string | undefined,
): { max: number; checkpoints: readonly number[]; keepsState?(): string | undefined } | undefined {
  const { config, adapter } = s;
  if (!adapter.repeats || config.shuffle || config.repeat === "off") return undefined;
  if (!adapter.repeats.split && !config.event_reporters) return undefined;
  const max = config.repeat === "auto" ? AUTO_REPEAT : config.repeat;
  if (max <= 1 || repeatRefusal(s) !== null) return undefined;
  return keepsState ? { max, checkpoints, keepsState } : { max, checkpoints };
}

const refusals = new WeakMap<object, string | null>();

/**
 * Why this job's command cannot repeat in-process although its framework can (go: a source reads
 * a seed variable, or the command sets -count), or null. Decided once per session, from the first
 * slot's copy, before any attempt.
 */
export function repeatRefusal(s: Pick<Session, "adapter" | "argv" | "slotDirs">): string | null {
  const refuses = s.adapter.repeats?.refuses;
  if (!refuses) return null;
  let why = refusals.get(s);
  if (why === undefined) {
    why = refuses(s.argv, s.slotDirs[0] ?? ".", [...SEED_VARIABLES, "ATTEMPT"]);
    refusals.set(s, why);
  }
  return why;
}

/**
 * The per-attempt timeout, applied to one repetition after the fact: a process of K attempts is
 * only killed at K times the limit, so a repetition that ran past the limit is read as an attempt
 * killed there — the test running when its time ran out timed out, the ones after it did not run.
 */
function withinLimit(tests: readonly ParsedTest[], limitMs: number): { tests: ParsedTest[]; over: boolean } {
  let elapsed = 0;
  for (const [i, t] of tests.entries()) {
    elapsed += t.durationMs ?? 0;
    if (elapsed > limitMs) {
      const killed: ParsedTest = { ...t, status: "failed", died: "timedOut", message: TIMED_OUT };
      return { tests: [...tests.slice(0, i), killed], over: true };
    }
  }
  return { tests: [...tests], over: false };
}

function firstLine(text: string | undefined): string {
  return (
    (text ?? "")
      .split("\n")
      .find((l) => l.trim() !== "")
      ?.trim() ?? ""
  );
}
