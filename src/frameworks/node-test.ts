import { parseJUnit } from "../parsers/junit.js";
import { basename, escapeRegExp, type FrameworkAdapter } from "./types.js";

const NODE_MAJOR = Number(process.versions.node.split(".")[0]);

/** node:test: the junit reporter to a file plus spec on stdout; ids are the describe path and test name. */
export const nodeTest: FrameworkAdapter = {
  name: "node-test",
  results: "file",
  extension: "xml",
  shuffleUnsupported:
    NODE_MAJOR >= 22 ? null : `node ${process.versions.node} has no --test-random-seed (Node 22 added it)`,
  matches: (argv) => /^node(js)?$/.test(basename(argv[0])) && argv.includes("--test"),
  prepare(argv, ctx, report = true) {
    // Node options must come before the test files, so ours go right after the executable.
    const extra: string[] = [];
    if (ctx.tests.length > 0) {
      const names = ctx.tests.map((id) => id.split(" > ").pop() ?? id);
      extra.push(`--test-name-pattern=^(?:${names.map(escapeRegExp).join("|")})$`);
    }
    if (ctx.shuffle) extra.push(`--test-random-seed=${ctx.seed}`);
    if (report && ctx.resultFile) {
      extra.push(
        "--test-reporter=spec",
        "--test-reporter-destination=stdout",
        "--test-reporter=junit",
        `--test-reporter-destination=${ctx.resultFile}`,
      );
    }
    return { argv: [argv[0] as string, ...extra, ...argv.slice(1)], env: {} };
  },
  junitId: (c) => [...c.suites, c.name].join(" > "),
  parse: (text) =>
    parseJUnit(
      text,
      (c) => [...c.suites, c.name].join(" > "),
      // Node writes the message attribute with its newlines removed; the body keeps them, behind
      // a "[Error [ERR_TEST_FAILURE]: " wrapper.
      (c) => (c.body ? c.body.replace(/^\[Error \[ERR_TEST_FAILURE\]: /, "") : c.message),
    ),
};
