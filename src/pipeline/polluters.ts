import type { TestTally } from "../analysis/per-test.js";
import { runPool } from "../runner/pool.js";
import { runWithResults, type Session } from "./session.js";

/**
 * The polluter search (docs/design/order.md): a test that failed only in shuffled orders is rerun
 * after the tests that preceded it in a failing order, one process per trial and one trial at a
 * time, and those tests are halved until the smallest prefix set that still makes it fail is
 * left — usually the one test that changes shared state and does not restore it.
 */

export interface PolluterResult {
  test: string;
  /** The tests that, run before it, make it fail; empty when none could be isolated. */
  polluters: string[];
  /** Why the search stopped without a polluter, when it did. */
  unresolved?: string;
  /** Serial trials spent. */
  trials: number;
}

/** Most trials spent on one victim (halving n preceding tests takes about 2·log2(n) + 3). */
const MAX_TRIALS = 40;
/** Confirmations of the pair: every one must fail. */
const CONFIRMATIONS = 3;

export function polluterCandidates(tallies: readonly TestTally[]): TestTally[] {
  return tallies.filter(
    (t) =>
      t.shuffled.failures > 0 &&
      t.failures === t.shuffled.failures &&
      t.attempts > t.shuffled.attempts &&
      (t.orderBefore?.ids.length ?? 0) > 0,
  );
}

export async function findPolluters(
  s: Session,
  victims: readonly TestTally[],
  opts: { firstIndex: number; signal: AbortSignal; jobTimeoutMs: number | null },
): Promise<PolluterResult[]> {
  const out: PolluterResult[] = [];
  let index = opts.firstIndex;
  for (const v of victims) {
    if (opts.signal.aborted) break;
    const seed = v.orderBefore?.seed ?? 0;
    let trials = 0;
    // One serial run of `before` then the victim, in that order: did the victim fail?
    const fails = async (before: readonly string[]): Promise<boolean | null> => {
      trials++;
      let failed: boolean | null = null;
      await runPool({
        total: 1,
        parallelism: 1,
        signal: opts.signal,
        jobTimeoutMs: opts.jobTimeoutMs,
        run: async (_i, slot, signal) => {
          const run = await runWithResults(s, {
            index: index++,
            slot,
            seed,
            shuffled: false,
            tests: [...before, v.id],
            signal,
            tag: "-polluter",
          });
          const r = run.results.ok ? run.results.tests.find((t) => t.id === v.id) : undefined;
          failed = r === undefined || r.status === "skipped" ? null : r.status === "failed";
          return run.record;
        },
      });
      return failed;
    };
    const result = await search(v.id, v.orderBefore?.ids ?? [], fails);
    out.push({ ...result, trials });
  }
  return out;
}

async function search(
  test: string,
  before: readonly string[],
  fails: (before: readonly string[]) => Promise<boolean | null>,
): Promise<Omit<PolluterResult, "trials">> {
  const none = (unresolved: string) => ({ test, polluters: [], unresolved });
  if ((await fails(before)) !== true) return none("the failing order did not fail again when replayed alone");
  if ((await fails([])) !== false) return none("it does not pass alone");
  let candidates = [...before];
  let spent = 2;
  while (candidates.length > 1 && spent < MAX_TRIALS) {
    const half = Math.ceil(candidates.length / 2);
    const first = candidates.slice(0, half);
    const second = candidates.slice(half);
    spent++;
    if ((await fails(first)) === true) {
      candidates = first;
      continue;
    }
    spent++;
    if ((await fails(second)) === true) {
      candidates = second;
      continue;
    }
    // Neither half alone: the polluters are spread over both (or the failure needs several).
    break;
  }
  for (let i = 0; i < CONFIRMATIONS; i++) {
    if ((await fails(candidates)) !== true)
      return none(`running ${candidates.length} test(s) before it did not fail every time`);
  }
  return { test, polluters: candidates };
}
