import type { SeverityThresholds } from "./classify.js";
import { wilsonInterval } from "./intervals.js";

/**
 * The adaptive stopping rule (docs/design/stopping.md). A test is settled when its verdict and
 * severity band can no longer change at the requested confidence:
 *
 * - never failed: the exact one-sided bound puts its rate below `minDetectableRate`;
 * - failed every time: the same bound puts its *pass* rate below `minDetectableRate`;
 * - passed and failed: the verdict (flaky) is certain; its band is settled when the Wilson interval
 *   at the per-look confidence lies inside one severity band.
 *
 * The job is looked at only at checkpoints (10, 15, 20, 30, 40, 60, 80, 120, …, and the budget),
 * and the flaky-band test spends 1 − confidence over those looks (Bonferroni). The zero-failure
 * rules need no correction: "no failure in the first n runs" only grows less likely with n, so the
 * first checkpoint that satisfies the bound is the only one that can.
 */
export interface StopRule {
  confidence: number;
  minDetectableRate: number;
  thresholds: SeverityThresholds;
  budget: number;
}

export function checkpoints(budget: number): number[] {
  const points: number[] = [];
  for (let n = 10; n < budget; n = Math.max(n + 5, Math.round((n * 1.5) / 5) * 5)) points.push(n);
  points.push(budget);
  return points;
}

export function perLookConfidence(rule: StopRule): number {
  const looks = checkpoints(rule.budget).length;
  return 1 - (1 - rule.confidence) / looks;
}

/** Clean (or all-failing) runs needed before the one-sided bound drops below the detectable rate. */
export function runsToBound(rule: Pick<StopRule, "confidence" | "minDetectableRate">): number {
  return Math.ceil(Math.log(1 - rule.confidence) / Math.log(1 - rule.minDetectableRate));
}

export type SettleState = "settled-stable" | "settled-failing" | "settled-band" | "open";

export function settleState(attempts: number, failures: number, rule: StopRule): SettleState {
  if (attempts === 0) return "open";
  const needed = runsToBound(rule);
  if (failures === 0) return attempts >= needed ? "settled-stable" : "open";
  if (failures === attempts) return attempts >= needed ? "settled-failing" : "open";
  const [lo, hi] = wilsonInterval(failures, attempts, perLookConfidence(rule));
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
