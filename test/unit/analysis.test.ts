import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type CauseEvidence, flakeCause } from "../../src/analysis/cause.js";
import { SEVERITY_ORDER, severityAtLeast, severityOf, verdictOf } from "../../src/analysis/classify.js";
import {
  clopperPearsonInterval,
  incompleteBeta,
  normalQuantile,
  rateInterval,
  wilsonInterval,
  zeroFailureUpperBound,
  zFor,
} from "../../src/analysis/intervals.js";
import { summarize } from "../../src/analysis/summarize.js";

const bands = { critical: 0.9, high: 0.5, medium: 0.1, low: 0 };

describe("intervals", () => {
  it("computes z for common confidence levels", () => {
    expect(zFor(0.95)).toBeCloseTo(1.959964, 5);
    expect(zFor(0.99)).toBeCloseTo(2.575829, 5);
    expect(normalQuantile(0.001)).toBeCloseTo(-3.090232, 5);
  });

  it("matches published Wilson intervals", () => {
    // Newcombe (1998), Statistics in Medicine 17:857, example 81/263, method 3: 0.2553 to 0.3662.
    const [lo, hi] = wilsonInterval(81, 263, 0.95);
    expect(lo).toBeCloseTo(0.2553, 4);
    expect(hi).toBeCloseTo(0.3662, 4);
    expect(wilsonInterval(0, 100, 0.95)[0]).toBe(0);
    expect(wilsonInterval(0, 100, 0.95)[1]).toBeCloseTo(0.037, 3);
    expect(wilsonInterval(100, 100, 0.95)[1]).toBe(1);
    expect(wilsonInterval(0, 0, 0.95)).toEqual([0, 1]);
  });

  it("states the zero-failure bound DESIGN.md quotes: < 3.0% after 100 clean runs", () => {
    expect(zeroFailureUpperBound(100, 0.95)).toBeCloseTo(0.0295, 4);
  });

  it("matches published Clopper–Pearson intervals", () => {
    // R: binom.test(81, 263)$conf.int → 0.2527367 0.3676219; binom.test(1, 10) → 0.002528579 0.445016117.
    const [lo, hi] = clopperPearsonInterval(81, 263, 0.95);
    expect(lo).toBeCloseTo(0.2527367, 6);
    expect(hi).toBeCloseTo(0.3676219, 6);
    expect(clopperPearsonInterval(1, 10, 0.95)[0]).toBeCloseTo(0.002528579, 8);
    expect(clopperPearsonInterval(1, 10, 0.95)[1]).toBeCloseTo(0.445016117, 8);
    // The ends at 0/n and n/n are closed forms: 1 − 0.025^(1/n) and 0.025^(1/n).
    expect(clopperPearsonInterval(0, 60, 0.95)).toEqual([0, 1 - 0.025 ** (1 / 60)]);
    expect(clopperPearsonInterval(40, 40, 0.95)[0]).toBeCloseTo(0.9119, 4);
    expect(clopperPearsonInterval(0, 0, 0.95)).toEqual([0, 1]);
    expect(incompleteBeta(0.3, 2, 5)).toBeCloseTo(0.579825, 6); // pbeta(0.3, 2, 5)
  });

  it("covers the true rate at least as often as it says, at every rate (exact coverage)", () => {
    // Exact coverage: the sum of binomial probabilities of the k whose interval contains p, over a grid
    // of 999 rates and run counts from 1 to 500. Clopper–Pearson never drops below the nominal level;
    // Wilson (what the reports used before) does, badly near 0 and 1 where stable and broken tests sit.
    const lnChoose = (n: number, k: number) => {
      let s = 0;
      for (let i = 1; i <= k; i++) s += Math.log((n - k + i) / i);
      return s;
    };
    const minCoverage = (n: number, c: number, f: (k: number, n: number, c: number) => [number, number]) => {
      const intervals = Array.from({ length: n + 1 }, (_, k) => f(k, n, c));
      const ln = Array.from({ length: n + 1 }, (_, k) => lnChoose(n, k));
      let min = 1;
      for (let i = 1; i < 1000; i++) {
        const p = i / 1000;
        let covered = 0;
        for (let k = 0; k <= n; k++) {
          const [lo, hi] = intervals[k] as [number, number];
          if (lo <= p && p <= hi)
            covered += Math.exp((ln[k] as number) + k * Math.log(p) + (n - k) * Math.log1p(-p));
        }
        min = Math.min(min, covered);
      }
      return min;
    };
    for (const n of [1, 2, 3, 5, 10, 20, 40, 60, 72, 100, 200, 500]) {
      for (const c of [0.9, 0.95, 0.99]) {
        expect(minCoverage(n, c, rateInterval), `n=${n} c=${c}`).toBeGreaterThanOrEqual(c - 1e-9);
      }
    }
    // The defect this replaced: Wilson at n = 60 covers p = 0.002 only 88.7% of the time.
    expect(minCoverage(60, 0.95, wilsonInterval)).toBeLessThan(0.89);
  });

  it("always contains the observed rate and stays in [0, 1]", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5000 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.constantFrom(0.8, 0.9, 0.95, 0.99),
        (n, f, c) => {
          const k = Math.round(f * n);
          for (const [lo, hi] of [wilsonInterval(k, n, c), rateInterval(k, n, c)]) {
            if (!(lo >= 0 && hi <= 1 && lo <= k / n + 1e-12 && hi >= k / n - 1e-12)) return false;
          }
          return true;
        },
      ),
    );
  });

  it("covers the true rate about as often as the confidence level says (simulated Bernoulli data)", () => {
    // Deterministic generator so the test cannot flake; 2,000 simulated jobs per (p, n).
    let state = 12345;
    const rand = () => {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      return state / 2 ** 32;
    };
    const coverages: number[] = [];
    for (const p of [0.02, 0.1, 0.3, 0.5, 0.9]) {
      for (const n of [50, 200]) {
        let covered = 0;
        const jobs = 2000;
        for (let j = 0; j < jobs; j++) {
          let k = 0;
          for (let i = 0; i < n; i++) if (rand() < p) k++;
          const [lo, hi] = wilsonInterval(k, n, 0.95);
          if (lo <= p && p <= hi) covered++;
        }
        // Wilson's coverage oscillates around nominal with dips near p = 0 (p=0.02, n=50 is ~0.92 exactly:
        // k = 3 of 50 already excludes 0.02), so each point gets a floor and the average the nominal level.
        expect(covered / jobs, `p=${p} n=${n}`).toBeGreaterThan(0.9);
        coverages.push(covered / jobs);
      }
    }
    expect(coverages.reduce((a, b) => a + b, 0) / coverages.length).toBeGreaterThan(0.94);
  });
});

describe("severity and verdict", () => {
  it("uses the bands: CRITICAL ≥ 0.9, HIGH ≥ 0.5, MEDIUM ≥ 0.1, LOW > 0", () => {
    expect(severityOf(0, bands)).toBe("none");
    expect(severityOf(0.001, bands)).toBe("low");
    expect(severityOf(0.1, bands)).toBe("medium");
    expect(severityOf(0.3, bands)).toBe("medium");
    expect(severityOf(0.5, bands)).toBe("high");
    expect(severityOf(0.9, bands)).toBe("critical");
    expect(severityOf(1, bands)).toBe("critical");
  });

  it("honours a LOW threshold above zero", () => {
    expect(severityOf(0.005, { ...bands, low: 0.01 })).toBe("none");
    expect(severityOf(0.01, { ...bands, low: 0.01 })).toBe("low");
  });

  it("is monotonic in the failure rate", () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (a, b) => {
          const [x, y] = a <= b ? [a, b] : [b, a];
          return SEVERITY_ORDER.indexOf(severityOf(x, bands)) <= SEVERITY_ORDER.indexOf(severityOf(y, bands));
        },
      ),
    );
  });

  it("defines each verdict once", () => {
    expect(verdictOf(10, 0)).toBe("stable");
    expect(verdictOf(7, 3)).toBe("flaky");
    expect(verdictOf(0, 10)).toBe("failing");
    expect(verdictOf(0, 0)).toBe("error");
  });

  it("compares severities for --fail-on", () => {
    expect(severityAtLeast("medium", "medium")).toBe(true);
    expect(severityAtLeast("low", "medium")).toBe(false);
    expect(severityAtLeast("critical", "none")).toBe(false);
  });
});

describe("summarize", () => {
  const opts = {
    confidence: 0.95,
    minDetectableRate: 0.05,
    thresholds: bands,
    budget: 10,
    stopReason: "budget" as const,
  };

  it("counts timeouts as failures and errored attempts as neither", () => {
    const s = summarize(["passed", "failed", "timedOut", "errored", "passed"], opts);
    expect(s).toMatchObject({
      attempts: 5,
      passedAttempts: 2,
      failedAttempts: 2,
      timeouts: 1,
      erroredAttempts: 1,
      failureRate: 0.5,
      verdict: "flaky",
      severity: "high",
      stoppedEarly: true,
    });
    expect(s.statement).toBe("failed 2 of 4 runs, 1 of them timeouts: 50.0% (95% CI 6.8%–93.2%)");
  });

  it("states what was seen and the bound of a stable result: the interval's upper end", () => {
    const s = summarize(Array(100).fill("passed"), { ...opts, budget: 100 });
    expect(s.verdict).toBe("stable");
    expect(s.statement).toBe("no failure in 100 runs: failure rate < 3.6% at 95% confidence");
    expect(s.interval[1]).toBeCloseTo(0.0362, 4);
    expect(s.stoppedEarly).toBe(false);
  });

  it("calls an always-failing command broken only once a pass rate of min_detectable_rate is ruled out", () => {
    const s = summarize(Array(20).fill("failed"), { ...opts, budget: 20 });
    expect(s.verdict).toBe("failing");
    expect(s.severity).toBe("critical");
    expect(s.statement).toBe(
      "failed all 20 runs: failure rate > 83.2% at 95% confidence (too few runs to rule out a pass rate up to 16.8%)",
    );
    const sure = summarize(Array(72).fill("failed"), { ...opts, budget: 72 });
    expect(sure.statement).toBe(
      "failed all 72 runs: broken, not flaky (failure rate > 95.0% at 95% confidence)",
    );
  });

  it("says an all-errored job is not a test result", () => {
    const s = summarize(["errored", "errored"], opts);
    expect(s.verdict).toBe("error");
    expect(s.severity).toBe("none");
  });
});

describe("seed replays", () => {
  it("replay enough times that a test failing at random would pass at least once (p^k < 1 - confidence)", async () => {
    const { replayRuns } = await import("../../src/pipeline/follow-ups.js");
    expect(replayRuns(0.3, 0.95)).toBe(3);
    expect(replayRuns(0.5, 0.95)).toBe(5);
    expect(replayRuns(0.8, 0.95)).toBe(14);
    // Too often failing to tell within 30 replays: none run, seedDeterministic stays null.
    expect(replayRuns(0.95, 0.95)).toBe(0);
    for (let p = 0.05; p < 0.9; p += 0.05) {
      const k = replayRuns(p, 0.95);
      expect(p ** k, `p = ${p}`).toBeLessThan(0.05);
      expect(k === 3 || p ** (k - 1) >= 0.05, `p = ${p}: k is the least`).toBe(true);
    }
  });
});

describe("a test that keeps state between repetitions", () => {
  it("is named only on evidence ten times stronger than the job's confidence, since it loses its later failures", async () => {
    const { repetitionDependence } = await import("../../src/analysis/interference.js");
    const tally = (attempts: number, failures: number, later: number) => ({
      id: "t",
      name: "t",
      file: null,
      line: null,
      attempts,
      failures,
      timeouts: 0,
      crashes: 0,
      skipped: 0,
      notRun: 0,
      failingSeeds: [],
      firstFailure: null,
      shuffled: { attempts: 0, failures: 0 },
      laterInProcess: { attempts: later, failures },
      innerReruns: 0,
      timed: { ms: 0, runs: 0 },
    });
    // examples/jest's unseeded 15% race, once: 27 of 179 later runs, 0 of 21 first. Chance puts all
    // 27 among the later runs with probability 0.042: under the job's 5%, over 0.5%.
    expect(repetitionDependence(tally(200, 27, 179), 0.05)).toBeUndefined();
    // A test failing in every later run: 8 of 8 after 2 first runs is 1/45, not yet; 13 of 13 after
    // 3 is 1/560.
    expect(repetitionDependence(tally(10, 8, 8), 0.05)).toBeUndefined();
    expect(repetitionDependence(tally(16, 13, 13), 0.05)).toEqual({
      laterRuns: 13,
      laterFailures: 13,
      firstRuns: 3,
    });
    // A failure in a first run is no state kept.
    expect(repetitionDependence({ ...tally(16, 13, 13), failures: 14 }, 0.05)).toBeUndefined();
  });
});

describe("serial confirmation", () => {
  it("runs alone just enough times that a clean record rules chance out, exactly (C(N,k)/C(N+n,k) < 1 - confidence)", async () => {
    const { planFollowUps } = await import("../../src/pipeline/follow-ups.js");
    const { confirmRuns, serialCleanChance } = await import("../../src/analysis/interference.js");
    // 30 of 100 parallel runs: 9 clean serial runs; 6 of 20 needs more, the rate being less sure.
    expect(confirmRuns(100, 30, 0.95)).toBe(9);
    expect(confirmRuns(20, 6, 0.95)).toBe(12);
    expect(confirmRuns(200, 10, 0.95)).toBe(69);
    // One failure can never be told from chance; two in 100 cannot within 100 runs.
    expect(confirmRuns(60, 1, 0.95)).toBe(0);
    expect(confirmRuns(100, 2, 0.95)).toBe(0);
    for (const [n, k] of [
      [30, 9],
      [60, 7],
      [100, 50],
      [200, 12],
    ] as const) {
      const runs = confirmRuns(n, k, 0.95);
      expect(serialCleanChance(n, k, runs), `${k} of ${n}`).toBeLessThan(0.05);
      expect(serialCleanChance(n, k, runs - 1), `${k} of ${n}: the least`).toBeGreaterThanOrEqual(0.05);
    }
    // The stated error rate holds: a test failing at one rate p everywhere is called interference
    // (all its serial runs pass) in at most 5% of jobs, summed exactly over its main-phase failures.
    const binomial = (n: number, k: number, p: number) => {
      let c = 1;
      for (let i = 0; i < k; i++) c = (c * (n - i)) / (i + 1);
      return c * p ** k * (1 - p) ** (n - k);
    };
    for (const n of [30, 60, 200])
      for (const p of [0.05, 0.125, 0.3, 0.5, 0.8]) {
        let wrong = 0;
        for (let k = 1; k < n; k++) {
          const runs = confirmRuns(n, k, 0.95);
          if (runs > 0) wrong += binomial(n, k, p) * (1 - p) ** runs;
        }
        expect(wrong, `p = ${p}, ${n} runs`).toBeLessThanOrEqual(0.05);
      }
    const tally = (id: string, attempts: number, failures: number, shuffledFailures = 0) => ({
      id,
      attempts,
      failures,
      timeouts: 0,
      failingSeeds: [1],
      shuffled: { attempts: attempts / 2, failures: shuffledFailures },
      laterInProcess: { attempts: 0, failures: 0 },
      firstFailure: { attempt: 0, seed: 1, message: "expected 1 got 2" },
    });
    const tallies = [tally("random", 20, 6), tally("shuffled-only", 20, 4, 4), tally("rare", 100, 2)];
    const plan = planFollowUps(tallies as never, 2, 0.95);
    // Order-dependent candidates go to the order search; 2 failures in 100 cannot be told from chance.
    expect(plan.confirm).toEqual([{ id: "random", attempts: 20, failures: 6 }]);
    expect(planFollowUps(tallies as never, 1, 0.95).confirm).toEqual([]);
    // Failing only after an earlier repetition in its process: stable as measured, nothing to follow.
    const kept = { ...tally("keeps-state", 100, 30), laterInProcess: { attempts: 80, failures: 30 } };
    expect(planFollowUps([kept] as never, 2, 0.95)).toEqual({ confirm: [], replay: [] });
    expect(
      planFollowUps([{ ...kept, laterInProcess: { attempts: 0, failures: 0 } }] as never, 2, 0.95).replay,
    ).toHaveLength(1);
  });
});

describe("the cause of a flaky test", () => {
  const base: CauseEvidence = {
    failureRate: 0.3,
    failures: 6,
    timeouts: 0,
    shuffle: null,
    orderDependent: false,
    polluters: [],
    replays: null,
    serial: null,
    parallelism: 2,
    resourceSensitive: false,
    seedDeterministic: null,
  };

  it("names the polluter first, then shuffled-only failures", () => {
    expect(flakeCause({ ...base, orderDependent: true, polluters: ["t::a"] })).toEqual({
      kind: "order-dependent",
      evidence: "fails after t::a; passes alone",
    });
    const shuffle = { shuffledRuns: 10, shuffledFailures: 4, plainRuns: 10, plainFailures: 0 };
    expect(flakeCause({ ...base, orderDependent: true, shuffle }).evidence).toBe(
      "failed 4 of 10 shuffled runs and 0 of 10 in the declared order",
    );
  });

  it("names a state-setter for a test that fails alone", () => {
    expect(flakeCause({ ...base, orderDependent: true, stateSetters: ["t::open"] })).toEqual({
      kind: "order-dependent",
      evidence: "fails alone; passes only after t::open",
    });
  });

  it("states how unlikely chance is for a seed-deterministic failure", () => {
    const c = flakeCause({ ...base, seedDeterministic: true, replays: { runs: 3, failed: 3 } });
    expect(c.kind).toBe("seed-deterministic");
    expect(c.evidence).toBe(
      "its failing seed failed 3 of 3 serial replays; at its 30.0% rate, chance alone would do that with probability 0.03",
    );
  });

  it("interference needs the serial runs; all-timeout failures are timing", () => {
    expect(flakeCause({ ...base, resourceSensitive: true, serial: { runs: 10, failed: 0 } })).toEqual({
      kind: "interference",
      evidence: "failed 6 time(s) at parallelism 2, never in 10 serial runs",
    });
    expect(flakeCause({ ...base, timeouts: 6 }).kind).toBe("timing");
  });

  it("random only when checks ran and ruled the others out; unknown when none ran", () => {
    expect(flakeCause({ ...base, seedDeterministic: false, replays: { runs: 3, failed: 1 } })).toEqual({
      kind: "random",
      evidence: "not decided by the seed (its failing seed passed on replay)",
    });
    expect(flakeCause(base)).toEqual({
      kind: "unknown",
      evidence: "no order, seed or parallelism check ran for it",
    });
  });
});
