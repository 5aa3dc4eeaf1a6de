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

/**
 * Wilson score interval. Chosen over the normal (Wald) interval because it stays inside [0, 1] and
 * keeps close to nominal coverage at small n and at rates near 0 or 1, which is where flaky tests
 * live (a 1% flake, a test that almost always fails).
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
