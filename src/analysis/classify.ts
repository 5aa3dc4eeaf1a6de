import type { Severity } from "../config/schema.js";

/**
 * Verdicts, defined once. Errored attempts (nothing ran) count for neither side. "skipped" is a
 * test's only: it was reported in attempts, always as skipped (or pending, todo), never run.
 */
export type Verdict = "stable" | "flaky" | "failing" | "error" | "skipped";

export function verdictOf(passed: number, failed: number): Verdict {
  if (passed + failed === 0) return "error";
  if (failed === 0) return "stable";
  if (passed === 0) return "failing";
  return "flaky";
}

export interface SeverityThresholds {
  critical: number;
  high: number;
  medium: number;
  low: number;
}

export const SEVERITY_ORDER: readonly Severity[] = ["none", "low", "medium", "high", "critical"];

/** Severity from the observed failure rate; LOW means any failure unless `low` is set above 0. */
export function severityOf(rate: number, t: SeverityThresholds): Severity {
  if (rate >= t.critical && rate > 0) return "critical";
  if (rate >= t.high && rate > 0) return "high";
  if (rate >= t.medium && rate > 0) return "medium";
  if (rate > 0 && rate >= t.low) return "low";
  return "none";
}

export function severityAtLeast(s: Severity, threshold: Severity): boolean {
  if (threshold === "none") return false;
  return SEVERITY_ORDER.indexOf(s) >= SEVERITY_ORDER.indexOf(threshold);
}
