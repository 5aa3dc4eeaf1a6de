import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADAPTERS } from "../../src/frameworks/index.js";
import {
  JEST_REPEAT,
  nodeRepeatArgv,
  nodeRepeatRefusal,
  VITEST_REPEAT,
} from "../../src/frameworks/node-repeat.js";
import { ROOT, tempDir } from "../helpers/cli.js";

/** When our script can stand in for a vitest command (docs/design/repeat.md), on real directories. */
let dir: { path: string; cleanup: () => void };
let current: string;
beforeAll(() => {
  dir = tempDir("fd-vitest-repeat-");
  // A project with this repository's vitest (4.1), one with a vitest 2 manifest, one with none.
  current = join(dir.path, "current");
  mkdirSync(current);
  symlinkSync(join(ROOT, "node_modules"), join(current, "node_modules"));
  writeFileSync(join(current, "package.json"), "{}");
  const old = join(dir.path, "old", "node_modules", "vitest");
  mkdirSync(old, { recursive: true });
  writeFileSync(join(old, "package.json"), JSON.stringify({ name: "vitest", version: "2.1.9" }));
  writeFileSync(join(dir.path, "old", "package.json"), "{}");
  // jest manifests: one new enough for our script, one too old.
  for (const [name, version] of [
    ["jest29", "29.7.0"],
    ["jest28", "28.1.3"],
  ] as const) {
    mkdirSync(join(dir.path, name, "node_modules", "jest"), { recursive: true });
    writeFileSync(
      join(dir.path, name, "node_modules", "jest", "package.json"),
      JSON.stringify({ name: "jest", version }),
    );
    writeFileSync(join(dir.path, name, "package.json"), "{}");
  }
  mkdirSync(join(dir.path, "none"));
  writeFileSync(join(dir.path, "none", "package.json"), "{}");
});
afterAll(() => dir.cleanup());

describe("vitest in-process repetition", () => {
  it("stands in for vitest started directly, through npx, pnpm, yarn or node", () => {
    for (const argv of [
      ["npx", "vitest", "run"],
      ["npx", "--no-install", "vitest"],
      ["pnpm", "exec", "vitest", "run", "src"],
      ["yarn", "vitest"],
      ["node_modules/.bin/vitest", "run", "--pool=threads"],
      ["node", "--expose-gc", "node_modules/vitest/vitest.mjs", "run"],
    ])
      expect(nodeRepeatRefusal(VITEST_REPEAT, argv, current), argv.join(" ")).toBeNull();
  });

  it("refuses, naming why, what it cannot stand in for", () => {
    expect(nodeRepeatRefusal(VITEST_REPEAT, ["npm", "test"], current)).toBe(
      "the command does not start vitest itself",
    );
    expect(nodeRepeatRefusal(VITEST_REPEAT, ["xvfb-run", "npx", "vitest"], current)).toMatch(
      /through "xvfb-run"/,
    );
    expect(nodeRepeatRefusal(VITEST_REPEAT, ["node", "wrapper.js", "vitest"], current)).toMatch(
      /through "wrapper.js"/,
    );
    expect(nodeRepeatRefusal(VITEST_REPEAT, ["npx", "vitest", "watch"], current)).toBe(
      "`vitest watch` does not run the tests once",
    );
    expect(nodeRepeatRefusal(VITEST_REPEAT, ["npx", "vitest", "bench"], current)).toMatch(/vitest bench/);
    expect(nodeRepeatRefusal(VITEST_REPEAT, ["npx", "vitest", "run", "--browser.enabled"], current)).toMatch(
      /--browser\.enabled/,
    );
    expect(nodeRepeatRefusal(VITEST_REPEAT, ["npx", "vitest", "--watch=true"], current)).toMatch(
      /vitest's --watch /,
    );
    expect(nodeRepeatRefusal(VITEST_REPEAT, ["npx", "vitest"], join(dir.path, "old"))).toBe(
      "vitest 2.1.9 is older than 3.0, whose Node API our repetition script uses",
    );
    expect(nodeRepeatRefusal(VITEST_REPEAT, ["npx", "vitest"], join(dir.path, "none"))).toMatch(
      /vitest package was not found/,
    );
  });

  it("runs our script with node, keeping node's options and vitest's arguments", () => {
    expect(nodeRepeatArgv(VITEST_REPEAT, ["npx", "vitest", "run", "-t", "x"], "/p/repeat.mjs")).toEqual([
      "node",
      "/p/repeat.mjs",
      "run",
      "-t",
      "x",
    ]);
    expect(
      nodeRepeatArgv(VITEST_REPEAT, ["node", "--expose-gc", "node_modules/vitest/vitest.mjs"], "/p/r.mjs"),
    ).toEqual(["node", "--expose-gc", "/p/r.mjs"]);
  });

  it("the adapter passes the attempts to repeat, and repeats only with events", () => {
    const ctx = { resultFile: "/r/out", seed: 42, shuffle: false, tests: [] as string[] };
    const repeat = [
      { index: 3, seed: 30 },
      { index: 4, seed: 40 },
    ];
    const withEvents = ADAPTERS.vitest.prepare(["npx", "vitest", "run"], {
      ...ctx,
      eventsFile: "/r/ev",
      repeat,
    });
    expect(withEvents.argv[0]).toBe("node");
    expect(withEvents.argv[1]).toMatch(/plugins\/vitest\/flaky-detector-repeat\.mjs$/);
    expect(withEvents.argv.slice(2, 3)).toEqual(["run"]);
    expect(withEvents.env.FLAKY_DETECTOR_REPEAT).toBe("[[3,30],[4,40]]");
    // The line a person pastes, and an attempt without events, run vitest itself.
    expect(
      ADAPTERS.vitest.prepare(["npx", "vitest"], { ...ctx, eventsFile: "/r/ev", repeat }, false).argv,
    ).toEqual(["npx", "vitest"]);
    expect(ADAPTERS.vitest.prepare(["npx", "vitest"], { ...ctx, repeat }).argv.slice(0, 2)).toEqual([
      "npx",
      "vitest",
    ]);
  });
});

describe("jest in-process repetition", () => {
  it("stands in for jest started directly, through npx, yarn or node", () => {
    const jest29 = join(dir.path, "jest29");
    for (const argv of [
      ["npx", "jest"],
      ["npx", "jest", "--ci", "--runInBand", "src"],
      ["yarn", "jest", "-w", "2"],
      ["node_modules/.bin/jest"],
      ["node", "--experimental-vm-modules", "node_modules/jest/bin/jest.js"],
    ])
      expect(nodeRepeatRefusal(JEST_REPEAT, argv, jest29), argv.join(" ")).toBeNull();
  });

  it("refuses, naming why, what it cannot stand in for", () => {
    const jest29 = join(dir.path, "jest29");
    expect(nodeRepeatRefusal(JEST_REPEAT, ["npm", "test"], jest29)).toBe(
      "the command does not start jest itself",
    );
    expect(nodeRepeatRefusal(JEST_REPEAT, ["dotenv", "--", "jest"], jest29)).toMatch(/through "dotenv"/);
    expect(nodeRepeatRefusal(JEST_REPEAT, ["npx", "jest", "--watchAll"], jest29)).toBe(
      "jest's --watchAll does not run the tests once",
    );
    expect(nodeRepeatRefusal(JEST_REPEAT, ["npx", "jest", "--listTests"], jest29)).toMatch(/--listTests/);
    expect(nodeRepeatRefusal(JEST_REPEAT, ["npx", "jest", "--bail=2"], jest29)).toBe(
      "jest's --bail exits the process at the first failures, ending every later repetition",
    );
    expect(nodeRepeatRefusal(JEST_REPEAT, ["npx", "jest"], join(dir.path, "jest28"))).toBe(
      "jest 28.1.3 is older than 29.0, whose runCLI our repetition script uses",
    );
    expect(nodeRepeatRefusal(JEST_REPEAT, ["npx", "jest"], join(dir.path, "none"))).toMatch(
      /jest package was not found/,
    );
  });

  it("the adapter runs our script with jest's arguments and the attempts to repeat, only with events", () => {
    const ctx = { resultFile: "/r/out", seed: 42, shuffle: false, tests: [] as string[] };
    const repeat = [
      { index: 3, seed: 30 },
      { index: 4, seed: 40 },
    ];
    const got = ADAPTERS.jest.prepare(["npx", "jest", "--ci"], { ...ctx, eventsFile: "/r/ev", repeat });
    expect(got.argv[0]).toBe("node");
    expect(got.argv[1]).toMatch(/plugins\/jest\/flaky-detector-repeat\.cjs$/);
    expect(got.argv[2]).toBe("--ci");
    expect(got.argv).toContain("--outputFile=/r/out");
    expect(got.env.FLAKY_DETECTOR_REPEAT).toBe("[[3,30],[4,40]]");
    expect(ADAPTERS.jest.prepare(["npx", "jest"], { ...ctx, repeat }).argv.slice(0, 2)).toEqual([
      "npx",
      "jest",
    ]);
  });
});
