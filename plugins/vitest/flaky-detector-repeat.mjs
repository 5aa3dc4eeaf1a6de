/**
 * flaky-detector's in-process repetition for vitest (docs/design/repeat.md). vitest's own `repeats`
 * option cannot be counted: a test that fails once stays failed through its later repetitions,
 * the reports give one result per test, and every repetition sees one seed. So this script takes
 * the place of the `vitest` command: it starts the project's own vitest through its Node API
 * (createVitest) and runs the same test files once per [attempt, seed] pair of
 * FLAKY_DETECTOR_REPEAT, in this one process. Before each run the seed variables and ATTEMPT take
 * the attempt's values, here and (through a file our setup file reads) in the workers, and a
 * `repetition` line goes to FLAKY_DETECTOR_EVENTS; after it, a `collect-error` line for each test
 * file that failed outside its tests, then `repetition-end`. The tests' own start and end lines
 * come from our setup file (flaky-detector-setup.mjs) in the workers. The runs share the vitest
 * process: its configuration, globalSetup (set up once) and its transform cache.
 *
 *   node flaky-detector-repeat.mjs <the arguments that followed `vitest`>
 */
import { appendFileSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, isAbsolute, join, relative, sep } from "node:path";
import { pathToFileURL } from "node:url";

const SEED_VARIABLES = ["TEST_SEED", "GO_TEST_SEED", "JEST_SEED", "VITE_TEST_SEED", "MOCHA_SEED"];
const EVENTS = process.env.FLAKY_DETECTOR_EVENTS;

function emit(event) {
  // Synchronous, like the workers' lines, so the order in the file is the order things happened.
  if (EVENTS) appendFileSync(EVENTS, `${JSON.stringify(event)}\n`);
}

/** The ES module entry of the project's `vitest/node` (the CommonJS one refuses to load). */
function vitestNode(root) {
  const manifest = createRequire(join(root, "package.json")).resolve("vitest/package.json");
  let entry = JSON.parse(readFileSync(manifest, "utf8")).exports?.["./node"];
  while (entry && typeof entry === "object") entry = entry.import ?? entry.node ?? entry.default;
  if (typeof entry !== "string") throw new Error(`${manifest} names no ES module entry for vitest/node`);
  return pathToFileURL(join(dirname(manifest), entry)).href;
}

function underCwd(path) {
  const rel = relative(process.cwd(), path);
  return rel.startsWith("..") || isAbsolute(rel) ? path : rel.split(sep).join("/");
}

/**
 * An end line for each test skipped at collection (test.skip, test.todo, a filter): no hook runs for
 * it in the worker, so our setup file never names it. A test left pending (its worker died) gets
 * none: it did not run, and is not skipped either.
 */
function skippedTests(module) {
  const file = underCwd(module.moduleId);
  for (const test of module.children?.allTests?.() ?? []) {
    if (test.result?.().state !== "skipped") continue;
    emit({
      event: "end",
      id: `${file} > ${test.fullName}`,
      key: test.id,
      file: module.moduleId,
      name: test.name,
      outcome: "skipped",
      message: null,
      durationMs: null,
    });
  }
}

/** Lines for the test files of one run that failed outside their tests (an import error, a dead worker). */
function fileErrors(result) {
  let failed = false;
  for (const m of result?.testModules ?? []) {
    skippedTests(m);
    const errors = typeof m.errors === "function" ? m.errors() : [];
    const state = typeof m.state === "function" ? m.state() : undefined;
    if (state === "failed") failed = true;
    if (errors.length === 0) continue;
    const first = errors[0];
    emit({
      event: "collect-error",
      file: underCwd(m.moduleId),
      message: String(first?.message ?? first ?? "failed outside its tests").slice(0, 2000),
    });
  }
  return failed || (result?.unhandledErrors?.length ?? 0) > 0;
}

async function main() {
  const pairs = JSON.parse(process.env.FLAKY_DETECTOR_REPEAT ?? "[]");
  const { parseCLI, createVitest } = await import(vitestNode(process.cwd()));
  const { filter, options } = parseCLI(["vitest", ...process.argv.slice(2)]);
  // What vitest's own command does to its parsed options before it starts (normalizeCliOptions).
  if (options.exclude) {
    options.cliExclude = [options.exclude].flat();
    delete options.exclude;
  }
  if (filter.some((f) => f.includes(":"))) options.includeTaskLocation ??= true;
  options.watch = false;
  options.run = true;
  // The attempt each worker runs, read by our setup file before the test file loads: vitest 3
  // gives its workers the environment it had when its pool started, not the run's.
  const current = `${EVENTS}.attempt`;
  process.env.FLAKY_DETECTOR_ATTEMPT_FILE = current;
  const vitest = await createVitest("test", options);
  let failed = false;
  const specifications = await vitest.getRelevantTestSpecifications(filter);
  try {
    if (specifications.length === 0) {
      // No test file: vitest's own start says so and fails (or passes with --passWithNoTests),
      // outside any repetition, so the attempt is read like one that ran `vitest` itself.
      const result = await vitest.start(filter).catch((e) => {
        console.error(e?.message ?? e);
        failed = true;
      });
      failed ||= fileErrors(result);
      pairs.length = 0;
    }
    let first = true;
    for (const [attempt, seed] of pairs) {
      for (const name of SEED_VARIABLES) process.env[name] = String(seed);
      process.env.ATTEMPT = String(attempt);
      writeFileSync(current, JSON.stringify({ attempt, seed }));
      const started = Date.now();
      emit({ event: "repetition", attempt, seed });
      // The first run is vitest's own start, which starts the reporters and coverage; the others
      // run the same test files again.
      const result = first
        ? await vitest.start(filter)
        : await vitest.runTestSpecifications(specifications, true);
      first = false;
      failed = fileErrors(result);
      emit({ event: "repetition-end", attempt, durationMs: Date.now() - started });
    }
  } finally {
    await vitest.close();
    rmSync(current, { force: true });
  }
  // The exit status is the last repetition's, the one the process ended in.
  process.exit(failed ? 1 : 0);
}

main().catch((e) => {
  console.error("flaky-detector: vitest could not run its tests in-process:", e);
  process.exit(1);
});
