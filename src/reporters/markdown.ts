import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import type { Report } from "../analysis/report.js";
import { pct } from "../analysis/summarize.js";
import { firstLine, notes, rateText } from "./format.js";

const EMOJI = { critical: "🔴", high: "🟠", medium: "🟡", low: "🔵", none: "🟢" } as const;

/** A markdown summary: headline, per-test table, first failures and reproduce lines. */
export function formatMarkdown(report: Report): string {
  const s = report.summary;
  const conf = `${Math.round(s.confidence * 100)}%`;
  const out: string[] = [];
  out.push(`## ${EMOJI[s.severity]} ${s.verdict.toUpperCase()} · severity ${s.severity.toUpperCase()}`);
  out.push("");
  out.push(`\`${cell(report.request.command.join(" "))}\` — ${s.statement}.`);
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
        `| \`${cell(t.id)}\` | ${t.failures}/${t.attempts} | ${cell(rateText(t, s.confidence))} | ${EMOJI[t.severity]} ${t.severity.toUpperCase()} | ${t.verdict} | ${seed} |`,
      );
    }
    for (const t of report.tests.filter((x) => x.firstFailure)) {
      out.push(
        "",
        `<details><summary><code>${html(t.id)}</code>: ${html(firstLine(t.firstFailure?.message ?? ""))}</summary>`,
        "",
      );
      for (const n of notes(t)) out.push(`- ${n}`);
      if (t.reproduce) out.push("", "```sh", t.reproduce, "```");
      out.push("", "```", (t.firstFailure?.message ?? "").replace(/```/g, "ʼʼʼ"), "```", "", "</details>");
    }
  } else if (report.reproduce) {
    out.push("", "Reproduce a failure:", "", "```sh", report.reproduce, "```");
  }
  out.push("");
  return out.join("\n");
}

function cell(s: string): string {
  return s.replace(/\|/g, "\\|").replace(/`/g, "ˋ").replace(/\n/g, " ");
}

function html(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

export function writeMarkdownReport(report: Report, file: string): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, formatMarkdown(report));
}
