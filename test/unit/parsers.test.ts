import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { cargo } from "../../src/frameworks/cargo.js";
import { parseCargoTest } from "../../src/parsers/cargo-text.js";
import { parseGoTestJson } from "../../src/parsers/go-json.js";
import { parseJestJson } from "../../src/parsers/jest-json.js";
import { defaultJUnitId, parseJUnit, parseJUnitCases } from "../../src/parsers/junit.js";
import { parseTap } from "../../src/parsers/tap.js";
import { type ParsedTest, ResultParseError } from "../../src/parsers/types.js";
import { ROOT } from "../helpers/cli.js";

/**
 * Golden files in test/fixtures/results were produced by the real tools running examples/ with
 * TEST_SEED=8 (surefire-rerun.xml and nested-suites.xml are hand-written from the documented schema).
 * With seed 8: stock (0.30) passes, the receipt (timing) and promotion (seed % 4 == 0) fail, the
 * card always fails; the concurrency test is unseeded and may go either way.
 */
const golden = (name: string) => readFileSync(join(ROOT, "test/fixtures/results", name), "utf8");
const byStatus = (tests: ParsedTest[]) => {
  const out: Record<string, string[]> = { passed: [], failed: [], skipped: [] };
  for (const t of tests) out[t.status]?.push(t.id);
  return out;
};
const compact = (tests: ParsedTest[]) =>
  tests.map((t) => ({ id: t.id, status: t.status, message: t.message?.split("\n")[0] ?? null }));

describe("JUnit XML", () => {
  it("pytest xunit1: ids are pytest node ids, with file and line", async () => {
    const tests = parseJUnit(golden("pytest-xunit1.xml"));
    expect(tests).toHaveLength(10);
    expect(tests.map((t) => t.id)).toContain("test_orders.py::test_charges_saved_card");
    const card = tests.find((t) => t.id === "test_orders.py::test_charges_saved_card");
    expect(card).toMatchObject({ status: "failed", file: "test_orders.py" });
    expect(card?.message).toContain("card declined: the payment stub was removed");
    expect(card?.line).toBeGreaterThan(0);
    expect(byStatus(tests).failed).toEqual(
      expect.arrayContaining([
        "test_orders.py::test_weekly_promotion",
        "test_orders.py::test_charges_saved_card",
      ]),
    );
    await expect(JSON.stringify(compact(tests), null, 2)).toMatchFileSnapshot(
      "../__snapshots__/parsed/pytest-xunit1.json",
    );
  });

  it("pytest xunit2 (CI default): no file attribute, ids from classname", () => {
    const cases = parseJUnitCases(golden("pytest-xunit2.xml"));
    expect(cases.every((c) => c.file === null && c.classname === "test_orders")).toBe(true);
    expect(defaultJUnitId(cases[0] as (typeof cases)[number])).toBe("test_orders::test_total_includes_tax");
  });

  it("node:test junit: suite path and name, failure message from the attribute", async () => {
    const tests = parseJUnit(golden("node-test.xml"), (c) => [...c.suites, c.name].join(" > "));
    expect(tests).toHaveLength(9);
    expect(tests.find((t) => t.id === "charges the saved card")?.status).toBe("failed");
    expect(tests.find((t) => t.id === "applies a percentage discount")?.status).toBe("passed");
    await expect(JSON.stringify(compact(tests), null, 2)).toMatchFileSnapshot(
      "../__snapshots__/parsed/node-test.json",
    );
  });

  it("mocha xunit", () => {
    const tests = parseJUnit(golden("mocha.xml"), (c) => `${c.classname} > ${c.name}`);
    expect(tests).toHaveLength(9);
    expect(byStatus(tests).failed).toEqual(
      expect.arrayContaining([
        "checkout > charges the saved card",
        "checkout > applies the weekly promotion",
      ]),
    );
  });

  it("Surefire reruns: flakyFailure passes with reruns counted, rerunFailure fails, error fails, skipped skips", () => {
    const tests = parseJUnit(golden("surefire-rerun.xml"));
    const get = (name: string) => tests.find((t) => t.name === name);
    expect(get("appliesDiscount")).toMatchObject({
      status: "passed",
      id: "com.example.CheckoutTest::appliesDiscount",
    });
    expect(get("reservesStock")).toMatchObject({ status: "passed", reruns: { failed: 2 } });
    expect(get("reservesStock")?.reruns?.messages[0]).toContain("expected: <0> but was: <-1>");
    expect(get("chargesCard")).toMatchObject({ status: "failed", reruns: { failed: 2 } });
    expect(get("chargesCard")?.message).toContain("card declined");
    expect(get("connectsToDatabase")).toMatchObject({ status: "failed" });
    expect(get("connectsToDatabase")?.message).toContain("Connection refused");
    expect(get("slowIntegration")?.status).toBe("skipped");
  });

  it("nested suites and testcase properties", () => {
    const cases = parseJUnitCases(golden("nested-suites.xml"));
    expect(cases.map((c) => [[...c.suites, c.name].join(" > "), c.status])).toEqual([
      ["checkout > totals", "skipped"],
      ["checkout > payment > charges the card", "passed"],
      ["checkout > payment > refunds", "failed"],
    ]);
    expect(cases[1]?.properties).toEqual({ owner: "payments-team" });
  });

  it("refuses what is not JUnit with a clear error", () => {
    expect(() => parseJUnit("<html><body/></html>")).toThrowError(ResultParseError);
    expect(() => parseJUnit("<html><body/></html>")).toThrowError(
      "junit: no <testsuites> or <testsuite> element",
    );
    expect(() => parseJUnit("<testsuite><testcase")).toThrowError(/junit: not well-formed XML/);
  });

  it("never throws anything but ResultParseError on arbitrary input", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (s) => {
        try {
          parseJUnit(s);
        } catch (e) {
          return e instanceof ResultParseError;
        }
        return true;
      }),
    );
  });
});

describe("go test -json", () => {
  it("reads final actions per test, with output as the failure message", async () => {
    const tests = parseGoTestJson(golden("go-test.jsonl"));
    expect(tests).toHaveLength(9);
    const card = tests.find((t) => t.name === "TestChargesSavedCard");
    expect(card).toMatchObject({ id: "example.com/checkout.TestChargesSavedCard", status: "failed" });
    expect(card?.message).toContain("card declined: the payment stub was removed");
    expect(tests.find((t) => t.name === "TestWeeklyPromotion")?.status).toBe("failed"); // seed 8 % 4 == 0
    await expect(JSON.stringify(compact(tests), null, 2)).toMatchFileSnapshot(
      "../__snapshots__/parsed/go-test.json",
    );
  });

  it("a test running when its package's binary died crashed (the innermost, not paused); non-JSON lines are ignored", () => {
    const stream = [
      "# example.com/x [build output]",
      '{"Action":"run","Package":"p","Test":"TestA"}',
      '{"Action":"run","Package":"p","Test":"TestB"}',
      '{"Action":"run","Package":"p","Test":"TestB/sub"}',
      '{"Action":"run","Package":"p","Test":"TestP"}',
      '{"Action":"pause","Package":"p","Test":"TestP"}',
      '{"Action":"pass","Package":"p","Test":"TestA","Elapsed":0.01}',
      '{"Action":"output","Package":"p","Test":"TestB/sub","Output":"about to exit\\n"}',
      '{"Action":"fail","Package":"p","Elapsed":0.5}',
    ].join("\n");
    expect(parseGoTestJson(stream).map((t) => [t.id, t.status, t.died ?? null])).toEqual([
      ["p.TestA", "passed", null],
      ["p.TestB/sub", "failed", "crashed"],
    ]);
    expect(parseGoTestJson(stream)[1]?.message).toBe(
      "crashed: the test binary died while this test ran\nabout to exit",
    );
    // A package that passed leaves nothing unfinished to blame.
    const passed = ['{"Action":"run","Package":"q","Test":"TestX"}', '{"Action":"pass","Package":"q"}'].join(
      "\n",
    );
    expect(parseGoTestJson(passed)).toEqual([]);
  });

  it("keeps subtests apart", () => {
    const stream = [
      '{"Action":"output","Package":"p","Test":"TestA/one","Output":"    a_test.go:9: boom\\n"}',
      '{"Action":"fail","Package":"p","Test":"TestA/one"}',
      '{"Action":"pass","Package":"p","Test":"TestA/two"}',
      '{"Action":"fail","Package":"p","Test":"TestA"}',
    ].join("\n");
    expect(parseGoTestJson(stream).map((t) => [t.id, t.status, t.message])).toEqual([
      ["p.TestA/one", "failed", "a_test.go:9: boom"],
      ["p.TestA/two", "passed", null],
      ["p.TestA", "failed", "failed"],
    ]);
  });
});

describe("Jest and Vitest JSON", () => {
  it("jest: file-relative ids with describe blocks and locations", async () => {
    const tests = parseJestJson(golden("jest.json"), "/project/jest");
    expect(tests).toHaveLength(9);
    const card = tests.find((t) => t.name === "charges the saved card");
    expect(card).toMatchObject({
      id: "__tests__/checkout.test.js > checkout > charges the saved card",
      status: "failed",
    });
    expect(card?.message).toContain("card declined");
    expect(card?.line).toBeGreaterThan(0);
    await expect(JSON.stringify(compact(tests), null, 2)).toMatchFileSnapshot(
      "../__snapshots__/parsed/jest.json",
    );
  });

  it("vitest writes the same shape", async () => {
    const tests = parseJestJson(golden("vitest.json"), "/project/vitest");
    expect(tests).toHaveLength(9);
    expect(tests.find((t) => t.name === "charges the saved card")).toMatchObject({
      id: "test/checkout.test.mjs > checkout > charges the saved card",
      status: "failed",
    });
    await expect(JSON.stringify(compact(tests), null, 2)).toMatchFileSnapshot(
      "../__snapshots__/parsed/vitest.json",
    );
  });

  it("vitest's 'pending' is a test that never ran (its worker died): the file's finding, not a skip", () => {
    // What vitest 4 writes when a test SIGKILLs its worker: the file "passed", its tests "pending".
    const doc = {
      testResults: [
        {
          name: "/p/a.test.js",
          status: "passed",
          message: "",
          assertionResults: [
            { title: "ok", ancestorTitles: [], status: "pending" },
            { title: "killed", ancestorTitles: [], status: "pending" },
            { title: "later", ancestorTitles: [], status: "skipped" },
          ],
        },
      ],
    };
    const tests = parseJestJson(JSON.stringify(doc), "/p", "vitest");
    expect(tests.map((t) => [t.id, t.status, t.kind])).toEqual([
      ["a.test.js", "failed", "collection"],
      ["a.test.js > later", "skipped", undefined],
    ]);
    // Jest writes "pending" for it.skip: a skip.
    expect(parseJestJson(JSON.stringify(doc), "/p", "jest").map((t) => t.status)).toEqual([
      "skipped",
      "skipped",
      "skipped",
    ]);
  });

  it("a file that failed outside its tests (an import error, a dead jest worker) is that file's finding", () => {
    const doc = {
      testResults: [
        {
          name: "/p/x.test.js",
          status: "failed",
          message: "A jest worker process (pid=12) was terminated by another process: signal=SIGKILL",
          assertionResults: [],
        },
      ],
    };
    expect(parseJestJson(JSON.stringify(doc), "/p")).toEqual([
      expect.objectContaining({
        id: "x.test.js",
        kind: "collection",
        status: "failed",
        message: expect.stringMatching(/^x\.test\.js failed outside its tests: A jest worker process/),
      }),
    ]);
  });

  it("refuses non-JSON and JSON without testResults", () => {
    expect(() => parseJestJson("nope", "/")).toThrowError(/jest json: not JSON/);
    expect(() => parseJestJson("{}", "/")).toThrowError("jest json: no testResults array");
  });
});

describe("Jest titles that are not strings", () => {
  it("names tests given a number or an array as jest prints them (dayjs has it([2010, 6], …))", () => {
    const doc = {
      testResults: [
        {
          name: "/p/test/array.test.js",
          status: "passed",
          assertionResults: [
            { title: [2010, 6], ancestorTitles: ["parse array", 7], status: "passed" },
            { title: 2010, ancestorTitles: [], status: "failed", failureMessages: ["boom"] },
          ],
        },
      ],
    };
    const tests = parseJestJson(JSON.stringify(doc), "/p");
    expect(tests.map((t) => [t.id, t.name])).toEqual([
      ["test/array.test.js > parse array > 7 > 2010,6", "2010,6"],
      ["test/array.test.js > 2010", "2010"],
    ]);
    expect(tests.every((t) => typeof t.name === "string")).toBe(true);
  });
});

describe("TAP", () => {
  it("node:test TAP: statuses, block-scalar error messages, durations", async () => {
    const tests = parseTap(golden("node-test.tap"));
    expect(tests).toHaveLength(9);
    const receipt = tests.find((t) => t.id === "sends the receipt in time");
    expect(receipt?.status).toBe("failed");
    expect(receipt?.message?.split("\n")[0]).toBe("mail server answered after 60 ms, limit 30 ms");
    expect(receipt?.durationMs).toBeGreaterThan(0);
    await expect(JSON.stringify(compact(tests), null, 2)).toMatchFileSnapshot(
      "../__snapshots__/parsed/node-test-tap.json",
    );
  });

  it("nested subtests, SKIP and TODO directives", () => {
    const tap = [
      "TAP version 13",
      "# Subtest: suite",
      "    # Subtest: inner",
      "    ok 1 - inner",
      "    not ok 2 - broken # TODO not done",
      "    ok 3 - later # SKIP no db",
      "    1..3",
      "ok 1 - suite",
      "not ok 2 - top level",
      "  ---",
      "  error: 'boom'",
      "  ...",
    ].join("\n");
    expect(parseTap(tap).map((t) => [t.id, t.status, t.message])).toEqual([
      ["suite > inner", "passed", null],
      ["suite > broken", "skipped", null],
      ["suite > later", "skipped", null],
      ["top level", "failed", "boom"],
    ]);
  });
});

describe("cargo test output", () => {
  it("reads ok/FAILED/ignored lines and the failure sections", () => {
    const tests = parseCargoTest(golden("cargo-test.txt"));
    expect(tests.map((t) => [t.id, t.status])).toEqual([
      ["tests::applies_discount", "passed"],
      ["tests::slow_integration", "skipped"],
      ["tests::seed_dependent", "failed"],
    ]);
    expect(tests[2]?.message).toContain("fails for even seeds, got 8");
  });

  // Real cargo 1.9x output, stdout and stderr together as the adapter reads them (a test aborts).
  it("a test binary that dies: its crash is a finding of the binary, its unfinished tests absent", () => {
    expect(parseCargoTest(golden("cargo-crash.txt"))).toEqual([
      {
        id: "src/lib.rs",
        name: "test binary src/lib.rs",
        file: "src/lib.rs",
        status: "failed",
        message: expect.stringMatching(
          /^crashed: the test binary for src\/lib\.rs was killed by SIGABRT with 3 of its 3 tests unfinished/,
        ),
        durationMs: null,
        kind: "collection",
        died: "crashed",
      },
    ]);
  });

  it("with several threads, a name printed without its result is not the test that crashed", () => {
    // libtest writes an ending test's name, then its result: a process another test killed
    // between the two writes leaves this same text (seen in CI: the crash blamed on a passing test).
    const tests = parseCargoTest(golden("cargo-crash-one-thread.txt"));
    expect(tests).toMatchObject([{ id: "src/lib.rs", kind: "collection", died: "crashed" }]);
    // The adapter says how many threads from the command and the environment.
    const text = golden("cargo-crash-one-thread.txt");
    const ids = (argv: string[], env: Record<string, string> = {}) =>
      cargo.parse(text, "/", { argv, env }).map((t) => t.id);
    expect(ids(["cargo", "test", "--", "--test-threads=1"])).toEqual(["tests::killed"]);
    expect(ids(["cargo", "test", "--", "--test-threads", "1"])).toEqual(["tests::killed"]);
    expect(ids(["cargo", "test"], { RUST_TEST_THREADS: "1" })).toEqual(["tests::killed"]);
    expect(ids(["cargo", "test", "--", "--test-threads=2"], { RUST_TEST_THREADS: "1" })).toEqual([
      "src/lib.rs",
    ]);
    expect(ids(["cargo", "test"])).toEqual(["src/lib.rs"]);
  });

  it("with one test thread, the test libtest announced and never ended crashed", () => {
    expect(parseCargoTest(golden("cargo-crash-one-thread.txt"), { oneThread: true })).toEqual([
      {
        id: "tests::killed",
        name: "tests::killed",
        file: "src/lib.rs",
        status: "failed",
        message: "crashed: the test binary was killed by SIGABRT while this test ran",
        durationMs: null,
        died: "crashed",
      },
    ]);
  });
});

describe("result files past the limits", () => {
  it("a file over the size limit is refused with its size, the limit and the fix", async () => {
    const { mkdtempSync, writeFileSync, rmSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const { readResultFile, ResultFileTooLarge } = await import("../../src/util/read-limited.js");
    const dir = mkdtempSync(join(tmpdir(), "fd-big-"));
    const file = join(dir, "junit.xml");
    writeFileSync(file, `<testsuites>${"<testsuite/>".repeat(200_000)}</testsuites>`);
    expect(() => readResultFile(file, 1024 * 1024)).toThrow(ResultFileTooLarge);
    expect(() => readResultFile(file, 1024 * 1024)).toThrow(
      /is 2\.3 MiB, over the 1\.0 MiB limit .*system-out/,
    );
    expect(readResultFile(file).length).toBeGreaterThan(1024 * 1024);
    rmSync(dir, { recursive: true });
  });

  it("JUnit nested deeper than any writer nests is refused with that reason, not read as no tests", () => {
    const deep = `<testsuites>${"<testsuite name='s'>".repeat(10_000)}<testcase name='t'/>${"</testsuite>".repeat(10_000)}</testsuites>`;
    expect(() => parseJUnitCases(deep)).toThrow(/nest more than 100 levels deep/);
  });
});
