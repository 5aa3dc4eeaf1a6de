/**
 * flaky-detector's mocha plugin: one JSON line when each test starts and ends.
 *
 * Loaded with `--require <this file>` as a root-hook plugin, next to the reporter the run already
 * uses (mocha takes one reporter; hooks leave it alone), and active only when FLAKY_DETECTOR_EVENTS
 * names the file to append to. Lines are written synchronously, so when the process dies (a
 * segfault in a native module, process.kill, our timeout) the file still says which test was
 * running. The id is the one our xunit parsing gives: the parent suites' full title, " > ", the
 * test's title. Format: docs/design/events.md.
 */
"use strict";
const { eventWriter } = require("../shared/events-writer.cjs");

const emit = eventWriter(process.env.FLAKY_DETECTOR_EVENTS);

function idOf(test) {
  const parent = test.parent && typeof test.parent.fullTitle === "function" ? test.parent.fullTitle() : "";
  return parent ? `${parent} > ${test.title}` : test.title;
}

const started = new Map();

exports.mochaHooks = {
  beforeEach() {
    const test = this.currentTest;
    if (!test) return;
    const id = idOf(test);
    started.set(id, Date.now());
    emit({ event: "start", id, name: test.title, file: test.file || null });
  },
  afterEach() {
    const test = this.currentTest;
    if (!test) return;
    const id = idOf(test);
    const outcome = test.state === "failed" ? "failed" : test.state === "passed" ? "passed" : "skipped";
    const err = test.err;
    emit({
      event: "end",
      id,
      name: test.title,
      outcome,
      message: outcome === "failed" && err ? String(err.message || err).slice(0, 2000) : null,
      durationMs: Date.now() - (started.get(id) || Date.now()),
    });
    started.delete(id);
  },
};
