import { type JUnitCase, parseJUnit, parseJUnitCases } from "../parsers/junit.js";
import { basename, escapeRegExp, type FrameworkAdapter, toolIndex } from "./types.js";

/**
 * Playwright Test: its junit reporter to a file next to the list reporter on the console. Ids are
 * `file > describe > title` (the junit classname is the file, the name the titles joined by " › ").
 * Retries are turned off: a retry that passes would hide the failure being measured.
 */
export const playwright: FrameworkAdapter = {
  name: "playwright",
  results: "file",
  extension: "xml",
  shuffleUnsupported: "Playwright Test has no seeded shuffle",
  matches: (argv) => {
    const i = toolIndex(argv, "playwright");
    return i !== -1 && argv[i + 1] === "test";
  },
  prepare(argv, ctx, report = true) {
    const args = [...argv, "--retries=0"];
    if (ctx.tests.length > 0) args.push("-g", playwrightGrep(ctx.tests));
    const env: Record<string, string> = {};
    if (report && ctx.resultFile) {
      args.push("--reporter=list,junit");
      env.PLAYWRIGHT_JUNIT_OUTPUT_NAME = ctx.resultFile;
    }
    return { argv: args, env };
  },
  junitId: playwrightId,
  // --list reports every test (as skipped) without running any, through the same junit reporter.
  list: (argv, listFile) => ({
    argv: [...argv, "--list", "--reporter=junit"],
    env: { PLAYWRIGHT_JUNIT_OUTPUT_NAME: listFile },
    parse: (_stdout, fileText) =>
      parseJUnitCases(fileText ?? "").map((c) => ({
        id: playwrightId(c),
        file: c.classname,
        titles: c.name.split(" › "),
      })),
  }),
  // Playwright names a test whose worker died ("worker process exited unexpectedly (…signal=SIGKILL)").
  parse: (text) =>
    parseJUnit(text, playwrightId).map((t) =>
      t.status === "failed" && /worker process exited unexpectedly/.test(t.message ?? "")
        ? { ...t, died: "crashed" as const }
        : t,
    ),
};

function playwrightId(c: JUnitCase): string {
  return [c.classname ?? "", ...c.name.split(" › ")].filter((p) => p !== "").join(" > ");
}

/**
 * `-g` matches "[project] file describe… title" joined by spaces, with the file relative to the
 * test directory: each id becomes its file's name and titles, anchored at the end and at a word
 * or path boundary, so "adds tax" alone does not select "cart totals adds tax".
 */
export function playwrightGrep(tests: readonly string[]): string {
  const each = tests.map((id) => {
    const [file = "", ...titles] = id.split(" > ");
    return `${escapeRegExp(basename(file))} ${titles.map(escapeRegExp).join(" ")}`;
  });
  return `(?:^|[ /])(?:${each.join("|")})$`;
}
