import type { EventSink } from "../analysis/events.js";
import { confirmRuns, measuredTallies } from "../analysis/interference.js";
import type { TestTally } from "../analysis/per-test.js";
import type { FollowUp } from "../analysis/report.js";
import { runPool } from "../runner/pool.js";
import { attemptSeed } from "../runner/seeds.js";
import { repeatOf, runRepeated } from "./repeat.js";
import { runAlone } from "./serial-run.js";
import { runWithResults, type Session } from "./session.js";

/** Outcome of one follow-up run for the test it targeted. */
function resultFor(test: string, run: Awaited<ReturnType<typeof runWithResults>>): FollowUp["result"] {
  if (!run.results.ok) return "absent";
  const t = run.results.tests.find((x) => x.id === test);
  if (!t || t.status === "skipped") return "absent";
  return t.status === "failed" ? "failed" : "passed";
}

/** Most replays of one test's failing seed. */
export const MAX_REPLAYS = 30;

/**
 * How many replays of a failing seed tell "the seed decides" from chance: a test failing at random
 * with rate p fails k replays in a row with probability p^k, so k is the least with p^k < 1 −
 * confidence (3 at p = 0.3, 14 at p = 0.8). 0 when that needs more than MAX_REPLAYS (p ≥ ~0.9):
 * then the replays could not tell, and none run.
 */
export function replayRuns(rate: number, confidence: number): number {
  if (rate <= 0) return 3;
  if (rate >= 1) return 0;
  const k = Math.max(3, Math.ceil(Math.log(1 - confidence) / Math.log(rate)));
  return k > MAX_REPLAYS ? 0 : k;
}

/**
 * Seed replay: rerun each flaky test alone with its first failing seed, as many times as telling
 * the seed from chance needs (replayRuns), one at a time: a failure caused by a parallel attempt
 * must not pass for the seed's. Failing every time means the seed decides the failure.
 */
export async function replaySeeds(
  s: Session,
  flaky: readonly Pick<TestTally, "id" | "failingSeeds">[],
  shuffledSeeds: ReadonlySet<number>,
  opts: { parallelism: number; firstIndex: number; signal: AbortSignal; jobTimeoutMs: number | null },
): Promise<FollowUp[]> {
  const jobs = flaky.flatMap((t) =>
    t.failingSeeds.slice(0, MAX_REPLAYS).map((seed) => ({ test: t.id, seed })),
  );
  if (jobs.length === 0) return [];
  // By job, not by finish order: a replayed job reports its follow-ups in the same order.
  const byJob: (FollowUp | undefined)[] = [];
  // Where the framework repeats in-process, one process replays a test's seed all its times, one
  // repetition after another: still one at a time, and one start-up instead of k.
  const inProcess = repeatOf(s, []) !== undefined;
  const groups: number[][] = [];
  jobs.forEach((job, i) => {
    const prev = groups.at(-1);
    const head = prev ? jobs[prev[0] as number] : undefined;
    if (inProcess && prev && head && head.test === job.test && !shuffledSeeds.has(job.seed)) prev.push(i);
    else groups.push([i]);
  });
  await runPool({
    total: groups.length,
    parallelism: 1,
    signal: opts.signal,
    jobTimeoutMs: opts.jobTimeoutMs,
    run: async (g, slot, signal) => {
      const members = groups[g] as number[];
      const job = jobs[members[0] as number] as (typeof jobs)[number];
      const runs =
        members.length > 1
          ? (
              await runRepeated(s, {
                slot,
                reps: members.map((i) => ({ index: opts.firstIndex + i, seed: job.seed })),
                tests: [job.test],
                signal,
              })
            ).runs
          : [
              await runWithResults(s, {
                index: opts.firstIndex + (members[0] as number),
                slot,
                seed: job.seed,
                shuffled: shuffledSeeds.has(job.seed),
                tests: [job.test],
                signal,
                tag: "-replay",
              }),
            ];
      runs.forEach((run, j) => {
        if (run.record.outcome !== "cancelled")
          byJob[members[j] as number] = {
            kind: "seed-replay",
            test: job.test,
            seed: job.seed,
            result: resultFor(job.test, run),
          };
      });
      return runs.map((r) => r.record);
    },
  });
  return byJob.filter((f): f is FollowUp => f !== undefined);
}

/** Where serial runs take their seeds and indices from, and what ends them. */
interface SerialRuns {
  jobSeed: number;
  seedRange: { min: number; max: number };
  /** Index of the first run (past the main phase's, so seeds and files never collide). */
  firstIndex: number;
  signal: AbortSignal;
  jobTimeoutMs: number | null;
}

/**
 * Each test alone at parallelism 1 with fresh seeds, until it fails (then parallel attempts are
 * not what makes it fail) or confirmRuns runs pass. A random test at 30% stops after about three
 * runs; only a test that really fails only beside others costs the full count.
 */
async function confirmAlone(
  s: Session,
  tests: readonly { id: string; attempts: number; failures: number }[],
  opts: SerialRuns & { confidence: number },
): Promise<FollowUp[]> {
  const followUps: FollowUp[] = [];
  let index = opts.firstIndex;
  for (const t of tests) {
    const runs = confirmRuns(t.attempts, t.failures, opts.confidence);
    for (let n = 0; n < runs && !opts.signal.aborted; n++) {
      const seed = attemptSeed(opts.jobSeed, index, opts.seedRange);
      const run = await runAlone(
        s,
        { index: index++, seed, shuffled: false, tests: [t.id], tag: "-serial" },
        opts,
      );
      if (!run || run.record.outcome === "cancelled") break;
      const result = resultFor(t.id, run);
      followUps.push({ kind: "serial-confirmation", test: t.id, seed, result });
      if (result === "failed") break;
    }
  }
  return followUps;
}

/** Which follow-ups a finished main phase calls for; computed where the tallies are (locally or by the coordinator). */
export interface FollowUpPlan {
  /** Flaky tests with the seeds to replay (their first failing seed, replayRuns times). */
  replay: { id: string; failingSeeds: number[] }[];
  /**
   * The flaky tests of a job run at parallelism > 1, with their tallies: each is run alone,
   * serially, after the seed replays — unless its failing seed failed every replay (the seed
   * decides it) — until it fails or enough runs pass to rule chance out (confirmRuns): a test that
   * fails beside parallel attempts and never alone is interference. Tests that failed only in
   * shuffled orders go to the order search instead, unless every failure was a timeout or names a
   * resource parallel attempts share.
   */
  confirm: { id: string; attempts: number; failures: number }[];
}

/**
 * Failure messages that point at parallel attempts getting in each other's way: a port, a lock,
 * a file or a database another attempt holds. Such a test is confirmed alone even when it failed
 * only in shuffled orders, like a test whose failures were all timeouts.
 */
const INTERFERENCE =
  /\b(EADDRINUSE|address already in use|port \d+ (is )?(already )?in use|database is locked|SQLITE_BUSY|EBUSY|resource busy|text file busy|ETXTBSY|lock(ed)? by another process|could not (obtain|acquire) (a )?lock|deadlock detected|ECONNREFUSED|connection refused)\b/i;

export function looksLikeInterference(message: string | null | undefined): boolean {
  return message !== null && message !== undefined && INTERFERENCE.test(message);
}

export function planFollowUps(
  tallies: readonly TestTally[],
  parallelism: number,
  confidence = 0.95,
): FollowUpPlan {
  // A test that failed only after an earlier repetition in its process is stable as measured
  // (its fresh-process attempts): replaying or confirming its repetition failures would only spend
  // time on state the repetitions kept.
  const flaky = measuredTallies(tallies, 1 - confidence).filter(
    (x) => x.failures > 0 && x.failures < x.attempts,
  );
  const contention = (x: TestTally) =>
    x.timeouts === x.failures || looksLikeInterference(x.firstFailure?.message);
  return {
    confirm:
      parallelism > 1
        ? flaky
            // Failures only in shuffled orders point at order; the polluter search runs those alone.
            .filter((t) => contention(t) || t.shuffled.failures < t.failures)
            .filter((t) => confirmRuns(t.attempts, t.failures, confidence) > 0)
            .map((t) => ({ id: t.id, attempts: t.attempts, failures: t.failures }))
        : [],
    replay: flaky.flatMap((t) => {
      const k = replayRuns(t.failures / t.attempts, confidence);
      const seed = t.failingSeeds[0];
      return k === 0 || seed === undefined
        ? []
        : [{ id: t.id, failingSeeds: Array.from({ length: k }, () => seed) }];
    }),
  };
}

/** Seed replay, then serial confirmation, with indices past the main phase's budget. */
export async function runFollowUps(
  s: Session,
  plan: FollowUpPlan,
  opts: {
    budget: number;
    parallelism: number;
    jobSeed: number;
    shuffledSeeds: ReadonlySet<number>;
    signal: AbortSignal;
    jobTimeoutMs: number | null;
    emit: EventSink;
    /** The job's confidence: how many clean serial runs rule chance out (default 0.95). */
    confidence?: number;
  },
): Promise<FollowUp[]> {
  const followUps: FollowUp[] = [];
  if (plan.replay.length > 0) {
    opts.emit({
      type: "phase",
      phase: "seed-replay",
      detail: `${plan.replay.length} flaky test(s), a failing seed replayed up to ${MAX_REPLAYS} times each, one at a time`,
    });
    followUps.push(
      ...(await replaySeeds(s, plan.replay, opts.shuffledSeeds, {
        parallelism: opts.parallelism,
        firstIndex: opts.budget,
        signal: opts.signal,
        jobTimeoutMs: opts.jobTimeoutMs,
      })),
    );
  }
  // Tests whose seed did not decide them (a replay passed, or none could tell) are run alone.
  const decided = new Set(
    plan.replay
      .map((t) => t.id)
      .filter((id) => {
        const mine = followUps.filter((f) => f.test === id && f.result !== "absent");
        return mine.length > 0 && mine.every((f) => f.result === "failed");
      }),
  );
  const confirm = plan.confirm.filter((t) => !decided.has(t.id));
  if (confirm.length > 0) {
    opts.emit({
      type: "phase",
      phase: "serial-confirmation",
      detail: `${confirm.length} test(s) run alone, one at a time, until each fails or enough runs pass to rule out chance`,
    });
    followUps.push(
      ...(await confirmAlone(s, confirm, {
        confidence: opts.confidence ?? 0.95,
        jobSeed: opts.jobSeed,
        seedRange: s.config.random_seed_range,
        firstIndex: opts.budget + 15_000,
        signal: opts.signal,
        jobTimeoutMs: opts.jobTimeoutMs,
      })),
    );
  }
  return followUps;
}
