import { styleText } from "node:util";
import type { Report } from "../analysis/report.js";
import { firstLine, notes, rateText } from "./format.js";
import { describeStop } from "./progress.js";

type Style = "bold" | "green" | "yellow" | "red" | "magenta" | "white";

/** The final human summary (stdout). */
export function formatConsoleSummary(report: Report, opts: { color: boolean }): string {
  const s = report.summary;
  const paint = (style: Style | Style[], text: string) =>
    opts.color ? [style].flat().reduce((acc, s) => styleText(s, acc), text) : text;
  const verdictStyle: Record<string, Style> = {
    stable: "green",
    flaky: "yellow",
    failing: "red",
    error: "magenta",
  };
  const lines: string[] = [];
  lines.push("");
  lines.push(
    `${paint(["bold", verdictStyle[s.verdict] ?? "white"], s.verdict.toUpperCase())}  severity ${paint("bold", s.severity.toUpperCase())}  ${report.request.command.join(" ")}`,
  );
  lines.push(`  ${s.statement}`);
  const parts = [`${s.passedAttempts} passed`, `${s.failedAttempts} failed`];
  if (s.timeouts > 0) parts.push(`${s.timeouts} of them timed out`);
  if (s.erroredAttempts > 0) parts.push(`${s.erroredAttempts} errored (not counted)`);
  lines.push(
    `  attempts: ${parts.join(", ")}; ${duration(report.timings.totalMs)} at parallelism ${report.request.parallelism}, isolation ${report.request.isolation}`,
  );
  const rep = report.request.repetition;
  if (rep) {
    lines.push(
      `  in-process repetition: ${rep.attempts} attempts in ${rep.processes} processes, each attempt with its own seed; they share ${rep.shares} (--repeat off: one process each)`,
    );
  }
  if (report.request.repetitionOff) {
    lines.push(`  in-process repetition off: ${report.request.repetitionOff}; one process per attempt`);
  }
  if (s.timeouts > 0) lines.push(`  per-attempt timeout: ${report.request.timeoutRule}`);
  if (s.stoppedEarly) {
    lines.push(`  stopped early after ${s.attempts} of ${s.budget}: ${describeStop(s.stopReason)}`);
  }
  if (s.attemptsWithoutResults > 0) {
    lines.push(
      `  ${s.attemptsWithoutResults} attempt(s) produced no readable test results (crashed or killed before reporting); their tests are not counted`,
    );
  }
  lines.push(`  job seed ${report.request.seed} (replay the whole job with --seed ${report.request.seed})`);
  const perTest = report.tests.length > 0;
  if (report.reproduce && !perTest) lines.push(`  reproduce a failure: ${report.reproduce}`);
  const first = report.attempts.find((a) => a.outcome === "failed" || a.outcome === "timedOut");
  if (first && (!perTest || report.tests.every((t) => t.failures === 0))) {
    const how = first.timedOut
      ? "timed out"
      : first.signal
        ? `killed by ${first.signal}`
        : `exit code ${first.exitCode}`;
    lines.push(`  first failure: attempt ${first.index} (seed ${first.seed}), ${how}; output tail:`);
    const text = first.outputTail.trimEnd();
    const tail = text === "" ? ["(no output)"] : text.split("\n").slice(-8);
    for (const l of tail) lines.push(`    │ ${l}`);
  }
  if (report.tests.length > 0) lines.push(...testTable(report, paint));
  for (const w of report.warnings) lines.push(paint("yellow", `  warning: ${w}`));
  lines.push("");
  return lines.join("\n");
}

function duration(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)}ms` : `${(ms / 1000).toFixed(1)}s`;
}

const TABLE_LIMIT = 25;

function testTable(report: Report, paint: (style: Style | Style[], text: string) => string): string[] {
  const conf = report.summary.confidence;
  const rows = report.tests.map((t) => [
    t.severity.toUpperCase(),
    t.verdict,
    `${t.failures}/${t.attempts}`,
    rateText(t, conf),
    t.id,
  ]);
  const shown = rows.slice(0, TABLE_LIMIT);
  const header = ["SEVERITY", "VERDICT", "FAILED", `RATE (${Math.round(conf * 100)}% CI)`, "TEST"];
  const widths = header.map((h, i) => Math.max(h.length, ...shown.map((r) => (r[i] as string).length)));
  const fmt = (r: string[]) =>
    `  ${r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] as number))).join("  ")}`;
  const lines = ["", paint("bold", fmt(header)), ...shown.map(fmt)];
  if (rows.length > shown.length) lines.push(`  … and ${rows.length - shown.length} more (see --json)`);
  const attention = report.tests.filter((t) => t.verdict === "flaky" || t.verdict === "failing").slice(0, 10);
  for (const t of attention) {
    lines.push(
      "",
      `  ${paint(t.verdict === "flaky" ? "yellow" : "red", t.verdict === "flaky" ? "~" : "✗")} ${t.id}`,
    );
    if (t.firstFailure) {
      lines.push(
        `      first failure (attempt ${t.firstFailure.attempt}, seed ${t.firstFailure.seed}): ${firstLine(t.firstFailure.message)}`,
      );
    }
    for (const n of notes(t)) lines.push(`      ${n}`);
    if (t.reproduce) lines.push(`      reproduce: ${t.reproduce}`);
  }
  if (report.ignoredTests.length > 0)
    lines.push("", `  ignored (ignore_patterns): ${report.ignoredTests.map((t) => t.id).join(", ")}`);
  lines.push("");
  return lines;
}
