import { parseCargoTest } from "../parsers/cargo-text.js";
import { basename, type FrameworkAdapter, type ParseContext } from "./types.js";

/** cargo test: the stable human output (libtest's JSON needs nightly); filters are exact names after --. */
export const cargo: FrameworkAdapter = {
  name: "cargo",
  repeatsShareId: true,
  results: "stdout",
  stderrWithResults: true,
  extension: "txt",
  shuffleUnsupported: "libtest's --shuffle-seed needs a nightly toolchain",
  matches: (argv) => basename(argv[0]) === "cargo" && argv[1] === "test",
  prepare(argv, ctx) {
    const args = [...argv];
    // A test binary's own finding (it died with tests unfinished) reruns that binary.
    const targets = ctx.tests.flatMap(targetOf);
    const names = ctx.tests.filter((id) => targetOf(id).length === 0 && !isBinaryId(id));
    if (targets.length > 0) {
      const dashes = args.indexOf("--");
      args.splice(dashes === -1 ? args.length : dashes, 0, ...targets);
    }
    if (names.length > 0) {
      if (!args.includes("--")) args.push("--");
      args.push("--exact", ...names);
    }
    return { argv: args, env: { CARGO_TERM_COLOR: "never" } };
  },
  // cargo-nextest's JUnit (and cargo2junit): classname the test binary, name the test's path.
  junitId: (c) => c.name,
  list(argv) {
    const args = [...argv];
    if (!args.includes("--")) args.push("--");
    return {
      argv: [...args, "--list"],
      env: { CARGO_TERM_COLOR: "never" },
      parse: (stdout) =>
        stdout
          .split("\n")
          .map((l) => /^(.+): test$/.exec(l.trim())?.[1])
          .filter((name): name is string => name !== undefined)
          .map((name) => ({ id: name, file: null, titles: name.split("::") })),
    };
  },
  parse: (text, _cwd, run) => parseCargoTest(text, { oneThread: run ? oneTestThread(run) : false }),
};

/**
 * libtest runs one test at a time only when told to (`-- --test-threads=1`, RUST_TEST_THREADS=1);
 * only then does a name it printed without a result name the test that was running.
 */
function oneTestThread(run: ParseContext): boolean {
  const dashes = run.argv.indexOf("--");
  const after = dashes === -1 ? [] : run.argv.slice(dashes + 1);
  const i = after.findIndex((a) => a === "--test-threads" || a.startsWith("--test-threads="));
  if (i !== -1) {
    const value = after[i]?.includes("=") ? after[i]?.split("=")[1] : after[i + 1];
    return value === "1";
  }
  return run.env.RUST_TEST_THREADS === "1";
}

/** "src/lib.rs", "tests/api.rs": the id of a test binary, as cargo's "Running" header names it. */
function isBinaryId(id: string): boolean {
  return id.endsWith(".rs") || id === "doctests";
}

/** cargo's target selection for a test binary's id (nothing for a test's own name). */
function targetOf(id: string): string[] {
  if (id === "src/lib.rs") return ["--lib"];
  if (id === "src/main.rs") return ["--bins"];
  if (id === "doctests") return ["--doc"];
  const test = /^tests\/([^/]+)\.rs$/.exec(id) ?? /^tests\/([^/]+)\/main\.rs$/.exec(id);
  if (test) return ["--test", test[1] as string];
  const bin = /^src\/bin\/([^/]+)\.rs$/.exec(id);
  if (bin) return ["--bin", bin[1] as string];
  return [];
}
