import { pct } from "./summarize.js";

/**
 * Why a flaky test flakes, as far as this job's evidence goes (docs/design/order.md), in the
 * order the evidence is checked: a named polluter or shuffled-only failures, then a failing seed
 * that fails every serial replay, then failures that vanish serially, then timeouts; otherwise
 * the checks that ran ruled these out and the failure is random as far as we can tell — or no
 * check ran (no shuffle, no replay, no serial confirmation), and the cause is unknown.
 */
export type FlakeCauseKind =
  | "order-dependent"
  | "seed-deterministic"
  | "interference"
  | "timing"
  | "random"
  | "unknown";

export interface FlakeCause {
  kind: FlakeCauseKind;
  /** The observations the kind rests on, in one sentence. */
  evidence: string;
}

export interface CauseEvidence {
  failureRate: number;
  failures: number;
  timeouts: number;
  /** Shuffled and declared-order runs, with --shuffle. */
  shuffle: {
    shuffledRuns: number;
    shuffledFailures: number;
    plainRuns: number;
    plainFailures: number;
  } | null;
  orderDependent: boolean;
  polluters: string[];
  /** Tests it passes only after (it fails alone). */
  stateSetters?: string[];
  /** Serial replays of the first failing seed, and how many failed. */
  replays: { runs: number; failed: number } | null;
  /** Serial confirmation runs (parallelism 1), and how many failed. */
  serial: { runs: number; failed: number } | null;
  parallelism: number;
  resourceSensitive: boolean;
  seedDeterministic: boolean | null;
}

export function flakeCause(e: CauseEvidence): FlakeCause {
  if (e.polluters.length > 0) {
    const names = e.polluters.slice(0, 3).join(", ");
    return { kind: "order-dependent", evidence: `fails after ${names}; passes alone` };
  }
  if (e.stateSetters && e.stateSetters.length > 0) {
    const names = e.stateSetters.slice(0, 3).join(", ");
    return { kind: "order-dependent", evidence: `fails alone; passes only after ${names}` };
  }
  if (e.orderDependent && e.shuffle) {
    return {
      kind: "order-dependent",
      evidence: `failed ${e.shuffle.shuffledFailures} of ${e.shuffle.shuffledRuns} shuffled runs and 0 of ${e.shuffle.plainRuns} in the declared order`,
    };
  }
  if (e.seedDeterministic === true && e.replays) {
    return {
      kind: "seed-deterministic",
      evidence: `its failing seed failed ${e.replays.failed} of ${e.replays.runs} serial replays; at its ${pct(e.failureRate)} rate, chance alone would do that with probability ${probability(e.failureRate ** e.replays.runs)}`,
    };
  }
  if (e.resourceSensitive && e.serial) {
    return {
      kind: "interference",
      evidence: `failed ${e.failures} time(s) at parallelism ${e.parallelism}, never in ${e.serial.runs} serial runs`,
    };
  }
  if (e.failures > 0 && e.timeouts === e.failures) {
    return { kind: "timing", evidence: `every failure (${e.failures}) was a timeout` };
  }
  const ruledOut: string[] = [];
  if (e.shuffle) ruledOut.push("not order-dependent (it failed in the declared order too)");
  if (e.seedDeterministic === false)
    ruledOut.push("not decided by the seed (its failing seed passed on replay)");
  if (e.serial && e.serial.failed > 0)
    ruledOut.push(`not interference (it failed serially too, ${e.serial.failed} of ${e.serial.runs})`);
  if (ruledOut.length === 0) {
    return { kind: "unknown", evidence: "no order, seed or parallelism check ran for it" };
  }
  return { kind: "random", evidence: ruledOut.join("; ") };
}

function probability(p: number): string {
  if (p >= 0.01) return p.toFixed(2);
  return p.toExponential(0);
}
