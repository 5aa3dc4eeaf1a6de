import { parseCargoTest } from "../parsers/cargo-text.js";
import { basename, type FrameworkAdapter } from "./types.js";

/** cargo test: the stable human output (libtest's JSON needs nightly); filters are exact names after --. */
export const cargo: FrameworkAdapter = {
  name: "cargo",
  repeatsShareId: true,
  results: "stdout",
  extension: "txt",
  shuffleUnsupported: "libtest's --shuffle-seed needs a nightly toolchain",
  matches: (argv) => basename(argv[0]) === "cargo" && argv[1] === "test",
  prepare(argv, ctx) {
    const args = [...argv];
    if (ctx.tests.length > 0) {
      if (!args.includes("--")) args.push("--");
      args.push("--exact", ...ctx.tests);
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
  parse: (text) => parseCargoTest(text),
};
