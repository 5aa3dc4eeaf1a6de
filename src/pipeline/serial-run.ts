import { runPool } from "../runner/pool.js";
import { type AttemptRun, type RunSpec, runWithResults, type Session } from "./session.js";

/**
 * One run on its own, nothing beside it (the follow-ups' serial runs and the order search's
 * trials): a failure must not come from a parallel attempt. Resolves to the run, or undefined when
 * it was cancelled before it started (the job's signal or its time limit).
 */
export async function runAlone(
  s: Session,
  spec: Omit<RunSpec, "slot" | "signal">,
  opts: { signal: AbortSignal; jobTimeoutMs: number | null },
): Promise<AttemptRun | undefined> {
  let out: AttemptRun | undefined;
  await runPool({
    total: 1,
    parallelism: 1,
    signal: opts.signal,
    jobTimeoutMs: opts.jobTimeoutMs,
    run: async (_i, slot, signal) => {
      out = await runWithResults(s, { ...spec, slot, signal });
      return out.record;
    },
  });
  return out;
}
