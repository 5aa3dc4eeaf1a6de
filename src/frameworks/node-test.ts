import { isAbsolute, join, relative, sep } from "node:path";
import { parseJUnit } from "../parsers/junit.js";
import type { ParsedTest } from "../parsers/types.js";
import { pluginDir } from "./plugins.js";
import { basename, escapeRegExp, type FrameworkAdapter, listedFromIds } from "./types.js";

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
    let rest = argv.slice(1);
    const files = ctx.tests.filter(isFileId);
    const names = ctx.tests.filter((id) => !isFileId(id)).map((id) => id.split(" > ").pop() ?? id);
    if (files.length > 0) {
      // A file's own finding (its process died before its tests reported) reruns that file: the
      // user's options stay, their file arguments give way to it.
      rest = [...rest.filter((a, i) => a.startsWith("-") || VALUE_FLAGS.has(rest[i - 1] ?? "")), ...files];
    }
    if (names.length > 0) extra.push(`--test-name-pattern=^(?:${names.map(escapeRegExp).join("|")})$`);
    if (ctx.shuffle) extra.push(`--test-random-seed=${ctx.seed}`);
    if (report && ctx.resultFile) {
      extra.push(
        "--test-reporter=spec",
        "--test-reporter-destination=stdout",
        "--test-reporter=junit",
        `--test-reporter-destination=${ctx.resultFile}`,
      );
    }
    const env: Record<string, string> = {};
    const plugins = report && ctx.eventsFile ? pluginDir("node-test") : undefined;
    if (plugins && ctx.eventsFile) {
      // Passed on to each test file's process: hooks there say which test was running when it died.
      extra.push("--require", join(plugins, "flaky-detector-events.cjs"));
      env.FLAKY_DETECTOR_EVENTS = ctx.eventsFile;
    }
    return { argv: [argv[0] as string, ...extra, ...rest], env };
  },
  junitId: (c) => [...c.suites, c.name].join(" > "),
  list(argv, listFile) {
    // No dry run in node:test; a name pattern nothing matches reports every test as skipped (Node
    // 20). Newer Nodes leave such tests out, and an empty listing is not trusted.
    const p = nodeTest.prepare(argv, { resultFile: listFile, seed: 0, shuffle: false, tests: [] });
    return {
      argv: [p.argv[0] as string, "--test-name-pattern=(?!)", ...p.argv.slice(1)],
      env: p.env,
      parse: (_stdout, fileText, cwd) => listedFromIds(nodeTest.parse(fileText ?? "", cwd), false),
    };
  },
  parse: (text, cwd) =>
    parseJUnit(
      text,
      (c) => [...c.suites, c.name].join(" > "),
      // Node writes the message attribute with its newlines removed; the body keeps them, behind
      // a "[Error [ERR_TEST_FAILURE]: " wrapper.
      (c) => (c.body ? c.body.replace(/^\[Error \[ERR_TEST_FAILURE\]: /, "") : c.message),
    ).map((t) => asFileFinding(t, cwd)),
};

/** Node options that take the next word as their value (kept with it when file arguments are replaced). */
const VALUE_FLAGS = new Set([
  "--import",
  "--require",
  "-r",
  "--loader",
  "--experimental-loader",
  "--conditions",
  "-C",
  "--env-file",
  "--test-reporter",
  "--test-reporter-destination",
  "--test-name-pattern",
  "--test-skip-pattern",
  "--test-concurrency",
  "--test-timeout",
]);

/** "test/c.test.js": an id naming a file rather than a "describe > test" path. */
function isFileId(id: string): boolean {
  return !id.includes(" > ") && /\.[cm]?[jt]sx?$/.test(id);
}

/**
 * A test file whose process died (a kill, a segfault, process.exit in a test) or failed outside
 * any test appears in node's JUnit as one failed testcase named by the file's absolute path, with
 * none of that file's per-test results (the runner reports a child's tests only once it ends). It
 * becomes a finding of the file, counted over every attempt (absent = the file ran cleanly), named
 * by its repository-relative path rather than the slot's; the file's tests did not run there.
 */
function asFileFinding(t: ParsedTest, cwd: string): ParsedTest {
  if (!isAbsolute(t.name) || t.id !== t.name) return t;
  const rel = relative(cwd, t.name);
  const file = rel.startsWith("..") || isAbsolute(rel) ? t.name : rel.split(sep).join("/");
  if (t.status !== "failed") return { ...t, id: file, name: file, file };
  const signal = /signal: '(SIG[A-Z0-9]+)'/.exec(t.message ?? "")?.[1];
  const exit = /exitCode: (\d+)/.exec(t.message ?? "")?.[1];
  const how = signal
    ? `crashed: the process running ${file} was killed by ${signal}`
    : exit
      ? `the process running ${file} exited with ${exit}`
      : `${file} failed outside its tests`;
  return {
    ...t,
    id: file,
    name: `file ${file}`,
    file,
    kind: "collection",
    message: `${how} before its tests reported (node:test gives no per-test results for it)\n${t.message ?? ""}`,
    ...(signal ? { died: "crashed" as const } : {}),
  };
}
