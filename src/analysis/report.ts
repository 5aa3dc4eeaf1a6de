import type { Severity } from "../config/schema.js";
import type { FlakeCause } from "./cause.js";
import type { Verdict } from "./classify.js";

/** The Report model (DESIGN.md, schemaVersion 1). Reporters read this, never runner internals. */

export type AttemptOutcome = "passed" | "failed" | "timedOut" | "errored";
export type StopReason = "budget" | "adaptive" | "job-timeout" | "cancelled" | "errors";

export interface ReportAttempt {
  index: number;
  seed: number;
  slot: number;
  outcome: AttemptOutcome;
  exitCode: number | null;
  signal: string | null;
  durationMs: number;
  timedOut: boolean;
  /** With --shuffle: whether this attempt ran in a shuffled order. */
  shuffled?: boolean;
  /** Per-test counts when a framework adapter parsed results; null for a plain command. */
  tests: {
    passed: number;
    failed: string[];
    skipped: number;
    /**
     * With --shuffle: the tests that ran, in the order they ran (read from our event reporter where
     * the framework's results list them as declared). Absent without --shuffle.
     */
    order?: string[];
    /**
     * A focused attempt (adaptive stopping, docs/design/stopping.md): the tests still open that it
     * was asked to run; the others were settled. Absent when the attempt ran the whole command.
     */
    focus?: string[];
  } | null;
  /** Bounded head and tail of the attempt's output. */
  outputTail: string;
  outputBytes: number;
  error?: string;
  logFile?: string;
  /** Processes the attempt left running outside its process group (killed after it ended). */
  escapedProcesses?: number;
  /**
   * In-process repetition (docs/design/repeat.md): this attempt ran in one process with attempts
   * first … first + count − 1. Absent when the attempt had its own process.
   */
  process?: { first: number; count: number };
}

export interface Summary {
  /** Attempts that finished (passed, failed, timed out or errored). */
  attempts: number;
  passedAttempts: number;
  /** Failed attempts, timeouts included. */
  failedAttempts: number;
  timeouts: number;
  /** Attempts that could not run at all (spawn failure); they count for neither side. */
  erroredAttempts: number;
  /** failedAttempts / (passedAttempts + failedAttempts). */
  failureRate: number;
  interval: [number, number];
  confidence: number;
  severity: Severity;
  verdict: Verdict;
  /** One sentence a person can act on, e.g. "< 3.0% at 95% confidence after 100 runs". */
  statement: string;
  stoppedEarly: boolean;
  stopReason: StopReason;
  budget: number;
  /** Per-test counts by verdict; null for a plain command (no per-test results). */
  tests: TestCounts | null;
  /** Attempts whose framework results could not be read (crashed before writing them, unparseable). */
  attemptsWithoutResults: number;
}

export interface TestCounts {
  total: number;
  stable: number;
  flaky: number;
  failing: number;
  error: number;
  /** Tests reported only as skipped (pending, todo): nothing measured. */
  skipped: number;
  ignored: number;
}

export interface TestResult {
  id: string;
  name: string;
  file: string | null;
  line: number | null;
  /** Attempts in which the test ran (passed or failed); skips and absences are not counted. */
  attempts: number;
  failures: number;
  /** Failures that were timeouts (the test's own message, or the attempt killed while it ran). */
  timeouts: number;
  /** Failures that were the process dying (a signal, an abnormal exit) while this test ran. */
  crashes: number;
  /** Attempts that reported the test as skipped (pending, todo): counted for nothing. */
  skipped: number;
  /** Attempts with results in which the test did not run (ended before it, not selected): counted for nothing. */
  notRun: number;
  failureRate: number;
  interval: [number, number];
  severity: Severity;
  verdict: Verdict;
  /** The one-sided bound a stable ("upper") or failing ("lower") verdict rests on. */
  bound: { kind: "upper" | "lower"; value: number } | null;
  failingSeeds: number[];
  firstFailure: { attempt: number; seed: number; message: string } | null;
  /** One shell line that runs only this test with a failing seed. */
  reproduce: string | null;
  /** Seed replay: true when every replay of a failing seed failed again; null when not replayed. */
  seedDeterministic: boolean | null;
  /** --shuffle: failed only in shuffled orders; null without --shuffle. */
  orderDependent: boolean | null;
  /** Failures vanished in a confirmation pass at parallelism 1; null when not checked. */
  /**
   * A flaky test whose interval spans a severity edge: the severities at its two ends (its
   * `severity` is the point estimate's). More runs would say which; absent when the interval lies
   * in one band.
   */
  severitySpan?: [Severity, Severity];
  resourceSensitive: boolean | null;
  /**
   * In-process repetition (docs/design/repeat.md): the test failed only in attempts that followed
   * another in the same process, too often for chance — it keeps state between runs. Its rate and
   * verdict then count only the attempts that ran first in a fresh process, as CI runs it.
   */
  repetitionDependent?: { laterRuns: number; laterFailures: number; firstRuns: number };
  /**
   * Why a flaky test flakes, with the evidence (analysis/cause.ts): null for other verdicts;
   * absent in older reports.
   */
  cause?: FlakeCause | null;
  /** Failures the framework retried inside an attempt before the test passed (Surefire flakyFailure). */
  innerReruns: number;
  /** Mean duration of its runs as the framework reported them; null when none did (absent in older reports). */
  meanDurationMs?: number | null;
  /**
   * Order-dependent tests that pass alone (--shuffle; pytest, jest, vitest, go): the tests that,
   * run before it, make it fail (its reproduce line runs them, then it); empty when the search
   * could not isolate them. Absent when no search ran or it failed alone.
   */
  polluters?: { ids: string[]; unresolved?: string };
  /**
   * Order-dependent tests that fail alone: the tests it passes only after (it relies on state
   * they leave; its reproduce line runs it alone). Absent when no search ran or it passed alone.
   */
  stateSetters?: { ids: string[]; unresolved?: string };
}

export interface FollowUp {
  kind: "seed-replay" | "serial-confirmation";
  test: string;
  seed: number;
  /** The test's result in this run; "absent" when it did not run (filter mismatch, crash). */
  result: "passed" | "failed" | "absent";
}

/** One install step and the install cache: reused, stored for the next job, or why not. */
export type InstallCacheUse =
  | { use: "reused" | "stored"; step: string; key: string }
  | { use: "not cacheable"; step: string; reason: string }
  | { use: "not stored"; step: string; key: string; reason: string };

export interface Report {
  schemaVersion: 1;
  id: string;
  createdAt: string;
  tool: { name: string; version: string };
  request: {
    command: string[];
    commandEnv: string[];
    runs: number;
    parallelism: number;
    /** Per-attempt timeout in seconds at the end of the job ("auto" when merged from shards). */
    timeout: number | "auto";
    /** How it was chosen: "60 s (auto: 5 × the slowest of the first 2 attempt(s), …)" or "120 s (set)". */
    timeoutRule: string;
    jobTimeout: number | null;
    framework: string;
    stop: string;
    confidence: number;
    minDetectableRate: number;
    shuffle: boolean;
    isolation: string;
    seed: number;
    failOn: Severity;
    severityThresholds: { critical: number; high: number; medium: number; low: number };
    /** Test ids the job was restricted to (--test, --from-junit); empty for all. */
    tests: string[];
    ignorePatterns: string[];
    /**
     * In-process repetition (docs/design/repeat.md), when some attempts shared a process: how many
     * processes ran how many attempts, and what the attempts of one process share. Absent when
     * every attempt had its own process (--repeat off, or a framework that cannot repeat).
     */
    repetition?: { attempts: number; processes: number; shares: string };
    /**
     * Why every attempt had its own process although the framework can repeat in-process (go: a
     * source reads TEST_SEED, which one process cannot change between repetitions).
     */
    repetitionOff?: string;
  };
  source: {
    repo: string;
    ref: string | null;
    commit: string | null;
    kind: "cwd" | "path" | "git";
    /** owner/name from the repository's remote (absent in older reports and without a remote). */
    name?: string;
    /** Its web address, for links to commits and pull requests. */
    url?: string;
  };
  framework: string;
  /** How the framework was chosen ("detected from the command", "--framework", …). */
  frameworkSource: string;
  summary: Summary;
  tests: TestResult[];
  /** Tests matching ignore_patterns: measured, but kept out of verdicts and the summary. */
  ignoredTests: TestResult[];
  /** Seed replays and confirmation passes run after the main phase (not counted in the rates). */
  followUps: FollowUp[];
  attempts: ReportAttempt[];
  /** One shell line that reruns the command with a failing attempt's seed. */
  reproduce: string | null;
  timings: { sourceMs: number; installMs: number; isolationMs: number; runMs: number; totalMs: number };
  /**
   * What the install cache (install_cache, docs/install-cache.md) did for each JavaScript install
   * step of a workspace we installed into; absent when nothing was installed or the cache is off.
   */
  installCache?: InstallCacheUse[];
  environment: { platform: string; arch: string; node: string; cpus: number; ci: boolean };
  warnings: string[];
}
