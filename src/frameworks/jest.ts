import { join } from "node:path";
import { parseJestJson } from "../parsers/jest-json.js";
import { JEST_REPEAT, nodeRepeatArgv, nodeRepeatRefusal } from "./node-repeat.js";
import { pluginDir } from "./plugins.js";
import { escapeRegExp, type FrameworkAdapter, listedFromIds, toolIndex } from "./types.js";

/** A test id "file > describe > title" as jest's -t sees it: "describe title". */
export function jestFilter(tests: readonly string[]): { files: string[]; pattern: string } {
  const files = new Set<string>();
  const names = new Set<string>();
  for (const id of tests) {
    const [file, ...rest] = id.split(" > ");
    if (file) files.add(file);
    names.add(rest.join(" "));
  }
  return { files: [...files], pattern: `^(?:${[...names].map(escapeRegExp).join("|")})$` };
}

/** The file of a test id "file > describe > title" (jest, vitest). */
export function fileOfId(id: string): string {
  return id.split(" > ")[0] ?? id;
}

export const jest: FrameworkAdapter = {
  name: "jest",
  results: "file",
  extension: "json",
  shuffleUnsupported: null,
  orderReplay: { by: "seed", group: fileOfId },
  // Through our script, which calls the project's jest (runCLI) once per attempt (node-repeat.ts).
  repeats: {
    shares:
      "the jest process and the modules it loaded (with --runInBand, or jest's own choice to run one file in band, the tests run in it too, each test file in a fresh module registry); each repetition reads the configuration, runs globalSetup and starts its workers again",
    workers: true,
    refuses: (argv, cwd) => nodeRepeatRefusal(JEST_REPEAT, argv, cwd),
  },
  matches: (argv) => toolIndex(argv, "jest") !== -1,
  prepare(argv, ctx, report = true) {
    const plugins = report && ctx.eventsFile ? pluginDir("jest") : undefined;
    const repeat = plugins && ctx.repeat && ctx.repeat.length > 0 ? ctx.repeat : undefined;
    const args = repeat
      ? nodeRepeatArgv(JEST_REPEAT, argv, join(plugins as string, "flaky-detector-repeat.cjs"))
      : [...argv];
    if (ctx.tests.length > 0) {
      const f = jestFilter(ctx.tests);
      args.push("-t", f.pattern, ...f.files.map((file) => escapeRegExp(file)));
    }
    if (ctx.shuffle) args.push("--randomize", `--seed=${ctx.seed}`);
    if (report && ctx.resultFile)
      args.push("--json", `--outputFile=${ctx.resultFile}`, "--testLocationInResults");
    const env: Record<string, string> = {};
    if (plugins && ctx.eventsFile) {
      // Reporters given on the command line replace the configured ones: keep jest's console
      // output unless the command names its own.
      if (!argv.some((w) => w === "--reporters" || w.startsWith("--reporters=")))
        args.push("--reporters=default");
      args.push(`--reporters=${join(plugins, "flaky-detector-reporter.cjs")}`);
      env.FLAKY_DETECTOR_EVENTS = ctx.eventsFile;
      if (repeat) env.FLAKY_DETECTOR_REPEAT = JSON.stringify(repeat.map((r) => [r.index, r.seed]));
    }
    return { argv: args, env };
  },
  // A name filter that matches nothing: jest loads every test file and reports each test as
  // pending without running its body or hooks. Slower than a pure listing (imports run), exact.
  list: (argv, listFile) => ({
    argv: [...argv, "-t", "(?!)", "--json", `--outputFile=${listFile}`, "--testLocationInResults"],
    env: {},
    parse: (_stdout, fileText, cwd) => listedFromIds(parseJestJson(fileText ?? "", cwd), true),
  }),
  parse: (text, cwd) => parseJestJson(text, cwd),
};
