import picomatch from "picomatch";
import type { Severity } from "../config/schema.js";
import { SEVERITY_ORDER } from "./classify.js";
import type { Report, TestResult } from "./report.js";

/** One `quarantine:` entry of the config file. */
export interface QuarantineEntry {
  test: string;
  owner?: string | undefined;
  reason?: string | undefined;
  review_by?: string | undefined;
}

export interface QuarantineMatch {
  entry: QuarantineEntry;
  /** The entry's review_by date has passed: it no longer excuses the test. */
  expired: boolean;
}

/** The entry covering a test id (exact id or glob), first match wins; null when none does. */
export function quarantineOf(
  id: string,
  entries: readonly QuarantineEntry[],
  today: string,
): QuarantineMatch | null {
  for (const entry of entries) {
    if (entry.test === id || picomatch.isMatch(id, entry.test, { dot: true })) {
      return { entry, expired: entry.review_by !== undefined && entry.review_by < today };
    }
  }
  return null;
}

/**
 * The severity that gates a build (--fail-on, notify.on): the highest severity among tests not
 * covered by an unexpired quarantine entry. Without quarantined tests it is the report's own.
 */
export function gateSeverity(report: Report, entries: readonly QuarantineEntry[], today: string): Severity {
  if (entries.length === 0 || report.tests.length === 0) return report.summary.severity;
  const counted = report.tests.filter((t) => {
    const q = quarantineOf(t.id, entries, today);
    return q === null || q.expired;
  });
  if (counted.length === report.tests.length) return report.summary.severity;
  return counted.reduce<Severity>(
    (worst, t) => (SEVERITY_ORDER.indexOf(t.severity) > SEVERITY_ORDER.indexOf(worst) ? t.severity : worst),
    "none",
  );
}

/** Warnings for entries past their review date that still cover a failing test of this report. */
export function expiredQuarantines(
  tests: readonly TestResult[],
  entries: readonly QuarantineEntry[],
  today: string,
): string[] {
  const out: string[] = [];
  for (const t of tests) {
    const q = quarantineOf(t.id, entries, today);
    if (q?.expired && t.failures > 0) {
      out.push(
        `quarantine entry for ${JSON.stringify(q.entry.test)} expired on ${q.entry.review_by}; ${t.id} counts again: fix the test or renew review_by`,
      );
    }
  }
  return out;
}

/** Today's date as the config's review_by format (YYYY-MM-DD, UTC). */
export function isoDay(d: Date): string {
  return d.toISOString().slice(0, 10);
}
