import type { TestTally } from "./per-test.js";

/**
 * Is a test that failed beside parallel attempts and never alone really interference, or did its
 * serial runs just pass by chance? The exact conditional test (Fisher's, one-sided): if the test
 * fails at the same unknown rate whichever way it runs, its k failures are equally likely to fall
 * on any k of the N + n runs, so all of them landing among the N parallel ones has probability
 * C(N, k) / C(N + n, k). It needs no estimate of the rate.
 *
 * Rejected: (1 − k/N)^n < 1 − confidence, which treats the observed rate as the true one. When the
 * estimate runs high it runs too few serial runs: a random 5% test was called interference in 6.6%
 * of 60-run jobs and 7.8% of 30-run jobs, over the 5% the report states (bench/interference.mjs;
 * docs/design/order.md).
 */

/** Most serial runs confirming one test (a 5% test of 200 runs needs 69 to rule chance out at 95%). */
export const MAX_CONFIRM_RUNS = 100;

/**
 * Probability that a test failing at one rate throughout puts all its `failures` of `attempts`
 * parallel runs there and none in `serialRuns` serial runs: C(N, k) / C(N + n, k).
 */
export function serialCleanChance(attempts: number, failures: number, serialRuns: number): number {
  let p = 1;
  for (let i = 0; i < failures; i++) p *= (attempts - i) / (attempts + serialRuns - i);
  return p;
}

/**
 * Serial runs that, all passing, rule chance out for a test that failed `failures` of `attempts`
 * times: the least n with serialCleanChance < 1 − confidence; 0 when that needs more than
 * MAX_CONFIRM_RUNS (then none run: they could not tell — one failure in 60 never can).
 */
export function confirmRuns(attempts: number, failures: number, confidence: number): number {
  if (failures <= 0 || attempts <= 0) return 0;
  const alpha = 1 - confidence;
  for (let n = 1; n <= MAX_CONFIRM_RUNS; n++) {
    if (serialCleanChance(attempts, failures, n) < alpha) return n;
  }
  return 0;
}

/**
 * How much stronger than the job's confidence the evidence that a test keeps state must be. A test
 * so named is measured from its fresh-process attempts alone, so a random test named by chance
 * loses its failures: at the job's own 5%, a 15% test over 21 processes of ~10 attempts was named
 * in 2.0% of jobs (exact, one look) and reported stable from 0 of 21 (examples/jest, `node
 * bench/repeat.mjs jest`); at 0.5% it is 0.003%. A test that keeps state fails in every later run
 * and clears 0.5% by the checkpoint after 10 or 15 (docs/design/repeat.md).
 */
export const STATE_EVIDENCE = 10;

/**
 * A test that failed only in attempts following another in its process, with enough first-in-process
 * runs that their clean record is no accident (the exact test above: all k failures landing among
 * the later runs by chance, below alpha / STATE_EVIDENCE).
 */
export function repetitionDependence(
  t: TestTally,
  alpha: number,
): { laterRuns: number; laterFailures: number; firstRuns: number } | undefined {
  const later = t.laterInProcess;
  const firstRuns = t.attempts - later.attempts;
  if (later.failures === 0 || later.failures < t.failures || firstRuns === 0) return undefined;
  if (serialCleanChance(later.attempts, later.failures, firstRuns) >= alpha / STATE_EVIDENCE)
    return undefined;
  return { laterRuns: later.attempts, laterFailures: later.failures, firstRuns };
}

/** The tally of a test's first-in-process attempts alone (where it never failed). */
export function freshProcessesOnly(t: TestTally): TestTally {
  return {
    ...t,
    attempts: t.attempts - t.laterInProcess.attempts,
    failures: 0,
    timeouts: 0,
    crashes: 0,
    failingSeeds: [],
    firstFailure: null,
    laterInProcess: { attempts: 0, failures: 0 },
  };
}

/**
 * The tallies the stopping rule and focus judge: a test keeping state between repetitions counts
 * its fresh-process attempts only, as the report will.
 */
export function measuredTallies(tallies: readonly TestTally[], alpha: number): TestTally[] {
  return tallies.map((t) => (repetitionDependence(t, alpha) ? freshProcessesOnly(t) : t));
}
