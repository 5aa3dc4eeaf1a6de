import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import type { EventSink } from "../analysis/events.js";
import type { InstallCacheUse, Report } from "../analysis/report.js";
import type { Config } from "../config/schema.js";
import { InfraError, UsageError } from "../errors.js";
import type { FrameworkAdapter } from "../frameworks/index.js";
import { assertRunnable } from "../runner/preflight.js";
import { type AcquiredSource, acquireSource } from "../source/acquire.js";
import { withoutCredentials } from "../source/repo-spec.js";
import { Masker, withoutSecrets } from "../util/secrets.js";
import type { TempDirs } from "../util/temp-dirs.js";
import { detectInstallSteps, installDependencies, workspaceEnv } from "../workspace/install.js";
import { installCacheDir } from "../workspace/install-cache.js";
import { prepareSlots } from "../workspace/slots.js";
import { assertShuffleSupported, resolveFramework } from "./framework.js";
import { requestedTests } from "./requested.js";
import { type CiFailure, guessedId } from "./resolve-tests.js";
import { type Session, withTmpDir } from "./session.js";
import { AttemptTimeout } from "./timeout.js";

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
  /**
   * Remove every secret variable (docs/security.md) from the tested environment, as servers and
   * workers do. A local run passes them on (tests often need them) and masks their values.
   */
  hideSecrets?: boolean;
  /** Run only these test ids (--test). */
  tests?: string[];
  /** A CI run's JUnit file: rerun only the tests that failed in it (--from-junit). */
  fromJunit?: string;
  /** Failed testcases of CI files already read (the Action's artifacts). */
  ciFailures?: readonly CiFailure[];
  /** Generic JUnit: files the command writes (--junit). */
  junitGlob?: string;
  signal?: AbortSignal;
  emit?: EventSink;
  warnings?: string[];
  /** Root for temporary directories (tests point it at their own). */
  tempRoot?: string;
}

/** A workspace ready for attempts: the source, its dependencies, the framework and the slots. */
export interface PreparedRun {
  source: AcquiredSource;
  session: Session;
  adapter: FrameworkAdapter;
  frameworkSource: string;
  parallelism: number;
  /** Test ids to run (--test and --from-junit), empty for all. */
  requested: string[];
  /** CI failures that match no test of the suite: reported as not rerun. */
  notFound: string[];
  /** The environment the tested code sees (secrets removed). */
  testEnv: NodeJS.ProcessEnv;
  /** What the install cache did (empty without an install or a cache). */
  installCache: InstallCacheUse[];
}

export interface PrepareContext {
  temp: TempDirs;
  emit: EventSink;
  warnings: string[];
  timings: Report["timings"];
  /** Attempts this run will make at most (slots beyond it would sit idle). */
  attempts: number;
  /**
   * Failed testcases of CI JUnit files (--from-junit, the Action's artifacts), resolved against the
   * framework's listing of its tests, as are --test ids. Without it (a remote shard, whose ids were
   * settled by its client), ids are used as given.
   */
  ciFailures?: readonly CiFailure[];
  /** Check --test ids (and resolve ciFailures) against the framework's listing before any attempt. */
  verifyTests?: boolean;
  /** Secret values to mask in output and logs (requestMasker). */
  masker: Masker;
}

/** The masker of a request: its environment's secrets and those of the command's own variables. */
export function requestMasker(req: Pick<DetectRequest, "env" | "command" | "config">): Masker {
  return Masker.forEnv({ ...req.env, ...req.command.env }, req.config.secrets);
}

/**
 * Source → install → framework → slots: everything before the first attempt. Shared by a local
 * detection and by a remote worker's shard, so both run attempts in the same kind of workspace.
 */
export async function prepareRun(req: DetectRequest, ctx: PrepareContext): Promise<PreparedRun> {
  const { config } = req;
  const { emit, timings } = ctx;
  const visible = withoutVariables(req.env, req.hideFromTests ?? []);
  const testEnv = req.hideSecrets ? withoutSecrets(visible, config.secrets) : visible;
  // Before validation: a refused URL may still carry credentials, and this line is printed.
  emit({
    type: "phase",
    phase: "source",
    detail: req.source.repo !== undefined ? withoutCredentials(req.source.repo) : req.source.cwd,
  });
  let t = performance.now();
  const source = await acquireSource(
    {
      cwd: req.source.cwd,
      willInstall: config.auto_install_dependencies,
      ...(req.source.repo !== undefined ? { repo: req.source.repo } : {}),
      ...(req.source.ref !== undefined ? { ref: req.source.ref } : {}),
    },
    { temp: ctx.temp, env: req.env, ...(req.signal ? { signal: req.signal } : {}) },
  );
  timings.sourceMs = performance.now() - t;

  t = performance.now();
  // The user's own directory is theirs: we run their tests as they are, and install only into
  // workspaces we created (a copy or a clone).
  let installCache: InstallCacheUse[] = [];
  if (source.owned && config.auto_install_dependencies) {
    const steps = detectInstallSteps(source.dir);
    if (steps.length > 0) {
      installCache = await installDependencies(source.dir, steps, {
        env: testEnv,
        timeoutMs: config.install_timeout * 1000,
        cacheDir: installCacheDir(config.install_cache, req.env),
        ...(req.signal ? { signal: req.signal } : {}),
        onStep: (step, reused) =>
          emit({
            type: "phase",
            phase: "install",
            detail: reused
              ? `node_modules from the install cache (${reused.slice(0, 12)}) instead of ${step.argv.join(" ")}`
              : step.argv.join(" "),
          }),
      });
    }
  }
  timings.installMs = performance.now() - t;

  const baseEnv = workspaceEnv(source.dir, testEnv);
  assertRunnable(req.command.argv[0] as string, source.dir, { ...baseEnv, ...req.command.env }.PATH);
  const framework = resolveFramework(config, req.command.argv, source.dir, req.junitGlob);
  assertShuffleSupported(framework.adapter, config.shuffle);
  ctx.warnings.push(...framework.warnings);
  const userIds = [...new Set(req.tests ?? [])];
  const ciFailures = ctx.ciFailures ?? [];
  if ((userIds.length > 0 || ciFailures.length > 0) && framework.adapter.results === "none") {
    throw new UsageError(
      "E_USAGE",
      "--test and --from-junit need per-test results; pass --framework (or --junit) for this command",
    );
  }
  emit({ type: "phase", phase: "framework", detail: `${framework.adapter.name} (${framework.how})` });

  const parallelism = Math.max(1, Math.min(config.parallelism, ctx.attempts));
  t = performance.now();
  emit({
    type: "phase",
    phase: "isolation",
    detail: `${parallelism} slot(s), isolation ${config.isolation}`,
  });
  const slots = await prepareSlots(source.dir, source.owned, parallelism, config.isolation, ctx.temp);
  timings.isolationMs = performance.now() - t;

  const slotTmpDirs = slots.dirs.map((_, i) => ctx.temp.create(`tmp${i}`));
  const { ids: requested, notFound } = ctx.verifyTests
    ? await requestedTests({
        adapter: framework.adapter,
        argv: req.command.argv,
        userIds,
        ci: ciFailures,
        cwd: slots.dirs[0] as string,
        env: withTmpDir({ ...baseEnv, ...req.command.env }, slotTmpDirs[0] as string),
        makeDir: () => ctx.temp.create("listing"),
        masker: ctx.masker,
        emit,
        warnings: ctx.warnings,
        ...(req.signal ? { signal: req.signal } : {}),
      })
    : {
        ids: [...userIds, ...ciFailures.map((f) => guessedId(framework.adapter, f.case, source.dir))],
        notFound: [],
      };

  return {
    source,
    adapter: framework.adapter,
    frameworkSource: framework.how,
    parallelism,
    requested,
    notFound,
    testEnv,
    installCache,
    session: {
      config,
      adapter: framework.adapter,
      argv: req.command.argv,
      commandEnv: req.command.env,
      baseEnv,
      slotDirs: slots.dirs,
      slotTmpDirs,
      resultsDir: ctx.temp.create("results"),
      junitGlob: req.junitGlob,
      logsDir: config.save_full_output ? prepareLogsDir(req.source.cwd, config.logs_dir) : undefined,
      masker: ctx.masker,
      timeout: new AttemptTimeout(config.timeout, Math.min(parallelism, config.runs)),
      parseContext: { argv: req.command.argv, env: { ...baseEnv, ...req.command.env } },
    },
  };
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
