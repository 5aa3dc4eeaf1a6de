import type { SeverityThresholds } from "./classify.js";
import { rateInterval } from "./intervals.js";

/**
 * The adaptive stopping rule (docs/design/stopping.md). A test is settled when its verdict and
 * severity band can no longer change at the requested confidence:
 *
 * - never failed: the upper end of the reported (Clopper–Pearson) interval is below
 *   `minDetectableRate` — the bound the report then prints;
 * - failed every time: the same for its *pass* rate;
 * - passed and failed: the verdict (flaky) is certain; its band is settled when the interval at the
 *   per-look confidence lies inside one severity band.
 *
 * The job is looked at only at checkpoints (10, 15, 25, 40, 60, 72, 90, …, and the budget; 72 is
 * where a clean test's bound first drops below 5% at 95%), and the flaky-band test spends
 * 1 − confidence over those looks (Bonferroni). The zero-failure rules need no correction: "no
 * failure in the first n runs" only grows less likely with n, so the first checkpoint that
 * satisfies the bound is the only one that can.
 */
export interface StopRule {
  confidence: number;
  minDetectableRate: number;
  thresholds: SeverityThresholds;
  budget: number;
}

/**
 * Attempt counts at which the rule looks: ×1.5 from 10 (rounded to 5), the budget, and the run
 * count at which a test that never failed (or always failed) settles, so it stops there and not at
 * the next ×1.5 step.
 */
export function checkpoints(rule: Pick<StopRule, "budget" | "confidence" | "minDetectableRate">): number[] {
  const points = new Set<number>();
  for (let n = 10; n < rule.budget; n = Math.max(n + 5, Math.round((n * 1.5) / 5) * 5)) points.add(n);
  points.add(rule.budget);
  const settle = runsToBound(rule);
  if (settle < rule.budget) points.add(settle);
  return [...points].sort((a, b) => a - b);
}

export function perLookConfidence(rule: StopRule): number {
  const looks = checkpoints(rule).length;
  return 1 - (1 - rule.confidence) / looks;
}

/**
 * Clean (or all-failing) runs needed before the interval's end, 1 − ((1 − c)/2)^(1/n), drops below
 * the detectable rate: 72 at c = 0.95, r = 0.05.
 */
export function runsToBound(rule: Pick<StopRule, "confidence" | "minDetectableRate">): number {
  const n = Math.ceil(Math.log((1 - rule.confidence) / 2) / Math.log(1 - rule.minDetectableRate));
  // Float rounding can leave the bound a hair above r at exactly n.
  return rateInterval(0, n, rule.confidence)[1] < rule.minDetectableRate ? n : n + 1;
}

export type SettleState = "settled-stable" | "settled-failing" | "settled-band" | "open";

export function settleState(attempts: number, failures: number, rule: StopRule): SettleState {
  if (attempts === 0) return "open";
  const needed = runsToBound(rule);
  if (failures === 0) return attempts >= needed ? "settled-stable" : "open";
  if (failures === attempts) return attempts >= needed ? "settled-failing" : "open";
  const [lo, hi] = rateInterval(failures, attempts, perLookConfidence(rule));
  return bandOf(lo, rule.thresholds) === bandOf(hi, rule.thresholds) && lo > 0 ? "settled-band" : "open";
}

/** Bands as half-open intervals of the rate; the rate itself is never exactly 0 inside a flaky band. */
function bandOf(rate: number, t: SeverityThresholds): number {
  if (rate >= t.critical) return 4;
  if (rate >= t.high) return 3;
  if (rate >= t.medium) return 2;
  if (rate >= t.low) return 1;
  return 0;
}
