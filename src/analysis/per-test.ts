import type { ParsedTest } from "../parsers/types.js";
import { type SeverityThresholds, severityOf, verdictOf } from "./classify.js";
import { rateInterval } from "./intervals.js";
import type { TestResult } from "./report.js";

/** Running counts for one test across attempts. Pure data, updated as attempts finish. */
export interface TestTally {
  id: string;
  name: string;
  file: string | null;
  line: number | null;
  /** Attempts in which the test ran and passed or failed (skips and absences are not counted). */
  attempts: number;
  failures: number;
  /** Failures that were timeouts: the test's own, or the attempt killed at --timeout while it ran. */
  timeouts: number;
  /** Failures that were the process dying (a signal, an abnormal exit) while the test ran. */
  crashes: number;
  skipped: number;
  /**
   * Attempts with results in which the test did not appear: the attempt ended before reaching it
   * (a crash in an earlier test) or it was not selected. Filled in by `list()`.
   */
  notRun: number;
  failingSeeds: number[];
  firstFailure: { attempt: number; seed: number; message: string } | null;
  /** Runs and failures in shuffled attempts (only when --shuffle alternates orders). */
  shuffled: { attempts: number; failures: number };
  /**
   * Runs and failures in attempts that followed another attempt in the same process (in-process
   * repetition, docs/design/repeat.md); the rest ran first in a fresh process, as in CI.
   */
  laterInProcess: { attempts: number; failures: number };
  /** Failures a framework retried inside one attempt and then passed (Surefire flakyFailure). */
  innerReruns: number;
  /** Summed durations of the runs that reported one, and how many did. */
  timed: { ms: number; runs: number };
  /**
   * The tests that ran before it in its first failing shuffled attempt, in order (results list
   * tests in the order they ran): where a polluter search starts.
   */
  orderBefore?: RunOrder;
  /**
   * Where it ran in its first passing attempt: where the search for a state-setter starts (a test
   * that fails alone and passes only after another test). The attempt's order is shared by every
   * test that first passed in it, not copied per test.
   */
  firstPass?: { index: number; seed: number; shuffled: boolean; order: readonly string[]; position: number };
  /** A module's collection finding rather than a test (ParsedTest.kind). */
  collection?: boolean;
}

/** Tests that ran before one test in one attempt, and how to run that order again. */
export interface RunOrder {
  seed: number;
  shuffled: boolean;
  ids: string[];
}

/** The tests before it in its first passing attempt, in the order they ran. */
export function passBefore(t: TestTally): RunOrder | undefined {
  const p = t.firstPass;
  return p && { seed: p.seed, shuffled: p.shuffled, ids: [...new Set(p.order.slice(0, p.position))] };
}

const TIMEOUT_MESSAGE = /\b(timed? ?out|timeout|deadline exceeded)\b/i;

/** Failing seeds kept per test (the report lists them; replays take the first three). */
const MAX_FAILING_SEEDS = 50;

export class TestAggregator {
  private readonly tallies = new Map<string, TestTally>();
  /**
   * Failing attempts per test in attempt-index order, whatever order attempts finished in: the
   * seeds replayed and reported are then the same at any parallelism and across shards.
   */
  private readonly failing = new Map<string, { index: number; seed: number }[]>();
  /** Modules seen failing collection: every attempt with results counts for them. */
  private readonly collection = new Set<string>();
  /** Attempts folded with readable results (the denominator of collection findings). */
  private resultAttempts = 0;
  /** Attempts with results that ran first in their process (all of them without in-process repetition). */
  private freshAttempts = 0;
  /**
   * Focused attempts (pipeline/focus.ts), and per test how many of them selected it: a settled test
   * left out of a focused attempt did not fail to run there.
   */
  private focused = 0;
  private readonly selectedIn = new Map<string, number>();

  /**
   * Fold one attempt's parsed results in. Tests absent from `results` did not run: not counted.
   * `selected`: the tests a focused attempt was asked to run; the others were not left out by it.
   */
  add(
    attempt: {
      index: number;
      seed: number;
      shuffled: boolean;
      laterInProcess?: boolean;
      /** Each repetition imports the test files again (vitest), so each is news about them. */
      reimports?: boolean;
    },
    results: readonly ParsedTest[],
    selected?: readonly string[],
  ): void {
    if (selected) {
      this.focused++;
      for (const id of selected) this.selectedIn.set(id, (this.selectedIn.get(id) ?? 0) + 1);
    }
    const seen = new Set<string>();
    for (const r of results) {
      if (r.kind === "collection" && !this.collection.has(r.id) && !this.tallies.has(r.id)) {
        // A module first failing here imported fine in every earlier attempt (folded in index order).
        this.collection.add(r.id);
        this.tallies.set(r.id, { ...this.blank(r), attempts: this.freshAttempts });
      }
    }
    this.resultAttempts++;
    // Importing a module happens once per process (pytest): a repetition after the first in its
    // process (in-process repetition) says nothing new about it, either way.
    const fresh = !attempt.laterInProcess || attempt.reimports === true;
    if (fresh) this.freshAttempts++;
    for (const id of this.collection) {
      if (fresh && !results.some((r) => r.id === id)) {
        const t = this.tallies.get(id) as TestTally;
        t.attempts++;
        if (attempt.shuffled) t.shuffled.attempts++;
      }
    }
    // The attempt's order, built once and only if some test first passes here.
    let order: { ids: string[]; at: Map<string, number> } | undefined;
    const ran = () => {
      if (!order) {
        const ids = results.filter((x) => x.kind !== "collection" && x.status !== "skipped").map((x) => x.id);
        const at = new Map<string, number>();
        ids.forEach((id, n) => {
          if (!at.has(id)) at.set(id, n);
        });
        order = { ids, at };
      }
      return order;
    };
    for (const [i, r] of results.entries()) {
      // A test reported twice in one attempt (retries, parametrised duplicates) counts once: any failure fails it.
      if (seen.has(r.id)) {
        const t = this.tallies.get(r.id) as TestTally;
        if (r.status === "failed" && !this.failedIn(t.id, attempt.index)) this.fail(t, attempt, r);
        continue;
      }
      seen.add(r.id);
      let t = this.tallies.get(r.id);
      if (!t) {
        t = this.blank(r);
        this.tallies.set(r.id, t);
      }
      if (r.status === "skipped") {
        t.skipped++;
        continue;
      }
      t.attempts++;
      if (attempt.shuffled) t.shuffled.attempts++;
      if (attempt.laterInProcess) t.laterInProcess.attempts++;
      if (r.reruns && r.status === "passed") t.innerReruns += r.reruns.failed;
      if (r.durationMs !== null && r.durationMs >= 0) {
        t.timed.ms += r.durationMs;
        t.timed.runs++;
      }
      if (r.status === "failed") {
        this.fail(t, attempt, r);
        if (attempt.shuffled && t.orderBefore === undefined) {
          const before = results.slice(0, i).filter((x) => x.kind !== "collection" && x.status !== "skipped");
          t.orderBefore = { seed: attempt.seed, shuffled: true, ids: [...new Set(before.map((x) => x.id))] };
        }
      } else if (
        (t.firstPass === undefined || attempt.index < t.firstPass.index) &&
        r.kind !== "collection"
      ) {
        // The first by attempt index, whatever order attempts are folded in.
        const { ids, at } = ran();
        t.firstPass = {
          index: attempt.index,
          seed: attempt.seed,
          shuffled: attempt.shuffled,
          order: ids,
          position: at.get(r.id) ?? 0,
        };
      }
    }
  }

  private fail(
    t: TestTally,
    attempt: { index: number; seed: number; shuffled: boolean; laterInProcess?: boolean },
    r: ParsedTest,
  ): void {
    t.failures++;
    if (attempt.shuffled) t.shuffled.failures++;
    if (attempt.laterInProcess) t.laterInProcess.failures++;
    if (r.died === "crashed") t.crashes++;
    else if (r.died === "timedOut" || (r.message && TIMEOUT_MESSAGE.test(r.message.split("\n")[0] ?? "")))
      t.timeouts++;
    const list = this.failing.get(t.id) ?? [];
    let at = list.length;
    while (at > 0 && (list[at - 1] as { index: number }).index > attempt.index) at--;
    list.splice(at, 0, { index: attempt.index, seed: attempt.seed });
    this.failing.set(t.id, list);
    if (at < MAX_FAILING_SEEDS) t.failingSeeds = list.slice(0, MAX_FAILING_SEEDS).map((f) => f.seed);
    if (!t.firstFailure || attempt.index < t.firstFailure.attempt) {
      t.firstFailure = { attempt: attempt.index, seed: attempt.seed, message: r.message ?? "failed" };
    }
  }

  private blank(r: ParsedTest): TestTally {
    return {
      id: r.id,
      name: r.name,
      file: r.file,
      line: r.line ?? null,
      attempts: 0,
      failures: 0,
      timeouts: 0,
      crashes: 0,
      skipped: 0,
      notRun: 0,
      failingSeeds: [],
      firstFailure: null,
      shuffled: { attempts: 0, failures: 0 },
      laterInProcess: { attempts: 0, failures: 0 },
      innerReruns: 0,
      timed: { ms: 0, runs: 0 },
      ...(r.kind === "collection" ? { collection: true } : {}),
    };
  }

  /** Whether every tally is a collection finding (no test itself ever ran). */
  get onlyCollectionErrors(): boolean {
    return this.tallies.size > 0 && [...this.tallies.values()].every((t) => t.collection === true);
  }

  private failedIn(id: string, index: number): boolean {
    return (this.failing.get(id) ?? []).some((f) => f.index === index);
  }

  get(id: string): TestTally | undefined {
    return this.tallies.get(id);
  }

  /** Every tally, with `notRun` counted against the attempts that had results. */
  list(): TestTally[] {
    return [...this.tallies.values()].map((t) =>
      t.collection
        ? t
        : {
            ...t,
            notRun: Math.max(
              0,
              this.resultAttempts -
                (this.focused - (this.selectedIn.get(t.id) ?? 0)) -
                t.attempts -
                t.skipped,
            ),
          },
    );
  }

  get size(): number {
    return this.tallies.size;
  }

  /** For progress: tests that ran so far, those that failed some runs, those that failed every run. */
  soFar(): TestsSoFar {
    const out = { tests: 0, flaky: 0, failing: 0 };
    for (const t of this.tallies.values()) {
      if (t.attempts === 0) continue;
      out.tests++;
      if (t.failures === t.attempts) out.failing++;
      else if (t.failures > 0) out.flaky++;
    }
    return out;
  }
}

export interface TestsSoFar {
  tests: number;
  /** Failed some of their runs so far. */
  flaky: number;
  /** Failed every run so far. */
  failing: number;
}

export interface TestResultOptions {
  confidence: number;
  thresholds: SeverityThresholds;
  maxErrorLength: number;
  reproduce(t: TestTally): string;
}

/** Rate, interval, severity and verdict of one test: the same definitions as the command-level summary. */
export function testResultOf(t: TestTally, o: TestResultOptions): TestResult {
  const rate = t.attempts === 0 ? 0 : t.failures / t.attempts;
  const verdict =
    t.attempts === 0 && t.skipped > 0 ? "skipped" : verdictOf(t.attempts - t.failures, t.failures);
  const interval = rateInterval(t.failures, t.attempts, o.confidence);
  return {
    id: t.id,
    name: t.name,
    file: t.file,
    line: t.line,
    attempts: t.attempts,
    failures: t.failures,
    timeouts: t.timeouts,
    crashes: t.crashes,
    skipped: t.skipped,
    notRun: t.notRun,
    failureRate: rate,
    interval,
    severity: t.attempts === 0 ? "none" : severityOf(rate, o.thresholds),
    ...(verdict === "flaky" && severityOf(interval[0], o.thresholds) !== severityOf(interval[1], o.thresholds)
      ? { severitySpan: [severityOf(interval[0], o.thresholds), severityOf(interval[1], o.thresholds)] }
      : {}),
    verdict,
    bound:
      verdict === "stable"
        ? { kind: "upper", value: interval[1] }
        : verdict === "failing"
          ? { kind: "lower", value: interval[0] }
          : null,
    failingSeeds: t.failingSeeds,
    firstFailure: t.firstFailure
      ? {
          attempt: t.firstFailure.attempt,
          seed: t.firstFailure.seed,
          message: trim(t.firstFailure.message, o.maxErrorLength),
        }
      : null,
    reproduce: t.failures > 0 ? o.reproduce(t) : null,
    seedDeterministic: null,
    orderDependent: null,
    resourceSensitive: null,
    innerReruns: t.innerReruns,
    meanDurationMs: t.timed.runs > 0 ? Math.round(t.timed.ms / t.timed.runs) : null,
  };
}

export function trim(message: string, max: number): string {
  const m = message.trim();
  return m.length <= max ? m : `${m.slice(0, max - 1)}…`;
}

const SEVERITY_RANK = { critical: 4, high: 3, medium: 2, low: 1, none: 0 } as const;

/** Worst first: severity, then failure rate, then id (stable order for snapshots). */
export function sortTests(tests: TestResult[]): TestResult[] {
  return [...tests].sort(
    (a, b) =>
      SEVERITY_RANK[b.severity] - SEVERITY_RANK[a.severity] ||
      b.failureRate - a.failureRate ||
      (a.verdict === "error" ? 1 : 0) - (b.verdict === "error" ? 1 : 0) ||
      a.id.localeCompare(b.id),
  );
}
