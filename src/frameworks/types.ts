import { isAbsolute, relative, sep } from "node:path";
import type { Framework } from "../config/schema.js";
import type { JUnitCase } from "../parsers/junit.js";
import type { ParsedTest } from "../parsers/types.js";

export interface PrepareContext {
  /** Where the framework must write machine-readable results (file-based adapters). */
  resultFile: string | null;
  /**
   * Where the adapter's event reporter appends per-test start/end lines (parsers/events.ts), for
   * adapters that ship one; null when none is wanted.
   */
  eventsFile?: string | null;
  seed: number;
  /** Framework-native seeded shuffle for this attempt. */
  shuffle: boolean;
  /** Run only these test ids (empty: all). */
  tests: readonly string[];
  /**
   * In-process repetition (adapters with `repeats`): run the tests once per entry, in this one
   * process, each repetition with its attempt's index and seed (docs/design/repeat.md).
   */
  repeat?: readonly { index: number; seed: number }[];
}

export interface Prepared {
  argv: string[];
  env: Record<string, string>;
}

/** A test the framework names without running it (collect-only), for resolving requested ids. */
export interface ListedTest {
  /** The id this adapter gives the test in its results. */
  id: string;
  /** Repository-relative file, when the framework says. */
  file: string | null;
  /**
   * The test's names from the outermost group to its own (describe blocks or classes, then the
   * test); for go, the package then the test. CI reporters join these in their own ways.
   */
  titles: string[];
}

/** A command that names every test without running any, and how to read what it wrote. */
export interface Listing extends Prepared {
  /** Read the listing from standard output and, for file-based listings, the file's text. */
  parse(stdout: string, fileText: string | null, cwd: string): ListedTest[];
}

/** One test framework: how to ask it for results, a filter and a shuffle, and how to read the results. */
export interface FrameworkAdapter {
  readonly name: Exclude<Framework, "auto">;
  /** Where per-test results come from. */
  readonly results: "file" | "stdout" | "glob" | "none";
  /** File extension of the result file, for file-based adapters. */
  readonly extension: string;
  /** Why --shuffle cannot work with this framework, or null when it can. */
  readonly shuffleUnsupported: string | null;
  /**
   * True where one id reported twice in an attempt is the same test run again (go -count, pytest
   * node ids are unique): the reports are one test. Elsewhere (jest, vitest, mocha, node:test,
   * JUnit files) two tests can share a name, and the second is told apart as "name [2]".
   */
  readonly repeatsShareId?: boolean;
  /**
   * The framework can run several attempts in one process (prepare's `repeat`); `shares` says what
   * one repetition cannot reset for the next.
   */
  readonly repeats?: {
    shares: string;
    /**
     * Where a process's repetitions are read: absent, from our event reporter's repetition lines
     * (pytest); otherwise from the framework's own results, split into the repetitions the process
     * started, in order, each parsed like one attempt's results (go's -json by each test's nth run).
     */
    split?(results: string): { text: string; durationMs: number | null }[];
    /**
     * The process runs each repetition's tests in workers of its own, side by side (vitest): a test
     * left running in a repetition the process finished died with its worker, and the tests' times
     * overlap, so the per-attempt limit applies to the process only.
     */
    workers?: boolean;
    /**
     * Why this command cannot repeat in-process (go: the user's own -count; a source reads a seed
     * variable the process cannot change between repetitions), or null. `variables` are the
     * per-attempt ones.
     */
    refuses?(argv: readonly string[], cwd: string, variables: readonly string[]): string | null;
  };
  /**
   * Standard error is read with the results on standard output (cargo: its "Running" headers, which
   * name each test binary, and how a binary died, go to stderr).
   */
  readonly stderrWithResults?: boolean;
  /**
   * How a polluter search replays an order with fewer tests (docs/design/order.md):
   * - "arguments": tests given as arguments run in the order given (pytest);
   * - "seed": the framework shuffles all of a group's tests with the seed before its name filter
   *   skips the others (jest's and vitest's tests of one file, go's tests of one package), so the
   *   same seed with fewer tests runs them in the same relative order. `group` names the file or
   *   package of an id; only tests of the same group can be replayed together.
   */
  readonly orderReplay?: { by: "arguments" } | { by: "seed"; group(id: string): string };
  /** Does this argv run this framework? */
  matches(argv: readonly string[]): boolean;
  /** The attempt's argv and extra environment; `report: false` gives the line a person would paste. */
  prepare(argv: readonly string[], ctx: PrepareContext, report?: boolean): Prepared;
  /**
   * The attempt's results. `run` is the command it ran and its environment, for what the output
   * alone cannot say (how many threads cargo's libtest used).
   */
  parse(text: string, cwd: string, run?: ParseContext): ParsedTest[];
  /**
   * The id this adapter gives a test case of a JUnit file that CI wrote with the framework's own
   * reporter (--from-junit, the Action's artifacts), when it differs from the generic identity.
   */
  junitId?(c: JUnitCase): string;
  /**
   * The collect-only command (pytest --collect-only, vitest list, mocha --dry-run, go test -list,
   * jest with a name filter nothing matches), writing to `listFile` where it needs a file.
   */
  list?(argv: readonly string[], listFile: string): Listing;
}

/**
 * Listed tests from parsed results whose ids are " > "-joined names, after the file when
 * `fileFirst` (jest, vitest). A file's own finding (an import error) is not a test.
 */
export function listedFromIds(tests: readonly ParsedTest[], fileFirst: boolean): ListedTest[] {
  return tests
    .filter((t) => t.kind !== "collection")
    .map((t) => {
      const parts = t.id.split(" > ");
      return { id: t.id, file: t.file, titles: fileFirst ? parts.slice(1) : parts };
    });
}

/** An absolute path under `cwd` as a repository-relative one with forward slashes; others unchanged. */
export function repoRelative(file: string, cwd: string): string {
  const rel = relative(cwd, file);
  return isAbsolute(file) && !rel.startsWith("..") ? rel.split(sep).join("/") : file;
}

export function basename(word: string | undefined): string {
  return (word ?? "").split("/").pop() ?? "";
}

/** Index of the token whose basename is `tool` (jest, vitest, mocha), e.g. after npx or a node_modules/.bin path. */
export function toolIndex(argv: readonly string[], tool: string): number {
  return argv.findIndex((w, i) => {
    const b = basename(w);
    if (b !== tool && b !== `${tool}.js` && b !== `${tool}.mjs` && b !== `${tool}.cjs`) return false;
    // `node_modules/jest/bin/jest.js` or `jest` as a word, not `--reporter=jest`.
    return i === 0 || !w.startsWith("-");
  });
}

export function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** The command an attempt ran (the user's argv) and the environment it ran in. */
export interface ParseContext {
  argv: readonly string[];
  env: Readonly<Record<string, string | undefined>>;
}
