import { parseJUnit } from "../parsers/junit.js";
import type { FrameworkAdapter } from "./types.js";

/** Anything that writes JUnit XML (Surefire, Gradle, Playwright, nextest…): read the files matching --junit. */
export const junitGlob: FrameworkAdapter = {
  name: "junit",
  results: "glob",
  extension: "xml",
  shuffleUnsupported:
    "a generic JUnit command has no shuffle flag flaky-detector knows; add the tool's own flag to the command",
  matches: () => false,
  prepare: (argv) => ({ argv: [...argv], env: {} }),
  parse: (text) => parseJUnit(text),
};

/** No per-test results: the command as a whole passes or fails. */
export const command: FrameworkAdapter = {
  name: "command",
  results: "none",
  extension: "",
  shuffleUnsupported: "a plain command has no shuffle; pass a framework with --framework",
  matches: () => false,
  prepare: (argv) => ({ argv: [...argv], env: {} }),
  parse: () => [],
};
