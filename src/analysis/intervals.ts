/**
 * Interval estimates for a failure probability from k failures in n independent attempts.
 * Pure functions; no I/O.
 */

/** Inverse of the standard normal CDF (Acklam's rational approximation, |error| < 1.2e-9). */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`normalQuantile: p must be in (0, 1), got ${p}`);
  const a = [
    -39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716,
    2.506628277459239,
  ];
  const b = [
    -54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572,
  ];
  const c = [
    -0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968,
    2.938163982698783,
  ];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const [a0, a1, a2, a3, a4, a5] = a as [number, number, number, number, number, number];
  const [b0, b1, b2, b3, b4] = b as [number, number, number, number, number];
  const [c0, c1, c2, c3, c4, c5] = c as [number, number, number, number, number, number];
  const [d0, d1, d2, d3] = d as [number, number, number, number];
  const low = 0.02425;
  if (p < low) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (
      (((((c0 * q + c1) * q + c2) * q + c3) * q + c4) * q + c5) /
      ((((d0 * q + d1) * q + d2) * q + d3) * q + 1)
    );
  }
  if (p > 1 - low) return -normalQuantile(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return (
    ((((((a0 * r + a1) * r + a2) * r + a3) * r + a4) * r + a5) * q) /
    (((((b0 * r + b1) * r + b2) * r + b3) * r + b4) * r + 1)
  );
}

/** Two-sided z for a confidence level: 0.95 → 1.95996. */
export function zFor(confidence: number): number {
  return normalQuantile(1 - (1 - confidence) / 2);
}

/** ln Γ(x) for x > 0 (Lanczos, g = 7, 9 terms; relative error < 1e-13 over the range we use). */
function lnGamma(x: number): number {
  const g = [
    0.9999999999998099, 676.5203681218851, -1259.1392167224028, 771.3234287776531, -176.6150291621406,
    12.507343278686905, -0.13857109526572012, 9.984369578019572e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - lnGamma(1 - x);
  const y = x - 1;
  let a = g[0] as number;
  const t = y + 7.5;
  for (let i = 1; i < 9; i++) a += (g[i] as number) / (y + i);
  return 0.5 * Math.log(2 * Math.PI) + (y + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Continued fraction of the incomplete beta function (modified Lentz), valid for x < (a+1)/(a+b+2). */
function betaFraction(a: number, b: number, x: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 10_000; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-15) break;
  }
  return h;
}

/** Regularised incomplete beta I_x(a, b): P(Beta(a, b) ≤ x). */
export function incompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const front = Math.exp(lnGamma(a + b) - lnGamma(a) - lnGamma(b) + a * Math.log(x) + b * Math.log1p(-x));
  if (x < (a + 1) / (a + b + 2)) return (front * betaFraction(a, b, x)) / a;
  return 1 - (front * betaFraction(b, a, 1 - x)) / b;
}

/** The x with I_x(a, b) = q, by bisection: monotone, and exact to 1e-12 in 45 steps. */
function betaQuantile(q: number, a: number, b: number): number {
  let lo = 0;
  let hi = 1;
  for (let i = 0; i < 60 && hi - lo > 1e-13; i++) {
    const mid = (lo + hi) / 2;
    if (incompleteBeta(mid, a, b) < q) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/**
 * Clopper–Pearson ("exact") two-sided interval for k failures in n attempts: each end leaves at
 * most (1 − confidence)/2 in its tail, so the interval covers the true rate with probability at
 * least `confidence` at every rate and every n — the guarantee the reports print. Chosen over
 * Wilson, whose coverage dips below nominal near 0 and 1 (88.7% at p ≈ 0.002, n = 60), which is
 * where stable and broken tests live; test/unit/analysis.test.ts computes the exact coverage.
 * At k = 0 the upper end is 1 − (α/2)^(1/n); at k = n the lower end is (α/2)^(1/n).
 */
export function clopperPearsonInterval(failures: number, n: number, confidence: number): [number, number] {
  if (n === 0) return [0, 1];
  const tail = (1 - confidence) / 2;
  const lo =
    failures === 0 ? 0 : failures === n ? tail ** (1 / n) : betaQuantile(tail, failures, n - failures + 1);
  const hi =
    failures === n
      ? 1
      : failures === 0
        ? 1 - tail ** (1 / n)
        : betaQuantile(1 - tail, failures + 1, n - failures);
  return [lo, hi];
}

/** The interval every report prints (console, JSON, markdown, PR comment, JUnit, dashboard). */
export const rateInterval = clopperPearsonInterval;

/**
 * Wilson score interval. Kept for the public API and for comparison in the coverage test; reports
 * use the Clopper–Pearson interval, whose coverage is at least nominal at every rate.
 */
export function wilsonInterval(failures: number, n: number, confidence: number): [number, number] {
  if (n === 0) return [0, 1];
  const z = zFor(confidence);
  const p = failures / n;
  const z2 = z * z;
  const denom = 1 + z2 / n;
  const centre = (p + z2 / (2 * n)) / denom;
  const half = (z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / denom;
  // Exact ends at k = 0 and k = n avoid 1e-17 noise in reports.
  const lo = failures === 0 ? 0 : Math.max(0, centre - half);
  const hi = failures === n ? 1 : Math.min(1, centre + half);
  return [lo, hi];
}

/**
 * One-sided exact upper bound on the failure rate after n attempts with no failure:
 * the largest p with (1 - p)^n ≥ 1 - confidence. 100 clean runs → < 3.0% at 95%.
 */
export function zeroFailureUpperBound(n: number, confidence: number): number {
  if (n === 0) return 1;
  return 1 - (1 - confidence) ** (1 / n);
}
