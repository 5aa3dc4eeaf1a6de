import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { goSeedRefusal } from "../../src/frameworks/go-seeds.js";
import { parseGoTestJson, splitGoRepetitions } from "../../src/parsers/go-json.js";
import { tempDir } from "../helpers/cli.js";

/**
 * `go test -json -count=K` split into one stream per repetition (docs/design/repeat.md), on the
 * real output of Debian's go: a package whose binary exits in its second repetition, a package
 * that completes all three, and a subtest that runs only in some repetitions.
 */
let dir: { path: string; cleanup: () => void };
beforeAll(() => {
  dir = tempDir("fd-go-reps-");
});
afterAll(() => dir.cleanup());

function goModule(files: Record<string, string>): string {
  const root = join(dir.path, `m${Math.random().toString(36).slice(2, 8)}`);
  for (const [name, text] of Object.entries({ "go.mod": "module example.com/reps\n\ngo 1.19\n", ...files })) {
    mkdirSync(join(root, name, ".."), { recursive: true });
    writeFileSync(join(root, name), text);
  }
  return root;
}

function goTestJson(root: string, args: string[]): string {
  try {
    return execFileSync("go", ["test", "-json", ...args], {
      cwd: root,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, GOFLAGS: "-mod=mod" },
    });
  } catch (e) {
    // go test exits 1 when a package failed; its stream is still on stdout.
    return (e as { stdout: string }).stdout;
  }
}

describe("splitGoRepetitions", () => {
  it("gives each repetition its tests, up to the one a package's binary died in", () => {
    const root = goModule({
      "exits/exits_test.go": [
        "package exits",
        'import ("os"; "testing")',
        "var runs int",
        "func TestFirst(t *testing.T) {}",
        "func TestExitsSecondTime(t *testing.T) { runs++; if runs == 2 { os.Exit(3) } }",
        "func TestLast(t *testing.T) {}",
        "",
      ].join("\n"),
      "steady/steady_test.go": [
        "package steady",
        'import "testing"',
        "var n int",
        "func TestSometimesSub(t *testing.T) {",
        "  n++",
        '  if n%2 == 1 { t.Run("odd", func(t *testing.T) {}) }',
        "}",
        "func TestSteady(t *testing.T) {}",
        "",
      ].join("\n"),
    });
    const stream = goTestJson(root, ["-count=3", "./..."]);
    const reps = splitGoRepetitions(stream);
    // The exits package started two repetitions (it died in the second); steady finished three.
    expect(reps).toHaveLength(2);
    const parsed = reps.map((r) => parseGoTestJson(r.text).map((t) => [t.id, t.status, t.died ?? null]));
    expect(parsed[0]).toEqual(
      expect.arrayContaining([
        ["example.com/reps/exits.TestFirst", "passed", null],
        ["example.com/reps/exits.TestExitsSecondTime", "passed", null],
        ["example.com/reps/exits.TestLast", "passed", null],
        ["example.com/reps/steady.TestSometimesSub", "passed", null],
        ["example.com/reps/steady.TestSometimesSub/odd", "passed", null],
        ["example.com/reps/steady.TestSteady", "passed", null],
      ]),
    );
    expect(parsed[0]).toHaveLength(6);
    // Second repetition: the test that exited crashed, the one after it never ran, and the
    // subtest that runs only on odd runs is absent rather than carried over from the first.
    expect(parsed[1]).toEqual(
      expect.arrayContaining([
        ["example.com/reps/exits.TestFirst", "passed", null],
        ["example.com/reps/exits.TestExitsSecondTime", "failed", "crashed"],
        ["example.com/reps/steady.TestSometimesSub", "passed", null],
        ["example.com/reps/steady.TestSteady", "passed", null],
      ]),
    );
    expect(parsed[1]).toHaveLength(4);
    for (const r of reps) expect(r.durationMs).toBeGreaterThanOrEqual(0);
  }, 120_000);

  it("a stream with no test (a build failure) has no repetition", () => {
    const root = goModule({ "broken/broken_test.go": "package broken\nfunc TestX(t *testing.T) {}\n" });
    const stream = goTestJson(root, ["-count=3", "./..."]);
    expect(stream).toMatch(/FAIL|build failed|undefined/);
    expect(splitGoRepetitions(stream)).toEqual([]);
  }, 120_000);
});

describe("goSeedRefusal", () => {
  it("names the first Go source that reads a seed variable, and skips vendor and testdata", () => {
    const vars = ["TEST_SEED", "GO_TEST_SEED", "ATTEMPT"];
    const clean = goModule({
      "a/a_test.go": 'package a\n// TEST_SEED in a comment is not a read\nvar x = "ATTEMPTS"\n',
      "vendor/v/v.go": 'package v\nimport "os"\nvar s = os.Getenv("TEST_SEED")\n',
      "a/testdata/t.go": 'package t\nimport "os"\nvar s = os.Getenv("GO_TEST_SEED")\n',
    });
    expect(goSeedRefusal(clean, vars)).toBeNull();
    // A tree past the limit is not read on: repetition is refused rather than risked unseen.
    expect(goSeedRefusal(clean, vars, 0)).toBe(
      "the working directory holds more than 0 Go files, too many to read for a seed variable first",
    );
    const reads = goModule({
      "b/seed_test.go": 'package b\nimport "os"\nvar s, _ = os.LookupEnv("GO_TEST_SEED")\n',
    });
    expect(goSeedRefusal(reads, vars)).toBe(
      "b/seed_test.go reads GO_TEST_SEED, and one go test process cannot change it between repetitions",
    );
  });
});
