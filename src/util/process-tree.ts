import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { closeSync, openSync } from "node:fs";
import { killMarked, MARK_VARIABLE, OWNER_VARIABLE } from "./escapees.js";
import { type HeadTail, headTailText, OutputCapture, readHeadAndTail } from "./output-capture.js";
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
  /** Save the full output here as well (masked). */
  logFile?: string;
  /**
   * Standard output goes (only) here, whole: for tools that report results on stdout. The captured
   * output is then its head and tail followed by standard error's.
   */
  stdoutFile?: string;
  /** Standard error goes to `stdoutFile` too, in the order written. */
  stderrToStdoutFile?: boolean;
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

/** Output files are trimmed to their head and tail when they pass this size, checked this often. */
const TRIM_AT = 8 * 1024 * 1024;
const TRIM_EVERY_MS = 250;

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
  const masker = opts.masker ?? Masker.none();
  // Every process of this run inherits the mark, even one that leaves the group with setsid.
  const mark = randomUUID();
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
      const escaped = child?.pid !== undefined ? killMarked(mark, child.pid, liveGroups) : [];
      const mask = (piece: string) => masker.edges(piece);
      // A read that fails (the file removed under us) loses the output, never the result.
      let own: HeadTail = { head: Buffer.alloc(0), tail: Buffer.alloc(0), total: 0 };
      try {
        own = capture.read();
      } catch {
        // Keep the empty output.
      }
      const stdoutPart = opts.stdoutFile
        ? readHeadAndTail(opts.stdoutFile, opts.headBytes, opts.tailBytes)
        : null;
      // Results on stdout (go test -json) are parsed from the file, not masked there: a
      // secret-looking value must not corrupt the JSON lines; the captured text is masked.
      const output = stdoutPart
        ? [headTailText(stdoutPart, mask), headTailText(own, mask)].filter((t) => t !== "").join("\n")
        : headTailText(own, mask);
      const done = () => {
        capture.remove();
        resolve({
          ...(spawnError ? { spawnError } : {}),
          ...(terminatedBy ? { terminatedBy } : {}),
          exitCode: exit?.code ?? null,
          signal: exit?.signal ?? null,
          durationMs: durationMs || performance.now() - started,
          output,
          outputBytes: own.total + (stdoutPart?.total ?? 0),
          escaped,
        });
      };
      if (opts.logFile) void capture.saveAs(opts.logFile, masker).then(done, done);
      else done();
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

    // Output goes to a file the program writes itself (see OutputCapture); trimmed as it grows
    // unless the whole of it is wanted in a log file.
    const capture = new OutputCapture(
      opts.headBytes,
      opts.tailBytes,
      opts.logFile ? Number.POSITIVE_INFINITY : Math.max(TRIM_AT, 4 * (opts.headBytes + opts.tailBytes)),
    );
    if (!opts.logFile) {
      const trimmer = setInterval(() => capture.trim(), TRIM_EVERY_MS);
      trimmer.unref();
      timers.push(trimmer);
    }
    let stdoutFd: number | undefined;
    try {
      if (opts.stdoutFile) stdoutFd = openSync(opts.stdoutFile, "w");
      child = spawn(file, args, {
        cwd: opts.cwd,
        env: { ...opts.env, [MARK_VARIABLE]: mark, [OWNER_VARIABLE]: SELF },
        detached: true,
        stdio: [
          opts.stdin === undefined ? "ignore" : "pipe",
          stdoutFd ?? capture.fd,
          opts.stderrToStdoutFile && stdoutFd !== undefined ? stdoutFd : capture.fd,
        ],
        windowsHide: true,
      });
    } catch (e) {
      spawnError = e as NodeJS.ErrnoException;
      finish();
      return;
    } finally {
      // The child holds its own copy of the descriptor.
      if (stdoutFd !== undefined) closeSync(stdoutFd);
    }
    if (child.pid !== undefined) track(child.pid);
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
      // this attempt: finish() stops it. Output is in a file, so no pipe it holds can keep us waiting;
      // only a standard input we feed can delay "close", and not for long.
      killGroup("SIGTERM");
      timers.push(
        setTimeout(() => {
          child.stdin?.destroy();
          finish();
        }, opts.killGraceMs + 1000).unref(),
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
