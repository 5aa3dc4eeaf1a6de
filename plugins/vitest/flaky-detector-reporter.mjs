/**
 * flaky-detector's vitest reporter: it reports nothing itself. A reporter in vitest's main process
 * never hears of the test a dead worker was running (the worker's updates are sent in batches and
 * die with it), and vitest has no command-line option to add a setup file. So this reporter,
 * given with `--reporter`, adds our setup file (flaky-detector-setup.mjs) to every project before
 * the workers start; the setup file writes one JSON line when each test starts and ends, from
 * inside the worker, synchronously. Active only when FLAKY_DETECTOR_EVENTS names the file to append
 * to. Format: docs/design/events.md.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const SETUP = join(dirname(fileURLToPath(import.meta.url)), "flaky-detector-setup.mjs");

export default class FlakyDetectorEvents {
  onInit(vitest) {
    if (!process.env.FLAKY_DETECTOR_EVENTS) return;
    try {
      // The setup file must register its hooks on the project's own vitest, which it cannot find
      // by name from this package's directory: say where it is (workers inherit the environment).
      const root = vitest.config?.root ?? process.cwd();
      process.env.FLAKY_DETECTOR_VITEST = vitestEntry(root);
      for (const project of vitest.projects ?? []) {
        // Browser tests have no file system to append to.
        if (project.config.browser?.enabled) continue;
        const files = project.config.setupFiles ?? [];
        // First, so that the user's own setup files see the attempt's seed too.
        if (!files.includes(SETUP)) project.config.setupFiles = [SETUP, ...files];
      }
    } catch {
      // Events are an aid to attribution; without them attempts are read from the results file.
    }
  }
}

/** The ES module entry of the project's vitest (the CommonJS one refuses to load). */
function vitestEntry(root) {
  const manifest = createRequire(join(root, "package.json")).resolve("vitest/package.json");
  const dot = JSON.parse(readFileSync(manifest, "utf8")).exports?.["."];
  let entry = dot?.import ?? dot?.default ?? dot;
  while (entry && typeof entry === "object") entry = entry.node ?? entry.default;
  if (typeof entry !== "string") throw new Error("vitest's package.json names no ES module entry");
  return join(dirname(manifest), entry);
}
