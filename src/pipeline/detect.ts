import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import type { EventSink } from "../analysis/events.js";
import { TestAggregator } from "../analysis/per-test.js";
import type { FollowUp, Report } from "../analysis/report.js";
import { checkpoints, type StopRule, settleState } from "../analysis/stopping.js";
import type { Config } from "../config/schema.js";
import { UsageError } from "../errors.js";
import type { FrameworkAdapter } from "../frameworks/index.js";
import { defaultJUnitId, parseJUnitCases } from "../parsers/junit.js";
import type { AttemptRecord } from "../runner/attempt.js";
import { shellLine } from "../runner/command-line.js";
import { randomJobSeed } from "../runner/seeds.js";
import { ResultFileTooLarge, readResultFile } from "../util/read-limited.js";
import type { Masker } from "../util/secrets.js";
import { TempDirs } from "../util/temp-dirs.js";
import { runAttempts } from "./attempts.js";
import { planFollowUps, runFollowUps } from "./follow-ups.js";
import { resolveFramework } from "./framework.js";
import { masked } from "./masking.js";
import { type DetectRequest, prepareRun } from "./prepare.js";
import { buildReport, reproducer } from "./report-builder.js";

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
  const fromJunitIds = req.fromJunit ? failedTestsOf(req.fromJunit, req.source.cwd, adapterHint(req)) : [];
  let failed = true;
  try {
    const prep = await prepareRun(req, {
      temp,
      emit,
      warnings,
      timings,
      attempts: config.runs,
      extraTests: fromJunitIds,
      masker,
    });
    const { session, parallelism, requested } = prep;
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
    const main = await runAttempts(prep, {
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
    });
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
      followUps = await runFollowUps(session, planFollowUps(aggregator.list(), parallelism), {
        budget: config.runs,
        parallelism,
        jobSeed,
        shuffledSeeds,
        signal: req.signal ?? new AbortController().signal,
        jobTimeoutMs: config.job_timeout === null ? null : Math.max(1, config.job_timeout * 1000 - elapsed),
        emit,
      });
    }

    timings.totalMs = performance.now() - started;
    failed = false;
    return buildReport({
      config,
      command: req.command,
      env: prep.testEnv,
      source: prep.source,
      framework: prep.adapter,
      reproduce: reproducer(prep.adapter, req.command, shuffledSeeds),
      frameworkSource: prep.frameworkSource,
      parallelism,
      jobSeed,
      attempts: pool.attempts,
      attemptTests: main.attemptTests,
      shuffledSeeds,
      attemptsWithoutResults: main.withoutResults,
      aggregator,
      requestedTests: requested,
      followUps,
      stopReason: pool.stopReason,
      timings,
      warnings,
      timeout: prep.session.timeout,
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

/** The adapter the command will most likely use, to name --from-junit's tests its way; a guess. */
function adapterHint(req: DetectRequest): FrameworkAdapter | undefined {
  try {
    return resolveFramework(req.config, req.command.argv, req.source.cwd, req.junitGlob).adapter;
  } catch {
    return undefined; // prepareRun reports a framework problem properly.
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

/** The adaptive rule at a checkpoint: every test settled, or, without per-test results, the command. */
export function allSettled(
  finished: readonly AttemptRecord[],
  aggregator: TestAggregator,
  adapter: Pick<FrameworkAdapter, "results">,
  rule: StopRule,
): boolean {
  if (adapter.results !== "none" && aggregator.size > 0) {
    return aggregator.list().every((t) => settleState(t.attempts, t.failures, rule) !== "open");
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

/** Failed test ids of a CI run's JUnit file (pytest's xunit2 ids are mapped to node ids when the file exists). */
export function failedTestsOf(file: string, cwd: string, adapter?: FrameworkAdapter): string[] {
  const path = resolve(cwd, file);
  let xml: string;
  try {
    xml = readResultFile(path);
  } catch (e) {
    throw new UsageError(
      "E_FROM_JUNIT",
      e instanceof ResultFileTooLarge
        ? `--from-junit: ${e.message}`
        : `--from-junit: cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
  const ids = failedTestIdsIn(xml, path, cwd, adapter, "--from-junit");
  if (ids.length === 0) {
    throw new UsageError("E_FROM_JUNIT", `--from-junit: ${path} lists no failed test; nothing to rerun`);
  }
  return ids;
}

/**
 * The ids of the failed test cases of one JUnit document, as the framework that will rerun them
 * names tests (so its filter selects them). `field` names the input in errors.
 */
export function failedTestIdsIn(
  xml: string,
  where: string,
  cwd: string,
  adapter: FrameworkAdapter | undefined,
  field: string,
): string[] {
  let cases: ReturnType<typeof parseJUnitCases>;
  try {
    cases = parseJUnitCases(xml);
  } catch (e) {
    throw new UsageError("E_FROM_JUNIT", `${field}: ${where} is not JUnit XML: ${(e as Error).message}`);
  }
  const ids = cases
    .filter((c) => c.status === "failed")
    .map((c) => {
      if (adapter?.junitId) return adapter.junitId(c);
      if (c.file) return defaultJUnitId(c);
      // pytest's default (xunit2) has no file: find the module path the classname names.
      const parts = (c.classname ?? "").split(".");
      for (let k = parts.length; k > 0; k--) {
        const candidate = `${parts.slice(0, k).join("/")}.py`;
        if (existsSync(join(cwd, candidate))) return [candidate, ...parts.slice(k), c.name].join("::");
      }
      return c.classname ? `${c.classname}::${c.name}` : [...c.suites, c.name].join(" > ");
    });
  return [...new Set(ids)];
}
