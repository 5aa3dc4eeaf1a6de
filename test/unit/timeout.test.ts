import { describe, expect, it } from "vitest";
import { AttemptTimeout } from "../../src/pipeline/timeout.js";
import type { AttemptRecord } from "../../src/runner/attempt.js";

const rec = (index: number, outcome: AttemptRecord["outcome"], durationMs: number) =>
  ({ index, outcome, durationMs }) as AttemptRecord;

describe("per-attempt timeout", () => {
  it("a set value is used as it is", () => {
    const t = new AttemptTimeout(42, 2);
    t.observe(rec(0, "passed", 10));
    t.observe(rec(1, "passed", 10));
    expect(t.ms).toBe(42_000);
    expect(t.describe()).toBe("42 s (set)");
  });

  it("auto: the ceiling until the first wave finished, then 5 × its slowest completed attempt, at least 60 s", () => {
    const t = new AttemptTimeout("auto", 2);
    expect(t.ms).toBe(600_000);
    t.observe(rec(1, "passed", 30_000));
    expect(t.ms).toBe(600_000); // one of two: not yet
    t.observe(rec(0, "failed", 20_000));
    expect(t.ms).toBe(150_000);
    expect(t.describe()).toBe(
      "150 s (auto: 5 × the slowest of the first 2 attempt(s), 30 s, at least 60 s, at most 600 s)",
    );
    t.observe(rec(2, "passed", 100_000)); // later attempts do not move it
    expect(t.ms).toBe(150_000);
  });

  it("auto: fast suites get the 60 s floor, slow ones the 600 s ceiling", () => {
    const fast = new AttemptTimeout("auto", 1);
    fast.observe(rec(0, "passed", 300));
    expect(fast.ms).toBe(60_000);
    const slow = new AttemptTimeout("auto", 1);
    slow.observe(rec(0, "passed", 400_000));
    expect(slow.ms).toBe(600_000);
  });

  it("auto: a first wave that only timed out or errored derives nothing; a later completed attempt does", () => {
    const t = new AttemptTimeout("auto", 2);
    t.observe(rec(0, "timedOut", 600_000));
    t.observe(rec(1, "errored", 5));
    expect(t.ms).toBe(600_000);
    expect(t.describe()).toMatch(/none completed to derive from/);
    t.observe(rec(2, "passed", 20_000));
    expect(t.ms).toBe(100_000);
    t.observe(rec(3, "cancelled", 1)); // cancelled attempts are never evidence
  });
});
