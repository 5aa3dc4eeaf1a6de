import type { Report } from "../../src/analysis/report.js";

/**
 * How the in-process repetition tests compare a job run both ways (docs/design/repeat.md): the
 * process an attempt ran in, and what two reports of one job seed must agree on.
 */
export const processOf = (a: Report["attempts"][number]) =>
  a.process ? `p${a.process.first}` : `a${a.index}`;

/** Each attempt's index, seed and the tests that failed in it. */
export const failedIn = (r: Report) =>
  r.attempts.map((a) => `${a.index}:${a.seed}:${[...(a.tests?.failed ?? [])].sort().join(",")}`);

/** Each test's verdict and counts, by id. */
export const countsOf = (r: Report) =>
  r.tests
    .map((t) => [t.id, t.verdict, t.failures, t.attempts, t.crashes, t.notRun])
    .sort((a, b) => String(a[0]).localeCompare(String(b[0])));
