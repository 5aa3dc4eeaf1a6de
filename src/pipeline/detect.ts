import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { EventSink } from "../analysis/events.js";
import { TestAggregator } from "../analysis/per-test.js";
import type { FollowUp, Report, ReportAttempt } from "../analysis/report.js";
import { checkpoints, settleState } from "../analysis/stopping.js";
import type { Config } from "../config/schema.js";
import { InfraError, UsageError } from "../errors.js";
import type { FrameworkAdapter } from "../frameworks/index.js";
import { defaultJUnitId, parseJUnitCases } from "../parsers/junit.js";
import type { AttemptRecord } from "../runner/attempt.js";
import { shellLine } from "../runner/command-line.js";
import { runPool } from "../runner/pool.js";
import { assertRunnable } from "../runner/preflight.js";
import { attemptSeed, randomJobSeed } from "../runner/seeds.js";
import { acquireSource } from "../source/acquire.js";
import { TempDirs } from "../util/temp-dirs.js";
import { detectInstallSteps, installDependencies, workspaceEnv } from "../workspace/install.js";
import { prepareSlots } from "../workspace/slots.js";
import { confirmSerially, replaySeeds } from "./follow-ups.js";
import { assertShuffleSupported, resolveFramework } from "./framework.js";
import { buildReport } from "./report-builder.js";
import { foldAttempt, runWithResults, type Session } from "./session.js";

export interface DetectRequest {
  config: Config;
  command: { argv: string[]; env: Record<string, string> };
  source: { cwd: string; repo?: string; ref?: string };
  /** Base environment of attempts (normally process.env). */
  env: NodeJS.ProcessEnv;
  /**
   * Variables the source step may use (GIT_TOKEN for a clone) but the tested code must never see:
   * removed before installs and attempts run. A server hides its own secrets this way.
   */
  hideFromTests?: readonly string[];
  /** Run only these test ids (--test). */
  tests?: string[];
  /** A CI run's JUnit file: rerun only the tests that failed in it (--from-junit). */
  fromJunit?: string;
  /** Generic JUnit: files the command writes (--junit). */
  junitGlob?: string;
  signal?: AbortSignal;
  emit?: EventSink;
  warnings?: string[];
  /** Root for temporary directories (tests point it at their own). */
  tempRoot?: string;
}

/** Runs at parallelism 1 per test in the confirmation pass. */
const SERIAL_CONFIRMATION_RUNS = 20;

/**
 * The whole local pipeline: source → workspace → slots → attempts (with per-test results) →
 * follow-ups (seed replay, serial confirmation) → Report. Infrastructure failures throw InfraError;
 * test failures are data in the Report.
 */
export async function detect(req: DetectRequest): Promise<Report> {
  const { config } = req;
  const emit: EventSink = req.emit ?? (() => {});
  const warnings = [...(req.warnings ?? [])];
  const temp = new TempDirs(req.tempRoot);
  const started = performance.now();
  const timings = { sourceMs: 0, installMs: 0, isolationMs: 0, runMs: 0, totalMs: 0 };
  const fromJunitIds = req.fromJunit ? failedTestsOf(req.fromJunit, req.source.cwd) : [];
  const testEnv = withoutVariables(req.env, req.hideFromTests ?? []);
  let failed = true;
  try {
    emit({ type: "phase", phase: "source", detail: req.source.repo ?? req.source.cwd });
    let t = performance.now();
    const source = await acquireSource(
      {
        cwd: req.source.cwd,
        willInstall: config.auto_install_dependencies,
        ...(req.source.repo !== undefined ? { repo: req.source.repo } : {}),
        ...(req.source.ref !== undefined ? { ref: req.source.ref } : {}),
      },
      { temp, env: req.env, ...(req.signal ? { signal: req.signal } : {}) },
    );
    timings.sourceMs = performance.now() - t;

    t = performance.now();
    // The user's own directory is theirs: we run their tests as they are, and install only into
    // workspaces we created (a copy or a clone).
    if (source.owned && config.auto_install_dependencies) {
      const steps = detectInstallSteps(source.dir);
      if (steps.length > 0) {
        await installDependencies(source.dir, steps, {
          env: testEnv,
          timeoutMs: config.install_timeout * 1000,
          ...(req.signal ? { signal: req.signal } : {}),
          onStep: (step) => emit({ type: "phase", phase: "install", detail: step.argv.join(" ") }),
        });
      }
    }
    timings.installMs = performance.now() - t;

    const baseEnv = workspaceEnv(source.dir, testEnv);
    assertRunnable(req.command.argv[0] as string, source.dir, { ...baseEnv, ...req.command.env }.PATH);
    const framework = resolveFramework(config, req.command.argv, source.dir, req.junitGlob);
    assertShuffleSupported(framework.adapter, config.shuffle);
    warnings.push(...framework.warnings);
    const requested = [...new Set([...(req.tests ?? []), ...fromJunitIds])];
    if (requested.length > 0 && framework.adapter.results === "none") {
      throw new UsageError(
        "E_USAGE",
        "--test and --from-junit need per-test results; pass --framework (or --junit) for this command",
      );
    }
    emit({ type: "phase", phase: "framework", detail: `${framework.adapter.name} (${framework.how})` });

    const parallelism = Math.max(1, Math.min(config.parallelism, config.runs));
    t = performance.now();
    emit({
      type: "phase",
      phase: "isolation",
      detail: `${parallelism} slot(s), isolation ${config.isolation}`,
    });
    const slots = await prepareSlots(source.dir, source.owned, parallelism, config.isolation, temp);
    timings.isolationMs = performance.now() - t;

    const jobSeed = config.seed ?? randomJobSeed();
    const session: Session = {
      config,
      adapter: framework.adapter,
      argv: req.command.argv,
      commandEnv: req.command.env,
      baseEnv,
      slotDirs: slots.dirs,
      resultsDir: temp.create("results"),
      junitGlob: req.junitGlob,
      logsDir: config.save_full_output ? prepareLogsDir(req.source.cwd, config.logs_dir) : undefined,
    };
    const aggregator = new TestAggregator();
    const attemptTests = new Map<number, ReportAttempt["tests"]>();
    const shuffledSeeds = new Set<number>();
    let withoutResults = 0;
    let warnedNoResults = false;
    // With --shuffle, odd attempts run shuffled and even ones in the declared order, so a test
    // failing only in shuffled orders can be told apart (orderDependent).
    const isShuffled = (index: number) => config.shuffle && index % 2 === 1;

    emit({
      type: "job-started",
      total: config.runs,
      parallelism,
      jobSeed,
      command: shellLine(req.command.argv, req.command.env),
    });
    t = performance.now();
    const looks = new Set(checkpoints(config.runs));
    const rule = {
      confidence: config.confidence,
      minDetectableRate: config.min_detectable_rate,
      thresholds: config.severity_thresholds,
      budget: config.runs,
    };
    const pool = await runPool({
      total: config.runs,
      parallelism,
      jobTimeoutMs: config.job_timeout === null ? null : config.job_timeout * 1000,
      emit,
      ...(req.signal ? { signal: req.signal } : {}),
      shouldStop: (finished) =>
        config.stop === "adaptive" &&
        looks.has(finished.length) &&
        allSettled(finished, aggregator, framework.adapter, rule),
      run: async (index, slot, signal) => {
        const seed = attemptSeed(jobSeed, index, config.random_seed_range);
        const shuffled = isShuffled(index);
        if (shuffled) shuffledSeeds.add(seed);
        const run = await runWithResults(session, { index, slot, seed, shuffled, tests: requested, signal });
        if (
          run.record.outcome !== "cancelled" &&
          run.record.outcome !== "errored" &&
          framework.adapter.results !== "none"
        ) {
          const folded = foldAttempt(aggregator, run, shuffled);
          attemptTests.set(index, folded);
          if (!run.results.ok) {
            withoutResults++;
            if (run.record.outcome === "passed" && !warnedNoResults) {
              warnedNoResults = true;
              warnings.push(
                `attempt ${index} passed but its results could not be read: ${run.results.reason}`,
              );
            }
          }
        }
        return run.record;
      },
    });
    timings.runMs = performance.now() - t;

    if (pool.attempts.length > 0 && pool.attempts.every((a) => a.outcome === "errored")) {
      const first = pool.attempts[0] as AttemptRecord;
      throw new InfraError(
        "E_ALL_ERRORED",
        `every attempt errored; none ran: ${first.error ?? "spawn failed"}`,
      );
    }

    for (const id of requested) {
      if (!aggregator.get(id)) {
        warnings.push(
          `test ${JSON.stringify(id)} did not run in any attempt; check the id (ids look like ${JSON.stringify(aggregator.list()[0]?.id ?? "file::name")})`,
        );
      }
    }

    const followUps: FollowUp[] = [];
    const finishedNormally = pool.stopReason === "budget" || pool.stopReason === "adaptive";
    if (finishedNormally && aggregator.size > 0) {
      const elapsed = performance.now() - started;
      const remaining = config.job_timeout === null ? null : Math.max(1, config.job_timeout * 1000 - elapsed);
      const signal = req.signal ?? new AbortController().signal;
      const flaky = aggregator.list().filter((x) => x.failures > 0 && x.failures < x.attempts);
      if (flaky.length > 0) {
        emit({
          type: "phase",
          phase: "seed-replay",
          detail: `${flaky.length} flaky test(s), up to 3 failing seeds each`,
        });
        followUps.push(
          ...(await replaySeeds(session, flaky, shuffledSeeds, {
            parallelism,
            firstIndex: config.runs,
            signal,
            jobTimeoutMs: remaining,
          })),
        );
      }
      const timeoutOnly = flaky.filter((x) => x.timeouts === x.failures);
      if (timeoutOnly.length > 0 && parallelism > 1) {
        emit({
          type: "phase",
          phase: "serial-confirmation",
          detail: `${timeoutOnly.length} test(s) that failed only by timing out`,
        });
        followUps.push(
          ...(await confirmSerially(session, timeoutOnly, {
            runs: SERIAL_CONFIRMATION_RUNS,
            jobSeed,
            seedRange: config.random_seed_range,
            firstIndex: config.runs + 10_000,
            signal,
            jobTimeoutMs: remaining,
          })),
        );
      }
    }

    timings.totalMs = performance.now() - started;
    failed = false;
    return buildReport({
      config,
      command: req.command,
      env: testEnv,
      source,
      adapter: framework.adapter,
      frameworkSource: framework.how,
      parallelism,
      jobSeed,
      attempts: pool.attempts,
      attemptTests,
      shuffledSeeds,
      attemptsWithoutResults: withoutResults,
      aggregator,
      requestedTests: requested,
      followUps,
      stopReason: pool.stopReason,
      timings,
      warnings,
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

/** The adaptive rule at a checkpoint: every test settled, or, without per-test results, the command. */
function allSettled(
  finished: readonly AttemptRecord[],
  aggregator: TestAggregator,
  adapter: FrameworkAdapter,
  rule: Parameters<typeof settleState>[2],
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
export function failedTestsOf(file: string, cwd: string): string[] {
  const path = resolve(cwd, file);
  let xml: string;
  try {
    xml = readFileSync(path, "utf8");
  } catch (e) {
    throw new UsageError(
      "E_FROM_JUNIT",
      `--from-junit: cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
  let cases: ReturnType<typeof parseJUnitCases>;
  try {
    cases = parseJUnitCases(xml);
  } catch (e) {
    throw new UsageError("E_FROM_JUNIT", `--from-junit: ${path} is not JUnit XML: ${(e as Error).message}`);
  }
  const ids = cases
    .filter((c) => c.status === "failed")
    .map((c) => {
      if (c.file) return defaultJUnitId(c);
      // pytest's default (xunit2) has no file: find the module path the classname names.
      const parts = (c.classname ?? "").split(".");
      for (let k = parts.length; k > 0; k--) {
        const candidate = `${parts.slice(0, k).join("/")}.py`;
        if (existsSync(join(cwd, candidate))) return [candidate, ...parts.slice(k), c.name].join("::");
      }
      return c.classname ? `${c.classname}::${c.name}` : [...c.suites, c.name].join(" > ");
    });
  if (ids.length === 0) {
    throw new UsageError("E_FROM_JUNIT", `--from-junit: ${path} lists no failed test; nothing to rerun`);
  }
  return ids;
}

function prepareLogsDir(cwd: string, logsDir: string): string {
  const dir = join(resolve(cwd, logsDir), new Date().toISOString().replace(/[:.]/g, "-"));
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new InfraError(
      "E_LOGS_DIR",
      `save_full_output: cannot create ${dir}: ${(e as Error).message}; set logs_dir`,
    );
  }
  return dir;
}

function withoutVariables(env: NodeJS.ProcessEnv, names: readonly string[]): NodeJS.ProcessEnv {
  if (names.length === 0) return env;
  const out = { ...env };
  for (const name of names) delete out[name];
  return out;
}
