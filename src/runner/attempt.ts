import { holdTree, type RunTreeOptions, type RunTreeResult, runTree } from "../util/process-tree.js";
import type { Masker } from "../util/secrets.js";
import { attemptEnv } from "./attempt-env.js";

/** Closed set of attempt outcomes; "errored" means nothing ran (never a test failure). */
export type AttemptOutcome = "passed" | "failed" | "timedOut" | "errored" | "cancelled";

export interface AttemptRecord {
  index: number;
  seed: number;
  slot: number;
  outcome: AttemptOutcome;
  exitCode: number | null;
  signal: string | null;
  durationMs: number;
  timedOut: boolean;
  /** Bounded head and tail of stdout and stderr, interleaved as they arrived. */
  output: string;
  outputBytes: number;
  /** Why the attempt errored (spawn failure). */
  error?: string;
  logFile?: string;
  /** Processes that escaped the process group and were still running at the end (then killed). */
  escapedProcesses?: number;
  /** In-process repetition: the attempts its process ran, first index and how many. */
  process?: { first: number; count: number };
}

export interface AttemptSpec {
  index: number;
  seed: number;
  slot: number;
  argv: readonly string[];
  cwd: string;
  baseEnv: NodeJS.ProcessEnv;
  commandEnv: Record<string, string>;
  timeoutMs: number;
  killGraceMs: number;
  headBytes: number;
  tailBytes: number;
  logFile?: string;
  stdoutFile?: string;
  stderrToStdoutFile?: boolean;
  signal?: AbortSignal;
  masker?: Masker;
}

export async function runAttempt(spec: AttemptSpec): Promise<AttemptRecord> {
  return recordOf(spec, await runTree(treeOptions(spec)));
}

/** An attempt whose process is started ahead of its turn (HeldTree); undefined where it cannot be. */
export interface HeldAttempt {
  /** Runs it with these limits; undefined when the held process is gone (start the attempt afresh). */
  release(timeoutMs: number, signal: AbortSignal | undefined): Promise<AttemptRecord> | undefined;
  drop(): void;
}

export function holdAttempt(spec: Omit<AttemptSpec, "timeoutMs" | "signal">): HeldAttempt | undefined {
  const options = treeOptions({ ...spec, timeoutMs: Number.POSITIVE_INFINITY });
  const held = holdTree(options);
  if (!held) return undefined;
  return {
    release(timeoutMs, signal) {
      const running = held.release(timeoutMs, signal);
      return running?.then((result) => recordOf({ ...spec, timeoutMs }, result));
    },
    drop: () => held.drop(),
  };
}

function treeOptions(spec: AttemptSpec): RunTreeOptions {
  return {
    argv: spec.argv,
    cwd: spec.cwd,
    // The slot's directory, as a shell's cd would set it: the user's own PWD names the repository,
    // not the copy the attempt runs in (and a held attempt's /bin/sh would correct it anyway).
    env: { ...attemptEnv(spec.baseEnv, spec.commandEnv, spec), PWD: spec.cwd },
    timeoutMs: spec.timeoutMs,
    killGraceMs: spec.killGraceMs,
    headBytes: spec.headBytes,
    tailBytes: spec.tailBytes,
    ...(spec.logFile ? { logFile: spec.logFile } : {}),
    ...(spec.stdoutFile ? { stdoutFile: spec.stdoutFile } : {}),
    ...(spec.stderrToStdoutFile ? { stderrToStdoutFile: true } : {}),
    ...(spec.signal ? { signal: spec.signal } : {}),
    ...(spec.masker ? { masker: spec.masker } : {}),
  };
}

function recordOf(spec: AttemptSpec, result: RunTreeResult): AttemptRecord {
  const base = {
    index: spec.index,
    seed: spec.seed,
    slot: spec.slot,
    exitCode: result.exitCode,
    signal: result.signal,
    durationMs: Math.round(result.durationMs),
    timedOut: result.terminatedBy === "timeout",
    output: result.output,
    outputBytes: result.outputBytes,
    ...(spec.logFile ? { logFile: spec.logFile } : {}),
    ...(result.escaped.length > 0 ? { escapedProcesses: result.escaped.length } : {}),
  };
  if (result.spawnError) {
    return {
      ...base,
      outcome: "errored",
      error: `cannot start ${spec.argv[0]}: ${result.spawnError.message}`,
    };
  }
  const outcome = outcomeOf(result.terminatedBy, result.exitCode, result.signal);
  // A passing attempt's output is rarely read; keeping only its end bounds a 10,000-attempt job's
  // memory and report size. Failures keep the full head and tail.
  const output = outcome === "passed" ? lastChars(result.output, PASSED_TAIL_CHARS) : result.output;
  return { ...base, outcome, output };
}

export const PASSED_TAIL_CHARS = 1024;

function lastChars(text: string, n: number): string {
  return text.length <= n ? text : text.slice(text.length - n);
}

function outcomeOf(
  terminatedBy: "timeout" | "aborted" | undefined,
  exitCode: number | null,
  signal: string | null,
): AttemptOutcome {
  if (terminatedBy === "timeout") return "timedOut";
  if (terminatedBy === "aborted") return "cancelled";
  return exitCode === 0 && signal === null ? "passed" : "failed";
}
