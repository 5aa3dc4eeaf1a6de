/**
 * flaky-detector's mocha plugin: one JSON line when each test starts and ends.
 *
 * Loaded with `--require <this file>` as a root-hook plugin, next to the reporter the run already
 * uses (mocha takes one reporter; hooks leave it alone), and active only when FLAKY_DETECTOR_EVENTS
 * names the file to append to. Lines are written synchronously, so when the process dies (a
 * segfault in a native module, process.kill, our timeout) the file still says which test was
 * running. The id is the one our xunit parsing gives: the parent suites' full title, " > ", the
 * test's title. Format: docs/design/events.md.
 *
 * With FLAKY_DETECTOR_SHUFFLE_SEED set (`--shuffle`, mocha having no seeded order of its own), a
 * root `beforeAll` hook puts the loaded tree in an order drawn from that seed before any test runs:
 * each suite's tests, then its child suites, shuffled and walked in that order, so `before`/`after`
 * hooks still run once per suite. mocha's --grep skips tests while it runs them, not when it loads
 * them, so the same seed with fewer tests selected runs them in the same relative order — which is
 * how an order search replays a failing order (docs/design/order.md).
 */
"use strict";
const { eventWriter } = require("../shared/events-writer.cjs");

const emit = eventWriter(process.env.FLAKY_DETECTOR_EVENTS);

function idOf(test) {
  const parent = test.parent && typeof test.parent.fullTitle === "function" ? test.parent.fullTitle() : "";
  return parent ? `${parent} > ${test.title}` : test.title;
}

const started = new Map();

/** mulberry32: a small seeded generator; the order only has to be the same for the same seed. */
function generator(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffle(items, random) {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
}

function shuffleTree(suite, random) {
  shuffle(suite.tests, random);
  shuffle(suite.suites, random);
  for (const child of suite.suites) shuffleTree(child, random);
}

const shuffleSeed = process.env.FLAKY_DETECTOR_SHUFFLE_SEED;

exports.mochaHooks = {
  beforeAll() {
    // `this.test` is this hook; its parent the root suite, every file's tests already loaded.
    const root = this.test?.parent;
    if (shuffleSeed !== undefined && root) shuffleTree(root, generator(Number(shuffleSeed)));
  },
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
