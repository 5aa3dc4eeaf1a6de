import type { Severity } from "../config/schema.js";
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
  /** Per-test counts when a framework adapter parsed results; null for a plain command. */
  tests: { passed: number; failed: string[]; skipped: number } | null;
  /** Bounded head and tail of the attempt's output. */
  outputTail: string;
  outputBytes: number;
  error?: string;
  logFile?: string;
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
}

export interface TestResult {
  id: string;
  name: string;
  file: string | null;
  attempts: number;
  failures: number;
  timeouts: number;
  failureRate: number;
  interval: [number, number];
  severity: Severity;
  verdict: Verdict;
  failingSeeds: number[];
  firstFailure: { attempt: number; message: string } | null;
  reproduce: string;
  seedDeterministic: boolean | null;
}

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
    timeout: number;
    jobTimeout: number | null;
    framework: string;
    stop: string;
    confidence: number;
    shuffle: boolean;
    isolation: string;
    seed: number;
    failOn: Severity;
    severityThresholds: { critical: number; high: number; medium: number; low: number };
  };
  source: { repo: string; ref: string | null; commit: string | null; kind: "cwd" | "path" | "git" };
  framework: string;
  summary: Summary;
  tests: TestResult[];
  attempts: ReportAttempt[];
  /** One shell line that reruns the command with a failing attempt's seed. */
  reproduce: string | null;
  timings: { sourceMs: number; installMs: number; isolationMs: number; runMs: number; totalMs: number };
  environment: { platform: string; arch: string; node: string; cpus: number; ci: boolean };
  warnings: string[];
}
