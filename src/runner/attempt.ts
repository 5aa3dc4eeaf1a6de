import { runTree } from "../util/process-tree.js";
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
  const env = attemptEnv(spec.baseEnv, spec.commandEnv, spec);
  const result = await runTree({
    argv: spec.argv,
    cwd: spec.cwd,
    env,
    timeoutMs: spec.timeoutMs,
    killGraceMs: spec.killGraceMs,
    headBytes: spec.headBytes,
    tailBytes: spec.tailBytes,
    ...(spec.logFile ? { logFile: spec.logFile } : {}),
    ...(spec.stdoutFile ? { stdoutFile: spec.stdoutFile } : {}),
    ...(spec.stderrToStdoutFile ? { stderrToStdoutFile: true } : {}),
    ...(spec.signal ? { signal: spec.signal } : {}),
    ...(spec.masker ? { masker: spec.masker } : {}),
  });
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
