import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { ROOT, readReport, runCli, tempDir } from "../helpers/cli.js";
import { countsOf, failedIn, processOf } from "../helpers/repeat.js";

/**
 * vitest's in-process repetition (docs/design/repeat.md) with the real vitest of this repository
 * (4.1): our script runs the project's vitest through its Node API once per attempt, each run with
 * the attempt's seed, in new workers. Counted exactly like one process per attempt.
 */
let dir: { path: string; cleanup: () => void };
beforeEach(() => {
  dir = tempDir("fd-repeat-vitest-");
});
afterEach(() => dir.cleanup());

/** A project whose vitest is this repository's, as `npm install` would leave it. */
function project(name: string, files: Record<string, string>): string {
  const p = join(dir.path, name);
  mkdirSync(p);
  symlinkSync(join(ROOT, "node_modules"), join(p, "node_modules"));
  writeFileSync(join(p, "package.json"), JSON.stringify({ name, private: true, type: "module" }));
  for (const [file, text] of Object.entries(files)) writeFileSync(join(p, file), text);
  return p;
}

describe("vitest repetitions in one process", () => {
  it("give each attempt its seed and ATTEMPT, and count crashes, import errors and same-named tests as one process per attempt does", async () => {
    const log = join(dir.path, "log.txt");
    const p = project("suite", {
      "vitest.config.mjs": 'export default { test: { globalSetup: ["./global.mjs"] } };\n',
      // Set up once per vitest process, whatever the number of repetitions.
      "global.mjs": [
        'import { appendFileSync } from "node:fs";',
        `export default () => appendFileSync(${JSON.stringify(log)}, \`setup \${process.pid}\\n\`);`,
        "",
      ].join("\n"),
      "seeded.test.js": [
        'import { createHash } from "node:crypto";',
        'import { appendFileSync } from "node:fs";',
        'import { expect, test } from "vitest";',
        // Read when the file loads: a repetition's file must load with its own attempt's seed.
        "const seed = process.env.TEST_SEED;",
        'test("seeded", () => {',
        '  const h = createHash("sha256").update(seed).digest().readUInt32BE(0) / 2 ** 32;',
        "  expect(h).toBeGreaterThanOrEqual(0.3);",
        "});",
        'test("records", () => {',
        // The worker's parent is the vitest process that ran the attempt.
        `  appendFileSync(${JSON.stringify(log)}, \`run \${process.env.ATTEMPT} \${seed} \${process.ppid}\\n\`);`,
        "});",
        // Two tests of one name are two tests, the second "twice [2]" (failing in attempts 2, 5, 8, …).
        'test("twice", () => {});',
        'test("twice", () => { expect(Number(process.env.ATTEMPT) % 3).not.toBe(2); });',
        "",
      ].join("\n"),
      "killed.test.js": [
        'import { test } from "vitest";',
        'test("before", () => {});',
        'test("killed", () => { if (Number(process.env.ATTEMPT) % 5 === 0) process.kill(process.pid, "SIGKILL"); });',
        'test("after", () => {});',
        // No hook runs for these: the repeating script names them from vitest's results.
        'test.skip("skipped", () => {});',
        'test.todo("todo");',
        "",
      ].join("\n"),
      "broken.test.js": [
        'import { test } from "vitest";',
        'if (Number(process.env.ATTEMPT) % 4 === 1) throw new Error("no import in attempt " + process.env.ATTEMPT);',
        'test("imported", () => {});',
        "",
      ].join("\n"),
    });
    const run = async (name: string, extra: string[]) => {
      writeFileSync(log, "");
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
          "npx",
          "vitest",
          "run",
        ],
        { cwd: p },
      );
      expect(r.code, r.stderr).toBe(0);
      return { report: readReport(out), log: readFileSync(log, "utf8").trim().split("\n"), stdout: r.stdout };
    };
    const repeated = await run("repeated", []);
    const single = await run("single", ["--repeat", "off"]);

    // Fewer processes than attempts, said in the report and on the console.
    const processes = new Set(repeated.report.attempts.map(processOf));
    expect(repeated.report.attempts).toHaveLength(20);
    expect(processes.size).toBeLessThan(20);
    expect(repeated.report.request.repetition).toMatchObject({ attempts: 20, processes: processes.size });
    expect(repeated.stdout).toMatch(/in-process repetition: 20 attempts in \d+ processes.*globalSetup/);
    expect(single.report.request.repetition).toBeUndefined();

    // Every attempt ran once with its own ATTEMPT and seed, in the vitest process the report names;
    // globalSetup ran once per process (follow-up runs come after the 20).
    const seeds = new Map(repeated.report.attempts.map((a) => [a.index, a.seed]));
    const runs = repeated.log.filter((l) => l.startsWith("run ")).map((l) => l.split(" ").map(Number));
    const main = runs.filter(([, attempt]) => (attempt as number) < 20);
    expect(main.map(([, attempt]) => attempt).sort((a, b) => (a as number) - (b as number))).toEqual(
      Array.from({ length: 20 }, (_, i) => i),
    );
    const parentOf = new Map<number, number>();
    for (const [, attempt, seed, parent] of main) {
      expect(seed).toBe(seeds.get(attempt as number));
      parentOf.set(attempt as number, parent as number);
    }
    for (const a of repeated.report.attempts) {
      if (a.process) expect(parentOf.get(a.index)).toBe(parentOf.get(a.process.first));
    }
    const setups = new Set(repeated.log.filter((l) => l.startsWith("setup ")).map((l) => l.split(" ")[1]));
    expect(setups.size).toBeLessThan(repeated.log.filter((l) => l.startsWith("run ")).length);

    // Both ways fail in exactly the same attempts, and give the same counts.
    expect(failedIn(repeated.report)).toEqual(failedIn(single.report));
    expect(countsOf(repeated.report)).toEqual(countsOf(single.report));

    const t = (id: string) => repeated.report.tests.find((x) => x.id === id);
    expect(t("seeded.test.js > seeded")?.verdict).toBe("flaky");
    // Attempts 0, 5, 10, 15 killed the worker in "killed": a crash of that test, not of its file.
    expect(t("killed.test.js > killed")).toMatchObject({ failures: 4, crashes: 4, attempts: 20 });
    expect(t("killed.test.js > after")).toMatchObject({ attempts: 16, notRun: 4 });
    expect(t("killed.test.js")).toBeUndefined();
    expect(t("killed.test.js > skipped")?.verdict).toBe("skipped");
    expect(t("killed.test.js > todo")?.verdict).toBe("skipped");
    // Attempts 1, 5, 9, 13, 17 could not import broken.test.js: a finding of the file, over all 20.
    expect(t("broken.test.js")).toMatchObject({ failures: 5, attempts: 20 });
    expect(t("broken.test.js")?.firstFailure?.message).toMatch(/no import in attempt 1/);
    expect(t("broken.test.js > imported")).toMatchObject({ attempts: 15, notRun: 5 });
    expect(t("seeded.test.js > twice")).toMatchObject({ verdict: "stable", attempts: 20 });
    expect(t("seeded.test.js > twice [2]")).toMatchObject({ failures: 6, attempts: 20 });
  }, 240_000);

  it("is off, and says why, where the command starts vitest through another program", async () => {
    const p = project("wrapped", { "a.test.js": 'import { test } from "vitest";\ntest("a", () => {});\n' });
    const out = join(dir.path, "wrapped.json");
    const r = await runCli(
      [
        "run",
        "--runs",
        "4",
        "--stop",
        "fixed",
        "--no-history",
        "--json",
        out,
        "--",
        "env",
        "EXTRA=1",
        "npx",
        "vitest",
        "run",
      ],
      { cwd: p },
    );
    expect(r.code, r.stderr).toBe(0);
    const report = readReport(out);
    expect(report.framework).toBe("vitest");
    expect(report.request.repetitionOff).toMatch(/starts vitest through "env"/);
    expect(new Set(report.attempts.map(processOf)).size).toBe(4);
    expect(report.tests[0]).toMatchObject({ id: "a.test.js > a", verdict: "stable", attempts: 4 });
  }, 120_000);
});
