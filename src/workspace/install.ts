import { existsSync } from "node:fs";
import { join } from "node:path";
import type { InstallCacheUse } from "../analysis/report.js";
import { InfraError } from "../errors.js";
import { runTree } from "../util/process-tree.js";
import { installKey, nodeVersion, restoreInstall, storeInstall } from "./install-cache.js";

export interface InstallStep {
  /** "npm", "pip", … for messages. */
  tool: string;
  argv: string[];
}

/** The virtual environment we create for Python projects, inside the workspace. */
export const VENV_DIR = ".flaky-venv";

/** What a fresh checkout needs before its tests can run, from the files it has. */
export function detectInstallSteps(dir: string): InstallStep[] {
  const has = (f: string) => existsSync(join(dir, f));
  const steps: InstallStep[] = [];
  if (has("package.json")) {
    if (has("pnpm-lock.yaml")) steps.push({ tool: "pnpm", argv: ["pnpm", "install", "--frozen-lockfile"] });
    else if (has("yarn.lock"))
      steps.push({
        tool: "yarn",
        argv: has(".yarnrc.yml")
          ? ["yarn", "install", "--immutable"]
          : ["yarn", "install", "--frozen-lockfile"],
      });
    else if (has("package-lock.json") || has("npm-shrinkwrap.json"))
      steps.push({ tool: "npm", argv: ["npm", "ci", "--no-audit", "--no-fund"] });
    else steps.push({ tool: "npm", argv: ["npm", "install", "--no-audit", "--no-fund"] });
  }
  const requirements = ["requirements.txt", "requirements-dev.txt", "requirements-test.txt"].filter(has);
  if (requirements.length > 0 || has("pyproject.toml") || has("setup.py")) {
    const pip = [
      join(VENV_DIR, "bin", "python"),
      "-m",
      "pip",
      "install",
      "--disable-pip-version-check",
      "--quiet",
    ];
    // System site packages stay visible so a test runner installed by the OS (python3-pytest) still imports.
    steps.push({ tool: "venv", argv: ["python3", "-m", "venv", "--system-site-packages", VENV_DIR] });
    if (requirements.length > 0) {
      steps.push({ tool: "pip", argv: [...pip, ...requirements.flatMap((r) => ["-r", r])] });
    } else {
      steps.push({ tool: "pip", argv: [...pip, "-e", "."] });
    }
  }
  if (has("go.mod")) steps.push({ tool: "go", argv: ["go", "mod", "download"] });
  if (has("Cargo.toml")) steps.push({ tool: "cargo", argv: ["cargo", "fetch"] });
  return steps;
}

/** PATH and VIRTUAL_ENV so that `python`, `pytest` and `node_modules/.bin` tools resolve to the workspace's. */
export function workspaceEnv(dir: string, base: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env = { ...base };
  const bins: string[] = [];
  if (existsSync(join(dir, VENV_DIR, "bin"))) {
    bins.push(join(dir, VENV_DIR, "bin"));
    env.VIRTUAL_ENV = join(dir, VENV_DIR);
  }
  if (existsSync(join(dir, "node_modules", ".bin"))) bins.push(join(dir, "node_modules", ".bin"));
  if (bins.length > 0) env.PATH = [...bins, env.PATH ?? ""].filter(Boolean).join(":");
  return env;
}

export interface InstallOptions {
  env: NodeJS.ProcessEnv;
  timeoutMs: number;
  signal?: AbortSignal;
  /** Before each step; with `reusedKey` when its result was copied from the cache instead. */
  onStep?(step: InstallStep, reusedKey?: string): void;
  /** Where JavaScript installs are kept for reuse (install_cache), or null. */
  cacheDir?: string | null;
}

const JS_TOOLS = new Set(["npm", "pnpm", "yarn"]);

/** Run the steps in order; any failure is an infrastructure error with the log tail, never a test result. */
export async function installDependencies(
  dir: string,
  steps: readonly InstallStep[],
  opts: InstallOptions,
): Promise<InstallCacheUse[]> {
  const deadline = Date.now() + opts.timeoutMs;
  const cache: InstallCacheUse[] = [];
  for (const step of steps) {
    let key: string | undefined;
    if (opts.cacheDir && JS_TOOLS.has(step.tool)) {
      const node = await nodeVersion(opts.env, dir);
      const k = node ? installKey(dir, step.argv, node) : { reason: "no node on the tests' PATH" };
      const what = step.argv.join(" ");
      if ("reason" in k) cache.push({ use: "not cacheable", step: what, reason: k.reason });
      else if (await restoreInstall(opts.cacheDir, k.key, dir)) {
        cache.push({ use: "reused", step: what, key: k.key });
        opts.onStep?.(step, k.key);
        // What `npm ci` would have done beyond node_modules: the package's own install scripts.
        for (const script of k.scripts) {
          const again = { tool: step.tool, argv: ["npm", "run", "--ignore-scripts", script] };
          opts.onStep?.(again);
          await runStep(dir, again, deadline, opts);
        }
        continue;
      } else key = k.key;
    }
    opts.onStep?.(step);
    await runStep(dir, step, deadline, opts);
    if (key && opts.cacheDir) {
      const what = step.argv.join(" ");
      // A cache that cannot be written costs the next job an install, never this one its run.
      const stored = await storeInstall(opts.cacheDir, key, dir, { step: what }).catch(
        (e: Error) => e.message,
      );
      if (stored === "stored") cache.push({ use: "stored", step: what, key });
      else cache.push({ use: "not stored", step: what, key, reason: stored });
    }
  }
  return cache;
}

async function runStep(
  dir: string,
  step: InstallStep,
  deadline: number,
  opts: InstallOptions,
): Promise<void> {
  const remaining = deadline - Date.now();
  if (remaining <= 0) throw timeoutError(step, opts.timeoutMs, "");
  const result = await runTree({
    argv: step.argv,
    cwd: dir,
    env: { ...opts.env, CI: opts.env.CI ?? "1" },
    timeoutMs: remaining,
    killGraceMs: 2000,
    headBytes: 4096,
    tailBytes: 16384,
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  if (result.spawnError) {
    throw new InfraError(
      "E_INSTALL_TOOL_MISSING",
      `dependency install: cannot run ${step.argv[0]} (${result.spawnError.code ?? result.spawnError.message}); install ${step.tool}, or set auto_install_dependencies: false`,
    );
  }
  if (result.terminatedBy === "timeout") throw timeoutError(step, opts.timeoutMs, result.output);
  if (result.terminatedBy === "aborted") throw new InfraError("E_CANCELLED", "dependency install cancelled");
  if (result.exitCode !== 0) {
    throw new InfraError(
      "E_INSTALL_FAILED",
      `dependency install failed: \`${step.argv.join(" ")}\` exited with ${result.exitCode ?? result.signal}`,
      { details: logTail(result.output) },
    );
  }
}

function timeoutError(step: InstallStep, timeoutMs: number, output: string): InfraError {
  return new InfraError(
    "E_INSTALL_TIMEOUT",
    `dependency install timed out after ${timeoutMs / 1000}s in \`${step.argv.join(" ")}\`; raise install_timeout in .flaky-detector.yml`,
    { details: logTail(output) },
  );
}

function logTail(output: string): string[] {
  return output.trimEnd().split("\n").slice(-25);
}
