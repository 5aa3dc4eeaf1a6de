import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { pythonWithPytest, readReport, runCli, tempDir } from "../helpers/cli.js";

/**
 * Misconfiguration is an error, never a result: when no attempt ran any test the answer is an
 * exit 2 (usage) or 3 (infrastructure) with the cause read from the run and the fix — never a
 * FAILING/CRITICAL headline, never a reproduce line.
 */

let dir: { path: string; cleanup: () => void };
beforeEach(() => {
  dir = tempDir("fd-notests-");
});
afterEach(() => dir.cleanup());
const json = () => join(dir.path, "report.json");

function expectNoVerdict(r: { stdout: string; stderr: string }): void {
  expect(r.stdout + r.stderr).not.toMatch(/FAILING|CRITICAL|broken|STABLE|reproduce/i);
  expect(existsSync(json())).toBe(false);
}

describe("no test ran", () => {
  it("npm test without a test script: exit 3 naming the missing script", async () => {
    writeFileSync(join(dir.path, "package.json"), JSON.stringify({ name: "p", version: "1.0.0" }));
    const r = await runCli(["run", "--runs", "4", "--json", json(), "--", "npm", "test"], { cwd: dir.path });
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/no test ran in any of \d+ attempt\(s\): Missing script: "test"/);
    expect(r.stderr).toMatch(/package\.json script/);
    expectNoVerdict(r);
  });

  it("a runner that refuses a flag we add: exit 3 naming the flag and the way around it", async () => {
    writeFileSync(
      join(dir.path, "package.json"),
      JSON.stringify({ name: "p", version: "1.0.0", scripts: { test: "node wrapper.js" } }),
    );
    // A wrapper script with its own argument parsing, as many projects have.
    writeFileSync(
      join(dir.path, "wrapper.js"),
      "const extra = process.argv.slice(2).filter((a) => a !== '--');\n" +
        "if (extra.length) { console.error('error: unknown option ' + JSON.stringify(extra[0])); process.exit(1); }\n",
    );
    const r = await runCli(
      ["run", "--runs", "3", "--framework", "mocha", "--json", json(), "--", "npm", "test"],
      {
        cwd: dir.path,
      },
    );
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/no test ran in any of 3 attempt\(s\): unknown option/);
    expect(r.stderr).toMatch(/The test runner refused --reporter( xunit)?, a flag flaky-detector adds/);
    expect(r.stderr).toMatch(/--framework command/);
    expectNoVerdict(r);
  });

  it("--framework naming another framework than the package script runs: exit 2 before anything runs", async () => {
    writeFileSync(
      join(dir.path, "package.json"),
      JSON.stringify({ name: "p", version: "1.0.0", scripts: { test: "node --test" } }),
    );
    const r = await runCli(["run", "--framework", "jest", "--json", json(), "--", "npm", "test"], {
      cwd: dir.path,
    });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(
      /--framework jest: "npm test" runs package.json scripts.test \("node --test"\), which runs node-test; pass --framework node-test/,
    );
    expectNoVerdict(r);
  });

  it("npm refusing options it took for a command: no test ran, exit 3 with npm's line", async () => {
    // A wrapper script flaky-detector cannot read, with node:test's options forced on `npm test`:
    // npm answers "Unknown command" and no test runs — errored attempts, never a broken test.
    writeFileSync(
      join(dir.path, "package.json"),
      JSON.stringify({ name: "p", version: "1.0.0", scripts: { test: "node run-tests.js" } }),
    );
    writeFileSync(
      join(dir.path, "run-tests.js"),
      "require('node:child_process').execFileSync('node', ['--test'], { stdio: 'inherit' });\n",
    );
    const r = await runCli(
      ["run", "--runs", "3", "--framework", "node-test", "--json", json(), "--", "npm", "test"],
      {
        cwd: dir.path,
      },
    );
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/no test ran in any of 3 attempt\(s\): Unknown command/);
    expectNoVerdict(r);
  });

  it("npx naming a runner the project does not have: exit 3 with npx's line, never a failing test", async () => {
    // Found on commander.js with its dependencies not installed: all 10 attempts were reported
    // "FAILING, CRITICAL" for `npx jest`, which only said it would not install jest.
    writeFileSync(join(dir.path, "package.json"), JSON.stringify({ name: "p", version: "1.0.0" }));
    const r = await runCli(["run", "--runs", "3", "--json", json(), "--", "npx", "jest"], {
      cwd: dir.path,
      env: { npm_config_yes: "false" },
    });
    expect(r.code, r.stderr).toBe(3);
    // npx's own line; offline (no registry), npm's error code instead.
    expect(r.stderr).toMatch(
      /no test ran in any of 3 attempt\(s\): (npx canceled due to missing packages|npm error code E)/,
    );
    expectNoVerdict(r);
  });

  it("a pytest usage error (exit 4): exit 3 with pytest's own line", async () => {
    writeFileSync(join(dir.path, "test_x.py"), "def test_ok():\n    pass\n");
    const r = await runCli(
      [
        "run",
        "--runs",
        "3",
        "--json",
        json(),
        "--",
        pythonWithPytest(),
        "-m",
        "pytest",
        "-q",
        "--no-such-flag",
      ],
      { cwd: dir.path },
    );
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/unrecognized arguments: --no-such-flag/);
    expectNoVerdict(r);
  });

  it("a conftest that fails to import (no results file, no test started): exit 3 with the error, not FAILING", async () => {
    // Its message names its own file: in the slot's copy, which the reason must not show.
    writeFileSync(
      join(dir.path, "conftest.py"),
      'raise RuntimeError("no database configured in " + __file__)\n',
    );
    writeFileSync(join(dir.path, "test_x.py"), "def test_ok():\n    pass\n");
    const r = await runCli(
      ["run", "--runs", "3", "--json", json(), "--", pythonWithPytest(), "-m", "pytest", "-q"],
      {
        cwd: dir.path,
      },
    );
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toMatch(
      /no test ran in any of \d+ attempt\(s\): the command exited with 4 before any test started: E +RuntimeError: no database configured in conftest\.py\b/,
    );
    expectNoVerdict(r);
    // With --no-events nothing says whether a test started: the failing command is all there is.
    const without = await runCli(
      [
        "run",
        "--runs",
        "3",
        "--stop",
        "fixed",
        "--no-events",
        "--",
        pythonWithPytest(),
        "-m",
        "pytest",
        "-q",
      ],
      { cwd: dir.path },
    );
    expect(without.stdout).toMatch(/produced no readable test results/);
  });

  it("a suite that passes without running any test: exit 3, not STABLE", async () => {
    mkdirSync(join(dir.path, "test"));
    writeFileSync(
      join(dir.path, "test", "a.test.mjs"),
      "import { test } from 'node:test';\ntest('a', () => {});\n",
    );
    const r = await runCli(
      [
        "run",
        "--runs",
        "3",
        "--json",
        json(),
        "--",
        "node",
        "--test",
        "--test-name-pattern=nothing-matches-this",
      ],
      { cwd: dir.path },
    );
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/no test ran in any of \d+ attempt\(s\): every test was skipped/);
    expectNoVerdict(r);
  });

  it("a suite slower than --timeout: exit 3 with the advice, never a failing test", async () => {
    writeFileSync(
      join(dir.path, "test_slow.py"),
      "import time\n\ndef test_a():\n    time.sleep(0.8)\n\ndef test_b():\n    time.sleep(0.8)\n",
    );
    const r = await runCli(
      [
        "run",
        "--runs",
        "3",
        "--timeout",
        "1",
        "--json",
        json(),
        "--",
        pythonWithPytest(),
        "-m",
        "pytest",
        "-q",
      ],
      { cwd: dir.path },
    );
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/every attempt \(3\) was stopped by the per-attempt timeout of 1 s/);
    expect(r.stderr).toMatch(/Raise --timeout/);
    expectNoVerdict(r);
  });

  it("--framework jest on a pytest command: exit 2 before anything runs", async () => {
    const r = await runCli(
      ["run", "--framework", "jest", "--json", json(), "--", "python3", "-m", "pytest", "-q"],
      {
        cwd: dir.path,
      },
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--framework jest: the command runs pytest");
    expect(r.stderr).toContain("--framework pytest");
    expectNoVerdict(r);
  });

  it("some attempts ran no test: they are errored (not counted), the rest still measure", async () => {
    writeFileSync(
      join(dir.path, "flip.mjs"),
      // Every third attempt fails to start its runner; the others run one passing test and write JUnit.
      "import { mkdirSync, writeFileSync } from 'node:fs';\n" +
        "if (Number(process.env.ATTEMPT) % 3 === 0) { console.error('npm error Missing script: \"test\"'); process.exit(1); }\n" +
        "mkdirSync('reports', { recursive: true });\n" +
        'writeFileSync(\'reports/r.xml\', \'<testsuites><testsuite name="s"><testcase classname="s" name="a"/></testsuite></testsuites>\');\n',
    );
    const r = await runCli(
      [
        "run",
        "--runs",
        "9",
        "--stop",
        "fixed",
        "--junit",
        "reports/*.xml",
        "--json",
        json(),
        "--",
        "node",
        "flip.mjs",
      ],
      { cwd: dir.path },
    );
    expect(r.code, r.stderr).toBe(0);
    const report = readReport(json());
    expect(report.summary.erroredAttempts).toBe(3);
    expect(report.attempts.filter((a) => a.outcome === "errored").map((a) => a.index)).toEqual([0, 3, 6]);
    expect(report.attempts.find((a) => a.index === 3)?.error).toMatch(/Missing script/);
    expect(report.tests).toEqual([
      expect.objectContaining({ name: "a", attempts: 6, failures: 0, verdict: "stable" }),
    ]);
  });
});
