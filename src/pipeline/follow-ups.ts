import type { TestTally } from "../analysis/per-test.js";
import type { FollowUp } from "../analysis/report.js";
import { runPool } from "../runner/pool.js";
import { attemptSeed } from "../runner/seeds.js";
import { runWithResults, type Session } from "./session.js";

/** Outcome of one follow-up run for the test it targeted. */
function resultFor(test: string, run: Awaited<ReturnType<typeof runWithResults>>): FollowUp["result"] {
  if (!run.results.ok) return "absent";
  const t = run.results.tests.find((x) => x.id === test);
  if (!t || t.status === "skipped") return "absent";
  return t.status === "failed" ? "failed" : "passed";
}

/**
 * Seed replay: rerun each flaky test alone with up to three of its failing seeds. Failing again
 * every time means the seed decides the failure; a pass means timing or concurrency does.
 */
export async function replaySeeds(
  s: Session,
  flaky: readonly TestTally[],
  shuffledSeeds: ReadonlySet<number>,
  opts: { parallelism: number; firstIndex: number; signal: AbortSignal; jobTimeoutMs: number | null },
): Promise<FollowUp[]> {
  const jobs = flaky.flatMap((t) => t.failingSeeds.slice(0, 3).map((seed) => ({ test: t.id, seed })));
  if (jobs.length === 0) return [];
  const followUps: FollowUp[] = [];
  await runPool({
    total: jobs.length,
    parallelism: opts.parallelism,
    signal: opts.signal,
    jobTimeoutMs: opts.jobTimeoutMs,
    run: async (i, slot, signal) => {
      const job = jobs[i] as (typeof jobs)[number];
      const run = await runWithResults(s, {
        index: opts.firstIndex + i,
        slot,
        seed: job.seed,
        shuffled: shuffledSeeds.has(job.seed),
        tests: [job.test],
        signal,
        tag: "-replay",
      });
      if (run.record.outcome !== "cancelled")
        followUps.push({
          kind: "seed-replay",
          test: job.test,
          seed: job.seed,
          result: resultFor(job.test, run),
        });
      return run.record;
    },
  });
  return followUps;
}

/**
 * Confirmation at parallelism 1 for tests whose failures were all timeouts: failures that vanish
 * when nothing runs beside the test point at CPU or I/O contention, not at the test's logic.
 */
export async function confirmSerially(
  s: Session,
  candidates: readonly TestTally[],
  opts: {
    runs: number;
    jobSeed: number;
    seedRange: { min: number; max: number };
    firstIndex: number;
    signal: AbortSignal;
    jobTimeoutMs: number | null;
  },
): Promise<FollowUp[]> {
  const jobs = candidates.flatMap((t) => Array.from({ length: Math.min(opts.runs, t.attempts) }, () => t.id));
  if (jobs.length === 0) return [];
  const followUps: FollowUp[] = [];
  await runPool({
    total: jobs.length,
    parallelism: 1,
    signal: opts.signal,
    jobTimeoutMs: opts.jobTimeoutMs,
    run: async (i, slot, signal) => {
      const test = jobs[i] as string;
      const index = opts.firstIndex + i;
      const seed = attemptSeed(opts.jobSeed, index, opts.seedRange);
      const run = await runWithResults(s, {
        index,
        slot,
        seed,
        shuffled: false,
        tests: [test],
        signal,
        tag: "-serial",
      });
      if (run.record.outcome !== "cancelled")
        followUps.push({ kind: "serial-confirmation", test, seed, result: resultFor(test, run) });
      return run.record;
    },
  });
  return followUps;
}
