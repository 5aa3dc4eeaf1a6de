import type { EventSink } from "../analysis/events.js";
import type { TestAggregator } from "../analysis/per-test.js";
import type { ReportAttempt } from "../analysis/report.js";
import { InfraError, UsageError } from "../errors.js";
import type { ParsedTest } from "../parsers/types.js";
import type { AttemptRecord } from "../runner/attempt.js";
import { type PoolResult, runPool } from "../runner/pool.js";
import { attemptSeed } from "../runner/seeds.js";
import { adviceFor, type NoTestDiagnosis } from "./diagnose.js";
import type { PreparedRun } from "./prepare.js";
import { RepetitionPlanner, runRepeated } from "./repeat.js";
import { type AttemptRun, foldAttempt, type HeldRun, holdWithResults, runWithResults } from "./session.js";

/** One main-phase attempt with what its framework reported, as a shard sends it back. */
export interface MainAttempt {
  record: AttemptRecord;
  shuffled: boolean;
  /** Parsed per-test results; null when the command has none or they could not be read. */
  tests: ParsedTest[] | null;
  /** Why an attempt that ran has no per-test results. */
  noResults: string | null;
  /** Why the attempt ran no test at all (it is then errored). */
  diagnosis?: NoTestDiagnosis | undefined;
  /** The open tests a focused attempt was asked to run; absent when it ran the whole command. */
  focus?: string[];
}

export interface AttemptRange {
  /** First attempt index (0 for a local run; a shard's offset otherwise). */
  first: number;
  count: number;
  jobSeed: number;
  signal?: AbortSignal;
  emit: EventSink;
  jobTimeoutMs: number | null;
  aggregator: TestAggregator;
  /** Gets one warning when an attempt passed but its results could not be read. */
  warnings: string[];
  /** Adaptive stopping: asked after every attempt (locally); a shard runs its whole range. */
  shouldStop?(finished: readonly AttemptRecord[]): boolean;
  /**
   * Focus (docs/design/stopping.md): at each of these attempt counts, once exactly that many
   * attempts are folded, `decide` names the tests later attempts run — the ones still open — or
   * null for the whole command. Attempts past a count wait for its decision, so which attempt runs
   * what depends on the job seed alone, never on the parallelism or on which attempt finished first.
   */
  focus?: { at: readonly number[]; decide(folded: number): string[] | null };
  /**
   * In-process repetition (docs/design/repeat.md): at most `max` attempts per process, no process
   * spanning one of `checkpoints` (counts of attempts, like focus's). Absent: one process each.
   */
  repeat?:
    | {
        max: number;
        checkpoints: readonly number[];
        /**
         * Asked at each checkpoint: a test that fails only after an earlier repetition in its process
         * (its id), and from then on every attempt gets its own process, so it is measured as CI runs it.
         */
        keepsState?(): string | undefined;
      }
    | undefined;
}

export interface AttemptsOutcome {
  pool: PoolResult;
  runs: Map<number, MainAttempt>;
  attemptTests: Map<number, ReportAttempt["tests"]>;
  shuffledSeeds: Set<number>;
  withoutResults: number;
}

/** With --shuffle, odd attempts run shuffled and even ones in the declared order (orderDependent). */
export function isShuffledAttempt(shuffle: boolean, index: number): boolean {
  return shuffle && index % 2 === 1;
}

/** The error of a job in which no attempt ran any test, with the cause read from the runs and the fix. */
function noTestsError(
  records: readonly AttemptRecord[],
  runs: ReadonlyMap<number, MainAttempt>,
  p: PreparedRun,
): InfraError | UsageError {
  const first = [...runs.values()].find((r) => r.diagnosis)?.diagnosis;
  if (!first) {
    return new InfraError(
      "E_ALL_ERRORED",
      `every attempt errored; none ran: ${records[0]?.error ?? "spawn failed"}`,
    );
  }
  if (p.requested.length > 0 && (first.kind === "no-tests" || first.kind === "silent")) {
    return new UsageError(
      "E_TEST_NOT_FOUND",
      `--test/--from-junit: no attempt ran any of the requested tests (${p.requested
        .slice(0, 5)
        .map((t) => JSON.stringify(t))
        .join(
          ", ",
        )}${p.requested.length > 5 ? ", …" : ""}): ${first.reason}; give ids as ${p.adapter.name} names its tests (the ids of a previous report's tests work)`,
    );
  }
  return new InfraError(
    first.ourFlag ? "E_FLAG_REFUSED" : "E_NO_TESTS_RAN",
    `no test ran in any of ${records.length} attempt(s): ${first.reason}. ${capitalize(adviceFor(first, p.adapter))}`,
  );
}

function allTimedOut(attempts: number, timeout: string, runs: ReadonlyMap<number, MainAttempt>): InfraError {
  const running = new Map<string, number>();
  for (const m of runs.values()) {
    for (const t of m.tests ?? []) {
      if (t.status === "failed" && t.message?.startsWith("timed out:"))
        running.set(t.id, (running.get(t.id) ?? 0) + 1);
    }
  }
  const [top, count] = [...running].sort((a, b) => b[1] - a[1])[0] ?? [];
  const at =
    top === undefined
      ? ""
      : `; the test running when it was killed was ${JSON.stringify(top)} in ${count} of them`;
  return new InfraError(
    "E_ALL_TIMED_OUT",
    `every attempt (${attempts}) was stopped by the per-attempt timeout of ${timeout} before the tests finished${at}. This is no verdict: the suite takes longer than that here, or a test hangs. Raise --timeout (timeout: in .flaky-detector.yml) above the suite's duration, or rerun only the tests in question with --test`,
  );
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/**
 * The main phase over attempt indices [first, first + count): seeds and shuffling are functions of
 * the job seed and the index, so a shard computes exactly what a local run would for its range.
 * Throws E_ALL_ERRORED when no attempt could even start.
 */
export async function runAttempts(p: PreparedRun, r: AttemptRange): Promise<AttemptsOutcome> {
  const { config } = p.session;
  const out: AttemptsOutcome = {
    pool: { attempts: [], stopReason: "budget" },
    runs: new Map(),
    attemptTests: new Map(),
    shuffledSeeds: new Set(),
    withoutResults: 0,
  };
  // Attempts are folded into the tallies in index order, not as they finish, and the stopping rule
  // looks at attempts first..first+n-1 exactly: the same job seed then stops after the same
  // attempts with the same verdicts at any parallelism (docs/design/stopping.md).
  const done = new Map<number, { run: AttemptRun; shuffled: boolean; focus: string[] | undefined }>();
  // Focus decisions by attempt count, and the attempts waiting for one.
  const focusAt = [...(r.focus?.at ?? [])].filter((n) => n > 0 && n < r.count).sort((a, b) => a - b);
  const decisions = new Map<number, string[] | null>();
  // A focused attempt that ran none of its tests (ids the filter cannot select): focus stops.
  let focusFailed = false;
  const waiting = new Map<number, (() => void)[]>();
  const decided = (n: number) => {
    for (const wake of waiting.get(n) ?? []) wake();
    waiting.delete(n);
  };
  const focusFor = async (i: number): Promise<string[] | undefined> => {
    const n = focusAt.filter((c) => c <= i).at(-1);
    if (n === undefined) return undefined;
    if (!decisions.has(n) && decidedAt === undefined)
      await new Promise<void>((wake) => waiting.set(n, [...(waiting.get(n) ?? []), wake]));
    return decisions.get(n) ?? undefined;
  };
  let nextFold = r.first;
  let decidedAt: number | undefined;
  const prefix: AttemptRecord[] = [];
  const fold = (index: number) => {
    const entry = done.get(index);
    if (!entry) return;
    done.delete(index);
    const { run, shuffled, focus } = entry;
    if (focus && !focusFailed && run.record.outcome !== "cancelled" && run.results.ok) {
      const got = new Set(run.results.tests.map((t) => t.id));
      if (!focus.some((id) => got.has(id))) {
        focusFailed = true;
        r.warnings.push(
          `attempt ${index} was asked to run only the tests still open (${focus.length}) and ran none of them; later attempts run the whole command (--no-focus does so from the start)`,
        );
      }
    }
    const ran = run.record.outcome !== "cancelled" && run.record.outcome !== "errored";
    if (ran && p.adapter.results !== "none") {
      out.attemptTests.set(
        index,
        foldAttempt(r.aggregator, run, shuffled, config.shuffle, focus, p.adapter.repeats?.workers),
      );
    }
    if (run.record.outcome !== "cancelled") prefix.push(run.record);
  };
  const advance = () => {
    while (decidedAt === undefined && done.has(nextFold)) {
      fold(nextFold);
      nextFold++;
      if (r.shouldStop && prefix.length > 0 && r.shouldStop(prefix)) decidedAt = nextFold;
      const folded = nextFold - r.first;
      if (planner.repeating && r.repeat?.keepsState && r.repeat.checkpoints.includes(folded)) {
        const id = r.repeat.keepsState();
        if (id !== undefined) {
          planner.stopRepeating();
          r.warnings.push(
            `${id} fails only after an earlier repetition in the same process; attempts from about ${folded} on ran one process each, so it is measured as CI runs it`,
          );
        }
      }
      if (r.focus && decidedAt === undefined && focusAt.includes(folded)) {
        decisions.set(folded, focusFailed ? null : r.focus.decide(folded));
        decided(folded);
      }
      // After the focus decision: a slot waiting for the state check at this count may start.
      if (r.repeat?.checkpoints.includes(folded)) decided(folded);
    }
    // A job that stopped runs nothing more: wake every waiting attempt (the pool stops it).
    if (decidedAt !== undefined) for (const n of [...waiting.keys()]) decided(n);
  };

  const finish = (index: number, run: AttemptRun, shuffled: boolean, focus: string[] | undefined) => {
    const ran = run.record.outcome !== "cancelled" && run.record.outcome !== "errored";
    out.runs.set(index, {
      diagnosis: run.noTests,
      record: run.record,
      shuffled,
      tests: ran && run.results.ok ? run.results.tests : null,
      noResults: ran && !run.results.ok && p.adapter.results !== "none" ? run.results.reason : null,
      ...(focus ? { focus } : {}),
    });
    done.set(index, { run, shuffled, focus });
  };
  const planner = new RepetitionPlanner(
    r.count,
    r.repeat?.checkpoints ?? [],
    p.parallelism,
    r.repeat && !config.shuffle ? r.repeat.max : 1,
  );
  // Each slot starts its next attempt's process while the current one runs, and lets it go when
  // the slot is free (docs/design/prestart.md): the fork no longer sits between two attempts.
  // Only for one process per attempt whose inputs are already known: focus decided, not repeating.
  const held = new Map<
    number,
    { group: { start: number; size: number }; focus: string[] | undefined; run: HeldRun | undefined }
  >();
  const holdNext = (slot: number) => {
    if (planner.repeating || decidedAt !== undefined || held.has(slot)) return;
    if (r.focus) {
      const n = focusAt.filter((c) => c <= planner.handedOut).at(-1);
      if (n !== undefined && !decisions.has(n)) return;
    }
    const group = planner.next();
    if (!group) return;
    const index = r.first + group.start;
    const focus = r.focus ? (decisionFor(group.start) ?? undefined) : undefined;
    held.set(slot, {
      group,
      focus,
      run: holdWithResults(p.session, {
        index,
        slot,
        seed: attemptSeed(r.jobSeed, index, config.random_seed_range),
        shuffled: isShuffledAttempt(config.shuffle, index),
        tests: focus ?? p.requested,
      }),
    });
  };
  // While processes repeat attempts, the state check at a checkpoint decides before any process
  // starts past it: otherwise a free slot takes the next group first, and a test found keeping
  // state is still measured from repetitions (the warning said "one process each" for none).
  const stateChecked = (): Promise<void> | undefined => {
    if (!planner.repeating || !r.repeat?.keepsState || decidedAt !== undefined) return undefined;
    const c = planner.handedOut;
    if (c === 0 || c >= r.count || !r.repeat.checkpoints.includes(c) || nextFold - r.first >= c)
      return undefined;
    return new Promise<void>((wake) => waiting.set(c, [...(waiting.get(c) ?? []), wake]));
  };
  const decisionFor = (i: number) => {
    const n = focusAt.filter((c) => c <= i).at(-1);
    return n === undefined ? null : (decisions.get(n) ?? null);
  };
  try {
    out.pool = await runPool({
      // An upper bound: each pool job takes the planner's next group, none once all are handed out.
      total: r.count,
      untilEmpty: true,
      attempts: r.count,
      parallelism: p.parallelism,
      jobTimeoutMs: r.jobTimeoutMs,
      emit: r.emit,
      ...(p.adapter.results !== "none" ? { testsSoFar: () => r.aggregator.soFar() } : {}),
      ...(r.signal ? { signal: r.signal } : {}),
      ...(r.shouldStop ? { shouldStop: () => decidedAt !== undefined, abortOnStop: true } : {}),
      run: async (_g, slot, signal) => {
        let ahead = held.get(slot);
        held.delete(slot);
        const checking = ahead ? undefined : stateChecked();
        if (checking) await checking;
        let group = ahead?.group ?? planner.next();
        const other = group ? undefined : [...held.entries()][0];
        if (other) {
          // Nothing left to hand out, but another slot holds an attempt behind its running one:
          // run it here now (its held process never ran) rather than leave this slot idle.
          held.delete(other[0]);
          other[1].run?.drop();
          ahead = { ...other[1], run: undefined };
          group = ahead.group;
        }
        if (!group) return [];
        const focus = ahead ? ahead.focus : r.focus ? await focusFor(group.start) : undefined;
        if (group.size > 1) {
          const reps = Array.from({ length: group.size }, (_, j) => {
            const index = r.first + group.start + j;
            return { index, seed: attemptSeed(r.jobSeed, index, config.random_seed_range) };
          });
          const { runs, processMs } = await runRepeated(p.session, {
            slot,
            reps,
            tests: focus ?? p.requested,
            signal,
          });
          planner.observe(
            processMs,
            runs
              .filter((x) => x.record.outcome === "passed" || x.record.outcome === "failed")
              .map((x) => x.record.durationMs),
          );
          for (const [j, run] of runs.entries())
            finish((reps[j] as { index: number }).index, run, false, focus);
          advance();
          return runs.map((x) => x.record);
        }
        const index = r.first + group.start;
        const seed = attemptSeed(r.jobSeed, index, config.random_seed_range);
        const shuffled = isShuffledAttempt(config.shuffle, index);
        const running =
          ahead?.run?.run(signal) ??
          runWithResults(p.session, { index, slot, seed, shuffled, tests: focus ?? p.requested, signal });
        // Once every slot has started (the pool starts them in one go), while this attempt runs.
        let current = true;
        setImmediate(() => {
          if (current && !signal.aborted) holdNext(slot);
        });
        const run = await running;
        current = false;
        finish(index, run, shuffled, focus);
        advance();
        return run.record;
      },
    });
  } finally {
    // Held attempts of a job that stopped never ran: they are not part of it.
    for (const ahead of held.values()) ahead.run?.drop();
    held.clear();
  }
  if (decidedAt === undefined) {
    // Attempts are launched in index order, so what ran is a prefix: fold whatever is left.
    for (const index of [...done.keys()].sort((a, b) => a - b)) fold(index);
  } else {
    // Attempts past the decision point ran (or were stopped) only because slots were busy: they
    // are not part of this job, exactly as if it had run at parallelism 1.
    const cut = decidedAt;
    out.pool.attempts = out.pool.attempts.filter((a) => a.index < cut);
    for (const index of [...out.runs.keys()]) if (index >= cut) out.runs.delete(index);
  }
  let warnedNoResults = false;
  for (const [index, m] of [...out.runs].sort((a, b) => a[0] - b[0])) {
    if (m.shuffled) out.shuffledSeeds.add(m.record.seed);
    if (m.noResults === null) continue;
    out.withoutResults++;
    if (m.record.outcome === "passed" && !warnedNoResults) {
      warnedNoResults = true;
      r.warnings.push(`attempt ${index} passed but its results could not be read: ${m.noResults}`);
    }
  }
  const records = out.pool.attempts;
  // Nothing ran at all: an infrastructure or usage error, never test failures and never a verdict.
  if (records.length > 0 && records.every((a) => a.outcome === "errored")) {
    throw noTestsError(records, out.runs, p);
  }
  // A suite killed by our own timeout every time has not been measured: no verdict, and the fix.
  const ran = records.filter((a) => a.outcome !== "errored");
  if (p.adapter.results !== "none" && ran.length > 0 && ran.every((a) => a.outcome === "timedOut")) {
    throw allTimedOut(ran.length, p.session.timeout.describe(), out.runs);
  }
  // Nothing but import errors, every time: the tests were never reached.
  const findings = r.aggregator.list();
  if (r.aggregator.onlyCollectionErrors && findings.every((t) => t.failures === t.attempts)) {
    const first = findings[0]?.firstFailure?.message.split("\n")[0] ?? "collection error";
    throw new InfraError(
      "E_COLLECTION",
      `no test ran: ${findings.map((t) => t.file ?? t.id).join(", ")} could not be collected in any attempt (${first}). Run the command once by hand to see the error; an import that fails every time is broken, not flaky`,
    );
  }
  const leaky = records.filter((a) => (a.escapedProcesses ?? 0) > 0);
  if (leaky.length > 0) {
    const n = leaky.reduce((sum, a) => sum + (a.escapedProcesses ?? 0), 0);
    r.warnings.push(
      `${leaky.length} attempt(s) left ${n} process(es) running outside their process group (setsid or a daemonizing fork), first in attempt ${leaky[0]?.index}; they were killed. A test that starts servers should stop them, or they outlive the run in CI too.`,
    );
  }
  return out;
}
