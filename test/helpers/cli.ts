import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Report } from "../../src/analysis/report.js";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const BIN = join(ROOT, "dist/cli/bin.js");
export const FIXTURES = join(ROOT, "test/fixtures/bin");
export const fixture = (name: string) => join(FIXTURES, name);
const HISTORY_HOME = mkdtempSync(join(tmpdir(), "fd-history-"));
process.on("exit", () => rmSync(HISTORY_HOME, { recursive: true, force: true }));

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Called once stderr contains this text (to send a signal mid-run). */
  onStderr?: { includes: string; act: (pid: number) => void };
}

/** Spawn the built CLI (dist/) exactly as a user would. */
export function runCli(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: opts.cwd ?? ROOT,
      env: { ...cleanEnv(), ...opts.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    let fired = false;
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
      if (opts.onStderr && !fired && stderr.includes(opts.onStderr.includes)) {
        fired = true;
        opts.onStderr.act(child.pid as number);
      }
    });
    child.on("error", reject);
    child.on("close", (code, signal) => resolvePromise({ code, signal, stdout, stderr }));
  });
}

/** The parent's environment without our own FLAKY_DETECTOR_* settings or CI colouring. */
export function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith("FLAKY_DETECTOR_") && k !== "FORCE_COLOR") env[k] = v;
  }
  env.NO_COLOR = "1";
  // History goes to a per-run temporary location, never the developer's own database.
  env.XDG_DATA_HOME = HISTORY_HOME;
  // So does the install cache (XDG_CACHE_HOME stays: Go's build cache lives there).
  env.FLAKY_DETECTOR_INSTALL_CACHE = join(HISTORY_HOME, "installs");
  return env;
}

export function tempDir(prefix = "fd-test-"): { path: string; cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

export function readReport(file: string): Report {
  return JSON.parse(readFileSync(file, "utf8")) as Report;
}

/** Running (a zombie waiting for a reaper that never comes, as in some containers, counts as dead). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

/** A python3 that can import pytest: the one on PATH, else Debian's (python3-pytest, installed by .ci/run). */
export function pythonWithPytest(): string {
  for (const candidate of ["python3", "/usr/bin/python3"]) {
    const r = spawnSync(candidate, ["-c", "import pytest"], { stdio: "ignore" });
    if (r.status === 0) return candidate;
  }
  throw new Error("no python3 with pytest: install python3-pytest (bash .ci/run does)");
}
