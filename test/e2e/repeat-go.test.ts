import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Report } from "../../src/analysis/report.js";
import { readReport, runCli, tempDir } from "../helpers/cli.js";
import { processOf } from "../helpers/repeat.js";

/**
 * go's in-process repetition (docs/design/repeat.md): `go test -count=K` runs K attempts in one test
 * binary per package, each read from its own repetition of the -json stream, with the verdicts of
 * one process per attempt; refused where a source reads the seed or the command sets -count.
 */
let dir: { path: string; cleanup: () => void };
beforeEach(() => {
  dir = tempDir("fd-repeat-go-");
});
afterEach(() => dir.cleanup());

function goModule(name: string, files: Record<string, string>): string {
  const root = join(dir.path, name);
  for (const [file, text] of Object.entries({ "go.mod": "module example.com/rep\n\ngo 1.19\n", ...files })) {
    mkdirSync(join(root, file, ".."), { recursive: true });
    writeFileSync(join(root, file), text);
  }
  return root;
}

/** A fresh random byte per call (crypto/rand): a rate no seed and no process decides. */
const RANDOM = "func chance() float64 { b := make([]byte, 1); rand.Read(b); return float64(b[0]) / 256 }";

async function run(cwd: string, name: string, args: string[]) {
  const out = join(dir.path, `${name}.json`);
  const r = await runCli(["run", "--json", out, "--no-history", ...args], { cwd });
  expect(r.code === 0 || r.code === 1, r.stderr).toBe(true);
  return { report: readReport(out), stdout: r.stdout };
}

describe("go test -count repetitions", () => {
  it("count every attempt once, with the verdicts of one process per attempt, a panic costing only its own attempt", async () => {
    const root = goModule("suite", {
      "shop/shop_test.go": [
        "package shop",
        'import ("crypto/rand"; "testing")',
        RANDOM,
        "func TestStable(t *testing.T) {}",
        'func TestBroken(t *testing.T) { t.Fatal("always") }',
        'func TestFlaky(t *testing.T) { if chance() < 0.4 { t.Fatal("unlucky") } }',
        'func TestTable(t *testing.T) { for _, c := range []string{"a", "b"} { t.Run(c, func(t *testing.T) {}) } }',
        "",
      ].join("\n"),
      // Alone in its package: a panic ends the package's binary, so nothing after it runs there.
      "crash/crash_test.go": [
        "package crash",
        'import ("crypto/rand"; "testing")',
        RANDOM,
        "func TestBefore(t *testing.T) {}",
        'func TestPanics(t *testing.T) { if chance() < 0.35 { panic("boom") } }',
        "",
      ].join("\n"),
    });
    const args = ["--runs", "30", "--stop", "fixed", "--seed", "4", "--parallelism", "2"];
    const repeated = await run(root, "repeated", [...args, "--", "go", "test", "./..."]);
    const single = await run(root, "single", [...args, "--repeat", "off", "--", "go", "test", "./..."]);

    const processes = new Set(repeated.report.attempts.map(processOf)).size;
    expect(repeated.report.attempts).toHaveLength(30);
    expect(processes).toBeLessThan(30);
    expect(repeated.report.request.repetition).toMatchObject({ attempts: 30, processes });
    expect(repeated.report.request.repetition?.shares).toMatch(/TEST_SEED/);
    expect(repeated.stdout).toMatch(/in-process repetition: 30 attempts in \d+ processes/);
    expect(single.report.request.repetition).toBeUndefined();
    // No attempt is lost to a panic: the repetitions after it ran in a new process.
    expect(repeated.report.attempts.filter((a) => a.outcome === "errored")).toEqual([]);

    const verdicts = (r: Report) =>
      Object.fromEntries(r.tests.map((t) => [t.id.replace("example.com/rep/", ""), [t.verdict, t.attempts]]));
    const both = [verdicts(repeated.report), verdicts(single.report)];
    for (const v of both) {
      expect(v).toMatchObject({
        "shop.TestStable": ["stable", 30],
        "shop.TestBroken": ["failing", 30],
        "shop.TestFlaky": ["flaky", 30],
        "shop.TestTable": ["stable", 30],
        "shop.TestTable/a": ["stable", 30],
        "shop.TestTable/b": ["stable", 30],
        "crash.TestBefore": ["stable", 30],
        "crash.TestPanics": ["flaky", 30],
      });
    }
    // The panic is its test's failure, with go's own message.
    const panics = repeated.report.tests.find((t) => t.id.endsWith("crash.TestPanics"));
    expect(panics?.failures).toBeGreaterThan(0);
    expect(panics?.firstFailure?.message).toMatch(/panic: boom/);
  }, 300_000);

  it("a package global kept between repetitions is measured from fresh processes, not called flaky", async () => {
    const root = goModule("state", {
      "state_test.go": [
        "package state",
        'import "testing"',
        "var seen []int",
        'func TestFirstCallOnly(t *testing.T) { if len(seen) > 0 { t.Fatal("seen already filled") }; seen = append(seen, 1) }',
        "",
      ].join("\n"),
    });
    const { report } = await run(root, "state", [
      "--runs",
      "40",
      "--stop",
      "fixed",
      "--parallelism",
      "2",
      "--",
      "go",
      "test",
      ".",
    ]);
    const t = report.tests[0];
    expect(t).toMatchObject({ verdict: "stable", failures: 0 });
    expect(t?.repetitionDependent?.laterFailures).toBeGreaterThan(0);
    expect(t?.repetitionDependent?.laterFailures).toBe(t?.repetitionDependent?.laterRuns);
    expect(report.warnings.join("\n")).toMatch(/failed only after an earlier repetition in the same process/);
    // Stable as measured, so no seed replay or serial run is spent on its repetition failures.
    expect(report.followUps).toEqual([]);
  }, 300_000);

  it("is off, and says why, where a source reads the seed or the command sets -count", async () => {
    const root = goModule("seeded", {
      "seed_test.go": [
        "package seeded",
        'import ("os"; "testing")',
        'func TestSeeded(t *testing.T) { if os.Getenv("TEST_SEED") == "" { t.Fatal("no seed") } }',
        "",
      ].join("\n"),
    });
    const { report, stdout } = await run(root, "seeded", [
      "--runs",
      "10",
      "--stop",
      "fixed",
      "--",
      "go",
      "test",
      ".",
    ]);
    expect(report.request.repetition).toBeUndefined();
    expect(report.request.repetitionOff).toBe(
      "seed_test.go reads TEST_SEED, and one go test process cannot change it between repetitions",
    );
    expect(new Set(report.attempts.map(processOf)).size).toBe(10);
    expect(stdout).toMatch(/in-process repetition off: seed_test\.go reads TEST_SEED/);
    expect(report.tests[0]).toMatchObject({ verdict: "stable", attempts: 10 });

    const plain = goModule("count", {
      "c_test.go": 'package c\nimport "testing"\nfunc TestC(t *testing.T) {}\n',
    });
    const counted = await run(plain, "counted", [
      "--runs",
      "6",
      "--stop",
      "fixed",
      "--",
      "go",
      "test",
      "-count=2",
      ".",
    ]);
    expect(counted.report.request.repetition).toBeUndefined();
    expect(counted.report.request.repetitionOff).toMatch(/sets its own -count/);
    // --repeat off asked for one process each: nothing to explain.
    const off = await run(root, "off", [
      "--runs",
      "4",
      "--stop",
      "fixed",
      "--repeat",
      "off",
      "--",
      "go",
      "test",
      ".",
    ]);
    expect(off.report.request.repetitionOff).toBeUndefined();
  }, 300_000);
});
