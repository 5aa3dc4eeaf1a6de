import { randomUUID } from "node:crypto";
import { mkdirSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join, resolve } from "node:path";
import type { EventSink } from "../analysis/events.js";
import type { Report } from "../analysis/report.js";
import { summarize } from "../analysis/summarize.js";
import type { Config } from "../config/schema.js";
import { InfraError } from "../errors.js";
import { type AttemptRecord, runAttempt } from "../runner/attempt.js";
import { shellLine } from "../runner/command-line.js";
import { runPool } from "../runner/pool.js";
import { assertRunnable } from "../runner/preflight.js";
import { attemptSeed, randomJobSeed } from "../runner/seeds.js";
import { acquireSource } from "../source/acquire.js";
import { TempDirs } from "../util/temp-dirs.js";
import { TOOL } from "../version.js";
import { detectInstallSteps, installDependencies, workspaceEnv } from "../workspace/install.js";
import { prepareSlots } from "../workspace/slots.js";

export interface DetectRequest {
  config: Config;
  command: { argv: string[]; env: Record<string, string> };
  source: { cwd: string; repo?: string; ref?: string };
  /** Base environment of attempts (normally process.env). */
  env: NodeJS.ProcessEnv;
  signal?: AbortSignal;
  emit?: EventSink;
  warnings?: string[];
  /** Root for temporary directories (tests point it at their own). */
  tempRoot?: string;
}

/**
 * The whole local pipeline: source → workspace → slots → attempts → analysis → Report.
 * Infrastructure failures throw InfraError; test failures are data in the Report.
 */
export async function detect(req: DetectRequest): Promise<Report> {
  const { config } = req;
  const emit: EventSink = req.emit ?? (() => {});
  const warnings = [...(req.warnings ?? [])];
  const temp = new TempDirs(req.tempRoot);
  const started = performance.now();
  const timings = { sourceMs: 0, installMs: 0, isolationMs: 0, runMs: 0, totalMs: 0 };
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
          env: req.env,
          timeoutMs: config.install_timeout * 1000,
          ...(req.signal ? { signal: req.signal } : {}),
          onStep: (step) => emit({ type: "phase", phase: "install", detail: step.argv.join(" ") }),
        });
      }
    }
    timings.installMs = performance.now() - t;

    const baseEnv = workspaceEnv(source.dir, req.env);
    const program = req.command.argv[0] as string;
    assertRunnable(program, source.dir, { ...baseEnv, ...req.command.env }.PATH);

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
    const logsDir = config.save_full_output ? prepareLogsDir(req.source.cwd, config.logs_dir) : undefined;
    emit({
      type: "job-started",
      total: config.runs,
      parallelism,
      jobSeed,
      command: shellLine(req.command.argv, req.command.env),
    });
    t = performance.now();
    const pool = await runPool({
      total: config.runs,
      parallelism,
      jobTimeoutMs: config.job_timeout === null ? null : config.job_timeout * 1000,
      emit,
      ...(req.signal ? { signal: req.signal } : {}),
      run: (index, slot, signal) =>
        runAttempt({
          index,
          slot,
          seed: attemptSeed(jobSeed, index, config.random_seed_range),
          argv: req.command.argv,
          cwd: slots.dirs[slot] as string,
          baseEnv,
          commandEnv: req.command.env,
          timeoutMs: config.timeout * 1000,
          killGraceMs: config.kill_grace * 1000,
          headBytes: config.output_head_bytes,
          tailBytes: config.output_tail_bytes,
          signal,
          ...(logsDir ? { logFile: join(logsDir, `attempt-${index}.log`) } : {}),
        }),
    });
    timings.runMs = performance.now() - t;

    if (pool.attempts.length > 0 && pool.attempts.every((a) => a.outcome === "errored")) {
      const first = pool.attempts[0] as AttemptRecord;
      throw new InfraError(
        "E_ALL_ERRORED",
        `every attempt errored; none ran: ${first.error ?? "spawn failed"}`,
      );
    }
    timings.totalMs = performance.now() - started;
    failed = false;
    return buildReport({
      req,
      source,
      parallelism,
      jobSeed,
      attempts: pool.attempts,
      stopReason: pool.stopReason,
      timings,
      warnings,
      logsDir,
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

interface BuildInput {
  req: DetectRequest;
  source: Awaited<ReturnType<typeof acquireSource>>;
  parallelism: number;
  jobSeed: number;
  attempts: AttemptRecord[];
  stopReason: Report["summary"]["stopReason"];
  timings: Report["timings"];
  warnings: string[];
  logsDir: string | undefined;
}

function buildReport(b: BuildInput): Report {
  const { config } = b.req;
  const attempts = b.attempts.flatMap((a) =>
    a.outcome === "cancelled" ? [] : [{ ...a, outcome: a.outcome }],
  );
  const summary = summarize(
    attempts.map((a) => a.outcome),
    {
      confidence: config.confidence,
      thresholds: config.severity_thresholds,
      budget: config.runs,
      stopReason: b.stopReason,
    },
  );
  const firstFailure = attempts.find((a) => a.outcome === "failed" || a.outcome === "timedOut");
  const round = (x: number) => Math.round(x);
  return {
    schemaVersion: 1,
    id: randomUUID(),
    createdAt: new Date().toISOString(),
    tool: TOOL,
    request: {
      command: b.req.command.argv,
      // Names only: values of the command's own variables may be secrets.
      commandEnv: Object.keys(b.req.command.env),
      runs: config.runs,
      parallelism: b.parallelism,
      timeout: config.timeout,
      jobTimeout: config.job_timeout,
      framework: config.framework,
      stop: config.stop,
      confidence: config.confidence,
      shuffle: config.shuffle,
      isolation: config.isolation,
      seed: b.jobSeed,
      failOn: config.fail_on,
      severityThresholds: config.severity_thresholds,
    },
    source: { repo: b.source.repo, ref: b.source.ref, commit: b.source.commit, kind: b.source.kind },
    framework: "command",
    summary,
    tests: [],
    attempts: attempts.map((a) => ({
      index: a.index,
      seed: a.seed,
      slot: a.slot,
      outcome: a.outcome,
      exitCode: a.exitCode,
      signal: a.signal,
      durationMs: a.durationMs,
      timedOut: a.timedOut,
      tests: null,
      outputTail: a.output,
      outputBytes: a.outputBytes,
      ...(a.error ? { error: a.error } : {}),
      ...(a.logFile ? { logFile: a.logFile } : {}),
    })),
    reproduce: firstFailure
      ? shellLine(b.req.command.argv, { TEST_SEED: String(firstFailure.seed), ...b.req.command.env })
      : null,
    timings: {
      sourceMs: round(b.timings.sourceMs),
      installMs: round(b.timings.installMs),
      isolationMs: round(b.timings.isolationMs),
      runMs: round(b.timings.runMs),
      totalMs: round(b.timings.totalMs),
    },
    environment: {
      platform: process.platform,
      arch: process.arch,
      node: process.version,
      cpus: availableParallelism(),
      ci: Boolean(b.req.env.CI),
    },
    warnings: b.warnings,
  };
}
