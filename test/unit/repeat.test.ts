import { describe, expect, it } from "vitest";
import { splitRepetitions } from "../../src/parsers/events.js";
import { RepetitionPlanner } from "../../src/pipeline/repeat.js";

const groupsOf = (p: RepetitionPlanner) => {
  const out: { start: number; size: number }[] = [];
  for (let g = p.next(); g; g = p.next()) out.push(g);
  return out;
};

describe("grouping attempts into processes", () => {
  it("covers every attempt once, in order, never spanning a checkpoint, at most max per process", () => {
    for (const [count, parallelism, max] of [
      [100, 2, 20],
      [7, 3, 20],
      [200, 4, 5],
      [30, 1, 20],
    ] as const) {
      const checkpoints = [10, 15, 25, 40, 60, 72, 90];
      const groups = groupsOf(new RepetitionPlanner(count, checkpoints, parallelism, max));
      let next = 0;
      for (const g of groups) {
        expect(g.start).toBe(next);
        expect(g.size).toBeGreaterThan(0);
        expect(g.size).toBeLessThanOrEqual(max);
        expect(checkpoints.some((c) => c > g.start && c < g.start + g.size)).toBe(false);
        next += g.size;
      }
      expect(next).toBe(count);
    }
  });

  it("splits over the slots until it knows the cost, then only as far as the work outweighs a start-up", () => {
    const p = new RepetitionPlanner(100, [10, 15, 25, 40, 60, 72, 90], 2, 20);
    expect([p.next(), p.next()]).toEqual([
      { start: 0, size: 5 },
      { start: 5, size: 5 },
    ]);
    // A start-up of 1,000 ms, repetitions of 30 ms: 5 and 10 attempts are cheaper in one process.
    p.observe(1150, [30, 30, 30, 30, 30]);
    expect(p.next()).toEqual({ start: 10, size: 5 });
    expect(p.next()).toEqual({ start: 15, size: 10 });
    // Repetitions of 500 ms: 15 attempts take 7.5 s, worth two processes.
    p.observe(6000, [500, 500, 500, 500, 500, 500, 500, 500, 500, 500]);
    p.observe(6000, [500, 500, 500, 500, 500, 500, 500, 500, 500, 500]);
    expect([p.next(), p.next()]).toEqual([
      { start: 25, size: 8 },
      { start: 33, size: 7 },
    ]);
  });

  it("max 1 is one process per attempt", () => {
    expect(groupsOf(new RepetitionPlanner(5, [], 2, 1)).map((g) => g.size)).toEqual([1, 1, 1, 1, 1]);
  });
});

describe("the events of a process that repeated its tests", () => {
  it("are split per repetition; the one the process died in is unfinished", () => {
    const text = [
      '{"event": "collect-error", "file": "test_b.py", "message": "ImportError"}',
      '{"event": "repetition", "attempt": 4, "seed": 11}',
      '{"event": "start", "id": "t.py::a", "file": "t.py"}',
      '{"event": "end", "id": "t.py::a", "outcome": "failed", "message": "boom", "durationMs": 3}',
      '{"event": "repetition-end", "attempt": 4, "durationMs": 5}',
      '{"event": "repetition", "attempt": 5, "seed": 12}',
      '{"event": "start", "id": "t.py::a", "file": "t.py"}',
      '{"event": "repet',
    ].join("\n");
    const { before, repetitions } = splitRepetitions(text);
    expect(before.collectErrors).toEqual([{ file: "test_b.py", message: "ImportError" }]);
    expect(repetitions.map((r) => [r.attempt, r.seed, r.finished, r.durationMs])).toEqual([
      [4, 11, true, 5],
      [5, 12, false, null],
    ]);
    expect(repetitions[0]?.events.ended.map((t) => [t.id, t.status])).toEqual([["t.py::a", "failed"]]);
    expect(repetitions[1]?.events.running.map((t) => t.id)).toEqual(["t.py::a"]);
  });

  it("without a repetition line, the process never reached its tests", () => {
    expect(
      splitRepetitions('{"event": "collect-error", "file": "x.py", "message": "m"}').repetitions,
    ).toEqual([]);
  });
});
