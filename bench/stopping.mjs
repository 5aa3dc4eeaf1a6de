// Simulates the adaptive stopping rule against fixed N on Bernoulli tests, using the built
// analysis functions (dist/). Deterministic PRNG, so the figures are reproducible.
// node bench/stopping.mjs [jobs]  → prints a markdown table, writes bench/results/latest-stopping.json
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { severityOf, verdictOf } from "../dist/analysis/classify.js";
import { rateInterval } from "../dist/analysis/intervals.js";
import { checkpoints, perLookConfidence, settleState } from "../dist/analysis/stopping.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const JOBS = Number(process.argv[2] ?? 2000);
const BUDGET = 200;
const thresholds = { critical: 0.9, high: 0.5, medium: 0.1, low: 0 };
const rule = { confidence: 0.95, minDetectableRate: 0.05, thresholds, budget: BUDGET };
// A rejected alternative (docs/design/stopping.md), measured here only: BENCH_TOLERANCE=0.05 also
// settles a flaky test whose per-look interval lies within one band widened by 0.05 on each side.
const TOLERANCE = Number(process.env.BENCH_TOLERANCE ?? 0);
const BANDS = [
  [0, thresholds.medium],
  [thresholds.medium, thresholds.high],
  [thresholds.high, thresholds.critical],
  [thresholds.critical, 1],
];
function settled(n, k) {
  if (settleState(n, k, rule) !== "open") return true;
  if (TOLERANCE <= 0 || k === 0 || k === n) return false;
  const [lo, hi] = rateInterval(k, n, perLookConfidence(rule));
  return BANDS.some(([from, to]) => lo >= from - TOLERANCE && hi <= to + TOLERANCE);
}
const looks = new Set(checkpoints(rule));

let state = 20261124;
const rand = () => {
  state ^= state << 13;
  state ^= state >>> 17;
  state ^= state << 5;
  return (state >>> 0) / 2 ** 32;
};

/** One job of several tests run together (every attempt runs the whole suite). */
function job(ps) {
  const outcomes = ps.map(() => []);
  let n = 0;
  let stoppedAt = BUDGET;
  for (; n < BUDGET; n++) {
    for (let i = 0; i < ps.length; i++) outcomes[i].push(rand() < ps[i]);
    const done = n + 1;
    if (looks.has(done) && ps.every((_, i) => settled(done, count(outcomes[i], done)))) {
      stoppedAt = done;
      break;
    }
  }
  return ps.map((p, i) => {
    const adaptive = classify(count(outcomes[i], stoppedAt), stoppedAt);
    // Fixed N continues the same random stream to 200 (the adaptive job is a prefix of it).
    for (let k = outcomes[i].length; k < BUDGET; k++) outcomes[i].push(rand() < p);
    const fixed = classify(count(outcomes[i], BUDGET), BUDGET);
    const [lo, hi] = rateInterval(count(outcomes[i], stoppedAt), stoppedAt, 0.95);
    return {
      p,
      stoppedAt,
      adaptive,
      fixed,
      covers: lo <= p && p <= hi,
      // The point estimate's band, as reported, within the tolerance of the true rate (0: in it).
      bandNear: bandDistance(p, adaptive.severity) <= TOLERANCE + 1e-12,
    };
  });
}

/** How far the rate p is from the band of `severity` (0 inside it). */
function bandDistance(p, severity) {
  const ranges = {
    none: [0, 0],
    low: [0, thresholds.medium],
    medium: [thresholds.medium, thresholds.high],
    high: [thresholds.high, thresholds.critical],
    critical: [thresholds.critical, 1],
  };
  const [from, to] = ranges[severity];
  return p < from ? from - p : p > to ? p - to : 0;
}

function count(xs, n) {
  let k = 0;
  for (let i = 0; i < n; i++) if (xs[i]) k++;
  return k;
}

function classify(k, n) {
  return { verdict: verdictOf(n - k, k), severity: severityOf(k / n, thresholds) };
}

const truth = (p) => ({
  verdict: p === 0 ? "stable" : p === 1 ? "failing" : "flaky",
  severity: severityOf(p, thresholds),
});

function simulate(label, ps) {
  const rows = ps.map(() => ({
    attempts: 0,
    agreeVerdict: 0,
    agreeBand: 0,
    adaptiveWrongVerdict: 0,
    fixedWrongVerdict: 0,
    covers: 0,
    bandNear: 0,
  }));
  for (let j = 0; j < JOBS; j++) {
    job(ps).forEach((r, i) => {
      const row = rows[i];
      row.attempts += r.stoppedAt;
      if (r.adaptive.verdict === r.fixed.verdict) row.agreeVerdict++;
      if (r.adaptive.verdict === r.fixed.verdict && r.adaptive.severity === r.fixed.severity) row.agreeBand++;
      if (r.adaptive.verdict !== truth(r.p).verdict) row.adaptiveWrongVerdict++;
      if (r.fixed.verdict !== truth(r.p).verdict) row.fixedWrongVerdict++;
      if (r.covers) row.covers++;
      if (r.bandNear) row.bandNear++;
    });
  }
  return {
    label,
    tests: ps.map((p, i) => {
      const row = rows[i];
      return {
        p,
        meanAttempts: Number((row.attempts / JOBS).toFixed(1)),
        shareOfFixed: Number((row.attempts / JOBS / BUDGET).toFixed(3)),
        verdictAgreement: Number((row.agreeVerdict / JOBS).toFixed(4)),
        verdictAndBandAgreement: Number((row.agreeBand / JOBS).toFixed(4)),
        adaptiveVerdictErrors: Number((row.adaptiveWrongVerdict / JOBS).toFixed(4)),
        fixedVerdictErrors: Number((row.fixedWrongVerdict / JOBS).toFixed(4)),
        intervalCoverage: Number((row.covers / JOBS).toFixed(4)),
        bandWithinTolerance: Number((row.bandNear / JOBS).toFixed(4)),
      };
    }),
  };
}

const single = [0, 0.01, 0.03, 0.05, 0.08, 0.1, 0.12, 0.15, 0.2, 0.3, 0.48, 0.7, 0.95, 1].map((p) =>
  simulate(`one test, p = ${p}`, [p]),
);
const suites = [
  simulate("examples suite (0, .3, .2, .05, .25, .15, 0, 0, 1)", [0, 0.3, 0.2, 0.05, 0.25, 0.15, 0, 0, 1]),
  simulate("healthy suite (10 stable tests)", Array(10).fill(0)),
  simulate("one flaky test among stable ones (0 ×5, .3)", [0, 0, 0, 0, 0, 0.3]),
  simulate("broken test among stable ones (0 ×5, 1)", [0, 0, 0, 0, 0, 1]),
];

const lines = [
  `| job | p | mean attempts (of 200) | share | verdict agreement with fixed 200 | verdict+band agreement | adaptive verdict wrong | fixed verdict wrong | interval coverage | band within ${TOLERANCE} of p |`,
  "|---|---|---|---|---|---|---|---|---|---|",
];
for (const s of [...single, ...suites]) {
  for (const t of s.tests) {
    lines.push(
      `| ${s.label} | ${t.p} | ${t.meanAttempts} | ${(t.shareOfFixed * 100).toFixed(1)}% | ${(t.verdictAgreement * 100).toFixed(2)}% | ${(t.verdictAndBandAgreement * 100).toFixed(2)}% | ${(t.adaptiveVerdictErrors * 100).toFixed(2)}% | ${(t.fixedVerdictErrors * 100).toFixed(2)}% | ${(t.intervalCoverage * 100).toFixed(1)}% | ${(t.bandWithinTolerance * 100).toFixed(1)}% |`,
    );
  }
}
console.log(
  `${JOBS} simulated jobs per row, budget ${BUDGET}, confidence 0.95, min_detectable_rate 0.05, band_tolerance ${TOLERANCE}, checkpoints ${[...looks].join(", ")}\n`,
);
console.log(lines.join("\n"));
mkdirSync(join(ROOT, "bench/results"), { recursive: true });
writeFileSync(
  join(ROOT, "bench/results/latest-stopping.json"),
  `${JSON.stringify({ date: new Date().toISOString(), jobs: JOBS, budget: BUDGET, bandTolerance: TOLERANCE, rows: [...single, ...suites] }, null, 2)}\n`,
);
