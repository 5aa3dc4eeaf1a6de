/**
 * flaky-detector's node:test plugin: one JSON line when each test starts and ends.
 *
 * Loaded with `--require <this file>`, which `node --test` passes on to the process it starts for
 * each test file; it acts only there (NODE_TEST_CONTEXT is set in those processes) and only when
 * FLAKY_DETECTOR_EVENTS names the file to append to. A reporter in the parent never hears of the
 * test a child was running when it died: node reports a child's tests only once it ends. Global
 * beforeEach/afterEach hooks in the child do, and write synchronously, so the file still says which
 * test was running after a kill or a segfault. The id is node's full name ("describe > test"), as
 * our reading of its JUnit gives it; it needs TestContext.fullName (Node 20.16+, 22.3+) and writes
 * nothing on older Nodes. Format: docs/design/events.md.
 */
"use strict";

const PATH = process.env.FLAKY_DETECTOR_EVENTS;

if (PATH && process.env.NODE_TEST_CONTEXT) {
  const emit = require("../shared/events-writer.cjs").eventWriter(PATH);
  const { beforeEach, afterEach } = require("node:test");
  const file = process.argv[1] || null;
  const started = new Map();
  beforeEach((t) => {
    if (typeof t.fullName !== "string") return;
    started.set(t.fullName, Date.now());
    emit({ event: "start", id: t.fullName, name: t.name, file });
  });
  afterEach((t) => {
    if (typeof t.fullName !== "string") return;
    const failed = t.passed === false;
    emit({
      event: "end",
      id: t.fullName,
      name: t.name,
      outcome: failed ? "failed" : "passed",
      message: failed && t.error ? String(t.error.message || t.error).slice(0, 2000) : null,
      durationMs: Date.now() - (started.get(t.fullName) || Date.now()),
    });
    started.delete(t.fullName);
  });
}
