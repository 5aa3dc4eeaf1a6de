import { isAbsolute, relative, sep } from "node:path";
import { parseGoTestJson, splitGoRepetitions } from "../parsers/go-json.js";
import type { ParsedTest } from "../parsers/types.js";
import { goSeedRefusal } from "./go-seeds.js";
import { basename, escapeRegExp, type FrameworkAdapter, type ListedTest } from "./types.js";

/** go test: -json on stdout, -count=1 so results are never served from the test cache. */
export const go: FrameworkAdapter = {
  name: "go",
  repeatsShareId: true,
  results: "stdout",
  // -count=K runs each package's test list K times in its one binary (docs/design/repeat.md).
  repeats: {
    shares:
      "each package's globals and the environment: TEST_SEED, GO_TEST_SEED and ATTEMPT keep the process's first attempt's values (packages that read them run one process per attempt)",
    split: splitGoRepetitions,
    refuses(argv, cwd, variables) {
      if (argv.some((a) => /^--?(test\.)?count\b/.test(a)))
        return "the command sets its own -count, which repetition would multiply";
      return goSeedRefusal(cwd, variables);
    },
  },
  extension: "jsonl",
  shuffleUnsupported: null,
  // -shuffle permutes all of a package's tests before -run selects; each package is its own binary.
  orderReplay: { by: "seed", group: packageOfId },
  matches: (argv) => basename(argv[0]) === "go" && argv[1] === "test",
  prepare(argv, ctx, report = true) {
    const flags: string[] = [];
    if (report) flags.push("-json");
    if (!argv.some((a) => a.startsWith("-count")))
      flags.push(`-count=${Math.max(1, ctx.repeat?.length ?? 1)}`);
    if (ctx.tests.length > 0) {
      // Ids are "pkg.TestName[/sub]": run whole top-level tests; results are filtered to the ids.
      const tops = [...new Set(ctx.tests.map((id) => (id.split(".").pop() ?? id).split("/")[0] as string))];
      flags.push("-run", `^(?:${tops.map(escapeRegExp).join("|")})$`);
    }
    if (ctx.shuffle) flags.push(`-shuffle=${ctx.seed}`);
    return { argv: [argv[0] as string, "test", ...flags, ...argv.slice(2)], env: {} };
  },
  list(argv) {
    // -list prints the top-level test names of each package (building it, running nothing).
    const flags = argv
      .slice(2)
      .filter(
        (a, i, all) =>
          !/^-(test\.)?(run|count|json|list)\b/.test(a) &&
          !/^-(test\.)?(run|count|list)$/.test(all[i - 1] ?? ""),
      );
    return {
      argv: [argv[0] as string, "test", "-json", "-list", ".", ...flags],
      env: {},
      parse: (stdout, _file, cwd) => parseGoList(stdout, cwd),
    };
  },
  parse: (text, cwd) => parseGoTestJson(text).map((t) => withRelativePackage(t, cwd)),
};

/** The package of a test id "pkg.TestName[/sub]" (the package path may itself contain dots). */
export function packageOfId(id: string): string {
  return /^(.+?)\.(?:Test|Example|Fuzz)/.exec(id)?.[1] ?? id;
}

/** `go test -json -list .`: output events whose text is a test name, per package. */
function parseGoList(stdout: string, cwd: string): ListedTest[] {
  const out: ListedTest[] = [];
  for (const line of stdout.split("\n")) {
    if (!line.startsWith("{")) continue;
    let e: { Action?: string; Package?: string; Output?: string };
    try {
      e = JSON.parse(line) as typeof e;
    } catch {
      continue;
    }
    const name = /^((?:Test|Example|Fuzz)\w*)\n$/.exec(e.Output ?? "")?.[1];
    if (e.Action !== "output" || !e.Package || !name) continue;
    const t = withRelativePackage(
      { id: `${e.Package}.${name}`, name, file: null, status: "passed", message: null, durationMs: null },
      cwd,
    );
    out.push({ id: t.id, file: null, titles: [t.id.slice(0, -name.length - 1), name] });
  }
  return out;
}

/**
 * Outside a module (GOPATH mode) go names a package by its directory: `_/<abs path>`. That path is
 * the slot's temporary copy, different in every slot and every job, so the same test would get a
 * new id per slot. Such packages are named by their path relative to the working directory instead
 * (`./sub`, or `.`), as a person would pass them to go test.
 */
export function withRelativePackage(t: ParsedTest, cwd: string): ParsedTest {
  if (!t.id.startsWith("_/")) return t;
  const name = `.${t.name}`;
  if (!t.id.endsWith(name)) return t;
  const dir = t.id.slice(1, t.id.length - name.length);
  if (!isAbsolute(dir)) return t;
  const rel = relative(cwd, dir);
  const pkg = rel === "" ? "." : rel.startsWith("..") ? dir : `./${rel.split(sep).join("/")}`;
  return { ...t, id: `${pkg}${name}` };
}
