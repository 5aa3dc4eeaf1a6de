/**
 * Runs in each vitest worker (added by flaky-detector-reporter.mjs): one JSON line when each test
 * starts and ends, appended synchronously, so when the worker dies (a kill, a segfault,
 * process.exit) the file still says which test was running. The id is the one our reading of
 * vitest's json report gives: the file relative to the working directory, the describe blocks and
 * the title, joined by " > ".
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";

// Required, not imported: vitest's module runner would otherwise try to transform the shared file.
const { eventWriter, underCwd } = createRequire(import.meta.url)("../shared/events-writer.cjs");

const PATH = process.env.FLAKY_DETECTOR_EVENTS;
const VITEST = process.env.FLAKY_DETECTOR_VITEST;
const emit = eventWriter(PATH);

function idOf(task) {
  const titles = [];
  for (let t = task; t && t !== task.file && t.type !== undefined; t = t.suite) titles.unshift(t.name);
  const file = task.file?.filepath ? underCwd(task.file.filepath) : "";
  return { id: [file, ...titles].filter((p) => p !== "").join(" > "), file: task.file?.filepath ?? null };
}

// In-process repetition (flaky-detector-repeat.mjs): this test file runs in the attempt the file
// names, with its seed, whatever environment the worker started with.
const ATTEMPT_FILE = process.env.FLAKY_DETECTOR_ATTEMPT_FILE;
if (ATTEMPT_FILE) {
  try {
    const { attempt, seed } = JSON.parse(readFileSync(ATTEMPT_FILE, "utf8"));
    for (const name of ["TEST_SEED", "GO_TEST_SEED", "JEST_SEED", "VITE_TEST_SEED", "MOCHA_SEED"])
      process.env[name] = String(seed);
    process.env.ATTEMPT = String(attempt);
  } catch {
    // Not repeating (the file is written before each repetition's run).
  }
}

if (PATH && VITEST) {
  const { beforeEach } = await import(pathToFileURL(VITEST).href);
  beforeEach((ctx) => {
    const task = ctx.task;
    const { id, file } = idOf(task);
    const started = Date.now();
    // The task id tells apart two tests of one name (reported as "name [2]").
    emit({ event: "start", id, key: task.id, file, name: task.name });
    // Registered per test, it runs once the test's result is known (after its afterEach hooks).
    ctx.onTestFinished?.(() => {
      const state = task.result?.state;
      const outcome = state === "fail" ? "failed" : state === "pass" ? "passed" : "skipped";
      const error = task.result?.errors?.[0];
      emit({
        event: "end",
        id,
        key: task.id,
        name: task.name,
        outcome,
        message: outcome === "failed" && error ? String(error.message ?? error).slice(0, 2000) : null,
        durationMs: Date.now() - started,
      });
    });
  });
}
