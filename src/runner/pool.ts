import type { EventSink } from "../analysis/events.js";
import type { TestsSoFar } from "../analysis/per-test.js";
import type { StopReason } from "../analysis/report.js";
import type { AttemptRecord } from "./attempt.js";

export interface PoolOptions {
  total: number;
  parallelism: number;
  /** One attempt, or the attempts one process ran (in-process repetition). */
  run(index: number, slot: number, signal: AbortSignal): Promise<AttemptRecord | AttemptRecord[]>;
  /** Attempts in the job when a job index runs several (progress events); total otherwise. */
  attempts?: number;
  /** Called after every attempt; true stops launching new attempts (adaptive stopping). */
  shouldStop?(finished: readonly AttemptRecord[]): boolean;
  /** With shouldStop: also stop the attempts still running (their results would be discarded). */
  abortOnStop?: boolean;
  /** Whole-job limit; running attempts are stopped and not counted. */
  jobTimeoutMs?: number | null;
  /** Cancellation from outside (Ctrl-C). */
  signal?: AbortSignal;
  /** Stop when this many attempts in a row errored and none has ever run. */
  errorLimit?: number;
  emit?: EventSink;
  /**
   * A slot ends only when `run` returns no attempt (the caller hands out the work itself), not when
   * `total` runs were made: a slot may have claimed its next attempt ahead (a held process).
   */
  untilEmpty?: boolean;
  /** Per-test counts so far, sent with each attempt-finished event (progress). */
  testsSoFar?: () => TestsSoFar;
}

export interface PoolResult {
  attempts: AttemptRecord[];
  stopReason: StopReason;
}

/**
 * A fixed set of slots, each pulling the next attempt index until the budget is spent or the job is
 * told to stop. Slots are reused, so each keeps its own working copy for its whole life.
 */
export async function runPool(opts: PoolOptions): Promise<PoolResult> {
  const finished: AttemptRecord[] = [];
  const inner = new AbortController();
  let next = 0;
  let stopReason: StopReason | undefined;
  let failures = 0;
  let erroredInARow = 0;
  let everRan = false;
  const errorLimit = opts.errorLimit ?? Math.max(3, opts.parallelism);

  const stop = (reason: StopReason, abortRunning: boolean) => {
    if (stopReason) return;
    stopReason = reason;
    opts.emit?.({ type: "job-stopping", reason });
    if (abortRunning) inner.abort();
  };

  const onOuterAbort = () => stop("cancelled", true);
  if (opts.signal?.aborted) onOuterAbort();
  opts.signal?.addEventListener("abort", onOuterAbort, { once: true });
  const jobTimer =
    opts.jobTimeoutMs != null ? setTimeout(() => stop("job-timeout", true), opts.jobTimeoutMs) : undefined;

  const slot = async (slotId: number) => {
    while (!stopReason && (opts.untilEmpty || next < opts.total)) {
      const index = next++;
      const ran = await opts.run(index, slotId, inner.signal);
      if (opts.untilEmpty && Array.isArray(ran) && ran.length === 0) break;
      for (const attempt of Array.isArray(ran) ? ran : [ran]) {
        if (attempt.outcome === "cancelled") continue;
        finished.push(attempt);
        if (attempt.outcome === "failed" || attempt.outcome === "timedOut") failures++;
        if (attempt.outcome === "errored") erroredInARow++;
        else {
          erroredInARow = 0;
          everRan = true;
        }
        opts.emit?.({
          type: "attempt-finished",
          index: attempt.index,
          slot: attempt.slot,
          seed: attempt.seed,
          outcome: attempt.outcome,
          durationMs: attempt.durationMs,
          done: finished.length,
          failures,
          total: opts.attempts ?? opts.total,
          ...(opts.testsSoFar ? { tests: opts.testsSoFar() } : {}),
        });
      }
      if (!everRan && erroredInARow >= errorLimit) stop("errors", true);
      else if (opts.shouldStop?.(finished)) stop("adaptive", opts.abortOnStop ?? false);
    }
  };

  const slots = Math.max(1, Math.min(opts.parallelism, opts.total));
  try {
    await Promise.all(Array.from({ length: slots }, (_, i) => slot(i)));
  } finally {
    if (jobTimer) clearTimeout(jobTimer);
    opts.signal?.removeEventListener("abort", onOuterAbort);
  }
  finished.sort((a, b) => a.index - b.index);
  return { attempts: finished, stopReason: stopReason ?? "budget" };
}
