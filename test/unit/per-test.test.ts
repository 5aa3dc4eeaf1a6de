import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { rateInterval } from "../../src/analysis/intervals.js";
import { passBefore, sortTests, TestAggregator, testResultOf } from "../../src/analysis/per-test.js";
import { checkpoints, runsToBound, settleState } from "../../src/analysis/stopping.js";
import { summarize, withTests } from "../../src/analysis/summarize.js";
import type { FrameworkAdapter } from "../../src/frameworks/index.js";
import type { ParsedTest } from "../../src/parsers/types.js";
import { distinguishDuplicates, frameworkIds, withRelativePaths } from "../../src/pipeline/results.js";
import { inRunOrder } from "../../src/pipeline/session.js";

const thresholds = { critical: 0.9, high: 0.5, medium: 0.1, low: 0 };
const opts = {
  confidence: 0.95,
  thresholds,
  maxErrorLength: 40,
  reproduce: (t: { id: string }) => `repro ${t.id}`,
};
const r = (id: string, status: ParsedTest["status"], message: string | null = null): ParsedTest => ({
  id,
  name: id,
  file: null,
  status,
  message,
  durationMs: null,
});

describe("TestAggregator", () => {
  it("counts only attempts in which a test ran; skips and absences are not passes", () => {
    const agg = new TestAggregator();
    agg.add({ index: 0, seed: 10, shuffled: false }, [r("a", "passed"), r("b", "failed", "boom")]);
    agg.add({ index: 1, seed: 11, shuffled: false }, [r("a", "skipped")]); // b absent: crashed before it
    agg.add({ index: 2, seed: 12, shuffled: true }, [
      r("a", "failed", "Timed out after 5000 ms"),
      r("b", "passed"),
    ]);
    const a = agg.get("a");
    const b = agg.get("b");
    expect(a).toMatchObject({ attempts: 2, failures: 1, skipped: 1, timeouts: 1, failingSeeds: [12] });
    expect(a?.shuffled).toEqual({ attempts: 1, failures: 1 });
    expect(b).toMatchObject({
      attempts: 2,
      failures: 1,
      failingSeeds: [10],
      firstFailure: { attempt: 0, seed: 10, message: "boom" },
    });
  });

  it("keeps where each test failed first in a shuffled order and passed first in any order (by index)", () => {
    const agg = new TestAggregator();
    // Folded out of order: attempt 1 (shuffled) before attempt 0 (declared).
    agg.add({ index: 1, seed: 11, shuffled: true }, [r("b", "passed"), r("c", "skipped"), r("a", "failed")]);
    agg.add({ index: 0, seed: 10, shuffled: false }, [r("a", "passed"), r("b", "passed")]);
    const a = agg.get("a");
    expect(a?.orderBefore).toEqual({ seed: 11, shuffled: true, ids: ["b"] });
    expect(passBefore(a as NonNullable<typeof a>)).toEqual({ seed: 10, shuffled: false, ids: [] });
    const b = agg.get("b");
    expect(passBefore(b as NonNullable<typeof b>)).toEqual({ seed: 10, shuffled: false, ids: ["a"] });
  });

  it("orders an attempt's results as its tests started, only when every test has a start", () => {
    const tests = [
      r("f > a", "passed"),
      r("f > b", "failed"),
      r("f > b [2]", "passed"),
      r("f > c", "passed"),
    ];
    const ids = (ts: ParsedTest[]) => ts.map((t) => t.id);
    expect(ids(inRunOrder(tests, ["f > c", "f > b", "f > a"]))).toEqual([
      "f > c",
      "f > b",
      "f > b [2]",
      "f > a",
    ]);
    // A start line missing (a torn events file): the framework's order stands.
    expect(ids(inRunOrder(tests, ["f > c", "f > a"]))).toEqual(ids(tests));
  });

  it("counts a test reported twice in one attempt once, failed if either failed", () => {
    const agg = new TestAggregator();
    agg.add({ index: 0, seed: 1, shuffled: false }, [r("a", "passed"), r("a", "failed", "x")]);
    expect(agg.get("a")).toMatchObject({ attempts: 1, failures: 1 });
  });

  it("keeps failing seeds in attempt order whatever order attempts finish in (property)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.boolean(), { minLength: 1, maxLength: 120 }),
        fc.integer({ min: 0, max: 1000 }),
        (fails, shuffleSeed) => {
          const order = fails.map((_, i) => i);
          // A deterministic shuffle: the finish order of parallel attempts.
          let x = shuffleSeed + 1;
          for (let i = order.length - 1; i > 0; i--) {
            x = (x * 1103515245 + 12345) % 2147483648;
            const j = x % (i + 1);
            [order[i], order[j]] = [order[j] as number, order[i] as number];
          }
          const inOrder = new TestAggregator();
          const shuffled = new TestAggregator();
          for (const [i, f] of fails.entries())
            inOrder.add({ index: i, seed: 1000 + i, shuffled: false }, [r("t", f ? "failed" : "passed")]);
          for (const i of order)
            shuffled.add({ index: i, seed: 1000 + i, shuffled: false }, [
              r("t", fails[i] ? "failed" : "passed"),
            ]);
          expect(shuffled.get("t")).toEqual(inOrder.get("t"));
          expect(inOrder.get("t")?.failingSeeds).toEqual(
            fails.flatMap((f, i) => (f ? [1000 + i] : [])).slice(0, 50),
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  it("counts a module's collection error over every attempt with results, whenever it first appears", () => {
    const agg = new TestAggregator();
    const broken: ParsedTest = {
      ...r("tests/test_m.py", "failed", "collection error: x"),
      kind: "collection",
    };
    agg.add({ index: 0, seed: 1, shuffled: false }, [r("a", "passed")]);
    agg.add({ index: 1, seed: 2, shuffled: false }, [r("a", "passed")]);
    agg.add({ index: 2, seed: 3, shuffled: false }, [broken]);
    agg.add({ index: 3, seed: 4, shuffled: false }, [r("a", "passed")]);
    expect(agg.get("tests/test_m.py")).toMatchObject({
      attempts: 4,
      failures: 1,
      failingSeeds: [3],
      collection: true,
    });
    expect(agg.get("a")).toMatchObject({ attempts: 3, failures: 0 });
    expect(agg.onlyCollectionErrors).toBe(false);
  });

  it("keeps one outcome per (attempt, test): crashed and timedOut fail it, skipped and not run count for nothing", () => {
    const agg = new TestAggregator();
    const died = (id: string, how: "crashed" | "timedOut"): ParsedTest => ({
      ...r(id, "failed", how),
      died: how,
    });
    agg.add({ index: 0, seed: 1, shuffled: false }, [r("a", "passed"), r("b", "passed"), r("s", "skipped")]);
    agg.add({ index: 1, seed: 2, shuffled: false }, [died("a", "crashed")]); // b and s never reached
    agg.add({ index: 2, seed: 3, shuffled: false }, [
      r("a", "passed"),
      died("b", "timedOut"),
      r("s", "skipped"),
    ]);
    const by = Object.fromEntries(agg.list().map((t) => [t.id, testResultOf(t, opts)]));
    expect(by.a).toMatchObject({
      attempts: 3,
      failures: 1,
      crashes: 1,
      timeouts: 0,
      notRun: 0,
      verdict: "flaky",
    });
    expect(by.b).toMatchObject({
      attempts: 2,
      failures: 1,
      crashes: 0,
      timeouts: 1,
      notRun: 1,
      verdict: "flaky",
    });
    expect(by.s).toMatchObject({ attempts: 0, skipped: 2, notRun: 1, verdict: "skipped", severity: "none" });
  });

  it("tells apart tests sharing a name in one attempt, except where the framework repeats one id", () => {
    const tests = [
      r("d > works", "passed"),
      r("d > works", "failed"),
      r("other", "passed"),
      r("d > works", "passed"),
    ];
    const node = { repeatsShareId: false } as FrameworkAdapter;
    expect(distinguishDuplicates(tests, node).map((t) => t.id)).toEqual([
      "d > works",
      "d > works [2]",
      "other",
      "d > works [3]",
    ]);
    expect(frameworkIds(["d > works [2]", "d > works", "x"], node)).toEqual(["d > works", "x"]);
    const go = { repeatsShareId: true } as FrameworkAdapter;
    expect(distinguishDuplicates(tests, go)).toBe(tests);
    expect(frameworkIds(["TestX [2]"], go)).toEqual(["TestX [2]"]);
  });

  it("writes paths into the slot's copy relative to it, in files and in failure messages", () => {
    const slot = "/tmp/flaky-detector-slot-Ab12/";
    const t = (over: Partial<ParsedTest>): ParsedTest => ({ ...r("a > b", "failed"), ...over });
    const [timeout, esm, elsewhere, passed] = withRelativePaths(
      [
        t({
          file: `${slot}test/a.js`,
          message: `Timeout of 2000ms exceeded. (${slot}test/a.js)\n    at Context.<anonymous> (${slot}test/a.js:10:5)`,
          reruns: { failed: 1, messages: [`boom (${slot}test/a.js)`] },
        }),
        t({ file: "test/b.mjs", message: `Error: x\n    at file://${slot}test/b.mjs:3:9` }),
        t({ file: "/usr/lib/node/x.js", message: "Error: y (/usr/lib/node/x.js:1:1)" }),
        t({ status: "passed", message: null }),
      ],
      slot.slice(0, -1),
    );
    expect(timeout).toMatchObject({
      file: "test/a.js",
      message: "Timeout of 2000ms exceeded. (test/a.js)\n    at Context.<anonymous> (test/a.js:10:5)",
      reruns: { failed: 1, messages: ["boom (test/a.js)"] },
    });
    expect(esm?.message).toBe("Error: x\n    at test/b.mjs:3:9");
    expect(elsewhere).toMatchObject({
      file: "/usr/lib/node/x.js",
      message: "Error: y (/usr/lib/node/x.js:1:1)",
    });
    expect(passed?.message).toBeNull();
  });

  it("says when a flaky test's interval spans a severity edge, and not otherwise", () => {
    const of = (failures: number, runs: number) => {
      const agg = new TestAggregator();
      for (let i = 0; i < runs; i++)
        agg.add({ index: i, seed: i, shuffled: false }, [r("x", i < failures ? "failed" : "passed")]);
      return testResultOf(agg.get("x") as NonNullable<ReturnType<TestAggregator["get"]>>, opts);
    };
    // 12/100: 6.4%–20.0%, across the 10% LOW/MEDIUM edge.
    expect(of(12, 100)).toMatchObject({ severity: "medium", severitySpan: ["low", "medium"] });
    expect(of(30, 100).severitySpan).toBeUndefined();
    expect(of(0, 100).severitySpan).toBeUndefined();
    expect(of(100, 100).severitySpan).toBeUndefined();
  });

  it("builds results with the shared definitions and trims messages to max_error_length", () => {
    const agg = new TestAggregator();
    for (let i = 0; i < 10; i++)
      agg.add({ index: i, seed: i, shuffled: false }, [r("x", i < 3 ? "failed" : "passed", "e".repeat(100))]);
    const res = testResultOf(agg.get("x") as NonNullable<ReturnType<TestAggregator["get"]>>, opts);
    expect(res).toMatchObject({
      verdict: "flaky",
      severity: "medium",
      failureRate: 0.3,
      reproduce: "repro x",
      bound: null,
    });
    expect(res.firstFailure?.message).toHaveLength(40);
    expect(res.firstFailure?.message.endsWith("…")).toBe(true);
  });

  it("sorts worst first", () => {
    const mk = (id: string, severity: "none" | "medium" | "critical", failureRate: number) =>
      ({ id, severity, failureRate, verdict: "flaky" }) as never;
    expect(
      sortTests([
        mk("a", "none", 0),
        mk("b", "critical", 1),
        mk("c", "medium", 0.2),
        mk("d", "medium", 0.4),
      ]).map((t: { id: string }) => t.id),
    ).toEqual(["b", "d", "c", "a"]);
  });
});

describe("job summary with tests", () => {
  it("broken beats flaky beats stable; severity is the worst test's", () => {
    const base = summarize(["failed", "passed"], {
      confidence: 0.95,
      minDetectableRate: 0.05,
      thresholds,
      budget: 2,
      stopReason: "budget",
    });
    const t = (verdict: string, severity: string) => ({ verdict, severity }) as never;
    expect(withTests(base, [t("stable", "none"), t("flaky", "medium")], 0)).toMatchObject({
      verdict: "flaky",
      severity: "medium",
      statement: "2 tests: 1 flaky, 1 stable",
    });
    // A requested test that ran nowhere: no complete answer, whatever the others did.
    expect(withTests(base, [t("failing", "critical"), t("error", "none")], 0, ["x::gone"])).toMatchObject({
      verdict: "error",
      statement:
        'could not rerun 1 requested test ("x::gone"): it ran in no attempt; 2 tests: 1 failing, 1 not run',
    });
    expect(withTests(base, [t("flaky", "high"), t("failing", "critical")], 1)).toMatchObject({
      verdict: "failing",
      severity: "critical",
      tests: { total: 2, flaky: 1, failing: 1, stable: 0, error: 0, skipped: 0, ignored: 1 },
    });
  });
});

describe("stopping rule", () => {
  const rule = { confidence: 0.95, minDetectableRate: 0.05, thresholds, budget: 200 };

  it("needs 72 clean (or all-failing) runs at 95% / 5%", () => {
    expect(runsToBound(rule)).toBe(72);
    // 72 clean runs put the interval's upper end (1 − 0.025^(1/n)) below 5%; 71 do not.
    expect(settleState(71, 0, rule)).toBe("open");
    expect(settleState(72, 0, rule)).toBe("settled-stable");
    expect(settleState(72, 72, rule)).toBe("settled-failing");
    expect(rateInterval(0, 72, 0.95)[1]).toBeLessThan(0.05);
    expect(rateInterval(0, 71, 0.95)[1]).toBeGreaterThan(0.05);
  });

  it("settles a flaky test only when its interval sits in one band", () => {
    expect(settleState(60, 18, rule)).toBe("settled-band"); // 30%: well inside MEDIUM
    expect(settleState(60, 6, rule)).toBe("open"); // 10%: on the LOW/MEDIUM edge
    expect(settleState(10, 3, rule)).toBe("open");
  });

  it("looks at geometric checkpoints ending at the budget", () => {
    const at = (budget: number) => checkpoints({ budget, confidence: 0.95, minDetectableRate: 0.05 });
    expect(at(200)).toEqual([10, 15, 25, 40, 60, 72, 90, 135, 200]);
    expect(at(12)).toEqual([10, 12]);
    expect(at(5)).toEqual([5]);
  });

  it("never settles a band that the interval straddles (property)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 400 }),
        fc.double({ min: 0.01, max: 0.99, noNaN: true }),
        (n, f) => {
          const k = Math.max(1, Math.min(n - 1, Math.round(f * n)));
          const s = settleState(n, k, rule);
          return s === "open" || s === "settled-band";
        },
      ),
    );
  });
});
