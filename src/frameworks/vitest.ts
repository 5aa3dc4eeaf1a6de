import { parseJestJson } from "../parsers/jest-json.js";
import { jestFilter } from "./jest.js";
import { type FrameworkAdapter, toolIndex } from "./types.js";

/** Vitest: its json reporter writes Jest's shape; the default reporter keeps the console readable. */
export const vitest: FrameworkAdapter = {
  name: "vitest",
  results: "file",
  extension: "json",
  shuffleUnsupported: null,
  matches: (argv) => toolIndex(argv, "vitest") !== -1,
  prepare(argv, ctx, report = true) {
    const args = [...argv];
    // Watch mode needs a TTY on stdin; attempts get none, so vitest runs once and exits.
    if (ctx.tests.length > 0) {
      const f = jestFilter(ctx.tests);
      // Unlike jest, vitest matches file arguments as plain substrings of the path.
      args.push("-t", f.pattern, ...f.files);
    }
    if (ctx.shuffle) args.push("--sequence.shuffle", `--sequence.seed=${ctx.seed}`);
    if (report && ctx.resultFile)
      args.push("--reporter=default", "--reporter=json", `--outputFile.json=${ctx.resultFile}`);
    return { argv: args, env: {} };
  },
  parse: (text, cwd) => parseJestJson(text, cwd, "vitest"),
};
