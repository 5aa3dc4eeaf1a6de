import { parseJUnit } from "../parsers/junit.js";
import { escapeRegExp, type FrameworkAdapter, toolIndex } from "./types.js";

/** Mocha: the built-in xunit reporter; its `name` is the full title, which is also what --grep matches. */
export const mocha: FrameworkAdapter = {
  name: "mocha",
  results: "file",
  extension: "xml",
  shuffleUnsupported: "mocha has no seeded shuffle of its own",
  matches: (argv) => toolIndex(argv, "mocha") !== -1,
  prepare(argv, ctx, report = true) {
    const args = [...argv];
    if (ctx.tests.length > 0) args.push("--grep", `^(?:${ctx.tests.map(escapeRegExp).join("|")})$`);
    if (report && ctx.resultFile) args.push("--reporter", "xunit", "--reporter-option", `output=${ctx.resultFile}`);
    return { argv: args, env: {} };
  },
  parse: (text) => parseJUnit(text, (c) => c.name),
};
