import { describe, expect, it } from "vitest";
import { ADAPTERS, detectFramework } from "../../src/frameworks/index.js";
import { scriptName, viaPackageScript } from "../../src/frameworks/package-script.js";

const ctx = { resultFile: "/r/out", seed: 42, shuffle: false, tests: [] as string[] };

describe("detection", () => {
  const cases: [string[], string | undefined][] = [
    [["pytest", "-q"], "pytest"],
    [["python3", "-m", "pytest", "tests"], "pytest"],
    [["/usr/bin/python3.11", "-m", "pytest"], "pytest"],
    [["go", "test", "./..."], "go"],
    [["npx", "playwright", "test", "--project=api"], "playwright"],
    [["npx", "playwright", "install"], undefined],
    [["cargo", "test"], "cargo"],
    [["npx", "jest", "--ci"], "jest"],
    [["node_modules/.bin/vitest"], "vitest"],
    [["npx", "mocha"], "mocha"],
    [["node", "--test", "test/"], "node-test"],
    [["node", "script.js"], undefined],
    [["npm", "test"], undefined],
    [["go", "build"], undefined],
    [["python3", "-m", "unittest"], undefined],
  ];
  for (const [argv, name] of cases) {
    it(`${argv.join(" ")} → ${name ?? "none"}`, () => expect(detectFramework(argv)?.name).toBe(name));
  }
});

describe("argv each adapter builds", () => {
  it("pytest: junitxml in xunit1, node ids as filter replacing a containing path", () => {
    expect(ADAPTERS.pytest.prepare(["pytest", "-q"], ctx).argv).toEqual([
      "pytest",
      "-q",
      "--junitxml=/r/out",
      "-o",
      "junit_family=xunit1",
    ]);
    expect(
      ADAPTERS.pytest.prepare(
        ["python", "-m", "pytest", "-k", "slow", "tests/test_a.py", "other/"],
        { ...ctx, tests: ["tests/test_a.py::T::test_x"] },
        false,
      ).argv,
    ).toEqual(["python", "-m", "pytest", "-k", "slow", "other/", "tests/test_a.py::T::test_x"]);
  });

  it("jest: json to a file, name pattern and path, seeded --randomize", () => {
    expect(
      ADAPTERS.jest.prepare(["npx", "jest"], { ...ctx, shuffle: true, tests: ["a.test.js > outer > does x"] })
        .argv,
    ).toEqual([
      "npx",
      "jest",
      "-t",
      "^(?:outer does x)$",
      "a\\.test\\.js",
      "--randomize",
      "--seed=42",
      "--json",
      "--outputFile=/r/out",
      "--testLocationInResults",
    ]);
  });

  it("vitest: json reporter beside the default one, plain file filter, seeded sequence", () => {
    expect(
      ADAPTERS.vitest.prepare(["npx", "vitest"], { ...ctx, shuffle: true, tests: ["t/a.test.ts > s > x"] })
        .argv,
    ).toEqual([
      "npx",
      "vitest",
      "-t",
      "^(?:s x)$",
      "t/a.test.ts",
      "--sequence.shuffle",
      "--sequence.seed=42",
      "--reporter=default",
      "--reporter=json",
      "--outputFile.json=/r/out",
    ]);
  });

  it("mocha: xunit to a file, grep on the full title", () => {
    expect(ADAPTERS.mocha.prepare(["npx", "mocha"], { ...ctx, tests: ["suite > does (x)"] }).argv).toEqual([
      "npx",
      "mocha",
      "--grep",
      "^(?:suite does \\(x\\))$",
      "--reporter",
      "xunit",
      "--reporter-option",
      "output=/r/out",
    ]);
  });

  it("node:test: options before the files", () => {
    expect(
      ADAPTERS["node-test"].prepare(["node", "--test", "t/"], { ...ctx, tests: ["suite > a"] }).argv,
    ).toEqual([
      "node",
      "--test-name-pattern=^(?:a)$",
      "--test-reporter=spec",
      "--test-reporter-destination=stdout",
      "--test-reporter=junit",
      "--test-reporter-destination=/r/out",
      "--test",
      "t/",
    ]);
  });

  it("go: -json, -count=1 against the test cache, -run and -shuffle", () => {
    expect(
      ADAPTERS.go.prepare(["go", "test", "./..."], {
        ...ctx,
        shuffle: true,
        tests: ["example.com/x.TestA/sub", "example.com/x.TestB"],
      }).argv,
    ).toEqual(["go", "test", "-json", "-count=1", "-run", "^(?:TestA|TestB)$", "-shuffle=42", "./..."]);
    expect(ADAPTERS.go.prepare(["go", "test", "-count=3"], ctx).argv).toEqual([
      "go",
      "test",
      "-json",
      "-count=3",
    ]);
  });

  it("cargo: exact names after --", () => {
    expect(
      ADAPTERS.cargo.prepare(["cargo", "test", "--", "--nocapture"], { ...ctx, tests: ["tests::a"] }).argv,
    ).toEqual(["cargo", "test", "--", "--nocapture", "--exact", "tests::a"]);
  });
  it("cargo: a test binary's id selects that target, before --", () => {
    const prep = (tests: string[]) =>
      ADAPTERS.cargo.prepare(["cargo", "test", "--", "--nocapture"], { ...ctx, tests }).argv;
    expect(prep(["src/lib.rs"])).toEqual(["cargo", "test", "--lib", "--", "--nocapture"]);
    expect(prep(["tests/api.rs", "tests::a"])).toEqual([
      "cargo",
      "test",
      "--test",
      "api",
      "--",
      "--nocapture",
      "--exact",
      "tests::a",
    ]);
  });

  it("says why shuffle is unavailable where it is", () => {
    expect(ADAPTERS.cargo.shuffleUnsupported).toMatch(/nightly/);
    // pytest orders through our own plugin: no pytest-randomly needed.
    expect(ADAPTERS.pytest.shuffleUnsupported).toBeNull();
    const shuffled = ADAPTERS.pytest.prepare(["pytest"], { ...ctx, shuffle: true, seed: 7 }, false);
    expect(shuffled.argv).toEqual(["pytest", "-p", "flaky_detector_events"]);
    expect(shuffled.env).toMatchObject({ FLAKY_DETECTOR_SHUFFLE_SEED: "7" });
    expect(ADAPTERS.jest.shuffleUnsupported).toBeNull();
    expect(ADAPTERS.go.shuffleUnsupported).toBeNull();
    // mocha orders through our root-hook plugin, in attempts and in reproduce lines alike.
    expect(ADAPTERS.mocha.shuffleUnsupported).toBeNull();
    const mocha = ADAPTERS.mocha.prepare(["mocha"], { ...ctx, shuffle: true, seed: 9 }, false);
    expect(mocha.argv).toEqual([
      "mocha",
      "--require",
      expect.stringMatching(/plugins\/mocha\/flaky-detector-events\.cjs$/),
    ]);
    expect(mocha.env).toEqual({ FLAKY_DETECTOR_SHUFFLE_SEED: "9" });
    expect(ADAPTERS.mocha.prepare(["mocha"], ctx, false)).toEqual({ argv: ["mocha"], env: {} });
  });

  it("replays an order by argument order (pytest) or by seed within a file or package", () => {
    expect(ADAPTERS.pytest.orderReplay).toEqual({ by: "arguments" });
    const group = (name: "jest" | "vitest" | "go" | "mocha", id: string) => {
      const r = ADAPTERS[name].orderReplay;
      return r?.by === "seed" ? r.group(id) : null;
    };
    expect(group("jest", "src/a.spec.js > store > reads")).toBe("src/a.spec.js");
    expect(group("vitest", "a.test.ts > x")).toBe("a.test.ts");
    // mocha loads every file into one root suite: any test can be replayed with any other.
    expect(group("mocha", "a > x")).toBe(group("mocha", "b > inner > y"));
    // The package path may hold dots; a subtest's name may hold anything.
    expect(group("go", "example.com/m/pkg.TestA/case_1.5")).toBe("example.com/m/pkg");
    expect(group("go", "..TestFlaky")).toBe(".");
    expect(group("go", "./sub.TestSub")).toBe("./sub");
    expect(ADAPTERS.playwright.orderReplay).toBeUndefined();
  });
});

describe("package scripts", () => {
  it("finds the script a package manager runs", () => {
    expect(scriptName(["npm", "test"])).toBe("test");
    expect(scriptName(["npm", "run", "test:unit"])).toBe("test:unit");
    expect(scriptName(["yarn", "test"])).toBe("test");
    expect(scriptName(["pnpm", "unit"])).toBe("unit");
    expect(scriptName(["npm", "ci"])).toBeUndefined();
  });

  it("appends the framework's flags after -- for npm, directly for yarn", () => {
    const npm = viaPackageScript(["npm", "test"], ["jest", "--ci"], ADAPTERS.jest);
    expect(npm?.prepare(["npm", "test"], ctx).argv).toEqual([
      "npm",
      "test",
      "--",
      "--json",
      "--outputFile=/r/out",
      "--testLocationInResults",
    ]);
    const yarn = viaPackageScript(["yarn", "test"], ["vitest"], ADAPTERS.vitest);
    expect(yarn?.prepare(["yarn", "test"], ctx).argv.slice(0, 3)).toEqual([
      "yarn",
      "test",
      "--reporter=default",
    ]);
  });

  it("a node --test script runs directly, the user's extra arguments kept after node's options", () => {
    const npm = viaPackageScript(["npm", "test"], ["node", "--test", "test/"], ADAPTERS["node-test"]);
    const argv = npm?.prepare(["npm", "test", "--", "--test-concurrency=1"], {
      ...ctx,
      tests: ["cart > adds"],
    }).argv as string[];
    expect(argv[0]).toBe("node");
    expect(argv).toContain("--test-name-pattern=^(?:adds)$");
    expect(argv.slice(-3)).toEqual(["--test", "test/", "--test-concurrency=1"]);
    expect(argv.indexOf("--test-reporter=junit")).toBeLessThan(argv.indexOf("test/"));
    const pnpm = viaPackageScript(["pnpm", "run", "test:unit"], ["node", "--test"], ADAPTERS["node-test"]);
    expect(pnpm?.prepare(["pnpm", "run", "test:unit", "--test-only"], ctx).argv.slice(-2)).toEqual([
      "--test",
      "--test-only",
    ]);
  });
});

describe("playwright", () => {
  it("reads a test whose worker died as crashed (Playwright's own junit error)", () => {
    // As Playwright 1.65 writes it for a test that SIGKILLs its worker.
    const xml = `<testsuites><testsuite name="tests/crash.spec.ts">
<testcase name="dies" classname="tests/crash.spec.ts" time="0"><error message="worker process exited unexpectedly (code=null, signal=SIGKILL)" type="Error"/></testcase>
<testcase name="after" classname="tests/crash.spec.ts" time="0.007"></testcase>
</testsuite></testsuites>`;
    const [dies, after] = ADAPTERS.playwright.parse(xml, "/w");
    expect(dies).toMatchObject({ id: "tests/crash.spec.ts > dies", status: "failed", died: "crashed" });
    expect(after).toMatchObject({ id: "tests/crash.spec.ts > after", status: "passed" });
    expect(after?.died).toBeUndefined();
  });
});
