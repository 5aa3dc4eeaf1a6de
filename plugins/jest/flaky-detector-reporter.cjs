/**
 * flaky-detector's jest reporter: one JSON line when each test starts and ends.
 *
 * Given with `--reporters` next to jest's default one, and active only when FLAKY_DETECTOR_EVENTS
 * names the file to append to. Jest's workers tell the main process when each test case starts
 * (jest 29.6+), before running it, so when a worker dies (a kill, a segfault, process.exit) the
 * file still says which test it was running; with --runInBand the reporter shares the test's
 * process and writes synchronously for the same reason. The id is the one our reading of jest's
 * --json report gives: the file relative to the working directory, the describe blocks and the
 * title, joined by " > ". Format: docs/design/events.md.
 */
"use strict";
const { eventWriter, underCwd } = require("../shared/events-writer.cjs");

const emit = eventWriter(process.env.FLAKY_DETECTOR_EVENTS);

function idOf(path, ancestorTitles, title) {
  const file = path ? underCwd(path) : "";
  return [file, ...(ancestorTitles || []), title].filter((p) => p !== "").join(" > ");
}

class FlakyDetectorEvents {
  onTestCaseStart(test, info) {
    emit({
      event: "start",
      id: idOf(test.path, info.ancestorTitles, info.title),
      file: test.path,
      name: info.title,
    });
  }

  onTestCaseResult(test, result) {
    const outcome = result.status === "failed" ? "failed" : result.status === "passed" ? "passed" : "skipped";
    emit({
      event: "end",
      id: idOf(test.path, result.ancestorTitles, result.title),
      name: result.title,
      outcome,
      message: outcome === "failed" ? (result.failureMessages || []).join("\n").slice(0, 2000) : null,
      durationMs: typeof result.duration === "number" ? result.duration : null,
    });
  }

  getLastError() {
    return undefined;
  }
}

module.exports = FlakyDetectorEvents;
