/**
 * What flaky-detector's JavaScript event plugins (mocha, jest, vitest, node:test) share: appending
 * one JSON line per event to the file FLAKY_DETECTOR_EVENTS names, synchronously so the line is on
 * disk before a crash, and test files named as our result parsing names them. Format:
 * docs/design/events.md.
 */
"use strict";
const { appendFileSync } = require("node:fs");
const { isAbsolute, relative, sep } = require("node:path");

/** A writer of event lines to `path`, or a no-op without one. */
function eventWriter(path) {
  return (event) => {
    if (!path) return;
    try {
      appendFileSync(path, `${JSON.stringify(event)}\n`);
    } catch {
      // Events are an aid to attribution; a full disk must not fail the user's tests.
    }
  };
}

/** A path under the working directory relative to it with forward slashes; others as given. */
function underCwd(path) {
  const rel = relative(process.cwd(), path);
  return rel.startsWith("..") || isAbsolute(rel) ? path : rel.split(sep).join("/");
}

module.exports = { eventWriter, underCwd };
