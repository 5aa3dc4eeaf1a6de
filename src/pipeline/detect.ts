import { resolve } from "node:path";
import type { EventSink } from "../analysis/events.js";
import { measuredTallies, repetitionDependence } from "../analysis/interference.js";
import { TestAggregator } from "../analysis/per-test.js";
import type { FollowUp, Report } from "../analysis/report.js";
import { checkpoints, type StopRule, settleState } from "../analysis/stopping.js";
import type { Config } from "../config/schema.js";
import { UsageError } from "../errors.js";
import type { FrameworkAdapter } from "../frameworks/index.js";
import { parseGoTestJson } from "../parsers/go-json.js";
import { type JUnitCase, parseJUnitCases } from "../parsers/junit.js";
import type { AttemptRecord } from "../runner/attempt.js";
import { shellLine } from "../runner/command-line.js";
import { randomJobSeed } from "../runner/seeds.js";
import { ResultFileTooLarge, readResultFile } from "../util/read-limited.js";
import type { Masker } from "../util/secrets.js";
import { TempDirs } from "../util/temp-dirs.js";
import { runAttempts } from "./attempts.js";
import { planFollowUps, runFollowUps } from "./follow-ups.js";
import { masked } from "./masking.js";
import { findPolluters, type PolluterResult, polluterCandidates } from "./polluters.js";
import { type DetectRequest, prepareRun } from "./prepare.js";
import { repeatOf, repeatRefusal } from "./repeat.js";
import { buildReport, orderedReproducer, reproducer } from "./report-builder.js";
import { type CiFailure, idsWithoutListing } from "./resolve-tests.js";

export type { DetectRequest } from "./prepare.js";

/**
 * The whole local pipeline: source → workspace → slots → attempts (with per-test results) →
 * follow-ups (seed replay, serial confirmation) → Report. Infrastructure failures throw InfraError;
 * test failures are data in the Report.
 */
export function detect(req: DetectRequest): Promise<Report> {
  return masked(req, detectMasked);
}

async function detectMasked(req: DetectRequest, masker: Masker): Promise<Report> {
  const { config } = req;
  const emit: EventSink = req.emit ?? (() => {});
  const warnings = [...(req.warnings ?? [])];
  const temp = new TempDirs(req.tempRoot);
  const started = performance.now();
  const timings = { sourceMs: 0, installMs: 0, isolationMs: 0, runMs: 0, totalMs: 0 };
  const ciFailures = [
    ...(req.ciFailures ?? []),
    ...(req.fromJunit ? readCiFailures(req.fromJunit, req.source.cwd) : []),
  ];
  let failed = true;
  try {
    const prep = await prepareRun(req, {
      temp,
      emit,
      warnings,
      timings,
      attempts: config.runs,
      ciFailures,
      verifyTests: true,
      masker,
    });
    const { session, parallelism, requested, notFound } = prep;
    const jobSeed = config.seed ?? randomJobSeed();
    const aggregator = new TestAggregator();

    emit({
      type: "job-started",
      total: config.runs,
      parallelism,
      jobSeed,
      command: shellLine(req.command.argv, req.command.env),
    });
    const t = performance.now();
    const rule = stopRuleOf(config);
    const looks = new Set(checkpoints(rule));
    const running = runAttempts(prep, {
      first: 0,
      count: config.runs,
      jobSeed,
      emit,
      aggregator,
      warnings,
      jobTimeoutMs: config.job_timeout === null ? null : config.job_timeout * 1000,
      ...(req.signal ? { signal: req.signal } : {}),
      shouldStop: (finished) =>
        config.stop === "adaptive" &&
        looks.has(finished.length) &&
        allSettled(finished, aggregator, prep.adapter, rule),
      ...(focusable(config, prep.adapter)
        ? { focus: { at: [...looks], decide: () => openTests(aggregator, rule) } }
        : {}),
      repeat: repeatOf(
        prep.session,
        [...looks],
        () => aggregator.list().find((t) => repetitionDependence(t, 1 - config.confidence))?.id,
      ),
    });
    // After the microtasks that spawn the first attempts: git's processes start behind them.
    setImmediate(() => void prep.source.facts());
    const main = await running;
    const { pool, shuffledSeeds } = main;
    timings.runMs = performance.now() - t;
    for (const id of requested) {
      if (!aggregator.get(id)) {
        warnings.push(
          `test ${JSON.stringify(id)} did not run in any attempt; check the id (ids look like ${JSON.stringify(aggregator.list()[0]?.id ?? "file::name")})`,
        );
      }
    }

    let followUps: FollowUp[] = [];
    const finishedNormally = pool.stopReason === "budget" || pool.stopReason === "adaptive";
    if (finishedNormally && aggregator.size > 0) {
      const elapsed = performance.now() - started;
      followUps = await runFollowUps(
        session,
        planFollowUps(aggregator.list(), parallelism, config.confidence),
        {
          budget: config.runs,
          parallelism,
          jobSeed,
          shuffledSeeds,
          signal: req.signal ?? new AbortController().signal,
          jobTimeoutMs: config.job_timeout === null ? null : Math.max(1, config.job_timeout * 1000 - elapsed),
          emit,
          confidence: config.confidence,
        },
      );
    }

    // Order-dependent tests: which tests, run before them, make them fail or pass (serially).
    let polluters: PolluterResult[] = [];
    const victims = config.shuffle && prep.adapter.orderReplay ? polluterCandidates(aggregator.list()) : [];
    if (finishedNormally && victims.length > 0 && !(req.signal?.aborted ?? false)) {
      emit({
        type: "phase",
        phase: "polluter-search",
        detail: `${victims.length} test(s) that failed only in shuffled orders`,
      });
      const elapsed = performance.now() - started;
      polluters = await findPolluters(session, victims, {
        firstIndex: config.runs + 20_000,
        signal: req.signal ?? new AbortController().signal,
        jobTimeoutMs: config.job_timeout === null ? null : Math.max(1, config.job_timeout * 1000 - elapsed),
      });
    }

    timings.totalMs = performance.now() - started;
    failed = false;
    return buildReport({
      config,
      command: req.command,
      env: prep.testEnv,
      source: { ...prep.source, ...(await prep.source.facts()) },
      framework: prep.adapter,
      reproduce: reproducer(prep.adapter, req.command, shuffledSeeds),
      orderedReproduce: orderedReproducer(prep.adapter, req.command),
      polluters,
      frameworkSource: prep.frameworkSource,
      parallelism,
      jobSeed,
      attempts: pool.attempts,
      attemptTests: main.attemptTests,
      shuffledSeeds,
      attemptsWithoutResults: main.withoutResults,
      aggregator,
      requestedTests: [...requested, ...notFound],
      followUps,
      stopReason: pool.stopReason,
      timings,
      warnings,
      timeout: prep.session.timeout,
      installCache: prep.installCache,
      ...(config.repeat !== "off" && !config.shuffle ? { repetitionOff: repeatRefusal(prep.session) } : {}),
    });
  } finally {
    if (config.preserve_temp_dir || (failed && !config.cleanup_on_failure)) {
      const kept = temp.release();
      if (kept.length > 0)
        emit({ type: "warning", message: `temporary directories kept: ${kept.join(", ")}` });
    } else {
      await temp.removeAll();
    }
  }
}

export function stopRuleOf(config: Config): StopRule {
  return {
    confidence: config.confidence,
    minDetectableRate: config.min_detectable_rate,
    thresholds: config.severity_thresholds,
    budget: config.runs,
  };
}

/**
 * Focus needs adaptive stopping (settled tests), a framework filter (per-test results, not files a
 * glob finds), and the declared order: with --shuffle the order around each test is what is
 * measured, so every attempt keeps running the whole command.
 */
function focusable(config: Config, adapter: Pick<FrameworkAdapter, "results">): boolean {
  return (
    config.focus &&
    config.stop === "adaptive" &&
    !config.shuffle &&
    (adapter.results === "file" || adapter.results === "stdout")
  );
}

/**
 * The tests later attempts run: those the stopping rule has not settled, when some are settled;
 * null (the whole command) when none or all are, or when a file failed to load (a collection
 * finding is no test a filter can select).
 */
export function openTests(aggregator: TestAggregator, rule: StopRule): string[] | null {
  const tallies = measuredTallies(aggregator.list(), 1 - rule.confidence);
  if (tallies.length === 0 || tallies.some((t) => t.collection)) return null;
  const open = tallies.filter((t) => t.attempts > 0 && settleState(t.attempts, t.failures, rule) === "open");
  if (open.length === 0 || open.length === tallies.filter((t) => t.attempts > 0).length) return null;
  return open.map((t) => t.id);
}

/** The adaptive rule at a checkpoint: every test settled, or, without per-test results, the command. */
export function allSettled(
  finished: readonly AttemptRecord[],
  aggregator: TestAggregator,
  adapter: Pick<FrameworkAdapter, "results">,
  rule: StopRule,
): boolean {
  if (adapter.results !== "none" && aggregator.size > 0) {
    return measuredTallies(aggregator.list(), 1 - rule.confidence).every(
      (t) => settleState(t.attempts, t.failures, rule) !== "open",
    );
  }
  let n = 0;
  let k = 0;
  for (const a of finished) {
    if (a.outcome === "passed") n++;
    else if (a.outcome === "failed" || a.outcome === "timedOut") {
      n++;
      k++;
    }
  }
  return settleState(n, k, rule) !== "open";
}

/**
 * The failed testcases of a CI run's JUnit file (--from-junit). A `go test -json` stream saved as
 * an artifact is read too: its failed tests become testcases named as gotestsum names them.
 */
export function readCiFailures(file: string, cwd: string, field = "--from-junit"): CiFailure[] {
  const path = resolve(cwd, file);
  let text: string;
  try {
    text = readResultFile(path);
  } catch (e) {
    throw new UsageError(
      "E_FROM_JUNIT",
      e instanceof ResultFileTooLarge
        ? `${field}: ${e.message}`
        : `${field}: cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
  const failures = ciFailuresIn(text, path, field);
  if (failures.length === 0) {
    throw new UsageError("E_FROM_JUNIT", `${field}: ${path} lists no failed test; nothing to rerun`);
  }
  return failures;
}

/** The failed testcases of one JUnit document (or `go test -json` stream); `field` names the input in errors. */
export function ciFailuresIn(text: string, where: string, field: string): CiFailure[] {
  if (/^\s*\{/.test(text)) return goJsonFailures(text, where);
  let cases: ReturnType<typeof parseJUnitCases>;
  try {
    cases = parseJUnitCases(text);
  } catch (e) {
    throw new UsageError("E_FROM_JUNIT", `${field}: ${where} is not JUnit XML: ${(e as Error).message}`);
  }
  return cases.filter((c) => c.status === "failed").map((c) => ({ case: c, from: where }));
}

function goJsonFailures(text: string, where: string): CiFailure[] {
  return parseGoTestJson(text)
    .filter((t) => t.status === "failed")
    .map((t) => {
      const pkg = t.id.slice(0, t.id.length - t.name.length - 1);
      const c: JUnitCase = {
        name: t.name,
        classname: pkg,
        file: null,
        line: null,
        suites: [pkg],
        status: "failed",
        message: t.message,
        body: null,
        durationMs: t.durationMs,
        reruns: { failed: 0, messages: [] },
        properties: {},
      };
      return { case: c, from: where };
    });
}

/**
 * Test ids of a CI file's failures without a listing (a remote backend resolves nothing locally):
 * the adapter's reading, suite-level errors left out.
 */
export function failedTestsOf(file: string, cwd: string, adapter?: FrameworkAdapter): string[] {
  const ids = idsWithoutListing(readCiFailures(file, cwd), adapter, cwd);
  if (ids.length === 0) {
    throw new UsageError(
      "E_FROM_JUNIT",
      `--from-junit: ${file} lists only failures outside any test (a file that did not load, a suite hook); they cannot be rerun as tests`,
    );
  }
  return ids;
}
