import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import type { Report, TestResult } from "../analysis/report.js";
import { pct } from "../analysis/summarize.js";
import { rateText } from "./format.js";

/**
 * Per-test results as JUnit XML in Surefire's rerun schema, which Trunk, BuildPulse and Datadog
 * uploaders understand: a flaky test is a passing <testcase> with <flakyFailure> children, a
 * failing one has <failure>, a test that could not run has <error>.
 */
export function formatJUnit(report: Report): string {
  const tests = report.tests;
  const failing = tests.filter((t) => t.verdict === "failing").length;
  const errors = tests.filter((t) => t.verdict === "error").length;
  const flaky = tests.filter((t) => t.verdict === "flaky").length;
  const seconds = (report.timings.totalMs / 1000).toFixed(3);
  const out: string[] = ['<?xml version="1.0" encoding="UTF-8"?>'];
  out.push(
    `<testsuites name="flaky-detector" tests="${tests.length}" failures="${failing}" errors="${errors}" time="${seconds}">`,
  );
  out.push(
    `  <testsuite name="${x(report.request.command.join(" "))}" tests="${tests.length}" failures="${failing}" errors="${errors}" skipped="${tests.filter((t) => t.verdict === "skipped").length}" flakes="${flaky}" time="${seconds}" timestamp="${report.createdAt}">`,
  );
  out.push("    <properties>");
  const props: [string, string | number][] = [
    ["flaky-detector.version", report.tool.version],
    ["flaky-detector.attempts", report.summary.attempts],
    ["flaky-detector.job-seed", report.request.seed],
    ["flaky-detector.framework", report.framework],
    ["flaky-detector.commit", report.source.commit ?? ""],
  ];
  for (const [k, v] of props) out.push(`      <property name="${k}" value="${x(String(v))}"/>`);
  out.push("    </properties>");
  for (const t of tests) out.push(...testcase(t, report));
  out.push("  </testsuite>", "</testsuites>", "");
  return out.join("\n");
}

function testcase(t: TestResult, report: Report): string[] {
  const { classname, name } = splitId(t);
  const attrs = `name="${x(name)}" classname="${x(classname)}"${t.file ? ` file="${x(t.file)}"` : ""}${t.line ? ` line="${t.line}"` : ""}`;
  const summary = `${t.failures}/${t.attempts} attempts failed: ${rateText(t, report.summary.confidence)}`;
  const lines = [`    <testcase ${attrs}>`];
  lines.push("      <properties>");
  lines.push(`        <property name="flaky-detector.failure-rate" value="${t.failureRate}"/>`);
  lines.push(`        <property name="flaky-detector.interval" value="${t.interval[0]},${t.interval[1]}"/>`);
  lines.push(`        <property name="flaky-detector.severity" value="${t.severity}"/>`);
  lines.push(`        <property name="flaky-detector.verdict" value="${t.verdict}"/>`);
  lines.push("      </properties>");
  const message = t.firstFailure?.message ?? "";
  if (t.verdict === "failing") {
    lines.push(`      <failure message="${x(summary)}" type="failing">${x(message)}</failure>`);
  } else if (t.verdict === "skipped") {
    lines.push(`      <skipped message="${x(`skipped in all ${t.skipped} attempts that reported it`)}"/>`);
  } else if (t.verdict === "error") {
    lines.push(
      `      <error message="${x("could not be run: it did not appear in any attempt's results")}" type="not-run"/>`,
    );
  } else if (t.verdict === "flaky") {
    // Surefire writes one flakyFailure per failed rerun; the seeds are our reruns.
    for (const seed of t.failingSeeds.slice(0, 5)) {
      lines.push(
        `      <flakyFailure message="${x(`${summary} (seed ${seed})`)}" type="flaky"><stackTrace>${x(message)}</stackTrace></flakyFailure>`,
      );
    }
  }
  if (t.verdict === "stable")
    lines.push(
      `      <system-out>${x(`no failure in ${t.attempts} runs: rate < ${pct(t.interval[1])}`)}</system-out>`,
    );
  lines.push("    </testcase>");
  return lines;
}

/** "tests/test_a.py::TestX::test_y" → classname "tests/test_a.py::TestX", name "test_y"; " > " paths likewise. */
function splitId(t: TestResult): { classname: string; name: string } {
  for (const sep of ["::", " > "]) {
    const i = t.id.lastIndexOf(sep);
    if (i > 0) return { classname: t.id.slice(0, i), name: t.id.slice(i + sep.length) };
  }
  return { classname: t.file ?? "flaky-detector", name: t.id };
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
