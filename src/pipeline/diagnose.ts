import type { FrameworkAdapter } from "../frameworks/index.js";
import type { ParsedTest } from "../parsers/types.js";
import type { AttemptRecord } from "../runner/attempt.js";

/**
 * An attempt in which no test ran is **errored**, never a failure of any test (DESIGN.md "Attempt
 * accounting"): a missing script, a flag the runner refuses, a filter that matches nothing, a
 * usage error. Each is recognised from the run itself — its results, exit code and the line that
 * says why — and the line becomes the attempt's reason.
 */

/** Lines that say the runner did not run tests at all, with what they mean. */
const TELLING: { pattern: RegExp; kind: NoTestKind; strong?: true }[] = [
  { pattern: /Missing script:\s*"?[^"\n]+"?/i, kind: "setup", strong: true },
  // npm given an option it took for a command: `npm --require x test` never reached the tests.
  { pattern: /^Unknown command: "[^"\n]*"/m, kind: "setup", strong: true },
  // npx asked for a runner the project does not have (non-interactive: it will not install it).
  { pattern: /npx canceled due to missing packages[^\n]*/i, kind: "setup", strong: true },
  { pattern: /could not determine executable to run[^\n]*/i, kind: "setup", strong: true },
  {
    pattern: /npm (?:error|ERR!) code E(?:NOTCACHED|AI_AGAIN|CONNREFUSED|NOTFOUND|404)\b[^\n]*/,
    kind: "setup",
    strong: true,
  },
  { pattern: /(unknown|unrecognized|unexpected|invalid) (option|flag|argument)s?\b[^\n]*/i, kind: "flag" },
  { pattern: /error: unrecognized arguments?:[^\n]*/i, kind: "flag" },
  { pattern: /flag provided but not defined:[^\n]*/i, kind: "flag" },
  { pattern: /No tests found[^\n]*/i, kind: "no-tests", strong: true },
  { pattern: /No test files found[^\n]*/i, kind: "no-tests", strong: true },
  { pattern: /no tests ran\b[^\n]*/i, kind: "no-tests" },
  { pattern: /\[no test files\][^\n]*/i, kind: "no-tests" },
  { pattern: /ERROR: (usage|file or directory not found|not found)[^\n]*/i, kind: "setup" },
  { pattern: /Interrupted: \d+ errors? during collection[^\n]*/i, kind: "collection" },
  { pattern: /ERROR collecting [^\n]*/i, kind: "collection" },
  { pattern: /(command not found|No such file or directory)[^\n]*/i, kind: "setup" },
  { pattern: /Cannot find module [^\n]*/i, kind: "setup" },
];

export type NoTestKind = "setup" | "flag" | "no-tests" | "collection" | "silent";

export interface NoTestDiagnosis {
  kind: NoTestKind;
  /** One line a person reads: what the run said, or what we saw. */
  reason: string;
  /** A flag flaky-detector added that the runner refused, when the line names one. */
  ourFlag?: string;
}

/**
 * The telling line of a run's output, if any. `strongOnly` for a plain command, whose own
 * failures may well print "No such file or directory": only lines no test prints count there.
 */
export function tellingLine(
  output: string,
  strongOnly = false,
): { kind: NoTestKind; line: string } | undefined {
  for (const { pattern, kind, strong } of TELLING) {
    if (strongOnly && !strong) continue;
    const m = pattern.exec(output);
    if (m) return { kind, line: m[0].trim().slice(0, 300) };
  }
  return undefined;
}

function lastLine(output: string): string {
  const lines = output
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !/^\[… \d+ bytes of output omitted …\]$/.test(l));
  return (lines.at(-1) ?? "").slice(0, 300);
}

/**
 * Why this attempt ran no test, or undefined when tests ran (or may have: a run that died without
 * results, says nothing and had no event reporter is left to the caller). `added` are the words the adapter put into
 * the command line; `requested` the test ids it was asked to run.
 */
export function diagnoseNoTests(
  adapter: Pick<FrameworkAdapter, "results" | "name">,
  record: AttemptRecord,
  results: { ok: true; tests: ParsedTest[] } | { ok: false; reason: string },
  added: readonly string[],
  requested: readonly string[],
  /** Our event reporter was loaded and wrote nothing: no test started (see finishAttempt). */
  nothingStarted = false,
): NoTestDiagnosis | undefined {
  if (record.outcome === "errored" || record.outcome === "cancelled" || record.outcome === "timedOut") {
    return undefined;
  }
  // Read only when needed: most attempts ran tests, and their output need not be searched.
  let searched: { line: ReturnType<typeof tellingLine> } | undefined;
  const tellingOf = () => {
    searched ??= { line: tellingLine(record.output, adapter.results === "none") };
    return searched.line;
  };
  const withFlag = (d: NoTestDiagnosis): NoTestDiagnosis => {
    if (d.kind !== "flag") return d;
    // The runner may name the flag or its value ("unknown option 'xunit'" for `--reporter xunit`).
    const i = added.findIndex((w) => {
      const name = w.split("=")[0] as string;
      return name.length >= 3 && name !== "--" && d.reason.includes(name);
    });
    if (i < 0) return d;
    const word = (added[i] as string).split("=")[0] as string;
    const before = added[i - 1];
    const flag = word.startsWith("-") || !before?.startsWith("-") ? word : `${before} ${word}`;
    return { ...d, ourFlag: flag };
  };
  const exit = record.signal ? `was killed by ${record.signal}` : `exited with ${record.exitCode}`;

  if (adapter.results !== "none" && results.ok) {
    if (results.tests.some((t) => t.status !== "skipped")) return undefined;
    const telling = tellingOf();
    if (telling) return withFlag({ kind: telling.kind, reason: telling.line });
    if (results.tests.length > 0) {
      return {
        kind: "no-tests",
        reason: `every test was skipped (${results.tests.length}); nothing ran to measure`,
      };
    }
    if (requested.length > 0) {
      return { kind: "no-tests", reason: `none of the requested tests ran (the command ${exit})` };
    }
    return {
      kind: "silent",
      reason:
        record.outcome === "passed"
          ? `the command exited 0 but ran no test${lastLine(record.output) ? `: ${lastLine(record.output)}` : ""}`
          : `the command ${exit} before any test ran${lastLine(record.output) ? `: ${lastLine(record.output)}` : ""}`,
    };
  }
  // No readable results, or a plain command: only a run that says so is known to have run nothing.
  if (record.outcome !== "failed") return undefined;
  const telling = tellingOf();
  if (telling && telling.kind !== "collection") {
    return withFlag({ kind: telling.kind, reason: telling.line });
  }
  if (record.exitCode === 126 || record.exitCode === 127) {
    return {
      kind: "setup",
      reason: `the command ${exit} (cannot execute or not found): ${lastLine(record.output)}`,
    };
  }
  // No results, and our event reporter — loaded before any test can start — wrote no line: the
  // process failed before its first test (a configuration or start-up error), no test's failure.
  if (nothingStarted) {
    const line = errorLine(record.output);
    return {
      kind: telling?.kind === "collection" ? "collection" : "setup",
      reason: `the command ${exit} before any test started${line ? `: ${line}` : ""}`,
    };
  }
  return undefined;
}

/**
 * The output's first line that reports an error (a stack's message, not its frames), with the line
 * after it where it is only a heading ("● Validation Error:"); else the output's last line.
 */
function errorLine(output: string): string {
  const lines = output
    .split("\n")
    .map((l) => l.replace(/^[\s●×✖]+/, "").trim())
    .filter((l) => l !== "");
  const i = lines.findIndex((l) => /^(\w*Error|error|\w+ Error)\b[:[]/.test(l));
  if (i === -1) return lastLine(output);
  const line = lines[i] as string;
  const heading = /:$/.test(line) && lines[i + 1] !== undefined;
  // Without its full stop: the reason is followed by one.
  return (heading ? `${line} ${lines[i + 1]}` : line).replace(/\.$/, "").slice(0, 300);
}

/** The fix for a job in which every attempt ran no test, by what they said. */
export function adviceFor(d: NoTestDiagnosis, adapter: Pick<FrameworkAdapter, "name">): string {
  if (d.ourFlag && /flaky[-_]detector[-_]events/.test(d.ourFlag)) {
    return `the test runner refused ${d.ourFlag}, the per-test event reporter flaky-detector loads (${adapter.name}); pass --no-events (event_reporters: false) to run without it`;
  }
  if (d.ourFlag) {
    return `the test runner refused ${d.ourFlag}, a flag flaky-detector adds to read per-test results (${adapter.name}); if the command wraps the runner in a script that parses its own arguments, run the runner directly after --, or pass --framework command (no per-test results) or --junit <glob> for results the suite writes itself`;
  }
  switch (d.kind) {
    case "setup":
      return "the command cannot run tests here; check it runs in this directory by hand (a missing package.json script, a missing tool, or a missing dependency)";
    case "flag":
      return "the command line has an option the runner does not accept; check it by hand";
    case "no-tests":
      return "the command found no tests to run; check the path or filter (and --test ids: they must be ids as this framework names them)";
    case "collection":
      return "the tests could not be collected (an import or syntax error); run the command once by hand to see it";
    case "silent":
      return "the command ran but reported no test; check that it runs the tests (and --framework / --junit match it)";
  }
}
