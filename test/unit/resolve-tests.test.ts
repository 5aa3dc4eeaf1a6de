import { describe, expect, it } from "vitest";
import { ADAPTERS } from "../../src/frameworks/index.js";
import { playwrightGrep } from "../../src/frameworks/playwright.js";
import type { ListedTest } from "../../src/frameworks/types.js";
import { parseJUnitCases } from "../../src/parsers/junit.js";
import { resolveRequested, suiteLevelError } from "../../src/pipeline/resolve-tests.js";

const failures = (xml: string) =>
  parseJUnitCases(xml)
    .filter((c) => c.status === "failed")
    .map((c) => ({ case: c, from: "ci.xml" }));
const suite = (cases: string) => `<testsuites><testsuite name="s">${cases}</testsuite></testsuites>`;

describe("resolving CI testcases against a framework's listing", () => {
  const jestListing: ListedTest[] = [
    { id: "src/a.spec.js > cart > adds tax", file: "src/a.spec.js", titles: ["cart", "adds tax"] },
    { id: "src/b.spec.js > cart > adds tax", file: "src/b.spec.js", titles: ["cart", "adds tax"] },
    { id: "src/b.spec.js > cart > rounds", file: "src/b.spec.js", titles: ["cart", "rounds"] },
  ];

  it("a full title shared by two files, with no file in the CI case: both are rerun, and it says so", () => {
    const ci = failures(
      suite('<testcase classname="cart adds tax" name="cart adds tax"><failure/></testcase>'),
    );
    const r = resolveRequested(ADAPTERS.jest, jestListing, [], ci);
    expect(r.ids).toEqual(["src/a.spec.js > cart > adds tax", "src/b.spec.js > cart > adds tax"]);
    expect(r.ambiguous).toHaveLength(1);
  });

  it("a CI file path from another machine picks the one file", () => {
    const ci = failures(
      suite(
        '<testcase classname="cart" name="adds tax" file="/home/runner/work/x/x/src/b.spec.js"><failure/></testcase>',
      ),
    );
    expect(resolveRequested(ADAPTERS.jest, jestListing, [], ci).ids).toEqual([
      "src/b.spec.js > cart > adds tax",
    ]);
  });

  it("mocha xunit's title-only name does not match a same-titled test of another suite", () => {
    const listing: ListedTest[] = [
      { id: "adds tax", file: "test/a.js", titles: ["adds tax"] },
      { id: "cart totals > adds tax", file: "test/a.js", titles: ["cart totals", "adds tax"] },
    ];
    const ci = failures(suite('<testcase classname="cart totals" name="adds tax"><failure/></testcase>'));
    expect(resolveRequested(ADAPTERS.mocha, listing, [], ci).ids).toEqual(["cart totals > adds tax"]);
  });

  it("a title listed twice in one file (express has such tests) is one id, not an ambiguity", () => {
    const listing: ListedTest[] = [
      {
        id: "res .format(obj) > sets charset",
        file: "test/res.format.js",
        titles: ["res .format(obj)", "sets charset"],
      },
      {
        id: "res .format(obj) > sets charset",
        file: "test/res.format.js",
        titles: ["res .format(obj)", "sets charset"],
      },
    ];
    const ci = failures(
      suite('<testcase classname="res .format(obj)" name="sets charset"><failure/></testcase>'),
    );
    expect(resolveRequested(ADAPTERS.mocha, listing, [], ci)).toMatchObject({
      ids: ["res .format(obj) > sets charset"],
      ambiguous: [],
    });
  });

  it("go-junit-report v1's last-element classname and a subtest", () => {
    const listing: ListedTest[] = [
      { id: "example.com/shop/pkg.TestTax", file: null, titles: ["example.com/shop/pkg", "TestTax"] },
      { id: "example.com/shop/other.TestTax", file: null, titles: ["example.com/shop/other", "TestTax"] },
    ];
    const ci = failures(suite('<testcase classname="pkg" name="TestTax/eu_rate"><failure/></testcase>'));
    expect(resolveRequested(ADAPTERS.go, listing, [], ci).ids).toEqual([
      "example.com/shop/pkg.TestTax/eu_rate",
    ]);
    // A user's subtest id is selected by its top-level test, which the listing names.
    expect(
      resolveRequested(ADAPTERS.go, listing, ["example.com/shop/pkg.TestTax/eu_rate"], []).unmatched,
    ).toEqual([]);
  });

  it("pytest: a classname written from another rootdir, and --test ids pytest widens (file, class, unparametrized)", () => {
    const listing: ListedTest[] = [
      {
        id: "tests/test_o.py::TestCart::test_p[1]",
        file: "tests/test_o.py",
        titles: ["TestCart", "test_p[1]"],
      },
    ];
    const ci = failures(
      suite('<testcase classname="app.tests.test_o.TestCart" name="test_p[1]"><failure/></testcase>'),
    );
    expect(resolveRequested(ADAPTERS.pytest, listing, [], ci).ids).toEqual([
      "tests/test_o.py::TestCart::test_p[1]",
    ]);
    for (const id of ["tests/test_o.py", "tests/test_o.py::TestCart", "tests/test_o.py::TestCart::test_p"])
      expect(resolveRequested(ADAPTERS.pytest, listing, [id], []).unmatched, id).toEqual([]);
    const miss = resolveRequested(ADAPTERS.pytest, listing, ["tests/test_o.py::TestCart::test_q"], []);
    expect(miss.unmatched[0]?.closest).toEqual(["tests/test_o.py::TestCart::test_p[1]"]);
  });

  it("a report's 'name [2]' id (the second test of that name) is accepted by --test", () => {
    const listing: ListedTest[] = [
      { id: "d > works", file: null, titles: ["d", "works"] },
      { id: "d > works", file: null, titles: ["d", "works"] },
    ];
    expect(resolveRequested(ADAPTERS["node-test"], listing, ["d > works [2]"], []).unmatched).toEqual([]);
    expect(resolveRequested(ADAPTERS["node-test"], listing, ["d > fails [2]"], []).unmatched).toHaveLength(1);
  });

  it("cargo-nextest's JUnit: the binary as classname, the test path as name", () => {
    const listing: ListedTest[] = [{ id: "tests::adds", file: null, titles: ["tests", "adds"] }];
    const ci = failures(suite('<testcase classname="checkout" name="tests::adds"><failure/></testcase>'));
    expect(resolveRequested(ADAPTERS.cargo, listing, [], ci).ids).toEqual(["tests::adds"]);
  });

  it("without a listing, ids are the adapter's reading of the CI case (no verification)", () => {
    const ci = failures(
      suite('<testcase classname="v/a.spec.ts" name="cart &gt; adds tax"><failure/></testcase>'),
    );
    expect(resolveRequested(ADAPTERS.vitest, null, ["x"], ci)).toMatchObject({
      ids: ["x", "v/a.spec.ts > cart > adds tax"],
      unmatched: [],
    });
  });
});

describe("Playwright's -g for requested ids", () => {
  it("selects the test by its file and titles, not a same-titled test elsewhere", () => {
    const grep = new RegExp(playwrightGrep(["cart.spec.js > cart > totals > adds tax"]));
    expect(grep.test("cart.spec.js cart totals adds tax")).toBe(true);
    expect(grep.test("chromium tests/cart.spec.js cart totals adds tax")).toBe(true);
    const top = new RegExp(playwrightGrep(["cart.spec.js > adds tax"]));
    expect(top.test("cart.spec.js cart totals adds tax")).toBe(false);
    expect(top.test("cart.spec.js adds tax")).toBe(true);
  });
});

describe("failures outside any test", () => {
  const cases = parseJUnitCases(
    suite(
      [
        '<testcase classname="Test suite failed to run" name="src/broken.spec.js"><error/></testcase>',
        '<testcase classname="v/empty.spec.ts" name="v/empty.spec.ts"><failure message="No test suite found in file"/></testcase>',
        '<testcase classname="db" name="&quot;before all&quot; hook for &quot;reads&quot;"><failure message="no db"/></testcase>',
        '<testcase classname="" name="tests.test_broken"><error message="collection failure"/></testcase>',
        '<testcase classname="pkg" name="[build failed]"><failure/></testcase>',
        '<testcase classname="cart" name="adds tax"><failure/></testcase>',
      ].join(""),
    ),
  );

  it("are recognised for jest-junit, vitest, mocha hooks, pytest collection and go builds; a test is not", () => {
    expect(cases.map((c) => suiteLevelError(c) !== null)).toEqual([true, true, true, true, true, false]);
  });
});
