import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Report } from "../../src/analysis/report.js";
import { fixture, isAlive, readReport, runCli, tempDir } from "../helpers/cli.js";

let dir: { path: string; cleanup: () => void };
beforeEach(() => {
  dir = tempDir("fd-e2e-");
});
afterEach(() => dir.cleanup());

const json = () => join(dir.path, "report.json");
const node = process.execPath;

describe("flaky-detector run", () => {
  it("measures a p = 0.3 command at 200 runs: interval covers 0.3, verdict flaky, severity MEDIUM", async () => {
    const r = await runCli(
      [
        "run",
        "--runs",
        "200",
        "--stop",
        "fixed",
        "--parallelism",
        "2",
        "--seed",
        "20261124",
        "--json",
        json(),
        "--",
        node,
        fixture("flaky.mjs"),
        "0.3",
      ],
      { cwd: dir.path },
    );
    expect(r.stderr).toContain("job seed 20261124");
    expect(r.code).toBe(0);
    const report = readReport(json());
    expect(report.schemaVersion).toBe(1);
    expect(report.summary.attempts).toBe(200);
    expect(report.summary.verdict).toBe("flaky");
    expect(report.summary.severity).toBe("medium");
    const [lo, hi] = report.summary.interval;
    expect(lo).toBeLessThanOrEqual(0.3);
    expect(hi).toBeGreaterThanOrEqual(0.3);
    expect(report.summary.failedAttempts).toBe(report.attempts.filter((a) => a.outcome === "failed").length);
    expect(r.stdout).toContain("FLAKY  severity MEDIUM");
    expect(r.stdout).toMatch(/failed \d+ of 200 runs: \d+\.\d% \(95% CI/);
    // The reproduce line replays a failing seed, and really fails.
    expect(report.reproduce).toMatch(/^TEST_SEED=\d+ /);
    const failing = report.attempts.find((a) => a.outcome === "failed");
    expect(report.reproduce).toContain(`TEST_SEED=${failing?.seed}`);
  });

  it("replays a whole job from its seed: same attempt seeds, same outcomes", async () => {
    const args = [
      "run",
      "--runs",
      "30",
      "--parallelism",
      "2",
      "--seed",
      "99",
      "--progress",
      "none",
      "--",
      node,
      fixture("flaky.mjs"),
      "0.5",
    ];
    const a = join(dir.path, "a.json");
    const b = join(dir.path, "b.json");
    await runCli([...args.slice(0, 1), "--json", a, ...args.slice(1)], { cwd: dir.path });
    await runCli(
      [
        ...args.slice(0, 1),
        "--json",
        b,
        "--parallelism",
        "1",
        ...args.slice(1).filter((x, i, all) => !(x === "--parallelism" || all[i - 1] === "--parallelism")),
      ],
      { cwd: dir.path },
    );
    const ra = readReport(a);
    const rb = readReport(b);
    expect(rb.request.parallelism).toBe(1);
    expect(ra.attempts.map((x) => [x.index, x.seed, x.outcome])).toEqual(
      rb.attempts.map((x) => [x.index, x.seed, x.outcome]),
    );
  });

  it("replays an adaptive job exactly from its seed at any parallelism: same attempts, same stop, same verdicts", async () => {
    const reports = [];
    for (const parallelism of ["1", "4"]) {
      const out = join(dir.path, `adaptive-${parallelism}.json`);
      const r = await runCli(
        [
          "run",
          "--runs",
          "400",
          "--parallelism",
          parallelism,
          "--seed",
          "4242",
          "--junit",
          "reports/*.xml",
          "--json",
          out,
          "--progress",
          "none",
          "--",
          "DELAY_MS=5",
          node,
          fixture("junit-writer.mjs"),
        ],
        { cwd: dir.path },
      );
      expect(r.code, r.stderr).toBe(0);
      reports.push(readReport(out));
    }
    const [one, four] = reports as [Report, Report];
    expect(one.summary.stopReason).toBe("adaptive");
    expect(four.summary.stopReason).toBe("adaptive");
    expect(one.attempts.length).toBeLessThan(400);
    // Exactly attempts 0..n-1 in both, whatever was in flight at parallelism 4 when it stopped.
    expect(four.attempts.map((a) => [a.index, a.seed, a.outcome, a.tests])).toEqual(
      one.attempts.map((a) => [a.index, a.seed, a.outcome, a.tests]),
    );
    const essence = (r: Report) =>
      r.tests.map((t) => [t.id, t.attempts, t.failures, t.verdict, t.severity, t.failingSeeds, t.reproduce]);
    expect(essence(four)).toEqual(essence(one));
    expect(four.followUps.map((f) => [f.kind, f.test, f.seed, f.result])).toEqual(
      one.followUps.map((f) => [f.kind, f.test, f.seed, f.result]),
    );
  }, 120_000);

  it("reports a stable command with its bound, and a broken one as failing", async () => {
    const stable = await runCli(["run", "--runs", "20", "--json", json(), "--", node, fixture("pass.mjs")], {
      cwd: dir.path,
    });
    expect(stable.code).toBe(0);
    expect(stable.stdout).toContain("no failure in 20 runs: failure rate < 16.8% at 95% confidence");
    expect(readReport(json()).summary).toMatchObject({
      verdict: "stable",
      severity: "none",
      failedAttempts: 0,
    });

    const broken = await runCli(
      ["run", "--runs", "10", "--json", json(), "--fail-on", "high", "--", node, fixture("fail.mjs")],
      {
        cwd: dir.path,
      },
    );
    expect(broken.code).toBe(1); // --fail-on high reached
    // 10 failing runs cannot rule out a pass rate of 5%, so the words stop short of "broken".
    expect(broken.stdout).toContain(
      "failed all 10 runs: failure rate > 69.2% at 95% confidence (too few runs to rule out a pass rate up to 30.8%)",
    );
    expect(broken.stdout).toContain("AssertionError: expected 2 to equal 3");
    expect(readReport(json()).summary).toMatchObject({ verdict: "failing", severity: "critical" });
  });

  it("exits 1 only at or above --fail-on", async () => {
    const args = [
      "run",
      "--runs",
      "40",
      "--seed",
      "1",
      "--progress",
      "none",
      "--",
      node,
      fixture("flaky.mjs"),
      "0.3",
    ];
    expect(
      (await runCli([...args.slice(0, 1), "--fail-on", "medium", ...args.slice(1)], { cwd: dir.path })).code,
    ).toBe(1);
    expect(
      (await runCli([...args.slice(0, 1), "--fail-on", "critical", ...args.slice(1)], { cwd: dir.path }))
        .code,
    ).toBe(0);
  });

  it("ends a hanging command at --timeout and leaves no process behind", async () => {
    const pids = join(dir.path, "pids");
    const r = await runCli(
      [
        "run",
        "--runs",
        "2",
        "--parallelism",
        "2",
        "--timeout",
        "1",
        "--kill-grace",
        "1",
        "--json",
        json(),
        "--",
        node,
        fixture("grandchild.mjs"),
        dir.path,
      ],
      { cwd: dir.path, env: { PIDS: pids } },
    );
    const report = readReport(json());
    expect(report.summary).toMatchObject({ verdict: "failing", timeouts: 2, failedAttempts: 2 });
    expect(report.attempts.every((a) => a.timedOut && a.outcome === "timedOut")).toBe(true);
    expect(r.stdout).toContain("2 of them timed out");
    const grandchildren = readdirSync(dir.path)
      .filter((f) => f.startsWith("grandchild-"))
      .map((f) => Number(readFileSync(join(dir.path, f), "utf8")));
    // The fixture writes into the directory given on its command line, shared by both slots.
    expect(grandchildren).toHaveLength(2);
    for (const pid of grandchildren) expect(isAlive(pid), `grandchild ${pid} still alive`).toBe(false);
  });

  it("never shares a writable directory between parallel attempts by default", async () => {
    const r = await runCli(
      ["run", "--runs", "12", "--parallelism", "3", "--json", json(), "--", node, fixture("slot-marker.mjs")],
      {
        cwd: dir.path,
      },
    );
    expect(r.code).toBe(0);
    expect(readReport(json()).summary).toMatchObject({ verdict: "stable", failedAttempts: 0 });
    // The user's directory got no markers: slots ran in copies.
    expect(readdirSync(dir.path).filter((f) => f.startsWith("marker-"))).toEqual([]);
  });

  it("shows the flakiness a shared directory manufactures when isolation is turned off", async () => {
    await runCli(
      [
        "run",
        "--runs",
        "12",
        "--parallelism",
        "3",
        "--isolation",
        "shared",
        "--json",
        json(),
        "--",
        node,
        fixture("slot-marker.mjs"),
      ],
      { cwd: dir.path },
    );
    // Markers persist, so every attempt after each slot's first sees another slot's file.
    expect(readReport(json()).summary.failedAttempts).toBeGreaterThanOrEqual(12 - 3);
  });

  it("gives each slot its own TMPDIR: a fixed temp-file name does not race between slots", async () => {
    const r = await runCli(
      [
        "run",
        "--runs",
        "16",
        "--parallelism",
        "4",
        "--stop",
        "fixed",
        "--json",
        json(),
        "--",
        node,
        fixture("tmp-race.mjs"),
      ],
      { cwd: dir.path },
    );
    expect(r.code, r.stderr).toBe(0);
    const report = readReport(json());
    expect(report.summary).toMatchObject({ verdict: "stable", failedAttempts: 0, attempts: 16 });
    // Four private directories, none of them the system's.
    const dirs = new Set(report.attempts.map((a) => /ok in (\S+)/.exec(a.outputTail)?.[1]));
    expect(dirs.size).toBe(4);
    for (const d of dirs) expect(d).toMatch(/flaky-detector-tmp\d+-/);
  });

  it("stops at --job-timeout and reports what finished", async () => {
    const r = await runCli(
      [
        "run",
        "--runs",
        "20",
        "--parallelism",
        "2",
        "--job-timeout",
        "1.5",
        "--json",
        json(),
        "--",
        node,
        fixture("sleep.mjs"),
        "600",
      ],
      { cwd: dir.path },
    );
    expect(r.code).toBe(0);
    const s = readReport(json()).summary;
    expect(s.stopReason).toBe("job-timeout");
    expect(s.stoppedEarly).toBe(true);
    expect(s.attempts).toBeGreaterThan(0);
    expect(s.attempts).toBeLessThan(20);
    expect(s.failedAttempts).toBe(0); // attempts cut short by the job timeout are not counted as failures
    expect(r.stdout).toContain("stopped early after");
  });

  it("runs every attempt exactly once though slots start their next one ahead, and leaves none held when the job stops", async () => {
    // Each execution appends its attempt index to a file outside the slots.
    const ran = join(dir.path, "ran.txt");
    const script = 'require("fs").appendFileSync(process.argv[1], process.env.ATTEMPT + "\\n")';
    for (const stop of [
      ["--stop", "fixed", "--runs", "40"],
      ["--runs", "400"],
    ]) {
      writeFileSync(ran, "");
      const r = await runCli(
        ["run", ...stop, "--parallelism", "3", "--json", json(), "--", node, "-e", script, ran],
        { cwd: dir.path },
      );
      expect(r.code).toBe(0);
      const s = readReport(json()).summary;
      const indices = readFileSync(ran, "utf8").trim().split("\n").map(Number);
      const n = s.attempts;
      // Each attempt ran once, and every attempt of the job ran.
      expect(new Set(indices).size).toBe(indices.length);
      for (let i = 0; i < n; i++) expect(indices).toContain(i);
      // Past an adaptive stop, only attempts already running when it was decided may have run (as
      // at any parallelism, they are not part of the job); the ones held behind them never do.
      const past = indices.filter((i) => i >= n);
      if (stop.includes("fixed")) expect(past).toEqual([]);
      else for (const i of past) expect(i).toBeLessThan(n + 3);
      // No held process outlives the job: none is left waiting with this command line.
      const waiting = readdirSync("/proc")
        .filter((f) => /^\d+$/.test(f))
        .filter((pid) => {
          try {
            return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(ran);
          } catch {
            return false;
          }
        });
      expect(waiting).toEqual([]);
    }
    // Adaptive stopping ended the second job early, with held attempts past its end dropped unrun.
    expect(readReport(json()).summary.stopReason).toBe("adaptive");
  });

  it("cancels cleanly on Ctrl-C: children killed, temp dirs removed, partial report, exit 130", async () => {
    const tmp = join(dir.path, "tmp");
    const work = join(dir.path, "work");
    for (const d of [tmp, work]) mkdirSync(d);
    const r = await runCli(
      [
        "run",
        "--runs",
        "6",
        "--parallelism",
        "2",
        "--progress",
        "plain",
        "--json",
        json(),
        "--",
        node,
        fixture("hang.mjs"),
        dir.path,
      ],
      {
        cwd: work,
        env: { TMPDIR: tmp },
        onStderr: {
          includes: "running 6 attempts",
          act: (pid) => setTimeout(() => process.kill(pid, "SIGINT"), 500),
        },
      },
    );
    expect(r.code).toBe(130);
    expect(r.stderr).toContain("SIGINT: stopping attempts");
    expect(readReport(json()).summary.stopReason).toBe("cancelled");
    expect(readdirSync(tmp)).toEqual([]);
    const hung = readdirSync(dir.path)
      .filter((f) => f.startsWith("hang-"))
      .map((f) => Number(readFileSync(join(dir.path, f), "utf8")));
    expect(hung.length).toBeGreaterThan(0);
    for (const pid of hung) expect(isAlive(pid)).toBe(false);
  });

  it("bounds the output of a command printing 10 MB and can save the full log", async () => {
    const r = await runCli(
      [
        "run",
        "--runs",
        "2",
        "--parallelism",
        "1",
        "--save-full-output",
        "--json",
        json(),
        "--",
        node,
        fixture("chatty.mjs"),
        "10",
        "1",
      ],
      { cwd: dir.path },
    );
    expect(r.code).toBe(0);
    const report = readReport(json());
    const a = report.attempts[0];
    expect(a?.outputBytes).toBeGreaterThan(10 * 1024 * 1024);
    expect(a?.outputTail.length).toBeLessThan(12_000);
    expect(a?.outputTail).toContain("START-OF-OUTPUT");
    expect(a?.outputTail).toContain("END-OF-OUTPUT");
    expect(a?.logFile && existsSync(a.logFile)).toBe(true);
    expect(readFileSync(a?.logFile as string).length).toBe(a?.outputBytes);
  });

  it("counts a crash by signal as a failure and names the signal", async () => {
    const r = await runCli(["run", "--runs", "2", "--json", json(), "--", node, fixture("signal.mjs")], {
      cwd: dir.path,
    });
    expect(r.stdout).toContain("killed by SIGKILL");
    expect(readReport(json()).attempts[0]).toMatchObject({
      outcome: "failed",
      signal: "SIGKILL",
      exitCode: null,
    });
  });

  it("shows progress per test (tests seen, how many failed some runs and every run), elapsed and ETA, not failed attempts", async () => {
    const p = join(dir.path, "progress");
    mkdirSync(p);
    writeFileSync(
      join(p, "a.test.js"),
      [
        'const { test } = require("node:test");',
        'test("broken", () => { throw new Error("no"); });',
        'test("flaky", () => { if (Number(process.env.ATTEMPT) % 2 === 0) throw new Error("sometimes"); });',
        'test("fine", () => {});',
        "",
      ].join("\n"),
    );
    const r = await runCli(
      ["run", "--runs", "6", "--stop", "fixed", "--no-history", "--progress", "plain", "--", node, "--test"],
      { cwd: p },
    );
    expect(r.code, r.stderr).toBe(0);
    // Every attempt failed (one test is broken); the line says what that means per test.
    expect(r.stderr).toMatch(
      /progress: 6\/6 attempts, 3 tests: 1 failed some runs, 1 failed every run so far, \d+s elapsed, ETA 0s/,
    );
    expect(r.stderr).not.toMatch(/6 failed/);
    // A plain command has no tests: its line counts failed attempts.
    const plain = await runCli(
      [
        "run",
        "--runs",
        "3",
        "--stop",
        "fixed",
        "--no-history",
        "--progress",
        "plain",
        "--",
        node,
        fixture("fail.mjs"),
      ],
      { cwd: p },
    );
    expect(plain.stderr).toMatch(/progress: 3\/3 attempts, 3 failed, \d+s elapsed/);
  }, 60_000);

  it("runs test_command from the config file, with VAR=value prefixes as environment", async () => {
    writeFileSync(
      join(dir.path, ".flaky-detector.yml"),
      `runs: 3\nparallelism: 1\ntest_command: EXTRA=from-config ${node} ${fixture("env-dump.mjs")} ${dir.path}\n`,
    );
    const r = await runCli(["run", "--json", json()], { cwd: dir.path });
    expect(r.code).toBe(0);
    const env = JSON.parse(readFileSync(join(dir.path, "attempt-0.json"), "utf8"));
    expect(env.EXTRA).toBe("from-config");
    const report = readReport(json());
    expect(report.request.commandEnv).toEqual(["EXTRA"]); // names only: values may be secrets
    expect(JSON.stringify(report)).not.toContain("from-config");
  });

  it("splits a single quoted command string", async () => {
    const r = await runCli(["run", "--runs", "2", "--json", json(), `${node} ${fixture("pass.mjs")}`], {
      cwd: dir.path,
    });
    expect(r.code).toBe(0);
    expect(readReport(json()).request.command).toEqual([node, fixture("pass.mjs")]);
  });
});
