import { passBefore, type RunOrder, type TestTally } from "../analysis/per-test.js";
import type { FrameworkAdapter } from "../frameworks/types.js";
import { runAlone } from "./serial-run.js";
import type { Session } from "./session.js";

/**
 * The order search (docs/design/order.md) for a test that failed only in shuffled orders. Run
 * alone, it either passes — then some test before it in a failing order broke it (a *polluter*) —
 * or fails — then some test before it in a passing order set up what it needs (a *state-setter*).
 * The tests before it in that order are replayed with it, one process per trial and one trial at a
 * time, and halved until the smallest set that still decides its outcome is left.
 */

export interface PolluterResult {
  test: string;
  /** What the search looked for: tests that make it fail, or tests it needs to pass. */
  kind: "polluters" | "state-setters";
  /** The tests that, run before it, make it fail (polluters) or pass (state-setters); empty when none were isolated. */
  ids: string[];
  /** How the order was replayed: the seed (and whether shuffled) the reproduce line needs. */
  order: { seed: number; shuffled: boolean };
  /** Why the search stopped without a result, when it did. */
  unresolved?: string;
  /** Serial trials spent. */
  trials: number;
}

/** Most trials spent on one test (halving n preceding tests takes about 2·log2(n) + 5). */
const MAX_TRIALS = 40;
/** Confirmations of the result: every one must go the same way. */
const CONFIRMATIONS = 3;

export function polluterCandidates(tallies: readonly TestTally[]): TestTally[] {
  return tallies.filter(
    (t) => t.shuffled.failures > 0 && t.failures === t.shuffled.failures && t.attempts > t.shuffled.attempts,
  );
}

type Outcome = "failed" | "passed" | null;
type Replay = NonNullable<FrameworkAdapter["orderReplay"]>;

/**
 * The tests of an order that can be replayed with `test`: for a seed-ordered framework only those
 * of its own file or package (a filter over several would change the order the seed gives them).
 */
function replayable(order: RunOrder, test: string, replay: Replay): RunOrder {
  if (replay.by === "arguments") return { ...order, shuffled: false };
  const group = replay.group(test);
  return { ...order, ids: order.ids.filter((id) => replay.group(id) === group) };
}

export async function findPolluters(
  s: Session,
  candidates: readonly TestTally[],
  opts: { firstIndex: number; signal: AbortSignal; jobTimeoutMs: number | null },
): Promise<PolluterResult[]> {
  const replay = s.adapter.orderReplay;
  if (!replay) return [];
  const out: PolluterResult[] = [];
  let index = opts.firstIndex;
  for (const v of candidates) {
    if (opts.signal.aborted) break;
    let trials = 0;
    // One serial run of `before`, then the test, in the order `how` gives: how did the test end?
    const trial = async (before: readonly string[], how: RunOrder): Promise<Outcome> => {
      trials++;
      const run = await runAlone(
        s,
        {
          index: index++,
          seed: how.seed,
          shuffled: how.shuffled,
          tests: [...before, v.id],
          tag: "-polluter",
        },
        opts,
      );
      const r = run?.results.ok ? run.results.tests.find((t) => t.id === v.id) : undefined;
      return r === undefined || r.status === "skipped" ? null : r.status;
    };
    const failing = v.orderBefore && replayable(v.orderBefore, v.id, replay);
    const passing = passBefore(v);
    const result = await search(v.id, failing, passing && replayable(passing, v.id, replay), trial);
    out.push({ ...result, trials });
  }
  return out;
}

async function search(
  test: string,
  failing: RunOrder | undefined,
  passing: RunOrder | undefined,
  trial: (before: readonly string[], how: RunOrder) => Promise<Outcome>,
): Promise<Omit<PolluterResult, "trials">> {
  const first = failing ?? passing ?? { seed: 0, shuffled: false, ids: [] };
  const alone = await trial([], first);
  // Passing alone, it was broken by a test before it; failing alone, it needs one.
  const kind: PolluterResult["kind"] = alone === "failed" ? "state-setters" : "polluters";
  const from = kind === "polluters" ? failing : passing;
  const want: Outcome = kind === "polluters" ? "failed" : "passed";
  const none = (unresolved: string): Omit<PolluterResult, "trials"> => ({
    test,
    kind,
    ids: [],
    order: { seed: from?.seed ?? first.seed, shuffled: from?.shuffled ?? first.shuffled },
    unresolved,
  });
  if (alone === null) return none("it did not run when replayed alone");
  if (!from || from.ids.length === 0)
    return none(
      kind === "polluters"
        ? "no test that can be replayed with it ran before it in its failing order"
        : "it fails alone, and no test that can be replayed with it ran before it in a passing order",
    );
  const how = { seed: from.seed, shuffled: from.shuffled };
  const decides = async (before: readonly string[]) => (await trial(before, from)) === want;
  if (!(await decides(from.ids)))
    return none(
      kind === "polluters"
        ? "the failing order did not fail again when replayed alone"
        : "the passing order did not pass again when replayed alone",
    );
  let candidates = [...from.ids];
  let spent = 3;
  while (candidates.length > 1 && spent < MAX_TRIALS) {
    const half = Math.ceil(candidates.length / 2);
    const firstHalf = candidates.slice(0, half);
    const secondHalf = candidates.slice(half);
    spent++;
    if (await decides(firstHalf)) {
      candidates = firstHalf;
      continue;
    }
    spent++;
    if (await decides(secondHalf)) {
      candidates = secondHalf;
      continue;
    }
    // Neither half alone: the tests involved are spread over both (or it takes several).
    break;
  }
  for (let i = 0; i < CONFIRMATIONS; i++) {
    if (!(await decides(candidates)))
      return none(
        `running ${candidates.length} test(s) before it did not ${kind === "polluters" ? "fail" : "pass"} every time`,
      );
  }
  // A state-setter's test is reproduced alone: that run must fail every time too.
  if (kind === "state-setters")
    for (let i = 0; i < CONFIRMATIONS; i++)
      if ((await trial([], from)) !== "failed") return none("it did not fail every time alone");
  return { test, kind, ids: candidates, order: how };
}
