import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream, type WriteStream } from "node:fs";
import { BoundedOutput } from "./bounded-output.js";

/**
 * Runs one program in its own process group without a shell, and stops the whole tree: SIGTERM to
 * the group, SIGKILL after a grace period. Every subprocess we start (attempts, installs, git) goes
 * through here so a hung test can never leave orphans behind.
 */

export interface RunTreeOptions {
  argv: readonly string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  timeoutMs?: number;
  killGraceMs: number;
  headBytes: number;
  tailBytes: number;
  /** Stream the full output here as well. */
  logFile?: string;
  /** Stream the full standard output (only) here: for tools that report results on stdout. */
  stdoutFile?: string;
  signal?: AbortSignal;
  /** Fed to the program's standard input, then closed. */
  stdin?: string;
}

export type Termination = "timeout" | "aborted";

export interface RunTreeResult {
  /** The spawn itself failed (ENOENT, EACCES, …); nothing ran. */
  spawnError?: NodeJS.ErrnoException;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** Why we stopped it, if we did; the first reason wins. */
  terminatedBy?: Termination;
  durationMs: number;
  output: string;
  outputBytes: number;
}

/** Process groups still running; SIGKILLed if we exit abruptly (a second Ctrl-C, a crash). */
const liveGroups = new Set<number>();
let exitHookInstalled = false;
function track(pid: number): void {
  liveGroups.add(pid);
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const group of liveGroups) {
      try {
        process.kill(-group, "SIGKILL");
      } catch {
        // Already gone.
      }
    }
  });
}

export function runTree(opts: RunTreeOptions): Promise<RunTreeResult> {
  const [file, ...args] = opts.argv;
  if (!file) throw new TypeError("runTree: empty argv");
  const output = new BoundedOutput(opts.headBytes, opts.tailBytes);
  let log: WriteStream | undefined;
  let stdoutLog: WriteStream | undefined;
  const started = performance.now();

  return new Promise<RunTreeResult>((resolve) => {
    let child: ChildProcess;
    let terminatedBy: Termination | undefined;
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let durationMs = 0;
    let spawnError: NodeJS.ErrnoException | undefined;
    let settled = false;
    const timers: NodeJS.Timeout[] = [];

    const finish = () => {
      if (settled) return;
      settled = true;
      for (const t of timers) clearTimeout(t);
      opts.signal?.removeEventListener("abort", onAbort);
      // A leftover that ignored SIGTERM and closed its pipes must not outlive the attempt.
      killGroup("SIGKILL");
      if (child?.pid !== undefined) liveGroups.delete(child.pid);
      const done = () =>
        resolve({
          ...(spawnError ? { spawnError } : {}),
          ...(terminatedBy ? { terminatedBy } : {}),
          exitCode: exit?.code ?? null,
          signal: exit?.signal ?? null,
          durationMs: durationMs || performance.now() - started,
          output: output.text(),
          outputBytes: output.total,
        });
      const streams = [log, stdoutLog].filter((w): w is WriteStream => w !== undefined);
      let open = streams.length;
      if (open === 0) done();
      for (const w of streams) w.end(() => --open === 0 && done());
    };

    const killGroup = (sig: NodeJS.Signals) => {
      if (child?.pid === undefined) return;
      try {
        process.kill(-child.pid, sig);
      } catch {
        // ESRCH: the group is already gone.
      }
    };

    const terminate = (reason: Termination) => {
      if (exit || settled) return;
      terminatedBy ??= reason;
      killGroup("SIGTERM");
      timers.push(setTimeout(() => killGroup("SIGKILL"), opts.killGraceMs).unref());
    };

    const onAbort = () => terminate("aborted");

    try {
      child = spawn(file, args, {
        cwd: opts.cwd,
        env: opts.env,
        detached: true,
        stdio: [opts.stdin === undefined ? "ignore" : "pipe", "pipe", "pipe"],
        windowsHide: true,
      });
    } catch (e) {
      spawnError = e as NodeJS.ErrnoException;
      finish();
      return;
    }
    if (child.pid !== undefined) track(child.pid);
    if (opts.logFile) log = createWriteStream(opts.logFile);
    if (opts.stdoutFile) stdoutLog = createWriteStream(opts.stdoutFile);
    const onData = (chunk: Buffer) => {
      output.push(chunk);
      log?.write(chunk);
    };
    child.stdout?.on("data", (chunk: Buffer) => {
      onData(chunk);
      stdoutLog?.write(chunk);
    });
    child.stderr?.on("data", onData);
    if (opts.stdin !== undefined) child.stdin?.end(opts.stdin);
    child.stdin?.on("error", () => {});

    child.on("error", (e: NodeJS.ErrnoException) => {
      if (child.pid === undefined) {
        spawnError = e;
        finish();
      }
    });

    child.on("exit", (code, signal) => {
      durationMs = performance.now() - started;
      exit = { code, signal };
      // The leader is gone; anything left in its group (a backgrounded grandchild) is a leftover of
      // this attempt. Stop it, and do not wait forever for pipes it may hold open.
      killGroup("SIGTERM");
      timers.push(
        setTimeout(() => {
          killGroup("SIGKILL");
          timers.push(
            setTimeout(() => {
              child.stdout?.destroy();
              child.stderr?.destroy();
              finish();
            }, 1000).unref(),
          );
        }, opts.killGraceMs).unref(),
      );
    });
    child.on("close", () => {
      if (exit) finish();
    });

    if (opts.timeoutMs !== undefined && Number.isFinite(opts.timeoutMs)) {
      timers.push(setTimeout(() => terminate("timeout"), opts.timeoutMs));
    }
    if (opts.signal?.aborted) terminate("aborted");
    else opts.signal?.addEventListener("abort", onAbort, { once: true });
  });
}
