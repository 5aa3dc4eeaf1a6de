import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Report } from "../../src/analysis/report.js";
import { readReport, runCli, tempDir } from "../helpers/cli.js";

/**
 * Focus (docs/design/stopping.md): once the stopping rule has settled some tests, later attempts
 * run only the open ones through the framework's filter — the same attempts at any parallelism,
 * the same verdicts as running the whole command every time, far fewer test executions.
 */

let dir: { path: string; cleanup: () => void };
beforeAll(() => {
  dir = tempDir("fd-focus-");
  // Six stable tests, one failing for 3 seeds in 10 (settles in the MEDIUM band), one failing for
  // 1 seed in 10: on the LOW/MEDIUM edge, it never settles and runs to the budget.
  writeFileSync(
    join(dir.path, "suite.test.mjs"),
    [
      'import { test } from "node:test";',
      'import assert from "node:assert";',
      "const seed = Number(process.env.TEST_SEED);",
      ...[1, 2, 3, 4, 5, 6].map((n) => `test("stable ${n}", () => {});`),
      'test("thirty", () => assert.ok(seed % 10 >= 3, "seed decides"));',
      'test("edge", () => assert.ok(seed % 10 !== 0, "seed decides"));',
      "",
    ].join("\n"),
  );
});
afterAll(() => dir.cleanup());

async function detect(name: string, extra: string[]): Promise<Report> {
  const out = join(dir.path, `${name}.json`);
  const r = await runCli(
    [
      "run",
      "--runs",
      "150",
      "--seed",
      "77",
      "--json",
      out,
      "--progress",
      "none",
      ...extra,
      "--",
      "node",
      "--test",
    ],
    { cwd: dir.path },
  );
  expect(r.code, r.stderr).toBe(0);
  return readReport(out);
}

const executions = (r: Report) =>
  r.attempts.reduce((n, a) => n + (a.tests ? a.tests.passed + a.tests.failed.length : 0), 0);

describe("focus on the open tests", () => {
  it("reruns only the unsettled test once the others settle, with the verdicts of whole-command runs", async () => {
    const one = await detect("p1", ["--parallelism", "1"]);
    const three = await detect("p3", ["--parallelism", "3"]);
    const whole = await detect("whole", ["--parallelism", "3", "--no-focus"]);

    // The same attempts, the same tests in each, whatever the parallelism.
    const shape = (r: Report) => r.attempts.map((a) => [a.index, a.seed, a.outcome, a.tests]);
    expect(shape(three)).toEqual(shape(one));

    const byId = (r: Report) => new Map(r.tests.map((t) => [t.id.replace(/^.*> /, ""), t]));
    const focused = byId(one);
    const all = byId(whole);
    expect(focused.get("edge")?.attempts).toBe(150);
    for (const n of [1, 2, 3, 4, 5, 6]) {
      const t = focused.get(`stable ${n}`);
      // Settled at the 72-run checkpoint ("< 5.0%"), then left out: not counted as "did not run".
      expect(t).toMatchObject({ verdict: "stable", attempts: 72, notRun: 0 });
      expect(all.get(`stable ${n}`)).toMatchObject({ verdict: "stable", attempts: 150 });
    }
    for (const [id, t] of focused) {
      expect(all.get(id)?.verdict, id).toBe(t.verdict);
      expect(all.get(id)?.severity, id).toBe(t.severity);
    }
    // Attempts are whole-command until a checkpoint settles tests, then name what they ran.
    const first = one.attempts.findIndex((a) => a.tests?.focus);
    expect(first).toBeGreaterThan(0);
    expect(one.attempts.slice(0, first).every((a) => a.tests?.focus === undefined)).toBe(true);
    for (const a of one.attempts.slice(first)) {
      expect(a.tests?.focus?.some((id) => id.endsWith("edge"))).toBe(true);
      expect((a.tests?.passed ?? 0) + (a.tests?.failed.length ?? 0)).toBe(a.tests?.focus?.length);
    }
    // Every test execution is one of a test's counted runs, and there are far fewer of them.
    expect(executions(one)).toBe([...focused.values()].reduce((n, t) => n + t.attempts, 0));
    expect(executions(one)).toBeLessThan(0.65 * executions(whole));
  }, 300_000);

  it("goes back to the whole command when a focused attempt runs none of its tests", async () => {
    const p = join(dir.path, "renamed");
    mkdirSync(p);
    // A test named after its attempt: no id it had can be selected again.
    writeFileSync(
      join(p, "suite.test.mjs"),
      [
        'import { test } from "node:test";',
        ...[1, 2, 3].map((n) => `test("stable ${n}", () => {});`),
        'test("attempt " + process.env.ATTEMPT, () => {});',
        "",
      ].join("\n"),
    );
    const out = join(p, "report.json");
    const r = await runCli(
      ["run", "--runs", "100", "--seed", "3", "--json", out, "--progress", "none", "--", "node", "--test"],
      { cwd: p },
    );
    expect(r.code, r.stderr).toBe(0);
    const report = readReport(out);
    // Attempt 72 (the first checkpoint that settled tests) was focused and ran none of its tests:
    // errored, not a verdict, and so were the attempts up to the next checkpoint (decided alike).
    const errored = report.attempts.filter((a) => a.outcome === "errored").map((a) => a.index);
    expect(errored).toEqual(Array.from({ length: 18 }, (_, i) => 72 + i));
    expect(report.warnings.join("\n")).toMatch(
      /was asked to run only the tests still open \(\d+\) and ran none of them; later attempts run the whole command/,
    );
    // After that, whole-command attempts again: every stable test kept being run.
    const last = report.attempts.at(-1);
    expect(last?.tests?.focus).toBeUndefined();
    expect(last?.tests?.passed).toBe(4);
  }, 300_000);

  it("keeps running the whole command with --shuffle, where the order around each test is measured", async () => {
    const p = join(dir.path, "go");
    mkdirSync(p);
    writeFileSync(join(p, "go.mod"), "module example.com/focus\n\ngo 1.19\n");
    writeFileSync(
      join(p, "suite_test.go"),
      [
        "package focus",
        'import ("os"; "strconv"; "testing")',
        "func TestStableA(t *testing.T) {}",
        "func TestStableB(t *testing.T) {}",
        'func TestEdge(t *testing.T) { n, _ := strconv.Atoi(os.Getenv("TEST_SEED")); if n%10 == 0 { t.Fatal("seed decides") } }',
        "",
      ].join("\n"),
    );
    const out = join(p, "report.json");
    const r = await runCli(
      [
        "run",
        "--runs",
        "90",
        "--seed",
        "77",
        "--shuffle",
        "--json",
        out,
        "--progress",
        "none",
        "--",
        "go",
        "test",
        ".",
      ],
      { cwd: p },
    );
    expect(r.code, r.stderr).toBe(0);
    const report = readReport(out);
    expect(report.attempts.length).toBe(90);
    for (const a of report.attempts) {
      expect(a.tests?.focus).toBeUndefined();
      expect((a.tests?.passed ?? 0) + (a.tests?.failed.length ?? 0)).toBe(3);
    }
  }, 300_000);
});
