import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { closeSync, openSync } from "node:fs";
import { killMarked, MARK_VARIABLE, OWNER_VARIABLE } from "./escapees.js";
import { type HeadTail, headTailText, OutputCapture, readHeadAndTail } from "./output-capture.js";
import { SELF } from "./owner.js";
import { Masker } from "./secrets.js";
import { which } from "./which.js";

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
  const tree = startTree(opts, false);
  tree.go(opts.timeoutMs, opts.signal);
  return tree.result;
}

/**
 * A program started ahead of its turn and held just before it execs: `/bin/sh` waits on a pipe,
 * then `exec`s the argv as given (positional parameters, never parsed by the shell). Forking this
 * process costs the event loop milliseconds (Node forks the whole process and waits for the exec),
 * so a slot starts its next attempt's process while the current one runs; releasing it then costs
 * one write. docs/design/prestart.md.
 */
export interface HeldTree {
  /**
   * Lets the program run; its duration and timeout count from here. Undefined when the held process
   * is gone (killed before its turn): nothing of the program ran, start it afresh.
   */
  release(timeoutMs: number | undefined, signal: AbortSignal | undefined): Promise<RunTreeResult> | undefined;
  /** Kills the held process and removes its files; the program never ran. */
  drop(): void;
  /** The held process, which becomes the program's (and its group's leader) when released. */
  readonly pid: number;
}

/** Waits for a line on descriptor 3, closes it, and becomes the program; exit 125 if never released. */
const HOLD_SCRIPT = 'IFS= read -r _ <&3 || exit 125; exec 3<&-; exec "$@"';
const SHELL = "/bin/sh";

/**
 * Holds `opts` (see HeldTree), or undefined where holding could change what runs: no POSIX shell,
 * a standard input to feed, or a program that does not resolve, whose spawn error only a direct
 * start reports (a shell would exit 127, which reads as a failed test).
 */
export function holdTree(opts: RunTreeOptions): HeldTree | undefined {
  const file = opts.argv[0];
  if (!file || opts.stdin !== undefined || !canHold()) return undefined;
  if (!which(file, opts.cwd, opts.env.PATH)) return undefined;
  const tree = startTree(opts, true);
  if (tree.failed()) {
    tree.drop();
    return undefined;
  }
  return {
    release: (timeoutMs, signal) => (tree.go(timeoutMs, signal) ? tree.result : undefined),
    drop: () => tree.drop(),
    pid: tree.pid() as number,
  };
}

let shellChecked: boolean | undefined;
function canHold(): boolean {
  if (shellChecked === undefined) {
    shellChecked = process.platform !== "win32" && which(SHELL, "/", undefined) !== undefined;
  }
  return shellChecked;
}

interface StartedTree {
  result: Promise<RunTreeResult>;
  /** Starts timers (and releases a held program); false when a held process already ended. */
  go(timeoutMs: number | undefined, signal: AbortSignal | undefined): boolean;
  drop(): void;
  failed(): boolean;
  pid(): number | undefined;
}

function startTree(opts: RunTreeOptions, hold: boolean): StartedTree {
  const [file, ...args] = opts.argv;
  if (!file) throw new TypeError("runTree: empty argv");
  const masker = opts.masker ?? Masker.none();
  // Every process of this run inherits the mark, even one that leaves the group with setsid.
  const mark = randomUUID();
  let started = performance.now();
  let child: ChildProcess;
  let terminatedBy: Termination | undefined;
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  let durationMs = 0;
  let spawnError: NodeJS.ErrnoException | undefined;
  let settled = false;
  let released = !hold;
  let signal: AbortSignal | undefined;
  const timers: NodeJS.Timeout[] = [];
  let resolve!: (r: RunTreeResult) => void;
  const result = new Promise<RunTreeResult>((r) => {
    resolve = r;
  });

  const killGroup = (sig: NodeJS.Signals) => {
    if (child?.pid === undefined) return;
    try {
      process.kill(-child.pid, sig);
    } catch {
      // ESRCH: the group is already gone.
    }
  };

  // Output goes to a file the program writes itself (see OutputCapture); trimmed as it grows
  // unless the whole of it is wanted in a log file.
  const capture = new OutputCapture(
    opts.headBytes,
    opts.tailBytes,
    opts.logFile ? Number.POSITIVE_INFINITY : Math.max(TRIM_AT, 4 * (opts.headBytes + opts.tailBytes)),
  );

  const finish = () => {
    if (settled || !released) return;
    settled = true;
    for (const t of timers) clearTimeout(t);
    signal?.removeEventListener("abort", onAbort);
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

  const terminate = (reason: Termination) => {
    if (exit || settled) return;
    terminatedBy ??= reason;
    killGroup("SIGTERM");
    timers.push(setTimeout(() => killGroup("SIGKILL"), opts.killGraceMs).unref());
  };

  const onAbort = () => terminate("aborted");

  if (!opts.logFile) {
    const trimmer = setInterval(() => capture.trim(), TRIM_EVERY_MS);
    trimmer.unref();
    timers.push(trimmer);
  }
  let stdoutFd: number | undefined;
  try {
    if (opts.stdoutFile) stdoutFd = openSync(opts.stdoutFile, "w");
    const out = stdoutFd ?? capture.fd;
    const err = opts.stderrToStdoutFile && stdoutFd !== undefined ? stdoutFd : capture.fd;
    child = spawn(
      hold ? SHELL : file,
      hold ? ["-c", HOLD_SCRIPT, "flaky-detector-hold", file, ...args] : args,
      {
        cwd: opts.cwd,
        env: { ...opts.env, [MARK_VARIABLE]: mark, [OWNER_VARIABLE]: SELF },
        detached: true,
        stdio: hold ? ["ignore", out, err, "pipe"] : [opts.stdin === undefined ? "ignore" : "pipe", out, err],
        windowsHide: true,
      },
    );
  } catch (e) {
    spawnError = e as NodeJS.ErrnoException;
    finish();
    return { result, go: () => !hold, drop: () => dropHeld(), failed: () => true, pid: () => undefined };
  } finally {
    // The child holds its own copy of the descriptor.
    if (stdoutFd !== undefined) closeSync(stdoutFd);
  }
  if (child.pid !== undefined) track(child.pid);
  if (opts.stdin !== undefined) child.stdin?.end(opts.stdin);
  child.stdin?.on("error", () => {});
  // The release line goes to a shell that is reading it; a shell killed meanwhile is seen at exit.
  const releasePipe = hold ? (child.stdio[3] as NodeJS.WritableStream & { destroy(): void }) : undefined;
  releasePipe?.on("error", () => {});

  child.on("error", (e: NodeJS.ErrnoException) => {
    if (child.pid === undefined) {
      spawnError = e;
      finish();
    }
  });

  child.on("exit", (code, sig) => {
    durationMs = performance.now() - started;
    exit = { code, signal: sig };
    if (!released) return;
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

  function dropHeld(): void {
    if (settled) return;
    settled = true;
    for (const t of timers) clearTimeout(t);
    killGroup("SIGKILL");
    releasePipe?.destroy();
    if (child?.pid !== undefined) liveGroups.delete(child.pid);
    capture.remove();
  }

  return {
    result,
    failed: () => spawnError !== undefined || child.pid === undefined,
    pid: () => child.pid,
    drop: dropHeld,
    go(timeoutMs, abort) {
      if (!released) {
        if (exit || settled || child.pid === undefined) return false;
        released = true;
        started = performance.now();
        releasePipe?.end("\n");
      }
      signal = abort;
      if (timeoutMs !== undefined && Number.isFinite(timeoutMs)) {
        timers.push(setTimeout(() => terminate("timeout"), timeoutMs));
      }
      if (signal?.aborted) terminate("aborted");
      else signal?.addEventListener("abort", onAbort, { once: true });
      return true;
    },
  };
}
