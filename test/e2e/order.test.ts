import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Report } from "../../src/analysis/report.js";
import { pythonWithPytest, ROOT, readReport, runCli, tempDir } from "../helpers/cli.js";

/**
 * Why a test flakes, on crafted suites in the real frameworks (docs/design/order.md): a polluter
 * and a state-setter in one file under vitest (this repository's) and jest (installed from npm),
 * across files under mocha (installed from npm, ordered by our plugin), and in one go package; a go map-order failure; a test decided by TEST_SEED; and a test that
 * races a shared file only beside a parallel attempt. Every reproduce line is run as a person
 * would paste it.
 */

let dir: { path: string; cleanup: () => void };
beforeAll(() => {
  dir = tempDir("fd-order-");
});
afterAll(() => dir.cleanup());

/** A file with one victim and its polluter, one test that needs a state-setter, and bystanders. */
const STATE_TESTS = [
  "let cache = null;",
  "let open = false;",
  'describe("store", () => {',
  '  test("a1", () => {});',
  '  test("victim reads an empty cache", () => { expect(cache).toBe(null); });',
  '  test("a2", () => {});',
  '  test("setter opens the store", () => { open = true; });',
  '  test("a3", () => {});',
  '  test("reader needs an open store", () => { expect(open).toBe(true); });',
  '  test("a4", () => {});',
  '  test("polluter fills the cache", () => { cache = 1; });',
  '  test("a5", () => {});',
  "});",
  "",
].join("\n");

/** STATE_TESTS's ids and titles in `file`. */
function inOneFile(file: string) {
  return {
    polluter: `${file} > store > polluter fills the cache`,
    setter: `${file} > store > setter opens the store`,
    tests: 9,
    victimTitle: "store victim reads an empty cache",
    setterTitles: ["store setter opens the store", "store reader needs an open store"],
  };
}

let jsProject: string | undefined;
/** The reporters fixture with its npm-installed jest 29 and mocha 11, installed once for this file. */
function installedJsProject(): string {
  if (jsProject) return jsProject;
  const p = join(dir.path, "js");
  mkdirSync(p);
  for (const f of ["package.json", "package-lock.json"])
    copyFileSync(join(ROOT, "test/fixtures/projects/reporters", f), join(p, f));
  execFileSync("npm", ["ci", "--no-audit", "--no-fund", "--silent"], { cwd: p, stdio: "ignore" });
  jsProject = p;
  return p;
}

function sh(line: string, cwd: string): number | null {
  return spawnSync("sh", ["-c", line], { cwd, stdio: "ignore" }).status;
}

function byName(report: Report, suffix: string) {
  const t = report.tests.find((x) => x.id.endsWith(suffix));
  expect(t, `no test ending ${suffix} in ${report.tests.map((x) => x.id).join(", ")}`).toBeDefined();
  return t as NonNullable<typeof t>;
}

/**
 * The checks shared by jest and vitest: the victim's polluter and the reader's state-setter are
 * named; the victim's line fails 10 of 10 and it passes alone; the reader's line (alone) fails 10 of
 * 10 and it passes after its setter; each attempt's order is in the report.
 */
async function expectOrderCauses(
  p: string,
  command: string[],
  suite: {
    /** The polluter's and the state-setter's ids. */
    polluter: string;
    setter: string;
    /** How many tests the suite has. */
    tests: number;
    /** The command running these full titles only, in the declared order. */
    alone: (names: string[]) => string[];
    /** The full titles of the victim, and of the setter and the test needing it. */
    victimTitle: string;
    setterTitles: string[];
  },
): Promise<void> {
  const { polluter, setter, alone } = suite;
  const out = join(p, "report.json");
  const r = await runCli(
    ["run", "--shuffle", "--runs", "40", "--stop", "fixed", "--seed", "5", "--json", out, "--", ...command],
    { cwd: p },
  );
  expect(r.code, r.stderr + r.stdout).toBe(0);
  const report = readReport(out);
  const victim = byName(report, "victim reads an empty cache");
  const reader = byName(report, "reader needs an open store");
  expect(victim.verdict).toBe("flaky");
  expect(victim.polluters).toEqual({ ids: [polluter] });
  expect(victim.cause).toEqual({
    kind: "order-dependent",
    evidence: `fails after ${polluter}; passes alone`,
  });
  expect(reader.verdict).toBe("flaky");
  expect(reader.stateSetters).toEqual({ ids: [setter] });
  expect(reader.cause).toEqual({
    kind: "order-dependent",
    evidence: `fails alone; passes only after ${setter}`,
  });
  expect(r.stdout).toContain("the reproduce line runs the polluter, then this test");
  expect(r.stdout).not.toContain("seed-deterministic: reproduce with");
  // The other tests are stable: nothing else was named.
  expect(
    report.tests
      .filter((t) => t.verdict !== "stable")
      .map((t) => t.id)
      .sort(),
  ).toEqual([reader.id, victim.id].sort());

  for (let i = 0; i < 10; i++) {
    expect(sh(victim.reproduce ?? "", p), victim.reproduce ?? "").not.toBe(0);
    expect(sh(reader.reproduce ?? "", p), reader.reproduce ?? "").not.toBe(0);
  }
  const run = (names: string[]) =>
    spawnSync(alone(names)[0] as string, alone(names).slice(1), { cwd: p }).status;
  expect(run([suite.victimTitle])).toBe(0);
  expect(run(suite.setterTitles)).toBe(0);

  // Every attempt's order is recorded; in each failing attempt of the victim the polluter ran first.
  expect(report.attempts.every((a) => (a.tests?.order?.length ?? 0) === suite.tests)).toBe(true);
  const declared = report.attempts.filter((a) => !a.shuffled).map((a) => a.tests?.order ?? []);
  for (const order of declared) expect(order.indexOf(victim.id)).toBeLessThan(order.indexOf(polluter));
  const failing = report.attempts.filter((a) => a.tests?.failed.includes(victim.id));
  expect(failing.length).toBe(victim.failures);
  for (const a of failing) {
    expect(a.shuffled).toBe(true);
    const order = a.tests?.order ?? [];
    expect(order.indexOf(polluter)).toBeLessThan(order.indexOf(victim.id));
  }
  const shuffledOrders = new Set(
    report.attempts.filter((a) => a.shuffled).map((a) => a.tests?.order?.join("|")),
  );
  expect(shuffledOrders.size).toBeGreaterThan(5);
}

describe("a polluter and a state-setter between the tests of one file", () => {
  it("vitest: both are named, and the reproduce lines fail 10 of 10", async () => {
    const p = join(dir.path, "vitest");
    mkdirSync(p);
    // The real vitest of this repository's devDependencies.
    symlinkSync(join(ROOT, "node_modules"), join(p, "node_modules"));
    writeFileSync(
      join(p, "state.test.js"),
      `import { describe, expect, test } from "vitest";\n${STATE_TESTS}`,
    );
    const vitest = join(p, "node_modules/.bin/vitest");
    await expectOrderCauses(p, [vitest, "run", "state.test.js"], {
      ...inOneFile("state.test.js"),
      alone: (names) => [vitest, "run", "state.test.js", "-t", `^(?:${names.join("|")})$`],
    });
  }, 600_000);

  it("jest (29, from npm): both are named, and the reproduce lines fail 10 of 10", async () => {
    const p = installedJsProject();
    mkdirSync(join(p, "src"));
    writeFileSync(join(p, "src/state.spec.js"), STATE_TESTS);
    const jest = join(p, "node_modules/.bin/jest");
    await expectOrderCauses(p, [jest, "src/state.spec.js"], {
      ...inOneFile("src/state.spec.js"),
      alone: (names) => [jest, "src/state.spec.js", "-t", `^(?:${names.join("|")})$`],
    });
  }, 600_000);
});

describe("mocha, through our plugin's seeded order", () => {
  it("names a polluter and a state-setter in other files; the reproduce lines fail 10 of 10", async () => {
    const p = installedJsProject();
    mkdirSync(join(p, "test"));
    // One root suite holds every file, so state leaks between files; the declared order passes.
    const files = {
      "test/1-setup.spec.js": [
        'describe("setup", () => {',
        '  it("s1", () => {});',
        '  it("setter opens the store", () => { global.storeOpen = true; });',
        "});",
      ],
      "test/2-cache.spec.js": [
        'const assert = require("node:assert");',
        'describe("cache", () => {',
        '  it("c1", () => {});',
        '  it("victim reads an empty cache", () => { assert.strictEqual(global.cache, undefined); });',
        '  it("c2", () => {});',
        '  it("reader needs an open store", () => { assert.strictEqual(global.storeOpen, true); });',
        "});",
      ],
      "test/3-later.spec.js": [
        'describe("later", () => {',
        '  it("l1", () => {});',
        '  it("polluter fills the cache", () => { global.cache = 1; });',
        '  it("l2", () => {});',
        "});",
      ],
    };
    for (const [f, lines] of Object.entries(files)) writeFileSync(join(p, f), `${lines.join("\n")}\n`);
    const mocha = [join(p, "node_modules/.bin/mocha"), ...Object.keys(files)];
    await expectOrderCauses(p, mocha, {
      polluter: "later > polluter fills the cache",
      setter: "setup > setter opens the store",
      tests: 9,
      alone: (names) => [...mocha, "--grep", `^(?:${names.join("|")})$`],
      victimTitle: "cache victim reads an empty cache",
      setterTitles: ["setup setter opens the store", "cache reader needs an open store"],
    });
  }, 600_000);
});

const GO_MOD = "module example.com/order\n\ngo 1.19\n";

describe("go", () => {
  it("names a polluter in the same package; its line (go's own -shuffle seed and -run) fails 10 of 10", async () => {
    const p = join(dir.path, "go-polluter");
    mkdirSync(p);
    writeFileSync(join(p, "go.mod"), GO_MOD);
    writeFileSync(
      join(p, "state_test.go"),
      [
        "package order",
        'import "testing"',
        "var cache map[string]int",
        "func TestA1(t *testing.T) {}",
        'func TestVictim(t *testing.T) { if cache != nil { t.Fatal("cache already filled") } }',
        "func TestA2(t *testing.T) {}",
        "func TestA3(t *testing.T) {}",
        'func TestPolluter(t *testing.T) { cache = map[string]int{"x": 1} }',
        "func TestA4(t *testing.T) {}",
        "",
      ].join("\n"),
    );
    const out = join(p, "report.json");
    const r = await runCli(
      [
        "run",
        "--shuffle",
        "--runs",
        "30",
        "--stop",
        "fixed",
        "--seed",
        "2",
        "--json",
        out,
        "--",
        "go",
        "test",
        ".",
      ],
      { cwd: p },
    );
    expect(r.code, r.stderr).toBe(0);
    const victim = byName(readReport(out), ".TestVictim");
    expect(victim.polluters).toEqual({ ids: ["example.com/order.TestPolluter"] });
    expect(victim.reproduce).toMatch(
      /^go test -count=1 -run '\^\(\?:TestPolluter\|TestVictim\)\$' -shuffle=\d+ \.$/,
    );
    for (let i = 0; i < 10; i++) expect(sh(victim.reproduce ?? "", p)).not.toBe(0);
    expect(sh("go test -count=1 -run '^TestVictim$' .", p)).toBe(0);
  }, 300_000);

  it("a failure decided by map iteration order is random, and its reproduce line repeats the test", async () => {
    const p = join(dir.path, "go-map");
    mkdirSync(p);
    writeFileSync(join(p, "go.mod"), GO_MOD);
    // go starts each range over a map at a random slot: with 8 keys in one bucket, "a", "b" or "c"
    // comes first in 3 ranges of 8 (37.6% of 100,000 ranges on go 1.19).
    writeFileSync(
      join(p, "map_test.go"),
      [
        "package order",
        'import "testing"',
        "func TestFirstKey(t *testing.T) {",
        '\tfor k := range map[string]int{"a": 1, "b": 2, "c": 3, "d": 4, "e": 5, "f": 6, "g": 7, "h": 8} {',
        '\t\tif k == "a" || k == "b" || k == "c" { t.Fatalf("ranged from %s", k) }',
        "\t\tbreak",
        "\t}",
        "}",
        "func TestStable(t *testing.T) {}",
        "",
      ].join("\n"),
    );
    const out = join(p, "report.json");
    // Each check errs at most 1 − confidence: at 99.9% a random test is called seed-decided
    // (8 replays failing, 0.375^8) or interference (every serial run passing) about once in 1,000.
    const r = await runCli(
      [
        "run",
        "--runs",
        "60",
        "--stop",
        "fixed",
        "--confidence",
        "0.999",
        "--json",
        out,
        "--",
        "go",
        "test",
        ".",
      ],
      { cwd: p },
    );
    expect(r.code, r.stderr).toBe(0);
    const t = byName(readReport(out), ".TestFirstKey");
    expect(t.verdict).toBe("flaky");
    expect(t.seedDeterministic).toBe(false);
    expect(t.cause?.kind).toBe("random");
    expect(t.cause?.evidence).toContain("not decided by the seed (its failing seed passed on replay)");
    expect(t.cause?.evidence).toMatch(/not interference \(it failed serially too, 1 of \d+\)/);
    expect(t.reproduce).toMatch(
      /^flaky-detector run --runs \d+ --test example\.com\/order\.TestFirstKey -- go test \.$/,
    );
    expect(t.reproduce).not.toContain("TEST_SEED");
  }, 300_000);

  it("a failure decided by TEST_SEED is seed-deterministic in 3 detections of 3", async () => {
    const p = join(dir.path, "go-seed");
    mkdirSync(p);
    writeFileSync(join(p, "go.mod"), GO_MOD);
    writeFileSync(
      join(p, "seed_test.go"),
      [
        "package order",
        'import ("os"; "strconv"; "testing")',
        "func TestSeeded(t *testing.T) {",
        '\tn, _ := strconv.Atoi(os.Getenv("TEST_SEED"))',
        '\tif n%3 == 0 { t.Fatalf("seed %d", n) }',
        "}",
        "",
      ].join("\n"),
    );
    for (const seed of ["1", "2", "3"]) {
      const out = join(p, `report-${seed}.json`);
      const r = await runCli(
        ["run", "--runs", "20", "--stop", "fixed", "--seed", seed, "--json", out, "--", "go", "test", "."],
        { cwd: p },
      );
      expect(r.code, r.stderr).toBe(0);
      const t = byName(readReport(out), ".TestSeeded");
      expect(t.verdict).toBe("flaky");
      expect(t.seedDeterministic).toBe(true);
      expect(t.cause?.kind).toBe("seed-deterministic");
      const failing = t.firstFailure?.seed ?? -1;
      expect(failing % 3).toBe(0);
      expect(t.reproduce).toContain(`TEST_SEED=${failing}`);
      expect(sh(t.reproduce ?? "", p)).not.toBe(0);
    }
  }, 300_000);
});

describe("interference between parallel attempts", () => {
  it("a test racing a shared file only beside a parallel attempt is interference", async () => {
    const p = join(dir.path, "race");
    mkdirSync(p);
    const shared = join(dir.path, "race-shared.txt");
    // Writes its attempt number to a file outside the slot, waits, reads it back: a parallel
    // attempt that wrote in between makes it fail. Run alone, it always passes.
    writeFileSync(
      join(p, "test_race.py"),
      [
        "import os, time",
        "def test_shared_file():",
        `    path = ${JSON.stringify(shared)}`,
        "    mine = os.environ.get('ATTEMPT', '') + ':' + str(os.getpid())",
        "    with open(path, 'w') as f:",
        "        f.write(mine)",
        "    time.sleep(0.4)",
        "    with open(path) as f:",
        "        assert f.read() == mine, 'another run wrote the file'",
        "",
      ].join("\n"),
    );
    const out = join(p, "report.json");
    const r = await runCli(
      [
        "run",
        "--runs",
        "20",
        "--stop",
        "fixed",
        "--parallelism",
        "2",
        "--json",
        out,
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
    const t = byName(readReport(out), "::test_shared_file");
    expect(t.verdict).toBe("flaky");
    expect(t.resourceSensitive).toBe(true);
    expect(t.cause?.kind).toBe("interference");
    expect(t.cause?.evidence).toMatch(/^failed \d+ time\(s\) at parallelism 2, never in \d+ serial runs$/);
  }, 300_000);
});
