import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import type { Report } from "../analysis/report.js";
import { pct } from "../analysis/summarize.js";
import { clip, codeSpan, fenced, htmlText } from "./escape.js";
import { firstLine, notes, rateText, SEVERITY_EMOJI } from "./format.js";

/** A markdown summary: headline, per-test table, first failures and reproduce lines. */
export function formatMarkdown(report: Report): string {
  const s = report.summary;
  const conf = `${Math.round(s.confidence * 100)}%`;
  const out: string[] = [];
  out.push(
    `## ${SEVERITY_EMOJI[s.severity]} ${s.verdict.toUpperCase()} · severity ${s.severity.toUpperCase()}`,
  );
  out.push("");
  out.push(`${codeSpan(report.request.command.join(" "))} — ${s.statement}.`);
  out.push("");
  out.push(
    `${s.attempts} attempts (${s.failedAttempts} failed) at parallelism ${report.request.parallelism}; command failure rate ${pct(s.failureRate)} (${conf} CI ${pct(s.interval[0])}–${pct(s.interval[1])}); job seed \`${report.request.seed}\`.`,
  );
  if (report.tests.length > 0) {
    out.push(
      "",
      `| Test | Failures | Rate (${conf} CI) | Severity | Verdict | Seed-deterministic |`,
      "|---|---|---|---|---|---|",
    );
    for (const t of report.tests) {
      const seed = t.seedDeterministic === null ? "—" : t.seedDeterministic ? "yes" : "no";
      out.push(
        `| ${codeSpan(t.id)} | ${t.failures}/${t.attempts} | ${rateText(t, s.confidence).replace(/\|/g, "\\|")} | ${SEVERITY_EMOJI[t.severity]} ${t.severity.toUpperCase()} | ${t.verdict} | ${seed} |`,
      );
    }
    for (const t of report.tests.filter((x) => x.firstFailure)) {
      out.push(
        "",
        `<details><summary><code>${htmlText(t.id)}</code>: ${htmlText(clip(firstLine(t.firstFailure?.message ?? ""), 200))}</summary>`,
        "",
      );
      for (const n of notes(t)) out.push(`- ${n}`);
      if (t.reproduce) out.push("", fenced(t.reproduce, "sh"));
      out.push("", fenced(t.firstFailure?.message ?? ""), "", "</details>");
    }
  } else if (report.reproduce) {
    out.push("", "Reproduce a failure:", "", fenced(report.reproduce, "sh"));
  }
  out.push("");
  return out.join("\n");
}

export function writeMarkdownReport(report: Report, file: string): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, formatMarkdown(report));
}
