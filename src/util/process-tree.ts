import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { createWriteStream } from "node:fs";
import { BoundedOutput } from "./bounded-output.js";
import { killMarked, MARK_VARIABLE, OWNER_VARIABLE } from "./escapees.js";
import { MaskingWriter } from "./masking-writer.js";
import { SELF } from "./owner.js";
import { Masker } from "./secrets.js";

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
  /** Secret values replaced in the captured output and the log files. */
  masker?: Masker;
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
  /**
   * Processes that left the process group (setsid, double fork) and were still running after the
   * program ended; found by the mark in their environment and killed. Linux only (empty elsewhere).
   */
  escaped: number[];
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
  const masker = opts.masker ?? Masker.none();
  // Every process of this run inherits the mark, even one that leaves the group with setsid.
  const mark = randomUUID();
  let log: MaskingWriter | undefined;
  let stdoutLog: MaskingWriter | undefined;
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
      // The group itself was just killed; only processes outside it escaped.
      const escaped = child?.pid !== undefined ? killMarked(mark, child.pid) : [];
      const done = () =>
        resolve({
          ...(spawnError ? { spawnError } : {}),
          ...(terminatedBy ? { terminatedBy } : {}),
          exitCode: exit?.code ?? null,
          signal: exit?.signal ?? null,
          durationMs: durationMs || performance.now() - started,
          output: output.text((piece) => masker.edges(piece)),
          outputBytes: output.total,
          escaped,
        });
      const streams = [log, stdoutLog].filter((w): w is MaskingWriter => w !== undefined);
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
        env: { ...opts.env, [MARK_VARIABLE]: mark, [OWNER_VARIABLE]: SELF },
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
    if (opts.logFile) log = new MaskingWriter(createWriteStream(opts.logFile), masker);
    // Results on stdout (go test -json) are parsed, not shown: masked at the report instead, so a
    // secret-looking value cannot corrupt the JSON lines.
    if (opts.stdoutFile) stdoutLog = new MaskingWriter(createWriteStream(opts.stdoutFile), Masker.none());
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
