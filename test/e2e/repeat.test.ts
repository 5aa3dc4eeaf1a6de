import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Report } from "../../src/analysis/report.js";
import { pythonWithPytest, readReport, runCli, tempDir } from "../helpers/cli.js";
import { failedIn, processOf } from "../helpers/repeat.js";

/**
 * In-process repetition (docs/design/repeat.md) with the real pytest and our plugin: several
 * attempts per process, each with its own seed and results, counted exactly like one process each.
 */
let dir: { path: string; cleanup: () => void };
beforeEach(() => {
  dir = tempDir("fd-repeat-");
});
afterEach(() => dir.cleanup());

const pytest = () => [pythonWithPytest(), "-m", "pytest", "-q", "-p", "no:cacheprovider"];

describe("pytest repetitions in one process", () => {
  it("give each attempt its seed, ATTEMPT, re-seeded random and fresh fixtures, with the outcomes of one process per attempt", async () => {
    const p = join(dir.path, "suite");
    mkdirSync(p);
    const log = join(dir.path, "log.txt");
    writeFileSync(
      join(p, "test_seeds.py"),
      [
        "import hashlib, os, random",
        "import pytest",
        `LOG = ${JSON.stringify(log)}`,
        "",
        "@pytest.fixture(scope='session')",
        "def session_setup():",
        "    with open(LOG, 'a') as f:",
        "        f.write(f\"setup {os.environ['ATTEMPT']} {os.getpid()}\\n\")",
        "    yield",
        "",
        "def test_seeded(session_setup):",
        "    digest = hashlib.sha256(os.environ['TEST_SEED'].encode()).digest()",
        "    assert int.from_bytes(digest[:8], 'big') / 2**64 >= 0.3",
        "",
        "def test_records_attempt():",
        "    with open(LOG, 'a') as f:",
        "        f.write(f\"run {os.environ['ATTEMPT']} {os.environ['TEST_SEED']} {os.getpid()}\\n\")",
        "",
      ].join("\n"),
    );
    const run = async (name: string, extra: string[]) => {
      writeFileSync(log, "");
      const out = join(dir.path, `${name}.json`);
      const r = await runCli(
        [
          "run",
          "--runs",
          "30",
          "--stop",
          "fixed",
          "--seed",
          "7",
          "--parallelism",
          "2",
          "--json",
          out,
          ...extra,
          "--",
          ...pytest(),
        ],
        { cwd: p },
      );
      expect(r.code, r.stderr).toBe(0);
      return { report: readReport(out), log: readFileSync(log, "utf8").trim().split("\n"), stdout: r.stdout };
    };
    const repeated = await run("repeated", []);
    const single = await run("single", ["--repeat", "off"]);

    // Fewer processes than attempts, said in the report and on the console.
    const processes = new Set(repeated.report.attempts.map(processOf));
    expect(repeated.report.attempts).toHaveLength(30);
    expect(processes.size).toBeLessThan(30);
    expect(repeated.report.request.repetition).toMatchObject({ attempts: 30, processes: processes.size });
    expect(repeated.stdout).toMatch(/in-process repetition: 30 attempts in \d+ processes/);
    expect(single.report.request.repetition).toBeUndefined();
    expect(new Set(single.report.attempts.map(processOf)).size).toBe(30);

    // Every attempt ran once, with its own ATTEMPT and seed, inside the process the report names.
    const seeds = new Map(repeated.report.attempts.map((a) => [a.index, a.seed]));
    const runs = repeated.log.filter((l) => l.startsWith("run ")).map((l) => l.split(" ").map(Number));
    expect(runs.map(([, attempt]) => attempt).sort((a, b) => (a as number) - (b as number))).toEqual(
      Array.from({ length: 30 }, (_, i) => i),
    );
    const pidOf = new Map<number, number>();
    for (const [, attempt, seed, pid] of runs) {
      expect(seed).toBe(seeds.get(attempt as number));
      pidOf.set(attempt as number, pid as number);
    }
    for (const a of repeated.report.attempts) {
      if (a.process) expect(pidOf.get(a.index)).toBe(pidOf.get(a.process.first));
    }
    // Session-scoped fixtures are set up again for every repetition (follow-up runs come after 30).
    const setups = repeated.log.filter((l) => l.startsWith("setup ")).map((l) => Number(l.split(" ")[1]));
    expect(setups.filter((attempt) => attempt < 30).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 30 }, (_, i) => i),
    );

    // The seed decides test_seeded, so both ways fail in exactly the same attempts.
    expect(failedIn(repeated.report)).toEqual(failedIn(single.report));
    const verdicts = (r: Report) => r.tests.map((t) => [t.id, t.verdict, t.failures, t.attempts]);
    expect(verdicts(repeated.report)).toEqual(verdicts(single.report));
    expect(repeated.report.tests.find((t) => t.name === "test_seeded")?.verdict).toBe("flaky");
  }, 180_000);

  it("re-seeds random from each attempt's seed", async () => {
    const p = join(dir.path, "random");
    mkdirSync(p);
    writeFileSync(
      join(p, "test_random.py"),
      [
        "import os, random",
        "def test_reseeded():",
        "    assert random.random() == random.Random(int(os.environ['TEST_SEED'])).random()",
        "",
      ].join("\n"),
    );
    const out = join(dir.path, "random.json");
    const r = await runCli(["run", "--runs", "20", "--stop", "fixed", "--json", out, "--", ...pytest()], {
      cwd: p,
    });
    expect(r.code, r.stderr).toBe(0);
    const report = readReport(out);
    expect(report.request.repetition).toBeDefined();
    expect(report.tests[0]).toMatchObject({ verdict: "stable", attempts: 20, failures: 0 });
  }, 120_000);

  it("a test that keeps state between runs is measured from its fresh processes, and named", async () => {
    const p = join(dir.path, "state");
    mkdirSync(p);
    // Passes the first time in a process, fails every later time: stable in CI, where each run is
    // a fresh process.
    writeFileSync(
      join(p, "test_state.py"),
      [
        "SEEN = []",
        "",
        "def test_first_call_only():",
        "    assert SEEN == []",
        "    SEEN.append(1)",
        "",
      ].join("\n"),
    );
    const out = join(dir.path, "state.json");
    const r = await runCli(
      ["run", "--runs", "40", "--stop", "fixed", "--parallelism", "2", "--json", out, "--", ...pytest()],
      { cwd: p },
    );
    expect(r.code, r.stderr).toBe(0);
    const report = readReport(out);
    const processes = new Set(report.attempts.map(processOf)).size;
    const t = report.tests[0];
    expect(t?.verdict).toBe("stable");
    expect(t?.failures).toBe(0);
    expect(t?.attempts).toBe(processes);
    expect(t?.repetitionDependent).toEqual({
      laterRuns: 40 - processes,
      laterFailures: 40 - processes,
      firstRuns: processes,
    });
    expect(report.warnings.join("\n")).toMatch(/failed only after an earlier repetition in the same process/);
    // Seen at a checkpoint, it switches the rest of the job to one process per attempt.
    expect(report.warnings.join("\n")).toMatch(/attempts from about \d+ on ran one process each/);
    expect(report.attempts.filter((a) => !a.process).length).toBeGreaterThan(10);
    expect(r.stdout).toMatch(/warning: .*failed only after an earlier repetition in the same process/);

    const off = join(dir.path, "state-off.json");
    const r2 = await runCli(
      ["run", "--runs", "20", "--stop", "fixed", "--repeat", "off", "--json", off, "--", ...pytest()],
      { cwd: p },
    );
    expect(r2.code, r2.stderr).toBe(0);
    expect(readReport(off).tests[0]).toMatchObject({ verdict: "stable", attempts: 20, failures: 0 });
    expect(readReport(off).tests[0]?.repetitionDependent).toBeUndefined();
  }, 180_000);

  it("--repeat is validated, naming the value and the choices", async () => {
    const r = await runCli(["run", "--repeat", "sometimes", "--", ...pytest()], { cwd: dir.path });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/repeat/);
    expect(r.stderr).toMatch(/sometimes/);
    expect(r.stderr).toMatch(/auto/);
  });
});
