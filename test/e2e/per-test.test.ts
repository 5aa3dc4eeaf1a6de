import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parseJUnit } from "../../src/parsers/junit.js";
import { fixture, pythonWithPytest, ROOT, readReport, runCli, tempDir } from "../helpers/cli.js";

let dir: { path: string; cleanup: () => void };
beforeEach(() => {
  dir = tempDir("fd-pt-");
});
afterEach(() => dir.cleanup());
const json = () => join(dir.path, "report.json");
const writer = [process.execPath, fixture("junit-writer.mjs")];

describe("generic JUnit (--junit)", () => {
  it("reads per-test results from the files the command writes", async () => {
    const r = await runCli(
      [
        "run",
        "--runs",
        "30",
        "--stop",
        "fixed",
        "--seed",
        "5",
        "--junit",
        "reports/*.xml",
        "--json",
        json(),
        "--",
        ...writer,
      ],
      { cwd: dir.path },
    );
    expect(r.code).toBe(0);
    const report = readReport(json());
    expect(report.framework).toBe("junit");
    const byId = Object.fromEntries(report.tests.map((t) => [t.id, t]));
    expect(byId["suite::stable"]).toMatchObject({ verdict: "stable", attempts: 30, failures: 0 });
    const seeded = byId["suite::seeded"];
    expect(seeded?.verdict).toBe("flaky");
    // Every failing seed is divisible by 3, and replaying one fails again.
    expect(seeded?.failingSeeds.every((s) => s % 3 === 0)).toBe(true);
    expect(seeded?.seedDeterministic).toBe(true);
    expect(seeded?.cause?.kind).toBe("seed-deterministic");
    expect(seeded?.cause?.evidence).toMatch(/its failing seed failed (\d+) of \1 serial replays/);
    expect(seeded?.firstFailure?.message).toMatch(/is divisible by 3/);
    expect(r.stdout).toContain("seed-deterministic: reproduce with TEST_SEED=");
  });

  it("does not count tests of an attempt that crashed before reporting", async () => {
    const r = await runCli(
      [
        "run",
        "--runs",
        "20",
        "--stop",
        "fixed",
        "--seed",
        "9",
        "--junit",
        "reports/*.xml",
        "--json",
        json(),
        "--",
        ...writer,
      ],
      { cwd: dir.path, env: { CRASH_BEFORE_REPORT: "1" } },
    );
    const report = readReport(json());
    const crashed = report.attempts.filter((a) => a.seed % 2 === 0).length;
    expect(crashed).toBeGreaterThan(0);
    expect(report.summary.attemptsWithoutResults).toBe(crashed);
    // Stale reports/junit.xml from the slot's previous attempt must not be read as the crashed one's.
    expect(report.tests.find((t) => t.id === "suite::stable")?.attempts).toBe(20 - crashed);
    expect(r.stdout).toContain(`${crashed} attempt(s) produced no readable test results`);
  });

  it("flags a test that fails only under contention as resource-sensitive", async () => {
    const contention = join(dir.path, "contention");
    mkdirSync(contention);
    await runCli(
      [
        "run",
        "--runs",
        "40",
        "--stop",
        "fixed",
        "--parallelism",
        "2",
        "--seed",
        "11",
        "--junit",
        "reports/*.xml",
        "--json",
        json(),
        "--",
        ...writer,
      ],
      { cwd: dir.path, env: { CONTENTION_DIR: contention } },
    );
    const report = readReport(json());
    const t = report.tests.find((x) => x.id === "suite::contention");
    expect(t?.verdict).toBe("flaky");
    expect(t?.timeouts).toBe(t?.failures);
    const serial = report.followUps.filter(
      (f) => f.kind === "serial-confirmation" && f.test === "suite::contention",
    );
    expect(serial.length).toBeGreaterThan(0);
    expect(serial.every((f) => f.result === "passed")).toBe(true);
    expect(t?.resourceSensitive).toBe(true);
  });
});

describe("interference between parallel attempts", () => {
  it("a test failing with EADDRINUSE at parallelism 2 is confirmed serially and named resource-sensitive", async () => {
    const { createServer } = await import("node:net");
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, "127.0.0.1", () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const r = await runCli(
      [
        "run",
        "--runs",
        "16",
        "--parallelism",
        "2",
        "--stop",
        "fixed",
        "--junit",
        "reports/*.xml",
        "--json",
        json(),
        "--",
        `PORT=${port}`,
        process.execPath,
        fixture("port-user.mjs"),
      ],
      { cwd: dir.path },
    );
    expect(r.code, r.stderr).toBe(0);
    const report = readReport(json());
    const t = report.tests[0];
    expect(t?.failures, "the two slots never collided; the fixture holds the port 300 ms").toBeGreaterThan(0);
    expect(t?.firstFailure?.message).toMatch(/EADDRINUSE/);
    const serial = report.followUps.filter((f) => f.kind === "serial-confirmation");
    expect(serial.length).toBeGreaterThan(0);
    expect(serial.every((f) => f.result === "passed")).toBe(true);
    expect(t?.resourceSensitive).toBe(true);
    expect(t?.cause?.kind).toBe("interference");
    expect(r.stdout).toMatch(
      /cause: interference — failed \d+ time\(s\) at parallelism 2, never in \d+ serial runs/,
    );
  }, 120_000);
});

describe("ignore_patterns", () => {
  it("takes matching tests out of verdicts and lists them as ignored", async () => {
    writeFileSync(join(dir.path, ".flaky-detector.yml"), "ignore_patterns: ['suite::seed*']\n");
    const r = await runCli(
      [
        "run",
        "--runs",
        "15",
        "--stop",
        "fixed",
        "--seed",
        "5",
        "--junit",
        "reports/*.xml",
        "--fail-on",
        "low",
        "--json",
        json(),
        "--",
        ...writer,
      ],
      { cwd: dir.path },
    );
    const report = readReport(json());
    expect(report.tests.map((t) => t.id)).toEqual(["suite::stable"]);
    expect(report.ignoredTests.map((t) => [t.id, t.verdict])).toEqual([["suite::seeded", "flaky"]]);
    expect(report.summary).toMatchObject({
      verdict: "stable",
      severity: "none",
      tests: { total: 1, ignored: 1 },
    });
    expect(r.code).toBe(0); // the ignored flaky test does not trip --fail-on
    expect(r.stdout).toContain("ignored (ignore_patterns): suite::seeded");
  });
});

describe("pytest filters", () => {
  const pytest = () => [pythonWithPytest(), "-m", "pytest", "-q", "-p", "no:cacheprovider"];
  const project = () => {
    const p = join(dir.path, "python");
    cpSync(join(ROOT, "examples/python"), p, { recursive: true });
    return p;
  };

  it("--test runs only the named tests (and a path argument does not widen it)", async () => {
    const p = project();
    const r = await runCli(
      [
        "run",
        "--runs",
        "6",
        "--stop",
        "fixed",
        "--test",
        "test_orders.py::test_weekly_promotion",
        "--test",
        "test_orders.py::test_total_includes_tax",
        "--json",
        json(),
        "--",
        ...pytest(),
        "test_orders.py",
      ],
      { cwd: p },
    );
    expect(r.code).toBe(0);
    const report = readReport(json());
    expect(report.tests.map((t) => t.id).sort()).toEqual([
      "test_orders.py::test_total_includes_tax",
      "test_orders.py::test_weekly_promotion",
    ]);
    // Only the two ran: each attempt reports exactly two tests.
    for (const a of report.attempts) expect((a.tests?.passed ?? 0) + (a.tests?.failed.length ?? 0)).toBe(2);
    const flaky = report.tests.find((t) => t.id === "test_orders.py::test_weekly_promotion");
    if (flaky?.reproduce)
      expect(flaky.reproduce).toMatch(
        /^TEST_SEED=\d+ PYTHONHASHSEED=\d+ .* -q -p no:cacheprovider test_orders.py::test_weekly_promotion/,
      );
  });

  it("--from-junit reruns the failed tests of a CI run's JUnit file (pytest's default xunit2)", async () => {
    const p = project();
    const ci = readFileSync(join(ROOT, "test/fixtures/results/pytest-xunit2.xml"), "utf8");
    writeFileSync(join(p, "ci-results.xml"), ci);
    const failedInCi = parseJUnit(ci)
      .filter((t) => t.status === "failed")
      .map((t) => `test_orders.py::${t.name}`)
      .sort();
    await runCli(
      [
        "run",
        "--runs",
        "4",
        "--stop",
        "fixed",
        "--from-junit",
        "ci-results.xml",
        "--json",
        json(),
        "--",
        ...pytest(),
      ],
      { cwd: p },
    );
    const report = readReport(json());
    expect(report.request.tests.sort()).toEqual(failedInCi);
    expect(report.tests.map((t) => t.id).sort()).toEqual(failedInCi);
  });

  it("a --test id that matches nothing is a usage error naming it (exit 2), never a verdict", async () => {
    const p = project();
    const r = await runCli(
      ["run", "--runs", "2", "--test", "test_orders.py::test_nope", "--json", json(), "--", ...pytest()],
      { cwd: p },
    );
    expect(r.code, r.stderr).toBe(2);
    // Checked against pytest's own listing before any attempt, with the closest real ids.
    expect(r.stderr).toContain("--test: a requested test is not in the suite (as pytest lists it)");
    expect(r.stderr).toMatch(
      /"test_orders\.py::test_nope" matches no test of the suite; closest: "test_orders\.py::test_/,
    );
    expect(r.stderr).not.toMatch(/^running \d+ attempts/m);
    expect(r.stdout).not.toMatch(/FAILING|STABLE|CRITICAL/);
    expect(existsSync(json())).toBe(false);
  });

  it("one requested test that ran in no attempt makes the job's verdict error (exit 3), whatever the others did", async () => {
    // A CI run failed two tests; one of them has been removed since. The other is rerun, and the
    // removed one is named as not rerun: the answer is incomplete, never "stable".
    const p = join(dir.path, "partial");
    mkdirSync(p);
    const both =
      'const { test } = require("node:test");\ntest("adds", () => { if (process.env.CI_RUN) throw new Error("x"); });\ntest("subtracts", () => { if (process.env.CI_RUN) throw new Error("y"); });\n';
    writeFileSync(join(p, "a.test.js"), both);
    spawnSync(
      process.execPath,
      ["--test", "--test-reporter=junit", "--test-reporter-destination=ci.xml", "a.test.js"],
      {
        cwd: p,
        env: { ...process.env, CI_RUN: "1" },
      },
    );
    expect(readFileSync(join(p, "ci.xml"), "utf8")).toContain('name="subtracts"');
    writeFileSync(join(p, "a.test.js"), 'const { test } = require("node:test");\ntest("adds", () => {});\n');
    const r = await runCli(
      [
        "run",
        "--runs",
        "2",
        "--from-junit",
        "ci.xml",
        "--json",
        json(),
        "--",
        process.execPath,
        "--test",
        "a.test.js",
      ],
      { cwd: p },
    );
    expect(r.code, r.stderr).toBe(3);
    const report = readReport(json());
    expect(report.summary.verdict).toBe("error");
    expect(report.summary.statement).toBe(
      'could not rerun 1 requested test ("subtracts"): it ran in no attempt; 2 tests: 1 stable, 1 not run',
    );
    expect(report.tests.find((t) => t.id === "subtracts")?.verdict).toBe("error");
    expect(r.stdout).toMatch(/^ERROR/m);
    expect(r.stderr).toContain("no complete answer: could not rerun 1 requested test");
    expect(report.warnings.join("\n")).toMatch(
      /"subtracts" matches no test of the suite; closest: "adds"; it is reported as not rerun/,
    );
  });
});

describe("--shuffle for pytest without pytest-randomly (our plugin orders by seed)", () => {
  it("finds an order-dependent victim whose polluter runs after it in the declared order", async () => {
    const p = join(dir.path, "order");
    mkdirSync(join(p, "tests"), { recursive: true });
    writeFileSync(join(p, "shared_state.py"), "flag = False\n");
    // Declared order: the victim's module first, so the suite passes unshuffled.
    writeFileSync(
      join(p, "tests/test_a_victim.py"),
      "import shared_state\n\ndef test_victim():\n    assert not shared_state.flag, 'state left set by another test'\n",
    );
    writeFileSync(
      join(p, "tests/test_b_polluter.py"),
      "import shared_state\n\ndef test_polluter():\n    shared_state.flag = True  # never restored\n",
    );
    const python = pythonWithPytest();
    // Same seed, same order: the plugin's order is a function of the seed alone.
    const collect = (seed: string) =>
      spawnSync(python, ["-m", "pytest", "--collect-only", "-q", "-p", "flaky_detector_events", "tests"], {
        cwd: p,
        encoding: "utf8",
        env: { ...process.env, PYTHONPATH: join(ROOT, "plugins/pytest"), FLAKY_DETECTOR_SHUFFLE_SEED: seed },
      }).stdout.split("\n\n")[0];
    expect(collect("11")).toBe(collect("11"));
    const orders = new Set(["1", "2", "3", "4", "5", "6"].map(collect));
    expect(orders.size).toBe(2);

    const r = await runCli(
      [
        "run",
        "--runs",
        "40",
        "--stop",
        "fixed",
        "--shuffle",
        "--seed",
        "3",
        "--json",
        json(),
        "--",
        python,
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "tests",
      ],
      { cwd: p },
    );
    expect(r.code, r.stderr).toBe(0);
    const report = readReport(json());
    const victim = report.tests.find((t) => t.id === "tests/test_a_victim.py::test_victim");
    expect(victim?.failures).toBeGreaterThan(0);
    expect(victim?.orderDependent).toBe(true);
    // Every failure was in a shuffled attempt; the declared order never failed.
    const shuffledSeeds = new Set(report.attempts.filter((a) => a.shuffled).map((a) => a.seed));
    for (const seed of victim?.failingSeeds ?? []) expect(shuffledSeeds.has(seed)).toBe(true);
    expect(report.tests.find((t) => t.id === "tests/test_b_polluter.py::test_polluter")?.verdict).toBe(
      "stable",
    );

    // The polluter is named, and the reproduce line (polluter, then victim) fails 10 of 10 while
    // the victim alone passes.
    expect(victim?.polluters).toEqual({ ids: ["tests/test_b_polluter.py::test_polluter"] });
    expect(victim?.cause?.kind).toBe("order-dependent");
    expect(r.stdout).toContain(
      "cause: order-dependent — fails after tests/test_b_polluter.py::test_polluter; passes alone",
    );
    expect(r.stdout).not.toContain("not decided by the seed");
    const line = victim?.reproduce ?? "";
    expect(line).toMatch(/tests\/test_b_polluter\.py::test_polluter tests\/test_a_victim\.py::test_victim$/);
    expect(line).not.toContain("FLAKY_DETECTOR_SHUFFLE_SEED");
    for (let i = 0; i < 10; i++) {
      expect(spawnSync("sh", ["-c", line], { cwd: p, stdio: "ignore" }).status, line).not.toBe(0);
    }
    const alone = spawnSync(
      python,
      ["-m", "pytest", "-p", "no:cacheprovider", "tests/test_a_victim.py::test_victim"],
      {
        cwd: p,
        stdio: "ignore",
      },
    );
    expect(alone.status).toBe(0);
  }, 300_000);
});

describe("seed replays that tell the seed from chance", () => {
  it("a test failing 80% of runs whatever the seed is not seed-deterministic; its reproduce line repeats it", async () => {
    const p = join(dir.path, "p80");
    mkdirSync(p);
    const counter = join(dir.path, "p80-counter");
    // Fails unless its run count is a multiple of 5: 80%, and no seed decides it (every replay of
    // a failing seed is a new run). Appends are atomic, so parallel attempts count correctly.
    writeFileSync(
      join(p, "test_p80.py"),
      [
        "import os",
        "def test_mostly_fails():",
        `    fd = os.open(${JSON.stringify(counter)}, os.O_WRONLY | os.O_APPEND | os.O_CREAT)`,
        "    os.write(fd, b'x')",
        "    os.close(fd)",
        `    assert os.path.getsize(${JSON.stringify(counter)}) % 5 == 0, 'not this time'`,
        "",
      ].join("\n"),
    );
    const r = await runCli(
      [
        "run",
        "--runs",
        "30",
        "--stop",
        "fixed",
        "--json",
        json(),
        "--",
        pythonWithPytest(),
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
      ],
      { cwd: p },
    );
    expect(r.code, r.stderr).toBe(0);
    const t = readReport(json()).tests.find((x) => x.id === "test_p80.py::test_mostly_fails");
    expect(t?.failures).toBe(24);
    // At 0.8, three replays would all fail half the time; 14 (0.8^14 < 0.05) include a pass.
    expect(t?.seedDeterministic).toBe(false);
    // Not decided by the seed, and nothing else shown: random as far as the checks go.
    expect(t?.cause?.kind).toBe("random");
    // Run alone until it failed: at 80%, almost always within two runs.
    expect(t?.cause?.evidence).toMatch(
      /^not decided by the seed \(its failing seed passed on replay\); not interference \(it failed serially too, 1 of [1-9]\)$/,
    );
    expect(t?.reproduce).toMatch(/^flaky-detector run --runs 10 --test test_p80\.py::test_mostly_fails -- /);
    expect(r.stdout).toContain("not decided by the seed (timing, concurrency or unseeded randomness)");
  }, 300_000);
});

describe("a test that crashes its process (pytest, per-test events)", () => {
  // Default: several attempts per process (in-process repetition); a crash ends its process, and
  // the attempts it had not reached run in a new one. --repeat off: one process per attempt.
  it.each([
    ["repeated in-process", []],
    ["one process per attempt", ["--repeat", "off"]],
  ])(
    "is a failure of that test, with the signal; the tests after it did not run (%s)",
    async (_how, extra) => {
      const p = join(dir.path, "crash");
      mkdirSync(p);
      writeFileSync(
        join(p, "test_crash.py"),
        [
          "import ctypes, os, signal",
          "",
          "def test_ok():",
          "    pass",
          "",
          "def test_killed():",
          '    if int(os.environ["ATTEMPT"]) % 5 == 0:',
          "        os.kill(os.getpid(), signal.SIGKILL)",
          "",
          "def test_segfault():",
          '    if int(os.environ["ATTEMPT"]) % 5 == 1:',
          "        ctypes.string_at(0)",
          "",
          "def test_after():",
          "    pass",
          "",
        ].join("\n"),
      );
      const r = await runCli(
        [
          "run",
          "--runs",
          "20",
          "--stop",
          "fixed",
          "--json",
          json(),
          ...extra,
          "--",
          pythonWithPytest(),
          "-m",
          "pytest",
          "-q",
        ],
        { cwd: p },
      );
      expect(r.code, r.stderr).toBe(0);
      const report = readReport(json());
      expect(report.attempts.every((a) => a.outcome !== "errored")).toBe(true);
      const t = (name: string) => report.tests.find((x) => x.name === name);
      // Killed in attempts 0, 5, 10, 15: 4 of 20, and never counted as a pass.
      expect(t("test_killed")).toMatchObject({
        attempts: 20,
        failures: 4,
        crashes: 4,
        notRun: 0,
        verdict: "flaky",
      });
      expect(t("test_killed")?.firstFailure?.message).toMatch(
        /crashed: the process was killed by SIGKILL while this test ran/,
      );
      expect(t("test_killed")?.interval[0]).toBeLessThan(0.2);
      expect(t("test_killed")?.interval[1]).toBeGreaterThan(0.2);
      // Segfaults in attempts 1, 6, 11, 16; it did not run where test_killed crashed first.
      expect(t("test_segfault")).toMatchObject({
        attempts: 16,
        failures: 4,
        crashes: 4,
        notRun: 4,
        verdict: "flaky",
      });
      expect(t("test_segfault")?.firstFailure?.message).toMatch(/SIGSEGV/);
      expect(t("test_after")).toMatchObject({ attempts: 12, failures: 0, notRun: 8, verdict: "stable" });
      expect(t("test_ok")).toMatchObject({ attempts: 20, failures: 0 });
      expect(report.summary.verdict).toBe("flaky");
    },
    120_000,
  );
});

/** A project of the real mocha (the example's package files, installed by the run or by hand) with one test file. */
function mochaProject(name: string, file: string, lines: string[]): string {
  const p = join(dir.path, name);
  mkdirSync(join(p, "test"), { recursive: true });
  for (const f of ["package.json", "package-lock.json"]) cpSync(join(ROOT, "examples/mocha", f), join(p, f));
  writeFileSync(join(p, "test", file), lines.join("\n"));
  return p;
}

describe("a test that crashes its process (mocha, per-test events)", () => {
  it("a SIGKILL and a SIGSEGV in ~20% of runs are flaky with intervals covering 0.2; later tests did not run", async () => {
    // The real mocha, from the example's lockfile (installed by the run's own dependency install).
    const p = mochaProject("mocha-crash", "crash.test.js", [
      'describe("crash", () => {',
      '  it("ok", () => {});',
      '  it("killed", () => { if (Number(process.env.ATTEMPT) % 5 === 0) process.kill(process.pid, "SIGKILL"); });',
      '  it("segfault", () => { if (Number(process.env.ATTEMPT) % 5 === 1) process.kill(process.pid, "SIGSEGV"); });',
      '  it("after", () => {});',
      "});",
      "",
    ]);
    const r = await runCli(
      ["run", "--repo", p, "--runs", "20", "--stop", "fixed", "--json", json(), "--", "npx", "mocha"],
      { cwd: dir.path },
    );
    expect(r.code, r.stderr).toBe(0);
    const report = readReport(json());
    const t = (id: string) => report.tests.find((x) => x.id === id);
    expect(t("crash > killed")).toMatchObject({ attempts: 20, failures: 4, crashes: 4, verdict: "flaky" });
    expect(t("crash > killed")?.firstFailure?.message).toMatch(/crashed: .*SIGKILL.* while this test ran/);
    expect(t("crash > segfault")).toMatchObject({ attempts: 16, failures: 4, crashes: 4, notRun: 4 });
    expect(t("crash > segfault")?.firstFailure?.message).toMatch(/SIGSEGV/);
    for (const id of ["crash > killed", "crash > segfault"]) {
      expect(t(id)?.interval[0]).toBeLessThan(0.2);
      expect(t(id)?.interval[1]).toBeGreaterThan(0.2);
    }
    expect(t("crash > after")).toMatchObject({ attempts: 12, failures: 0, notRun: 8, verdict: "stable" });
    expect(t("crash > ok")?.file).toBe("test/crash.test.js");
  }, 300_000);
});

describe("failure messages that name the test's file (mocha)", () => {
  it("name it relative to the repository, not inside the slot's temporary copy", async () => {
    const p = mochaProject("mocha-paths", "paths.test.js", [
      'const assert = require("node:assert");',
      'describe("paths", () => {',
      // mocha appends the file to a timeout's message; an assertion's stack names it too.
      '  it("times out", function (done) { this.timeout(20); });',
      '  it("asserts", () => { assert.strictEqual(1, 2); });',
      "});",
      "",
    ]);
    const r = await runCli(
      ["run", "--repo", p, "--runs", "2", "--stop", "fixed", "--json", json(), "--", "npx", "mocha"],
      { cwd: dir.path },
    );
    // Failing tests are data (exit 1 only with --fail-on).
    expect(r.code, r.stderr).toBe(0);
    const report = readReport(json());
    const t = (id: string) => report.tests.find((x) => x.id === id);
    expect(t("paths > times out")?.firstFailure?.message).toMatch(/exceeded.*\(test\/paths\.test\.js\)/);
    expect(t("paths > asserts")?.firstFailure?.message).toMatch(/\(test\/paths\.test\.js:\d+:\d+\)/);
    expect(JSON.stringify(report)).not.toMatch(/flaky-detector-slot-/);
  }, 300_000);
});

describe("a test that kills vitest's worker", () => {
  it("is a crashed failure of that test, named from inside the worker (vitest itself reports the file's tests as pending and the run a success)", async () => {
    const p = join(dir.path, "vitest-crash");
    mkdirSync(p);
    // The real vitest of this repository's devDependencies.
    symlinkSync(join(ROOT, "node_modules"), join(p, "node_modules"));
    writeFileSync(
      join(p, "a.test.js"),
      [
        'import { test } from "vitest";',
        'test("ok", () => {});',
        'test("killed", () => { if (Number(process.env.ATTEMPT) % 5 === 0) process.kill(process.pid, "SIGKILL"); });',
        'test("after", () => {});',
        'test.skip("skipped", () => {});',
        "",
      ].join("\n"),
    );
    writeFileSync(join(p, "b.test.js"), 'import { test } from "vitest";\ntest("other", () => {});\n');
    const r = await runCli(
      [
        "run",
        "--runs",
        "10",
        "--stop",
        "fixed",
        "--parallelism",
        "2",
        "--json",
        json(),
        "--",
        "npx",
        "vitest",
        "run",
      ],
      { cwd: p },
    );
    expect(r.code, r.stderr).toBe(0);
    const report = readReport(json());
    const t = (id: string) => report.tests.find((x) => x.id === id);
    // Our setup file's events name the test the worker was running; it replaces the file's finding.
    expect(t("a.test.js")).toBeUndefined();
    expect(t("a.test.js > killed")).toMatchObject({
      attempts: 10,
      failures: 2,
      crashes: 2,
      verdict: "flaky",
    });
    expect(t("a.test.js > killed")?.firstFailure?.message).toMatch(
      /crashed: the process running a\.test\.js died while this test ran/,
    );
    // The test before it ended before the worker died, though vitest's report says pending.
    expect(t("a.test.js > ok")).toMatchObject({ attempts: 10, failures: 0, notRun: 0 });
    expect(t("a.test.js > after")).toMatchObject({ attempts: 8, notRun: 2, verdict: "stable" });
    expect(t("a.test.js > skipped")).toMatchObject({ verdict: "skipped" });
    expect(t("b.test.js > other")).toMatchObject({ attempts: 10 });
    expect(report.summary.verdict).toBe("flaky");
  }, 180_000);
});

describe("--from-junit with mocha's own xunit reporter (a CI run's file)", () => {
  it("reruns exactly the test that failed in CI, not 'passed every rerun' for an id that matches nothing", async () => {
    const p = mochaProject("mocha-ci", "cart.test.js", [
      'const assert = require("node:assert");',
      'describe("cart", () => {',
      '  describe("totals", () => {',
      '    it("adds tax", () => { if (process.env.CI_RUN) assert.fail("tax service down"); });',
      '    it("rounds", () => {});',
      "  });",
      "});",
      "",
    ]);
    // The real mocha writes the CI file, as a CI job would (installed from the example's lockfile).
    execFileSync("npm", ["ci", "--no-audit", "--no-fund", "--silent"], { cwd: p, stdio: "ignore" });
    spawnSync("npx", ["mocha", "--reporter", "xunit", "--reporter-option", `output=${join(p, "ci.xml")}`], {
      cwd: p,
      env: { ...process.env, CI_RUN: "1" },
    });
    expect(readFileSync(join(p, "ci.xml"), "utf8")).toMatch(/file="\/[^"]*cart\.test\.js"/);
    const r = await runCli(
      [
        "run",
        "--runs",
        "3",
        "--stop",
        "fixed",
        "--from-junit",
        "ci.xml",
        "--json",
        json(),
        "--",
        "npx",
        "mocha",
      ],
      { cwd: p },
    );
    expect(r.code, r.stderr).toBe(0);
    const report = readReport(json());
    expect(report.request.tests).toEqual(["cart totals > adds tax"]);
    expect(report.tests.map((t) => [t.id, t.attempts, t.verdict])).toEqual([
      ["cart totals > adds tax", 3, "stable"],
    ]);
  }, 300_000);
});

describe("tests sharing a name, and skipped tests (node:test)", () => {
  it("keeps same-named tests of two files apart, and reports skipped and todo tests as skipped", async () => {
    const p = join(dir.path, "dupes");
    mkdirSync(p);
    // node:test's JUnit names no file: both files' "d > works" used to merge into one test.
    const body = (fails: string) =>
      [
        'const { describe, test } = require("node:test");',
        'const assert = require("node:assert");',
        'describe("d", () => {',
        `  test("works", () => { assert.ok(${fails}); });`,
        "});",
        'test("later", { skip: "not yet" }, () => {});',
        'test("someday", { todo: true }, () => {});',
        "",
      ].join("\n");
    writeFileSync(join(p, "a.test.js"), body("true"));
    writeFileSync(join(p, "b.test.js"), body("Number(process.env.ATTEMPT) % 2 === 0"));
    const r = await runCli(
      [
        "run",
        "--runs",
        "6",
        "--stop",
        "fixed",
        "--json",
        json(),
        "--",
        process.execPath,
        "--test",
        "a.test.js",
        "b.test.js",
      ],
      { cwd: p },
    );
    expect(r.code, r.stderr).toBe(0);
    const report = readReport(json());
    const byId = Object.fromEntries(report.tests.map((t) => [t.id, t]));
    expect(byId["d > works"]).toMatchObject({ attempts: 6, failures: 0, verdict: "stable" });
    expect(byId["d > works [2]"]).toMatchObject({ attempts: 6, failures: 3, verdict: "flaky" });
    expect(byId.later).toMatchObject({ attempts: 0, skipped: 6, verdict: "skipped" });
    expect(byId["later [2]"]).toMatchObject({ verdict: "skipped" });
    expect(report.summary.tests).toMatchObject({ flaky: 1, stable: 1, error: 0 });
    expect(report.summary.tests?.skipped).toBeGreaterThanOrEqual(2);
    expect(r.stdout).not.toMatch(/not run/);
    // It fails on odd attempt numbers, not by seed: its failing seed passes on replay, so the
    // reproduce line repeats the test, by the id the report gives it.
    expect(byId["d > works [2]"]?.seedDeterministic).toBe(false);
    expect(byId["d > works [2]"]?.reproduce).toMatch(
      /^flaky-detector run --runs 10 --test 'd > works \[2\]' -- /,
    );
    // That id is accepted by --test (the listing names both tests "d > works").
    const again = await runCli(
      [
        "run",
        "--runs",
        "2",
        "--stop",
        "fixed",
        "--test",
        "d > works [2]",
        "--no-history",
        "--",
        process.execPath,
        "--test",
        "a.test.js",
        "b.test.js",
      ],
      { cwd: p },
    );
    expect(again.code, again.stderr).toBe(0);
  }, 120_000);
});

describe("a test file whose process dies (node:test)", () => {
  it("is a crashed failure of the test the child was running; without events, a finding of its file", async () => {
    const p = join(dir.path, "node-crash");
    mkdirSync(p);
    writeFileSync(
      join(p, "c.test.js"),
      [
        'const { describe, test } = require("node:test");',
        'describe("d", () => {',
        '  test("first", () => {});',
        '  test("boom", () => { if (Number(process.env.ATTEMPT) % 5 === 0) process.kill(process.pid, "SIGKILL"); });',
        "});",
        "",
      ].join("\n"),
    );
    writeFileSync(join(p, "a.test.js"), 'require("node:test")("other", () => {});\n');
    const run = (...extra: string[]) =>
      runCli(
        [
          "run",
          ...extra,
          "--runs",
          "10",
          "--stop",
          "fixed",
          "--json",
          json(),
          "--",
          process.execPath,
          "--test",
          "a.test.js",
          "c.test.js",
        ],
        { cwd: p },
      );
    const r = await run();
    expect(r.code, r.stderr).toBe(0);
    // Our hooks in the child name the test it was running; node's JUnit names only the file.
    const events = readReport(json());
    const e = (id: string) => events.tests.find((x) => x.id === id);
    expect(e("c.test.js")).toBeUndefined();
    expect(e("d > boom")).toMatchObject({ attempts: 10, failures: 2, crashes: 2, verdict: "flaky" });
    expect(e("d > boom")?.firstFailure?.message).toMatch(/crashed: the process running c\.test\.js died/);
    expect(e("d > first")).toMatchObject({ attempts: 10, failures: 0, notRun: 0 });
    const without = await run("--no-events");
    expect(without.code, without.stderr).toBe(0);
    const report = readReport(json());
    const t = (id: string) => report.tests.find((x) => x.id === id);
    // Node reports a dead child's file as one failure by its absolute path: now the file's finding,
    // repository-relative, 2 of 10 (attempts 0 and 5), never a stable pass.
    expect(t("c.test.js")).toMatchObject({ attempts: 10, failures: 2, crashes: 2, verdict: "flaky" });
    expect(t("c.test.js")?.firstFailure?.message).toMatch(/killed by SIGKILL/);
    expect(t("c.test.js")?.reproduce).toMatch(/--test c\.test\.js$/);
    expect(t("d > boom")).toMatchObject({ attempts: 8, notRun: 2, verdict: "stable" });
    expect(t("other")).toMatchObject({ attempts: 10 });
    expect(report.tests.some((x) => x.id.startsWith("/"))).toBe(false);
  }, 120_000);
});

describe("collection errors are findings of their module (pytest)", () => {
  it("an import that fails in 1 of 5 attempts is one flaky module finding counted over all attempts", async () => {
    const p = join(dir.path, "collect");
    mkdirSync(p);
    writeFileSync(
      join(p, "test_mod.py"),
      'import os\nif int(os.environ["ATTEMPT"]) % 5 == 0:\n    raise ImportError("flaky import")\n\ndef test_one():\n    pass\n',
    );
    writeFileSync(join(p, "test_other.py"), "def test_two():\n    pass\n");
    const r = await runCli(
      [
        "run",
        "--runs",
        "20",
        "--stop",
        "fixed",
        "--repeat",
        "off",
        "--json",
        json(),
        "--",
        pythonWithPytest(),
        "-m",
        "pytest",
        "-q",
      ],
      { cwd: p },
    );
    expect(r.code, r.stderr).toBe(0);
    const report = readReport(json());
    const mod = report.tests.find((t) => t.id === "test_mod.py");
    // 4 of 20, not "failing 4/4": the attempts where it imported count as passes of the module.
    expect(mod).toMatchObject({ attempts: 20, failures: 4, verdict: "flaky", severity: "medium" });
    expect(mod?.firstFailure?.message).toMatch(/^collection error: ImportError: flaky import/);
    // pytest stops the session on a collection error: the module's tests did not run then.
    expect(report.tests.find((t) => t.id === "test_mod.py::test_one")).toMatchObject({
      attempts: 16,
      failures: 0,
    });
    expect(report.tests.some((t) => t.id === "test_mod.py::test_mod")).toBe(false);
  }, 120_000);

  it("with repetitions in one process, an import counts once per process, and the attempts it stopped run in the next", async () => {
    const p = join(dir.path, "collect-repeat");
    mkdirSync(p);
    // ATTEMPT at import time is the first attempt of the process.
    writeFileSync(
      join(p, "test_mod.py"),
      'import os\nif int(os.environ["ATTEMPT"]) % 5 == 0:\n    raise ImportError("flaky import")\n\ndef test_one():\n    pass\n',
    );
    const r = await runCli(
      [
        "run",
        "--runs",
        "20",
        "--stop",
        "fixed",
        "--json",
        json(),
        "--",
        pythonWithPytest(),
        "-m",
        "pytest",
        "-q",
      ],
      { cwd: p },
    );
    expect(r.code, r.stderr).toBe(0);
    const report = readReport(json());
    expect(report.request.repetition).toBeDefined();
    // Every attempt measured: the one whose process failed to import, the others in a new process.
    expect(report.attempts).toHaveLength(20);
    expect(report.attempts.every((a) => a.outcome !== "errored")).toBe(true);
    const firsts = report.attempts.filter((a) => !a.process || a.process.first === a.index);
    const importFailed = firsts.filter((a) => a.index % 5 === 0).length;
    expect(importFailed).toBeGreaterThan(0);
    expect(report.tests.find((t) => t.id === "test_mod.py")).toMatchObject({
      attempts: firsts.length,
      failures: importFailed,
    });
    expect(report.tests.find((t) => t.id === "test_mod.py::test_one")).toMatchObject({
      attempts: 20 - importFailed,
      failures: 0,
    });
  }, 120_000);

  it("a collection error every time: exit 3 naming the module, no verdict", async () => {
    const p = join(dir.path, "broken");
    mkdirSync(p);
    writeFileSync(join(p, "test_bad.py"), 'raise ImportError("always")\n\ndef test_x():\n    pass\n');
    const r = await runCli(
      ["run", "--runs", "4", "--json", json(), "--", pythonWithPytest(), "-m", "pytest", "-q"],
      {
        cwd: p,
      },
    );
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(
      /no test ran: test_bad\.py could not be collected in any attempt \(collection error: ImportError: always\)/,
    );
    expect(r.stdout).not.toMatch(/FAILING|CRITICAL/);
    expect(existsSync(json())).toBe(false);
  }, 60_000);
});

describe("go outside a module (GOPATH mode)", () => {
  it("names each test once, relative to the repository, at any parallelism", async () => {
    const p = join(dir.path, "gopath");
    mkdirSync(join(p, "sub"), { recursive: true });
    writeFileSync(
      join(p, "a_test.go"),
      'package a\n\nimport (\n\t"os"\n\t"strconv"\n\t"testing"\n)\n\nfunc TestStable(t *testing.T) {}\n\n' +
        'func TestFlaky(t *testing.T) {\n\tn, _ := strconv.Atoi(os.Getenv("ATTEMPT"))\n\tif n%2 == 1 {\n\t\tt.Fatal("odd attempt")\n\t}\n}\n',
    );
    writeFileSync(
      join(p, "sub", "b_test.go"),
      'package sub\n\nimport "testing"\n\nfunc TestSub(t *testing.T) {}\n',
    );
    const ids: string[][] = [];
    for (const parallelism of ["1", "4"]) {
      const r = await runCli(
        [
          "run",
          "--runs",
          "8",
          "--parallelism",
          parallelism,
          "--stop",
          "fixed",
          "--json",
          json(),
          "--",
          "go",
          "test",
          "./...",
        ],
        { cwd: p, env: { GO111MODULE: "off", GOFLAGS: "" } },
      );
      expect(r.code, r.stderr).toBe(0);
      const report = readReport(json());
      expect(report.framework).toBe("go");
      ids.push(report.tests.map((t) => t.id).sort());
      expect(report.tests.map((t) => [t.id, t.attempts, t.failures, t.verdict]).sort()).toEqual([
        ["..TestFlaky", 8, 4, "flaky"],
        ["..TestStable", 8, 0, "stable"],
        ["./sub.TestSub", 8, 0, "stable"],
      ]);
      expect(JSON.stringify(report.tests)).not.toContain("flaky-detector-slot");
    }
    expect(ids[0]).toEqual(ids[1]);
  }, 120_000);
});

describe("a go test that kills its test binary", () => {
  it("is a crashed failure of that test (test2json never ends it); the tests after it did not run", async () => {
    const p = join(dir.path, "gocrash");
    mkdirSync(p);
    writeFileSync(join(p, "go.mod"), "module example.com/crash\n\ngo 1.19\n");
    writeFileSync(
      join(p, "crash_test.go"),
      [
        "package crash",
        "",
        'import (\n\t"os"\n\t"strconv"\n\t"syscall"\n\t"testing"\n)',
        "",
        "func TestOK(t *testing.T) {}",
        "",
        "func TestKilled(t *testing.T) {",
        '\tn, _ := strconv.Atoi(os.Getenv("ATTEMPT"))',
        "\tif n%5 == 0 {",
        "\t\tsyscall.Kill(os.Getpid(), syscall.SIGKILL)",
        "\t}",
        "}",
        "",
        "func TestZAfter(t *testing.T) {}",
        "",
      ].join("\n"),
    );
    const r = await runCli(
      ["run", "--runs", "10", "--stop", "fixed", "--json", json(), "--", "go", "test", "-count=1", "."],
      { cwd: p, env: { GOFLAGS: "-mod=mod" } },
    );
    expect(r.code, r.stderr).toBe(0);
    const report = readReport(json());
    const t = (name: string) => report.tests.find((x) => x.name === name);
    expect(t("TestKilled")).toMatchObject({ attempts: 10, failures: 2, crashes: 2, verdict: "flaky" });
    expect(t("TestKilled")?.firstFailure?.message).toMatch(
      /^crashed: the test binary died while this test ran/,
    );
    expect(t("TestZAfter")).toMatchObject({ attempts: 8, notRun: 2, verdict: "stable" });
    expect(t("TestOK")).toMatchObject({ attempts: 10, failures: 0 });
  }, 180_000);
});

describe("a rust test that aborts its test binary (cargo, Debian's toolchain)", () => {
  const crate = (p: string) => {
    mkdirSync(join(p, "src"), { recursive: true });
    writeFileSync(join(p, "Cargo.toml"), '[package]\nname = "crashy"\nversion = "0.1.0"\nedition = "2018"\n');
    writeFileSync(
      join(p, "src/lib.rs"),
      [
        "#[cfg(test)]",
        "mod tests {",
        "    #[test]",
        "    fn a_ok() {}",
        "    #[test]",
        "    fn killed() {",
        '        let n: u32 = std::env::var("ATTEMPT").ok().and_then(|s| s.parse().ok()).unwrap_or(1);',
        "        if n % 5 == 0 { std::process::abort(); }",
        "    }",
        "    #[test]",
        "    fn z_after() {}",
        "}",
        "",
      ].join("\n"),
    );
  };
  const run = async (p: string, extra: string[]) => {
    const r = await runCli(
      [
        "run",
        "--runs",
        "10",
        "--stop",
        "fixed",
        "--parallelism",
        "2",
        "--json",
        json(),
        "--no-history",
        "--",
        "cargo",
        "test",
        ...extra,
      ],
      { cwd: p },
    );
    expect(r.code, r.stderr).toBe(0);
    return readReport(json());
  };

  it("is a flaky finding of the binary (libtest names a test only when it ends), rerun by its target", async () => {
    const p = join(dir.path, "crashy");
    crate(p);
    const report = await run(p, []);
    const binary = report.tests.find((t) => t.id === "src/lib.rs");
    expect(binary).toMatchObject({ attempts: 10, failures: 2, crashes: 2, verdict: "flaky" });
    expect(binary?.firstFailure?.message).toMatch(/killed by SIGABRT with \d of its 3 tests unfinished/);
    expect(binary?.reproduce).toMatch(/cargo test --lib$/);
    expect(report.tests.find((t) => t.id === "tests::killed")).toMatchObject({ failures: 0, notRun: 2 });
  }, 300_000);

  it("with one test thread, is a crashed failure of the test libtest announced", async () => {
    const p = join(dir.path, "crashy1");
    crate(p);
    const report = await run(p, ["--", "--test-threads=1"]);
    expect(report.tests.find((t) => t.id === "src/lib.rs")).toBeUndefined();
    expect(report.tests.find((t) => t.id === "tests::killed")).toMatchObject({
      attempts: 10,
      failures: 2,
      crashes: 2,
      verdict: "flaky",
    });
    expect(report.tests.find((t) => t.id === "tests::z_after")).toMatchObject({ attempts: 8, notRun: 2 });
  }, 300_000);
});

describe("adaptive stopping", () => {
  it("stops a healthy command once its bound is below min_detectable_rate (72 of 200)", async () => {
    await runCli(["run", "--runs", "200", "--json", json(), "--", process.execPath, fixture("pass.mjs")], {
      cwd: dir.path,
    });
    const s = readReport(json()).summary;
    expect(s).toMatchObject({ stopReason: "adaptive", stoppedEarly: true, verdict: "stable" });
    // Attempts 0..71 decide, exactly (attempts in flight past the checkpoint are left out).
    expect(s.attempts).toBe(72);
    expect(s.statement).toBe("no failure in 72 runs: failure rate < 5.0% at 95% confidence");
  });

  it("runs the whole budget with --stop fixed", async () => {
    await runCli(
      [
        "run",
        "--runs",
        "80",
        "--stop",
        "fixed",
        "--json",
        json(),
        "--",
        process.execPath,
        fixture("pass.mjs"),
      ],
      { cwd: dir.path },
    );
    expect(readReport(json()).summary).toMatchObject({
      attempts: 80,
      stopReason: "budget",
      stoppedEarly: false,
    });
  });
});

describe("outputs", () => {
  it("--junit-out writes Surefire's flaky schema and --markdown a summary", async () => {
    const out = join(dir.path, "flaky.xml");
    const md = join(dir.path, "summary.md");
    await runCli(
      [
        "run",
        "--runs",
        "24",
        "--stop",
        "fixed",
        "--seed",
        "5",
        "--junit",
        "reports/*.xml",
        "--junit-out",
        out,
        "--markdown",
        md,
        "--",
        ...writer,
      ],
      { cwd: dir.path },
    );
    // Valid against Surefire's own schema (what Trunk, BuildPulse and Datadog uploaders expect).
    const lint = spawnSync(
      "xmllint",
      ["--noout", "--schema", join(ROOT, "test/fixtures/xsd/surefire-test-report-3.0.xsd"), out],
      { encoding: "utf8" },
    );
    expect(lint.status, lint.stderr).toBe(0);
    const back = parseJUnit(readFileSync(out, "utf8"));
    expect(back.find((t) => t.name === "stable")).toMatchObject({ status: "passed" });
    // A flaky test is a passing testcase with flakyFailure children: uploaders count it as flaky.
    const seeded = back.find((t) => t.name === "seeded");
    expect(seeded?.status).toBe("passed");
    expect(seeded?.reruns?.failed).toBeGreaterThan(0);
    const text = readFileSync(md, "utf8");
    expect(text).toMatch(/^## 🟡 FLAKY · severity MEDIUM/);
    expect(text).toContain("| `suite::seeded` |");
    expect(text).toContain("TEST_SEED=");
  });
});
