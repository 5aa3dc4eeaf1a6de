import { parseGoTestJson } from "../parsers/go-json.js";
import { basename, escapeRegExp, type FrameworkAdapter } from "./types.js";

/** go test: -json on stdout, -count=1 so results are never served from the test cache. */
export const go: FrameworkAdapter = {
  name: "go",
  results: "stdout",
  extension: "jsonl",
  shuffleUnsupported: null,
  matches: (argv) => basename(argv[0]) === "go" && argv[1] === "test",
  prepare(argv, ctx, report = true) {
    const flags: string[] = [];
    if (report) flags.push("-json");
    if (!argv.some((a) => a.startsWith("-count"))) flags.push("-count=1");
    if (ctx.tests.length > 0) {
      // Ids are "pkg.TestName[/sub]": run whole top-level tests; results are filtered to the ids.
      const tops = [...new Set(ctx.tests.map((id) => (id.split(".").pop() ?? id).split("/")[0] as string))];
      flags.push("-run", `^(?:${tops.map(escapeRegExp).join("|")})$`);
    }
    if (ctx.shuffle) flags.push(`-shuffle=${ctx.seed}`);
    return { argv: [argv[0] as string, "test", ...flags, ...argv.slice(2)], env: {} };
  },
  parse: (text) => parseGoTestJson(text),
};
