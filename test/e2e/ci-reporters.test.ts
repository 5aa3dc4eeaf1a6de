import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseJUnitCases } from "../../src/parsers/junit.js";
import { suiteLevelError } from "../../src/pipeline/resolve-tests.js";
import { pythonWithPytest, ROOT, readReport, runCli, tempDir } from "../helpers/cli.js";

/**
 * --from-junit with the JUnit files real CI reporters write: each reporter (installed from npm or
 * Debian) runs a failed CI run of a small suite, its paths are rewritten to a CI runner's, and the
 * detector must rerun exactly the test that failed — resolved against the framework's own listing
 * of its tests — and nothing else; a failure outside any test is reported, never rerun as a test.
 */

const RUNNER = "/home/runner/work/shop/shop";
let dir: { path: string; cleanup: () => void };
let js: string;

beforeAll(() => {
  dir = tempDir("fd-ci-reporters-");
  js = join(dir.path, "js");
  cpSync(join(ROOT, "test/fixtures/projects/reporters"), js, {
    recursive: true,
    filter: (src) => !src.includes("node_modules"),
  });
  // The reporters as a project's CI installs them, from the fixture's lockfile.
  execFileSync("npm", ["ci", "--no-audit", "--no-fund", "--silent"], { cwd: js, stdio: "ignore" });
}, 300_000);
afterAll(() => dir.cleanup());

/** Run `argv` as the failed CI run (CI_RUN=1), then move its file's paths to a CI runner's. */
function ciRun(cwd: string, argv: string[], file: string, env: NodeJS.ProcessEnv = {}): string {
  rmSync(join(cwd, file), { force: true });
  spawnSync(argv[0] as string, argv.slice(1), { cwd, env: { ...process.env, ...env, CI_RUN: "1" } });
  const xml = readFileSync(join(cwd, file), "utf8");
  writeFileSync(join(cwd, file), xml.split(cwd).join(RUNNER));
  return xml;
}

async function rerun(cwd: string, file: string, command: string[], extra: string[] = []) {
  const json = join(cwd, `report-${file}.json`);
  const junitOut = join(cwd, `out-${file}.xml`);
  rmSync(json, { force: true });
  const r = await runCli(
    [
      "run",
      "--runs",
      "2",
      "--stop",
      "fixed",
      "--from-junit",
      file,
      "--json",
      json,
      "--junit-out",
      junitOut,
      ...extra,
      "--",
      ...command,
    ],
    { cwd },
  );
  return { r, report: () => readReport(json), junitOut };
}

const XSD = join(ROOT, "test/fixtures/xsd/surefire-test-report-3.0.xsd");

/**
 * --junit-out validates against Surefire's schema (xmllint, Debian's libxml2-utils), and names
 * the rerun tests exactly as the CI reporter did: uploaders merge them with the tests they track.
 */
function expectSameNamesAsCi(ciFile: string, junitOut: string): void {
  const lint = spawnSync("xmllint", ["--noout", "--schema", XSD, junitOut], { encoding: "utf8" });
  expect(lint.status, lint.stderr).toBe(0);
  const key = (c: { classname: string | null; name: string }) => `${c.classname ?? ""} | ${c.name}`;
  const ci = parseJUnitCases(readFileSync(ciFile, "utf8"))
    .filter((c) => c.status === "failed" && suiteLevelError(c) === null)
    .map(key);
  const ours = parseJUnitCases(readFileSync(junitOut, "utf8")).map(key);
  expect(ci.length).toBeGreaterThan(0);
  for (const k of ci) expect(ours).toContain(k);
}

const ran = (report: ReturnType<typeof readReport>) => report.tests.map((t) => [t.id, t.attempts, t.verdict]);

describe("mocha's CI reporters", () => {
  it("mocha-junit-reporter (full title as the name, the title as classname, the file on the suite)", async () => {
    const xml = ciRun(
      js,
      [
        "npx",
        "mocha",
        "--reporter",
        "mocha-junit-reporter",
        "--reporter-options",
        "mochaFile=ci.xml",
        "test/",
      ],
      "ci.xml",
    );
    expect(xml).toContain('name="cart totals adds tax"');
    const { r, report } = await rerun(js, "ci.xml", ["npx", "mocha", "test/"]);
    expect(r.code, r.stderr).toBe(0);
    expect(report().request.tests).toEqual(["cart totals > adds tax"]);
    expect(ran(report())).toEqual([["cart totals > adds tax", 2, "stable"]]);
  }, 120_000);

  it("mocha's xunit, with a failing before-all hook reported and not rerun as a test", async () => {
    mkdirSync(join(js, "hooks"), { recursive: true });
    writeFileSync(
      join(js, "hooks/db.test.js"),
      'describe("db", () => { before(() => { if (process.env.CI_RUN) throw new Error("no db"); }); it("reads", () => {}); });\n',
    );
    ciRun(
      js,
      ["npx", "mocha", "--reporter", "xunit", "--reporter-option", "output=ci-hook.xml", "test/", "hooks/"],
      "ci-hook.xml",
    );
    const { r, report, junitOut } = await rerun(js, "ci-hook.xml", ["npx", "mocha", "test/", "hooks/"]);
    expect(r.code, r.stderr).toBe(0);
    expectSameNamesAsCi(join(js, "ci-hook.xml"), junitOut);
    expect(ran(report())).toEqual([["cart totals > adds tax", 2, "stable"]]);
    expect(report().warnings.join("\n")).toMatch(
      /a mocha hook failed \("before all" hook for "reads"\): no db; not a test, so not rerun/,
    );
    rmSync(join(js, "hooks"), { recursive: true });
  }, 120_000);
});

describe("jest-junit", () => {
  it("with its defaults (no file; classname and name both the full title)", async () => {
    const xml = ciRun(js, ["npx", "jest", "--reporters=jest-junit"], "junit.xml", {
      JEST_JUNIT_OUTPUT_NAME: "junit.xml",
    });
    expect(xml).toContain('classname="cart totals adds tax" name="cart totals adds tax"');
    expect(xml).not.toContain("file=");
    const { r, report, junitOut } = await rerun(js, "junit.xml", ["npx", "jest"]);
    expect(r.code, r.stderr).toBe(0);
    expectSameNamesAsCi(join(js, "junit.xml"), junitOut);
    expect(report().request.tests).toEqual(["src/cart.spec.js > cart > totals > adds tax"]);
    expect(ran(report())).toEqual([["src/cart.spec.js > cart > totals > adds tax", 2, "stable"]]);
  }, 120_000);

  it("with common options (file attribute, {classname} and {title} apart, suite named by file) and a file that did not run", async () => {
    writeFileSync(
      join(js, "src/broken.spec.js"),
      'if (process.env.CI_RUN) throw new Error("no config");\ntest("ok", () => {});\n',
    );
    const xml = ciRun(js, ["npx", "jest", "--reporters=jest-junit"], "junit2.xml", {
      JEST_JUNIT_OUTPUT_NAME: "junit2.xml",
      JEST_JUNIT_ADD_FILE_ATTRIBUTE: "true",
      JEST_JUNIT_CLASSNAME: "{classname}",
      JEST_JUNIT_TITLE: "{title}",
      JEST_JUNIT_SUITE_NAME: "{filepath}",
      JEST_JUNIT_REPORT_TEST_SUITE_ERRORS: "true",
    });
    expect(xml).toContain('classname="cart totals" name="adds tax"');
    expect(xml).toContain('classname="Test suite failed to run"');
    const { r, report } = await rerun(js, "junit2.xml", ["npx", "jest"]);
    expect(r.code, r.stderr).toBe(0);
    expect(ran(report())).toEqual([["src/cart.spec.js > cart > totals > adds tax", 2, "stable"]]);
    const suiteErrors = report().warnings.filter((w) =>
      w.includes("jest could not run the test file src/broken.spec.js"),
    );
    expect(suiteErrors).toHaveLength(1);
    rmSync(join(js, "src/broken.spec.js"));
  }, 120_000);
});

describe("vitest's junit reporter", () => {
  it("reruns the failed test (classname the file, name 'describe > test') and reports a file that failed to load", async () => {
    const xml = ciRun(
      js,
      ["npx", "vitest", "run", "v", "--reporter=junit", "--outputFile=vitest.xml"],
      "vitest.xml",
    );
    expect(xml).toContain('name="cart &gt; totals &gt; adds tax"');
    expect(xml).toContain('name="v/broken.spec.js"');
    const { r, report, junitOut } = await rerun(js, "vitest.xml", ["npx", "vitest", "run", "v"]);
    expect(r.code, r.stderr).toBe(0);
    expectSameNamesAsCi(join(js, "vitest.xml"), junitOut);
    expect(ran(report())).toEqual([["v/cart.spec.js > cart > totals > adds tax", 2, "stable"]]);
    expect(report().warnings.join("\n")).toMatch(
      /the test file v\/broken\.spec\.js failed outside any test: cannot reach the fixture server; not a test, so not rerun/,
    );
  }, 120_000);

  it("a CI failure of a test renamed since matches nothing: exit 2 naming it and the closest real test", async () => {
    ciRun(
      js,
      ["npx", "vitest", "run", "v/cart.spec.js", "--reporter=junit", "--outputFile=renamed.xml"],
      "renamed.xml",
    );
    const xml = readFileSync(join(js, "renamed.xml"), "utf8").replace("adds tax", "adds VAT");
    writeFileSync(join(js, "renamed.xml"), xml);
    const { r } = await rerun(js, "renamed.xml", ["npx", "vitest", "run", "v"]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(
      /nothing to rerun: none of the CI file's failed tests is in the suite as vitest lists it/,
    );
    expect(r.stderr).toMatch(
      /"v\/cart\.spec\.js > cart > totals > adds VAT" matches no test of the suite; closest: "v\/cart\.spec\.js > cart > totals > adds tax"/,
    );
    expect(r.stdout).not.toMatch(/STABLE|FAILING/);
  }, 120_000);
});

describe("Playwright Test's junit reporter", () => {
  it("reruns the failed test only (not the top-level test sharing its title), with retries off", async () => {
    const xml = ciRun(js, ["npx", "playwright", "test", "--reporter=junit"], "playwright.xml", {
      PLAYWRIGHT_JUNIT_OUTPUT_NAME: "playwright.xml",
    });
    expect(xml).toContain('name="cart › totals › adds tax" classname="cart.spec.js"');
    const { r, report, junitOut } = await rerun(js, "playwright.xml", ["npx", "playwright", "test"]);
    expect(r.code, r.stderr).toBe(0);
    expect(ran(report())).toEqual([["cart.spec.js > cart > totals > adds tax", 2, "stable"]]);
    expectSameNamesAsCi(join(js, "playwright.xml"), junitOut);
  }, 180_000);
});

describe("pytest's --junitxml", () => {
  let py: string;
  beforeAll(() => {
    py = join(dir.path, "py");
    mkdirSync(join(py, "tests"), { recursive: true });
    writeFileSync(join(py, "tests/__init__.py"), "");
    writeFileSync(
      join(py, "tests/test_orders.py"),
      [
        "import os, pytest",
        "class TestCart:",
        "    def test_total(self):",
        "        pass",
        '    @pytest.mark.parametrize("n", [1, "a b"])',
        "    def test_param(self, n):",
        '        assert not (os.environ.get("CI_RUN") and n == "a b")',
        "def test_free():",
        "    pass",
        "",
      ].join("\n"),
    );
  });

  for (const family of ["xunit1", "xunit2"]) {
    it(`${family}: the parametrized case that failed, by its node id`, async () => {
      const python = pythonWithPytest();
      ciRun(
        py,
        [python, "-m", "pytest", "-q", `--junitxml=${family}.xml`, "-o", `junit_family=${family}`, "tests"],
        `${family}.xml`,
      );
      const { r, report, junitOut } = await rerun(py, `${family}.xml`, [python, "-m", "pytest", "tests"]);
      expect(r.code, r.stderr).toBe(0);
      expectSameNamesAsCi(join(py, `${family}.xml`), junitOut);
      expect(ran(report())).toEqual([["tests/test_orders.py::TestCart::test_param[a b]", 2, "stable"]]);
    }, 120_000);
  }
});

describe("go: gotestsum's JUnit and a saved `go test -json` stream", () => {
  let go: string;
  beforeAll(() => {
    go = join(dir.path, "go");
    mkdirSync(join(go, "pkg"), { recursive: true });
    writeFileSync(join(go, "go.mod"), "module example.com/shop\n\ngo 1.19\n");
    writeFileSync(
      join(go, "pkg/cart_test.go"),
      [
        "package pkg",
        'import ("os"; "testing")',
        "func TestTotal(t *testing.T) {}",
        'func TestTax(t *testing.T) { t.Run("eu rate", func(t *testing.T) { if os.Getenv("CI_RUN") != "" { t.Fatal("rate service down") } }) }',
        "",
      ].join("\n"),
    );
  });

  it("gotestsum --junitfile: the subtest and its parent, by package and name", async () => {
    ciRun(go, ["gotestsum", "--junitfile", "gotestsum.xml", "./..."], "gotestsum.xml");
    const { r, report, junitOut } = await rerun(go, "gotestsum.xml", ["go", "test", "./..."]);
    expect(r.code, r.stderr).toBe(0);
    expectSameNamesAsCi(join(go, "gotestsum.xml"), junitOut);
    expect(report().request.tests.sort()).toEqual([
      "example.com/shop/pkg.TestTax",
      "example.com/shop/pkg.TestTax/eu_rate",
    ]);
    expect(ran(report()).sort()).toEqual([
      ["example.com/shop/pkg.TestTax", 2, "stable"],
      ["example.com/shop/pkg.TestTax/eu_rate", 2, "stable"],
    ]);
  }, 180_000);

  it("go test -json saved as the CI artifact", async () => {
    const out = spawnSync("go", ["test", "-json", "./..."], {
      cwd: go,
      env: { ...process.env, CI_RUN: "1" },
    });
    writeFileSync(join(go, "go-test.json"), out.stdout);
    const { r, report } = await rerun(go, "go-test.json", ["go", "test", "./..."]);
    expect(r.code, r.stderr).toBe(0);
    expect(report().request.tests.sort()).toEqual([
      "example.com/shop/pkg.TestTax",
      "example.com/shop/pkg.TestTax/eu_rate",
    ]);
  }, 180_000);
});

/**
 * The jest (29.7) and vitest (3.2) of the fixture, installed from npm: a test that kills the worker
 * running it is a crashed failure of that test, named by our event reporter, not a failure of its
 * file — and the tests before it in the file still count.
 */
describe("a test that kills its worker (jest and vitest as a project installs them)", () => {
  const crashFiles = (d: string, importLine: string) => {
    mkdirSync(d, { recursive: true });
    writeFileSync(
      join(d, "a.test.js"),
      [
        importLine,
        'describe("d", () => {',
        '  test("ok", () => {});',
        '  test("killed", () => { if (Number(process.env.ATTEMPT) % 5 === 0) process.kill(process.pid, "SIGKILL"); });',
        '  test("after", () => {});',
        "});",
        "",
      ].join("\n"),
    );
    for (const name of ["b", "c", "e"])
      writeFileSync(join(d, `${name}.test.js`), `${importLine}\ntest("${name}", () => {});\n`);
  };

  const expectCrashedTest = (report: ReturnType<typeof readReport>, prefix: string) => {
    const t = (id: string) => report.tests.find((x) => x.id === `${prefix}${id}`);
    expect(t("a.test.js")).toBeUndefined();
    expect(t("a.test.js > d > killed")).toMatchObject({
      attempts: 10,
      failures: 2,
      crashes: 2,
      verdict: "flaky",
    });
    expect(t("a.test.js > d > ok")).toMatchObject({ attempts: 10, failures: 0 });
    expect(t("a.test.js > d > after")).toMatchObject({ attempts: 8, notRun: 2 });
    expect(report.summary.verdict).toBe("flaky");
  };

  /** Ten attempts of `command` on the crash suite in `sub`, two of them killing the worker. */
  const crashRun = async (sub: string, importLine: string, command: string[]) => {
    const d = join(js, sub);
    crashFiles(d, importLine);
    const json = join(d, "report.json");
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
        json,
        "--no-history",
        "--",
        ...command,
      ],
      { cwd: js },
    );
    expect(r.code, r.stderr).toBe(0);
    expectCrashedTest(readReport(json), `${sub}/`);
  };

  it(
    "jest, in workers or in band",
    () =>
      crashRun("crash-jest", "", [
        join(js, "node_modules/.bin/jest"),
        "--rootDir",
        "crash-jest",
        "--testMatch",
        "**/*.test.js",
        "-w",
        "2",
      ]),
    240_000,
  );

  it(
    "vitest 3",
    () =>
      crashRun("crash-vitest", 'import { describe, test } from "vitest";', [
        join(js, "node_modules/.bin/vitest"),
        "run",
        "--root",
        "crash-vitest",
      ]),
    240_000,
  );
});
