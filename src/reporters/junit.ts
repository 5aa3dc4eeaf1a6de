import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import type { Report, TestResult } from "../analysis/report.js";
import { pct } from "../analysis/summarize.js";
import { rateText } from "./format.js";

/**
 * Per-test results as JUnit XML valid against Surefire's surefire-test-report-3.0 schema, which
 * Trunk, BuildPulse and Datadog uploaders read: one <testsuite> root; a flaky test is a passing
 * <testcase> with <flakyFailure> children, a failing one has <failure>, a test that could not run
 * has <error>. Testcases carry the classname and name the framework's own reporter writes, so
 * uploaders merge our results with the tests they already track. Our figures (rate, interval,
 * severity, verdict) go in each testcase's system-out: the schema allows nothing else there.
 */
export function formatJUnit(report: Report): string {
  const tests = report.tests;
  const count = (v: TestResult["verdict"]) => tests.filter((t) => t.verdict === v).length;
  const out: string[] = ['<?xml version="1.0" encoding="UTF-8"?>'];
  out.push(
    `<testsuite name="${x(report.request.command.join(" "))}" time="${seconds(report.timings.totalMs)}" tests="${tests.length}" errors="${count("error")}" skipped="${count("skipped")}" failures="${count("failing")}">`,
  );
  out.push("  <properties>");
  const props: [string, string | number][] = [
    ["flaky-detector.version", report.tool.version],
    ["flaky-detector.attempts", report.summary.attempts],
    ["flaky-detector.job-seed", report.request.seed],
    ["flaky-detector.framework", report.framework],
    ["flaky-detector.flaky", count("flaky")],
    ["flaky-detector.commit", report.source.commit ?? ""],
  ];
  for (const [k, v] of props) out.push(`    <property name="${k}" value="${x(String(v))}"/>`);
  out.push("  </properties>");
  for (const t of tests) out.push(...testcase(t, report));
  out.push("</testsuite>", "");
  return out.join("\n");
}

/** Surefire's SUREFIRE_TIME: seconds with at most three decimals. */
function seconds(ms: number): string {
  return (Math.max(0, ms) / 1000).toFixed(3);
}

function testcase(t: TestResult, report: Report): string[] {
  const { classname, name } = junitNames(report.framework, t);
  const attrs = `name="${x(name)}" classname="${x(classname)}" time="${seconds(t.meanDurationMs ?? 0)}"`;
  const summary = `${t.failures}/${t.attempts} attempts failed: ${rateText(t, report.summary.confidence)}`;
  const lines = [`  <testcase ${attrs}>`];
  const message = t.firstFailure?.message ?? "";
  // Children in the schema's order: failure, flakyFailure, skipped, error, system-out.
  if (t.verdict === "failing") {
    lines.push(`    <failure message="${x(summary)}" type="failing">${x(message)}</failure>`);
  } else if (t.verdict === "flaky") {
    // Surefire writes one flakyFailure per failed rerun; the seeds are our reruns.
    for (const seed of t.failingSeeds.slice(0, 5)) {
      lines.push(
        `    <flakyFailure message="${x(`${summary} (seed ${seed})`)}" type="flaky"><stackTrace>${x(message)}</stackTrace></flakyFailure>`,
      );
    }
  } else if (t.verdict === "skipped") {
    lines.push(`    <skipped message="${x(`skipped in all ${t.skipped} attempts that reported it`)}"/>`);
  } else if (t.verdict === "error") {
    lines.push(
      `    <error message="${x("could not be run: it did not appear in any attempt's results")}" type="not-run"/>`,
    );
  }
  const figures = [
    `flaky-detector: ${t.verdict}, severity ${t.severity}`,
    t.verdict === "stable" ? `no failure in ${t.attempts} runs: rate < ${pct(t.interval[1])}` : summary,
    `failure rate ${t.failureRate}, interval ${t.interval[0]}..${t.interval[1]}`,
    ...(t.file ? [`file ${t.file}${t.line ? `:${t.line}` : ""}`] : []),
    ...(t.reproduce ? [`reproduce: ${t.reproduce}`] : []),
  ];
  lines.push(`    <system-out>${x(figures.join("\n"))}</system-out>`, "  </testcase>");
  return lines;
}

/**
 * The classname and name the framework's usual JUnit reporter gives the test: pytest's
 * `pkg.module.Class` / `test[param]`, vitest's file / `describe > test`, jest-junit's defaults
 * (both the full title), mocha xunit's parent title / title, node:test's `test` / name, gotestsum's
 * import path / `TestX/sub`, and `file::Class` / name for generic JUnit.
 */
export function junitNames(
  framework: string,
  t: Pick<TestResult, "id" | "file">,
): { classname: string; name: string } {
  const id = t.id;
  const last = (sep: string) => {
    const i = id.lastIndexOf(sep);
    return i > 0 ? { classname: id.slice(0, i), name: id.slice(i + sep.length) } : null;
  };
  switch (framework) {
    case "pytest": {
      const [file = "", ...rest] = id.split("::");
      const module = file.replace(/\.py$/, "").split("/").join(".");
      if (rest.length === 0) return { classname: module, name: module };
      return { classname: [module, ...rest.slice(0, -1)].join("."), name: rest.at(-1) as string };
    }
    case "vitest": {
      const [file = "", ...titles] = id.split(" > ");
      return titles.length > 0
        ? { classname: file, name: titles.join(" > ") }
        : { classname: file, name: file };
    }
    case "jest": {
      const titles = id.split(" > ").slice(1).join(" ");
      return { classname: titles || id, name: titles || id };
    }
    case "playwright": {
      const [file = "", ...titles] = id.split(" > ");
      return { classname: file, name: titles.join(" › ") };
    }
    case "mocha":
      return last(" > ") ?? { classname: "", name: id };
    case "node-test":
      return { classname: "test", name: id.split(" > ").at(-1) ?? id };
    case "go": {
      const m = /^(.*?)\.((?:Test|Example|Fuzz|Benchmark)\w*(?:\/.*)?)$/.exec(id);
      return m ? { classname: m[1] as string, name: m[2] as string } : { classname: "", name: id };
    }
    default:
      return last("::") ?? last(" > ") ?? { classname: t.file ?? "", name: id };
  }
}

/** XML attribute/text escaping; control characters other than tab and newline are not allowed in XML 1.0. */
function x(s: string): string {
  return (
    s
      .replace(/&/g, "&amp;")
      .replace(/</g, "&lt;")
      .replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;")
      // biome-ignore lint/suspicious/noControlCharactersInRegex: removing characters XML forbids
      .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, "")
  );
}

export function writeJUnitReport(report: Report, file: string): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, formatJUnit(report));
}
