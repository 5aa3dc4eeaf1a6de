import { randomUUID } from "node:crypto";
import { availableParallelism } from "node:os";
import picomatch from "picomatch";
import { flakeCause } from "../analysis/cause.js";
import { freshProcessesOnly, repetitionDependence, serialCleanChance } from "../analysis/interference.js";
import { sortTests, type TestAggregator, type TestTally, testResultOf } from "../analysis/per-test.js";
import type { FollowUp, InstallCacheUse, Report, ReportAttempt, TestResult } from "../analysis/report.js";
import { summarize, withTests } from "../analysis/summarize.js";
import type { Config } from "../config/schema.js";
import type { FrameworkAdapter } from "../frameworks/index.js";
import type { AttemptRecord } from "../runner/attempt.js";
import { shellLine } from "../runner/command-line.js";
import type { AcquiredSource, SourceFacts } from "../source/acquire.js";
import { TOOL } from "../version.js";
import type { PolluterResult } from "./polluters.js";
import { frameworkIds } from "./results.js";
import type { AttemptTimeout } from "./timeout.js";

/** The seed variable a framework's own tooling reads, shown in reproduce lines next to TEST_SEED. */
const SEED_ALIAS: Record<string, string> = {
  go: "GO_TEST_SEED",
  jest: "JEST_SEED",
  vitest: "VITE_TEST_SEED",
  mocha: "MOCHA_SEED",
  pytest: "PYTHONHASHSEED",
};

export interface BuildInput {
  config: Config;
  command: { argv: string[]; env: Record<string, string> };
  env: NodeJS.ProcessEnv;
  source: Pick<AcquiredSource, "repo" | "ref" | "kind"> &
    Pick<SourceFacts, "commit"> &
    Partial<Pick<SourceFacts, "identity">>;
  framework: Pick<FrameworkAdapter, "name" | "results" | "repeats">;
  /** The one-line command that reproduces a test's first failure (see reproducer()). */
  reproduce: (t: TestTally) => string;
  /**
   * The command that runs these tests in this order (an order-dependent failure): unshuffled, or
   * with the seed that orders them where the framework orders by seed.
   */
  orderedReproduce?: (ids: readonly string[], order: { seed: number; shuffled: boolean }) => string;
  frameworkSource: string;
  parallelism: number;
  jobSeed: number;
  attempts: AttemptRecord[];
  attemptTests: Map<number, ReportAttempt["tests"]>;
  shuffledSeeds: ReadonlySet<number>;
  attemptsWithoutResults: number;
  aggregator: TestAggregator;
  requestedTests: string[];
  followUps: FollowUp[];
  /** Polluter searches of order-dependent tests (pipeline/polluters.ts). */
  polluters?: readonly PolluterResult[];
  stopReason: Report["summary"]["stopReason"];
  timings: Report["timings"];
  warnings: string[];
  /** The per-attempt timeout in effect at the end, and how it was chosen; absent: the config's. */
  timeout?: AttemptTimeout;
  installCache?: InstallCacheUse[];
  /** Why this command could not repeat in-process although its framework can (repeatRefusal). */
  repetitionOff?: string | null;
}

/**
 * How a test's first failure is reproduced: its framework's filter for the one test, the failing
 * seed in TEST_SEED and the framework's own seed variable, and the shuffled order if it was one.
 */
export function reproducer(
  adapter: FrameworkAdapter,
  command: { argv: string[]; env: Record<string, string> },
  shuffledSeeds: ReadonlySet<number>,
): (t: TestTally) => string {
  return (t) => {
    const seed = t.firstFailure?.seed ?? 0;
    const prepared = adapter.prepare(
      command.argv,
      { resultFile: null, seed, shuffle: shuffledSeeds.has(seed), tests: frameworkIds([t.id], adapter) },
      false,
    );
    const alias = SEED_ALIAS[adapter.name];
    return shellLine(prepared.argv, {
      TEST_SEED: String(seed),
      ...(alias ? { [alias]: String(seed) } : {}),
      ...command.env,
      ...prepared.env,
    });
  };
}

/**
 * The command running exactly these tests in this order: given as arguments in that order (pytest),
 * or filtered from the order the seed gives (jest, vitest, go), as the polluter search ran them.
 */
export function orderedReproducer(
  adapter: FrameworkAdapter,
  command: { argv: string[]; env: Record<string, string> },
): (ids: readonly string[], order: { seed: number; shuffled: boolean }) => string {
  return (ids, order) => {
    const shuffle = adapter.orderReplay?.by === "seed" && order.shuffled;
    const prepared = adapter.prepare(
      command.argv,
      { resultFile: null, seed: shuffle ? order.seed : 0, shuffle, tests: frameworkIds([...ids], adapter) },
      false,
    );
    return shellLine(prepared.argv, { ...command.env, ...prepared.env });
  };
}

/**
 * For a failure the seed does not decide: rerun the test often enough that it fails at least once
 * with 95% probability at its observed rate (10 to 1000 runs).
 */
export function repeatLine(
  command: { argv: string[]; env: Record<string, string> },
  id: string,
  rate: number,
): string {
  const runs = Math.min(1000, Math.max(10, Math.ceil(Math.log(0.05) / Math.log(1 - Math.min(rate, 0.999)))));
  return shellLine(
    ["flaky-detector", "run", "--runs", String(runs), "--test", id, "--", ...command.argv],
    command.env,
  );
}

export function buildReport(b: BuildInput): Report {
  const { config, framework } = b;
  const attempts = b.attempts.flatMap((a) =>
    a.outcome === "cancelled" ? [] : [{ ...a, outcome: a.outcome }],
  );
  const opts = {
    confidence: config.confidence,
    thresholds: config.severity_thresholds,
    maxErrorLength: config.max_error_length,
    reproduce: b.reproduce,
  };
  const isIgnored =
    config.ignore_patterns.length > 0 ? picomatch(config.ignore_patterns, { dot: true }) : () => false;
  const results: TestResult[] = [];
  const ignored: TestResult[] = [];
  for (const tally of b.aggregator.list()) {
    const dependent = repetitionDependence(tally, 1 - config.confidence);
    // Such a test's repetitions measure state it kept, not CI runs: count its fresh processes only.
    const measured = dependent ? freshProcessesOnly(tally) : tally;
    const r = annotate(testResultOf(measured, opts), measured, b);
    if (dependent) {
      r.repetitionDependent = dependent;
      b.warnings.push(
        `${tally.id} failed only after an earlier repetition in the same process (${dependent.laterFailures} of ${dependent.laterRuns}; 0 of ${dependent.firstRuns} first in a process): it keeps state between runs, so only its ${dependent.firstRuns} fresh-process attempts are counted. Rerun with --repeat off to measure it one process per attempt.`,
      );
    }
    (isIgnored(tally.id) ? ignored : results).push(r);
  }
  // A requested test that never ran is "error" (could not be run), never "failing".
  const notRerun = b.requestedTests.filter((id) => !b.aggregator.get(id));
  for (const id of notRerun) results.push(notRun(id));
  let summary = summarize(
    attempts.map((a) => a.outcome),
    {
      confidence: config.confidence,
      minDetectableRate: config.min_detectable_rate,
      thresholds: config.severity_thresholds,
      budget: config.runs,
      stopReason: b.stopReason,
    },
  );
  summary.attemptsWithoutResults = b.attemptsWithoutResults;
  if (framework.results !== "none") summary = withTests(summary, results, ignored.length, notRerun);
  const firstFailure = attempts.find((a) => a.outcome === "failed" || a.outcome === "timedOut");
  return {
    schemaVersion: 1,
    id: randomUUID(),
    createdAt: new Date().toISOString(),
    tool: TOOL,
    request: {
      command: b.command.argv,
      // Names only: values of the command's own variables may be secrets.
      commandEnv: Object.keys(b.command.env),
      runs: config.runs,
      parallelism: b.parallelism,
      timeout: b.timeout ? b.timeout.ms / 1000 : config.timeout,
      timeoutRule: b.timeout
        ? b.timeout.describe()
        : config.timeout === "auto"
          ? "auto: each shard derived its own from its first attempts"
          : `${config.timeout} s (set)`,
      jobTimeout: config.job_timeout,
      framework: config.framework,
      stop: config.stop,
      confidence: config.confidence,
      minDetectableRate: config.min_detectable_rate,
      shuffle: config.shuffle,
      isolation: config.isolation,
      seed: b.jobSeed,
      failOn: config.fail_on,
      severityThresholds: config.severity_thresholds,
      tests: b.requestedTests,
      ignorePatterns: config.ignore_patterns,
      ...repetitionOf(attempts, framework),
      ...(b.repetitionOff ? { repetitionOff: b.repetitionOff } : {}),
    },
    source: {
      repo: b.source.repo,
      ref: b.source.ref,
      commit: b.source.commit,
      kind: b.source.kind,
      ...(b.source.identity ? { name: b.source.identity.name } : {}),
      ...(b.source.identity?.url ? { url: b.source.identity.url } : {}),
    },
    framework: framework.name,
    frameworkSource: b.frameworkSource,
    summary,
    tests: sortTests(results),
    ignoredTests: sortTests(ignored),
    followUps: b.followUps,
    attempts: attempts.map((a) => ({
      index: a.index,
      seed: a.seed,
      slot: a.slot,
      outcome: a.outcome,
      exitCode: a.exitCode,
      signal: a.signal,
      durationMs: a.durationMs,
      timedOut: a.timedOut,
      ...(config.shuffle ? { shuffled: b.shuffledSeeds.has(a.seed) } : {}),
      tests: b.attemptTests.get(a.index) ?? null,
      outputTail: a.output,
      outputBytes: a.outputBytes,
      ...(a.error ? { error: a.error } : {}),
      ...(a.logFile ? { logFile: a.logFile } : {}),
      ...(a.escapedProcesses ? { escapedProcesses: a.escapedProcesses } : {}),
      ...(a.process ? { process: a.process } : {}),
    })),
    reproduce: firstFailure
      ? shellLine(b.command.argv, { TEST_SEED: String(firstFailure.seed), ...b.command.env })
      : null,
    timings: roundTimings(b.timings),
    ...(b.installCache && b.installCache.length > 0 ? { installCache: b.installCache } : {}),
    environment: {
      platform: process.platform,
      arch: process.arch,
      node: process.version,
      cpus: availableParallelism(),
      ci: Boolean(b.env.CI),
    },
    warnings: b.warnings,
  };
}

/** Seed determinism, order dependence and resource sensitivity from the follow-ups and shuffled runs. */
function annotate(r: TestResult, t: TestTally, b: BuildInput): TestResult {
  const replays = b.followUps.filter(
    (f) => f.kind === "seed-replay" && f.test === t.id && f.result !== "absent",
  );
  const serial = b.followUps.filter(
    (f) => f.kind === "serial-confirmation" && f.test === t.id && f.result !== "absent",
  );
  const alpha = 1 - b.config.confidence;
  let orderDependent: boolean | null = null;
  if (b.config.shuffle) {
    const plain = { attempts: t.attempts - t.shuffled.attempts, failures: t.failures - t.shuffled.failures };
    const shuffledRate = t.shuffled.attempts === 0 ? 0 : t.shuffled.failures / t.shuffled.attempts;
    // Only in shuffled orders, and enough unshuffled runs that their clean record is no accident.
    orderDependent =
      t.shuffled.failures > 0 &&
      plain.failures === 0 &&
      plain.attempts > 0 &&
      (1 - shuffledRate) ** plain.attempts < alpha;
  }
  let resourceSensitive: boolean | null = null;
  if (serial.length > 0) {
    const vanished = serial.every((f) => f.result === "passed");
    // Exact, not (1 − rate)^n: the observed rate is an estimate (src/analysis/interference.ts).
    resourceSensitive = vanished && serialCleanChance(t.attempts, t.failures, serial.length) < alpha;
  }
  const search = b.polluters?.find((p) => p.test === t.id);
  const seedDeterministic = replays.length === 0 ? null : replays.every((f) => f.result === "failed");
  const dependsOnOrder = orderDependent || (search !== undefined && search.ids.length > 0);
  const cause =
    r.verdict === "flaky"
      ? flakeCause({
          failureRate: r.failureRate,
          failures: r.failures,
          timeouts: r.timeouts,
          shuffle: b.config.shuffle
            ? {
                shuffledRuns: t.shuffled.attempts,
                shuffledFailures: t.shuffled.failures,
                plainRuns: t.attempts - t.shuffled.attempts,
                plainFailures: t.failures - t.shuffled.failures,
              }
            : null,
          orderDependent: dependsOnOrder,
          polluters: search?.kind === "polluters" ? search.ids : [],
          stateSetters: search?.kind === "state-setters" ? search.ids : [],
          replays:
            replays.length > 0
              ? { runs: replays.length, failed: replays.filter((f) => f.result === "failed").length }
              : null,
          serial:
            serial.length > 0
              ? { runs: serial.length, failed: serial.filter((f) => f.result === "failed").length }
              : null,
          parallelism: b.parallelism,
          resourceSensitive: resourceSensitive === true,
          seedDeterministic,
        })
      : null;
  return {
    ...r,
    cause,
    // The seed line would not reproduce a failure the seed does not decide: repeat the test instead.
    ...(seedDeterministic === false && r.failureRate > 0
      ? { reproduce: repeatLine(b.command, t.id, r.failureRate) }
      : {}),
    seedDeterministic,
    orderDependent: dependsOnOrder,
    resourceSensitive,
    ...(search
      ? {
          [search.kind === "polluters" ? "polluters" : "stateSetters"]: {
            ids: search.ids,
            ...(search.unresolved ? { unresolved: search.unresolved } : {}),
          },
          // Polluters: the ordered run fails where the test alone passes. State-setters: the test
          // alone fails every time.
          ...(search.ids.length > 0 && b.orderedReproduce
            ? {
                reproduce: b.orderedReproduce(
                  search.kind === "polluters" ? [...search.ids, t.id] : [t.id],
                  search.order,
                ),
              }
            : {}),
        }
      : {}),
  };
}

function notRun(id: string): TestResult {
  return {
    id,
    name: id,
    file: null,
    line: null,
    attempts: 0,
    failures: 0,
    timeouts: 0,
    crashes: 0,
    skipped: 0,
    notRun: 0,
    failureRate: 0,
    interval: [0, 1],
    severity: "none",
    verdict: "error",
    bound: null,
    failingSeeds: [],
    firstFailure: null,
    reproduce: null,
    seedDeterministic: null,
    orderDependent: null,
    resourceSensitive: null,
    innerReruns: 0,
  };
}

export function roundTimings(t: Report["timings"]): Report["timings"] {
  return {
    sourceMs: Math.round(t.sourceMs),
    installMs: Math.round(t.installMs),
    isolationMs: Math.round(t.isolationMs),
    runMs: Math.round(t.runMs),
    totalMs: Math.round(t.totalMs),
  };
}

/** How the main phase's attempts were grouped into processes, when some shared one. */
function repetitionOf(
  attempts: readonly AttemptRecord[],
  framework: Pick<FrameworkAdapter, "repeats">,
): { repetition?: NonNullable<Report["request"]["repetition"]> } {
  if (!framework.repeats || !attempts.some((a) => a.process && a.process.count > 1)) return {};
  const processes = new Set(attempts.map((a) => (a.process ? `p${a.process.first}` : `a${a.index}`)));
  return {
    repetition: { attempts: attempts.length, processes: processes.size, shares: framework.repeats.shares },
  };
}
