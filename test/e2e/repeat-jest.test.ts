import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, readReport, runCli, tempDir } from "../helpers/cli.js";
import { countsOf, failedIn, processOf } from "../helpers/repeat.js";

/**
 * jest's in-process repetition (docs/design/repeat.md) with a real jest 29 installed from npm: our
 * script calls the project's runCLI once per attempt, each run with the attempt's seed, and keeps
 * each run's --json file apart. Counted exactly like one process per attempt.
 */
let dir: { path: string; cleanup: () => void };
let modules: string;
beforeAll(() => {
  dir = tempDir("fd-repeat-jest-");
  // The reporters fixture pins jest 29.7 (with mocha and vitest, unused here).
  const install = join(dir.path, "install");
  mkdirSync(install);
  for (const f of ["package.json", "package-lock.json"])
    copyFileSync(join(ROOT, "test/fixtures/projects/reporters", f), join(install, f));
  execFileSync("npm", ["ci", "--no-audit", "--no-fund", "--silent"], { cwd: install, stdio: "ignore" });
  modules = join(install, "node_modules");
}, 300_000);
afterAll(() => dir.cleanup());

/** A project whose jest is the installed one, as `npm install` would leave it. */
function project(name: string, files: Record<string, string>, jest: Record<string, unknown> = {}): string {
  const p = join(dir.path, name);
  mkdirSync(p);
  symlinkSync(modules, join(p, "node_modules"));
  // Each project its own cache, so jest's choice of workers or in band starts from nothing.
  const config = { cacheDirectory: join(p, ".jest-cache"), ...jest };
  writeFileSync(join(p, "package.json"), JSON.stringify({ name, private: true, jest: config }));
  for (const [file, text] of Object.entries(files)) writeFileSync(join(p, file), text);
  return p;
}

async function detect(p: string, name: string, extra: string[], command: string[]) {
  const out = join(dir.path, `${name}.json`);
  const r = await runCli(
    [
      "run",
      "--runs",
      "20",
      "--stop",
      "fixed",
      "--seed",
      "7",
      "--parallelism",
      "2",
      "--no-history",
      "--json",
      out,
      ...extra,
      "--",
      ...command,
    ],
    { cwd: p },
  );
  return { code: r.code, stderr: r.stderr, stdout: r.stdout, report: readReport(out) };
}

describe("jest repetitions in one process", () => {
  it("give each attempt its seed and ATTEMPT, and count crashes, import errors, skips and same-named tests as one process per attempt does", async () => {
    const log = join(dir.path, "log.txt");
    const p = project(
      "suite",
      {
        "global.js": `module.exports = () => require("node:fs").appendFileSync(${JSON.stringify(log)}, \`setup \${process.pid}\\n\`);\n`,
        "seeded.test.js": [
          'const { createHash } = require("node:crypto");',
          'const { appendFileSync } = require("node:fs");',
          // Read when the file loads: a repetition's file must load with its own attempt's seed.
          "const seed = process.env.TEST_SEED;",
          'test("seeded", () => {',
          '  const h = createHash("sha256").update(seed).digest().readUInt32BE(0) / 2 ** 32;',
          "  expect(h).toBeGreaterThanOrEqual(0.3);",
          "});",
          'test("records", () => {',
          `  appendFileSync(${JSON.stringify(log)}, \`run \${process.env.ATTEMPT} \${seed}\\n\`);`,
          "});",
          // Two tests of one name are two tests, the second "twice [2]" (failing in attempts 2, 5, 8, …).
          'test("twice", () => {});',
          'test("twice", () => { expect(Number(process.env.ATTEMPT) % 3).not.toBe(2); });',
          'test.skip("skipped", () => {});',
          'test.todo("todo");',
          "",
        ].join("\n"),
        "killed.test.js": [
          'test("before", () => {});',
          'test("killed", () => { if (Number(process.env.ATTEMPT) % 5 === 0) process.kill(process.pid, "SIGKILL"); });',
          'test("after", () => {});',
          "",
        ].join("\n"),
        "broken.test.js": [
          'if (Number(process.env.ATTEMPT) % 6 === 1) throw new Error("no import in attempt " + process.env.ATTEMPT);',
          'test("imported", () => {});',
          "",
        ].join("\n"),
      },
      // Always in workers: jest otherwise runs fast files in band once it has timings, where a
      // kill takes the other files' tests with it, in either mode but not in the same attempts.
      { globalSetup: "./global.js", maxWorkers: 2, workerIdleMemoryLimit: "1GB" },
    );
    writeFileSync(log, "");
    const repeated = await detect(p, "repeated", [], ["npx", "jest"]);
    expect(repeated.code, repeated.stderr).toBe(0);
    const lines = readFileSync(log, "utf8").trim().split("\n");
    writeFileSync(log, "");
    const single = await detect(p, "single", ["--repeat", "off"], ["npx", "jest"]);
    expect(single.code, single.stderr).toBe(0);

    // Fewer processes than attempts, said in the report and on the console.
    const processes = new Set(repeated.report.attempts.map(processOf));
    expect(repeated.report.attempts).toHaveLength(20);
    expect(processes.size).toBeLessThan(20);
    expect(repeated.report.request.repetition).toMatchObject({ attempts: 20, processes: processes.size });
    expect(repeated.stdout).toMatch(/in-process repetition: 20 attempts in \d+ processes.*globalSetup/);
    expect(single.report.request.repetition).toBeUndefined();

    // Every attempt ran with its own ATTEMPT and seed (follow-up runs come after the 20); globalSetup
    // runs once per repetition, as jest's own command runs it once per run.
    const seeds = new Map(repeated.report.attempts.map((a) => [a.index, a.seed]));
    const runs = lines.filter((l) => l.startsWith("run ")).map((l) => l.split(" ").map(Number));
    const main = runs.filter(([, attempt]) => (attempt as number) < 20);
    expect(new Set(main.map(([, attempt]) => attempt))).toEqual(
      new Set(Array.from({ length: 20 }, (_, i) => i)),
    );
    for (const [, attempt, seed] of main) expect(seed).toBe(seeds.get(attempt as number));
    const setups = lines.filter((l) => l.startsWith("setup "));
    expect(new Set(setups.map((l) => l.split(" ")[1])).size).toBeLessThan(setups.length);

    // Both ways fail in exactly the same attempts, and give the same counts.
    expect(failedIn(repeated.report)).toEqual(failedIn(single.report));
    expect(countsOf(repeated.report)).toEqual(countsOf(single.report));

    const t = (id: string) => repeated.report.tests.find((x) => x.id === id);
    expect(t("seeded.test.js > seeded")?.verdict).toBe("flaky");
    // Attempts 0, 5, 10, 15 killed the worker running "killed": a crash of that test, not of its file.
    expect(t("killed.test.js > killed")).toMatchObject({ failures: 4, crashes: 4, attempts: 20 });
    expect(t("killed.test.js > before")).toMatchObject({ failures: 0 });
    expect(t("broken.test.js > imported")).toMatchObject({ attempts: 16, notRun: 4 });
    expect(t("killed.test.js")).toBeUndefined();
    // Attempts 1, 7, 13, 19 could not import broken.test.js: a finding of the file, over all 20.
    expect(t("broken.test.js")).toMatchObject({ failures: 4, attempts: 20 });
    expect(t("broken.test.js")?.firstFailure?.message).toMatch(/no import in attempt 1/);
    expect(t("seeded.test.js > twice")).toMatchObject({ verdict: "stable", attempts: 20 });
    expect(t("seeded.test.js > twice [2]")).toMatchObject({ failures: 6, attempts: 20 });
    expect(t("seeded.test.js > skipped")?.verdict).toBe("skipped");
    expect(t("seeded.test.js > todo")?.verdict).toBe("skipped");
  }, 600_000);

  it("in band, a test that kills jest's process costs its own attempt only", async () => {
    const p = project("inband", {
      "a.test.js": [
        'test("ok", () => {});',
        'test("killed", () => { if (Number(process.env.ATTEMPT) % 5 === 0) process.kill(process.pid, "SIGKILL"); });',
        "",
      ].join("\n"),
    });
    const command = ["npx", "jest", "--runInBand"];
    const repeated = await detect(p, "inband", ["--runs", "10"], command);
    const single = await detect(p, "inband-off", ["--runs", "10", "--repeat", "off"], command);
    for (const r of [repeated, single]) {
      expect(r.code, r.stderr).toBe(0);
      const t = (id: string) => r.report.tests.find((x) => x.id === id);
      expect(t("a.test.js > killed")).toMatchObject({ attempts: 10, failures: 2, crashes: 2 });
      expect(t("a.test.js > ok")).toMatchObject({ attempts: 10, failures: 0 });
    }
    expect(new Set(repeated.report.attempts.map(processOf)).size).toBeLessThan(10);
  }, 300_000);

  it("a run that finds no test or cannot load its configuration is read as jest's own, and --bail keeps a process per attempt, saying why", async () => {
    const p = project("small", { "a.test.js": 'test("a", () => {});\n' });
    // The detector stops with jest's own words either way: no JSON report.
    for (const repeat of ["auto", "off"]) {
      const r = await runCli(
        [
          "run",
          "--runs",
          "4",
          "--stop",
          "fixed",
          "--no-history",
          "--repeat",
          repeat,
          "--",
          "npx",
          "jest",
          "nothing",
        ],
        { cwd: p },
      );
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/no test ran in any of \d+ attempt\(s\): No tests found, exiting with code 1/);
    }

    // A configuration jest cannot load: no test started, so no verdict either way, with jest's error.
    const broken = project(
      "config",
      { "a.test.js": 'test("a", () => {});\n' },
      {
        preset: "./no-such-preset",
      },
    );
    for (const repeat of ["auto", "off"]) {
      const r = await runCli(
        ["run", "--runs", "4", "--stop", "fixed", "--no-history", "--repeat", repeat, "--", "npx", "jest"],
        {
          cwd: broken,
        },
      );
      expect(r.code).toBe(3);
      expect(r.stderr).toMatch(
        /the command exited with 1 before any test started: Validation Error: Preset \.\/no-such-preset not found\. /,
      );
      expect(r.stdout + r.stderr).not.toMatch(/FAILING|CRITICAL/);
    }

    const bail = await detect(p, "bail", ["--runs", "4"], ["npx", "jest", "--bail"]);
    expect(bail.code, bail.stderr).toBe(0);
    expect(bail.report.request.repetitionOff).toBe(
      "jest's --bail exits the process at the first failures, ending every later repetition",
    );
    expect(new Set(bail.report.attempts.map(processOf)).size).toBe(4);
    expect(bail.report.tests[0]).toMatchObject({ id: "a.test.js > a", verdict: "stable", attempts: 4 });
  }, 300_000);
});
