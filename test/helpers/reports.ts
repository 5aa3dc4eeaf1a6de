import type { Report } from "../../src/analysis/report.js";

/** A minimal but complete Report, as detect() would write it. */
export function report(
  id: string,
  createdAt: string,
  tests: { id: string; attempts: number; failures: number }[],
  repo = "/srv/app",
): Report {
  const verdictOf = (a: number, f: number) => (f === 0 ? "stable" : f === a ? "failing" : "flaky");
  const sev = (r: number) =>
    r >= 0.9 ? "critical" : r >= 0.5 ? "high" : r >= 0.1 ? "medium" : r > 0 ? "low" : "none";
  const results = tests.map((t) => ({
    id: t.id,
    name: t.id,
    file: null,
    line: null,
    attempts: t.attempts,
    failures: t.failures,
    timeouts: 0,
    skipped: 0,
    failureRate: t.failures / t.attempts,
    interval: [0, 1] as [number, number],
    severity: sev(t.failures / t.attempts),
    verdict: verdictOf(t.attempts, t.failures),
    bound: null,
    failingSeeds: t.failures > 0 ? [1, 2] : [],
    firstFailure: t.failures > 0 ? { attempt: 0, seed: 1, message: "boom" } : null,
    reproduce: t.failures > 0 ? "TEST_SEED=1 x" : null,
    seedDeterministic: t.failures > 0 ? true : null,
    orderDependent: null,
    resourceSensitive: null,
    innerReruns: 0,
  }));
  const flaky = results.filter((r) => r.verdict === "flaky").length;
  return {
    schemaVersion: 1,
    id,
    createdAt,
    tool: { name: "flaky-detector", version: "0" },
    request: { command: ["npm", "test"], seed: 7 } as Report["request"],
    source: { repo, ref: "main", commit: "abc", kind: "git" },
    framework: "jest",
    frameworkSource: "test",
    summary: {
      attempts: 3,
      passedAttempts: 2,
      failedAttempts: 1,
      timeouts: 0,
      erroredAttempts: 0,
      failureRate: 1 / 3,
      interval: [0.06, 0.79],
      confidence: 0.95,
      severity: flaky > 0 ? "medium" : "none",
      verdict: flaky > 0 ? "flaky" : "stable",
      statement: "",
      stoppedEarly: false,
      stopReason: "budget",
      budget: 3,
      tests: { total: results.length, stable: 0, flaky, failing: 0, error: 0, ignored: 0 },
      attemptsWithoutResults: 0,
    },
    tests: results as Report["tests"],
    ignoredTests: [],
    followUps: [],
    attempts: [0, 1, 2].map((i) => ({
      index: i,
      seed: 100 + i,
      slot: i % 2,
      outcome: i === 1 ? "failed" : "passed",
      exitCode: i === 1 ? 1 : 0,
      signal: null,
      durationMs: 10,
      timedOut: false,
      tests: null,
      outputTail: "x".repeat(5000),
      outputBytes: 5000,
    })),
    reproduce: null,
    timings: { sourceMs: 1, installMs: 0, isolationMs: 0, runMs: 5, totalMs: 6 },
    environment: { platform: "linux", arch: "x64", node: "v20", cpus: 2, ci: false },
    warnings: [],
  } as Report;
}
