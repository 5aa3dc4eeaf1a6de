import { join } from "node:path";
import { type JUnitCase, parseJUnit, parseJUnitCases } from "../parsers/junit.js";
import { pluginDir } from "./plugins.js";
import { escapeRegExp, type FrameworkAdapter, repoRelative, toolIndex } from "./types.js";

/**
 * Mocha: the built-in xunit reporter. Its classname is the suite's full title and its name the
 * test's title; the id joins them with " > ", and --grep gets the space-joined full title mocha matches.
 */
export const mocha: FrameworkAdapter = {
  name: "mocha",
  results: "file",
  extension: "xml",
  // mocha has no seeded order of its own: our plugin shuffles the loaded tree from the seed.
  shuffleUnsupported: pluginDir("mocha")
    ? null
    : "this installation has no plugins/mocha directory, whose plugin orders mocha's tests by seed; reinstall flaky-detector",
  // --grep skips tests as they come up in the order the seed gave the whole tree, so fewer tests
  // run in the same relative order. Every file is loaded into one process (one root suite), so a
  // polluter may be in any file; with --parallel it is not, and a replay says it did not fail.
  orderReplay: { by: "seed", group: () => "" },
  matches: (argv) => toolIndex(argv, "mocha") !== -1,
  prepare(argv, ctx, report = true) {
    const args = [...argv];
    if (ctx.tests.length > 0) {
      const titles = ctx.tests.map((id) => escapeRegExp(id.split(" > ").join(" ")));
      args.push("--grep", `^(?:${titles.join("|")})$`);
    }
    if (report && ctx.resultFile)
      args.push("--reporter", "xunit", "--reporter-option", `output=${ctx.resultFile}`);
    const env: Record<string, string> = {};
    const events = report && ctx.eventsFile ? ctx.eventsFile : undefined;
    // A root-hook plugin says which test was running when the process died (a kill, a segfault),
    // and orders the tests by the seed for --shuffle (also in a reproduce line, which needs it).
    const plugins = events || ctx.shuffle ? pluginDir("mocha") : undefined;
    if (plugins) {
      args.push("--require", join(plugins, "flaky-detector-events.cjs"));
      if (events) env.FLAKY_DETECTOR_EVENTS = events;
      if (ctx.shuffle) env.FLAKY_DETECTOR_SHUFFLE_SEED = String(ctx.seed);
    }
    return { argv: args, env };
  },
  // A CI run's xunit file (--from-junit, the Action's artifacts) carries the runner's absolute path
  // in `file`; the identity is the titles, as when we run mocha ourselves.
  junitId: mochaId,
  // --dry-run (mocha 9+) reports every test as passed without running tests or hooks.
  list: (argv, listFile) => ({
    argv: [...argv, "--dry-run", "--reporter", "xunit", "--reporter-option", `output=${listFile}`],
    env: {},
    parse: (_stdout, fileText, cwd) =>
      parseJUnitCases(fileText ?? "").map((c) => ({
        id: mochaId(c),
        file: c.file ? repoRelative(c.file, cwd) : null,
        // The classname is the parent suites' titles already joined with spaces, as mocha's full title.
        titles: c.classname ? [c.classname, c.name] : [c.name],
      })),
  }),
  parse: (text) => parseJUnit(text, mochaId),
};

function mochaId(c: JUnitCase): string {
  return c.classname ? `${c.classname} > ${c.name}` : c.name;
}
