import { join } from "node:path";
import { parseJestJson } from "../parsers/jest-json.js";
import { ResultParseError } from "../parsers/types.js";
import { fileOfId, jestFilter } from "./jest.js";
import { nodeRepeatArgv, nodeRepeatRefusal, VITEST_REPEAT } from "./node-repeat.js";
import { pluginDir } from "./plugins.js";
import { type FrameworkAdapter, type ListedTest, repoRelative, toolIndex } from "./types.js";

/** Vitest: its json reporter writes Jest's shape; the default reporter keeps the console readable. */
export const vitest: FrameworkAdapter = {
  name: "vitest",
  results: "file",
  extension: "json",
  shuffleUnsupported: null,
  orderReplay: { by: "seed", group: fileOfId },
  // Through our script, which runs the project's vitest once per attempt (node-repeat.ts).
  repeats: {
    shares:
      "the vitest process: its configuration, globalSetup (set up once for all repetitions) and its transform cache; each repetition imports the test files afresh in new workers",
    workers: true,
    refuses: (argv, cwd) => nodeRepeatRefusal(VITEST_REPEAT, argv, cwd),
  },
  matches: (argv) => toolIndex(argv, "vitest") !== -1,
  prepare(argv, ctx, report = true) {
    const plugins = report && ctx.eventsFile ? pluginDir("vitest") : undefined;
    const repeat = plugins && ctx.repeat && ctx.repeat.length > 0 ? ctx.repeat : undefined;
    const args = repeat
      ? nodeRepeatArgv(VITEST_REPEAT, argv, join(plugins as string, "flaky-detector-repeat.mjs"))
      : [...argv];
    // Watch mode needs a TTY on stdin; attempts get none, so vitest runs once and exits.
    if (ctx.tests.length > 0) {
      const f = jestFilter(ctx.tests);
      // Unlike jest, vitest matches file arguments as plain substrings of the path.
      args.push("-t", f.pattern, ...f.files);
    }
    if (ctx.shuffle) args.push("--sequence.shuffle", `--sequence.seed=${ctx.seed}`);
    if (report && ctx.resultFile)
      args.push("--reporter=default", "--reporter=json", `--outputFile.json=${ctx.resultFile}`);
    const env: Record<string, string> = {};
    if (plugins && ctx.eventsFile) {
      // Adds a setup file that says, from inside the worker, which test was running when it died.
      args.push(`--reporter=${join(plugins, "flaky-detector-reporter.mjs")}`);
      env.FLAKY_DETECTOR_EVENTS = ctx.eventsFile;
      if (repeat) env.FLAKY_DETECTOR_REPEAT = JSON.stringify(repeat.map((r) => [r.index, r.seed]));
    }
    return { argv: args, env };
  },
  // vitest's junit reporter: classname the file, name the describe path and title joined by " > ".
  junitId: (c) => [c.classname ?? "", c.name].filter((p) => p !== "").join(" > "),
  list(argv, listFile) {
    const i = toolIndex(argv, "vitest");
    const args = [...argv];
    // `vitest list` takes the same filters and config as `vitest run`, in place of the subcommand.
    if (SUBCOMMANDS.has(args[i + 1] ?? "")) args[i + 1] = "list";
    else args.splice(i + 1, 0, "list");
    return {
      argv: [...args, `--json=${listFile}`],
      env: {},
      parse: (_stdout, fileText, cwd) => parseVitestList(fileText ?? "", cwd),
    };
  },
  parse: (text, cwd) => parseJestJson(text, cwd, "vitest"),
};

const SUBCOMMANDS = new Set(["run", "watch", "dev", "related", "list"]);

/** `vitest list --json`: [{ name: "describe > test", file: "/abs/x.spec.ts" }]; ids as in results. */
function parseVitestList(text: string, cwd: string): ListedTest[] {
  const doc = JSON.parse(text) as unknown;
  if (!Array.isArray(doc)) throw new ResultParseError("vitest list", "not a JSON array");
  const out: ListedTest[] = [];
  for (const entry of doc as { name?: unknown; file?: unknown }[]) {
    if (typeof entry?.name !== "string") continue;
    const file = typeof entry.file === "string" ? repoRelative(entry.file, cwd) : null;
    const titles = entry.name.split(" > ");
    out.push({ id: [file ?? "", ...titles].filter((p) => p !== "").join(" > "), file, titles });
  }
  return out;
}
