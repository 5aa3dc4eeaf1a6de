import { type SeverityThresholds, severityOf, verdictOf } from "./classify.js";
import { rateInterval } from "./intervals.js";
import type { AttemptOutcome, StopReason, Summary, TestResult } from "./report.js";

export interface SummarizeOptions {
  confidence: number;
  /** A failing command is called broken only once its pass rate is bounded below this. */
  minDetectableRate: number;
  thresholds: SeverityThresholds;
  budget: number;
  stopReason: StopReason;
}

/** Command-level result of a job: counts, rate, interval, severity, verdict and its sentence. */
export function summarize(outcomes: readonly AttemptOutcome[], opts: SummarizeOptions): Summary {
  let passed = 0;
  let failed = 0;
  let timeouts = 0;
  let errored = 0;
  for (const o of outcomes) {
    if (o === "passed") passed++;
    else if (o === "failed") failed++;
    else if (o === "timedOut") {
      failed++;
      timeouts++;
    } else errored++;
  }
  const n = passed + failed;
  const failureRate = n === 0 ? 0 : failed / n;
  const interval = rateInterval(failed, n, opts.confidence);
  const verdict = verdictOf(passed, failed);
  return {
    attempts: outcomes.length,
    passedAttempts: passed,
    failedAttempts: failed,
    timeouts,
    erroredAttempts: errored,
    failureRate,
    interval,
    confidence: opts.confidence,
    severity: n === 0 ? "none" : severityOf(failureRate, opts.thresholds),
    verdict,
    statement: statementOf(verdict, {
      passed,
      failed,
      timeouts,
      errored,
      interval,
      confidence: opts.confidence,
      minDetectableRate: opts.minDetectableRate,
    }),
    stoppedEarly: opts.stopReason !== "budget" || outcomes.length < opts.budget,
    stopReason: opts.stopReason,
    budget: opts.budget,
    tests: null,
    attemptsWithoutResults: 0,
  };
}

const RANK = { none: 0, low: 1, medium: 2, high: 3, critical: 4 } as const;

/**
 * With per-test results the job's verdict and severity come from its tests: broken beats flaky
 * (a failing test is the first thing to fix), flaky beats stable; the severity is the worst test's.
 * The rate and interval stay the command's.
 */
export function withTests(
  summary: Summary,
  tests: readonly TestResult[],
  ignored: number,
  /** Ids the job was asked to rerun that ran in no attempt: the answer is incomplete. */
  notRerun: readonly string[] = [],
): Summary {
  const counts = { total: tests.length, stable: 0, flaky: 0, failing: 0, error: 0, skipped: 0, ignored };
  let worst: Summary["severity"] = "none";
  for (const t of tests) {
    counts[t.verdict]++;
    if (RANK[t.severity] > RANK[worst]) worst = t.severity;
  }
  const ran = counts.stable + counts.flaky + counts.failing > 0;
  // A requested test we could not rerun makes the whole answer "error": a stable or failing
  // headline would claim something about a test nobody measured.
  const verdict: Summary["verdict"] =
    notRerun.length > 0
      ? "error"
      : !ran
        ? summary.verdict
        : counts.failing > 0
          ? "failing"
          : counts.flaky > 0
            ? "flaky"
            : "stable";
  const parts = (["flaky", "failing", "stable", "skipped", "error"] as const)
    .filter((k) => counts[k] > 0)
    .map((k) => `${counts[k]} ${k === "error" ? "not run" : k}`);
  return {
    ...summary,
    tests: counts,
    verdict,
    severity: ran ? worst : summary.severity,
    statement: [
      notRerun.length > 0 ? `could not rerun ${couldNot(notRerun)}` : "",
      ran
        ? `${counts.total} test${counts.total === 1 ? "" : "s"}: ${parts.join(", ")}${ignored ? ` (${ignored} ignored)` : ""}`
        : notRerun.length > 0
          ? ""
          : summary.statement,
    ]
      .filter((p) => p !== "")
      .join("; "),
  };
}

function couldNot(ids: readonly string[]): string {
  const shown = ids.slice(0, 3).map((id) => JSON.stringify(id));
  const more = ids.length > 3 ? ` and ${ids.length - 3} more` : "";
  return `${ids.length} requested test${ids.length === 1 ? "" : "s"} (${shown.join(", ")}${more}): ${ids.length === 1 ? "it" : "they"} ran in no attempt`;
}

export function pct(x: number): string {
  const v = x * 100;
  return `${v < 10 && v !== 0 ? v.toFixed(1) : v.toFixed(v === 100 || v === 0 ? 0 : 1)}%`;
}

function statementOf(
  verdict: Summary["verdict"],
  s: {
    passed: number;
    failed: number;
    timeouts: number;
    errored: number;
    interval: [number, number];
    confidence: number;
    minDetectableRate: number;
  },
): string {
  const n = s.passed + s.failed;
  const conf = `${Math.round(s.confidence * 1000) / 10}%`;
  const runs = `${n} run${n === 1 ? "" : "s"}`;
  const timeouts = s.timeouts > 0 ? `, ${s.timeouts} of them timeouts` : "";
  // The bounds quoted are the interval's ends, so every report states the same numbers.
  switch (verdict) {
    case "stable":
      return `no failure in ${runs}: failure rate < ${pct(s.interval[1])} at ${conf} confidence`;
    case "flaky":
      return `failed ${s.failed} of ${runs}${timeouts}: ${pct(s.failed / n)} (${conf} CI ${pct(s.interval[0])}–${pct(s.interval[1])})`;
    case "failing":
      return 1 - s.interval[0] < s.minDetectableRate
        ? `failed all ${runs}${timeouts}: broken, not flaky (failure rate > ${pct(s.interval[0])} at ${conf} confidence)`
        : `failed all ${runs}${timeouts}: failure rate > ${pct(s.interval[0])} at ${conf} confidence (too few runs to rule out a pass rate up to ${pct(1 - s.interval[0])})`;
    case "error":
    case "skipped":
      return `no attempt could run (${s.errored} errored): an infrastructure problem, not a test result`;
  }
}
