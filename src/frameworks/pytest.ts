import { parseJUnit } from "../parsers/junit.js";
import type { ParsedTest } from "../parsers/types.js";
import { pluginDir } from "./plugins.js";
import { basename, type FrameworkAdapter, type ListedTest, type PrepareContext } from "./types.js";

/** pytest: JUnit XML in the xunit1 family, which carries `file` and `line`, so ids are pytest node ids. */
export const pytest: FrameworkAdapter = {
  name: "pytest",
  repeatsShareId: true,
  orderReplay: { by: "arguments" },
  repeats: {
    shares:
      "imported modules and their globals, and PYTHONHASHSEED (str hashing is fixed per process); fixtures of every scope are set up afresh",
  },
  results: "file",
  extension: "xml",
  // Our plugin orders the collected tests from the attempt's seed (pytest-randomly not needed).
  shuffleUnsupported: pluginDir("pytest")
    ? null
    : "this installation has no plugins/pytest directory, whose plugin orders pytest's tests by seed; reinstall flaky-detector",
  matches(argv) {
    const b = basename(argv[0]);
    if (b === "pytest" || b === "py.test") return true;
    const m = argv.indexOf("-m");
    return /^python(\d(\.\d+)?)?$/.test(b) && m !== -1 && argv[m + 1] === "pytest";
  },
  prepare(argv, ctx: PrepareContext, report = true) {
    let args = [...argv];
    if (ctx.tests.length > 0) {
      // A path argument that contains the requested tests would run its whole file; drop it.
      const files = new Set(ctx.tests.map((t) => t.split("::")[0]));
      args = args.filter(
        (a, i) => i === 0 || a.startsWith("-") || args[i - 1] === "-m" || !isPrefixOfAny(a, files),
      );
      args.push(...ctx.tests);
    }
    if (report && ctx.resultFile) args.push(`--junitxml=${ctx.resultFile}`, "-o", "junit_family=xunit1");
    const env: Record<string, string> = {};
    const events = report && ctx.eventsFile ? ctx.eventsFile : undefined;
    // Our plugin says which test was running when a process died (a segfault, a kill), and puts
    // the tests in the seed's order for --shuffle (also in a reproduce line, which needs the order).
    const plugins = events || ctx.shuffle ? pluginDir("pytest") : undefined;
    if (plugins) {
      args.push("-p", "flaky_detector_events");
      env.PYTHONPATH = plugins;
      if (events) env.FLAKY_DETECTOR_EVENTS = events;
      if (ctx.shuffle) env.FLAKY_DETECTOR_SHUFFLE_SEED = String(ctx.seed);
      if (events && ctx.repeat && ctx.repeat.length > 0)
        env.FLAKY_DETECTOR_REPEAT = JSON.stringify(ctx.repeat.map((r) => [r.index, r.seed]));
    }
    return { argv: args, env };
  },
  list(argv) {
    // At verbosity -1 (-q) --collect-only prints one node id per line; the user's own -q/-v
    // flags shift it, so ours bring it back to exactly -1.
    const shift = -1 - verbosity(argv);
    const flags = Array.from({ length: Math.abs(shift) }, () => (shift < 0 ? "-q" : "-v"));
    return {
      argv: [...argv, "--collect-only", ...flags, "-p", "no:cacheprovider"],
      env: {},
      parse: (stdout) => parseCollected(stdout),
    };
  },
  parse: (text) => parseJUnit(text).map(asCollectionFinding),
};

/** pytest's verbosity from -q/-v flags (-qq, --quiet, -vv, --verbose); -1 per q, +1 per v. */
function verbosity(argv: readonly string[]): number {
  let v = 0;
  for (const a of argv.slice(1)) {
    if (a === "--quiet") v--;
    else if (a === "--verbose") v++;
    else if (/^-[qv]+$/.test(a)) for (const ch of a.slice(1)) v += ch === "v" ? 1 : -1;
  }
  return v;
}

/** `pytest --collect-only -q`: node ids, one per line, until the blank line before the summary. */
function parseCollected(stdout: string): ListedTest[] {
  const out: ListedTest[] = [];
  for (const line of stdout.split("\n")) {
    const id = line.trimEnd();
    if (id === "" && out.length > 0) break;
    if (!id.includes("::") || /^\s/.test(line)) continue;
    const [file, ...titles] = id.split("::");
    out.push({ id, file: file ?? null, titles });
  }
  return out;
}

/**
 * pytest writes a module it could not import as a failed testcase named after the module, with
 * the message "collection failure". It becomes the module's finding: id the module's file, so
 * that attempts in which the module imported count as passes of it.
 */
function asCollectionFinding(t: ParsedTest): ParsedTest {
  if (t.status !== "failed" || !t.message?.startsWith("collection failure") || !t.file) return t;
  const lines = t.message.split("\n").filter((l) => l.trim() !== "");
  const telling = [...lines].reverse().find((l) => l.startsWith("E ")) ?? lines[1] ?? "collection failure";
  return {
    ...t,
    id: t.file,
    name: `collection of ${t.file}`,
    kind: "collection",
    message: `collection error: ${telling.replace(/^E\s+/, "")}\n${t.message}`,
  };
}

function isPrefixOfAny(arg: string, files: Set<string | undefined>): boolean {
  const a = arg.replace(/^\.\//, "").replace(/\/$/, "");
  for (const f of files) {
    if (!f) continue;
    if (a === "." || f === a || f.startsWith(`${a}/`)) return true;
  }
  return false;
}
