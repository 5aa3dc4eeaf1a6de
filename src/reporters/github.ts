import YAML from "yaml";
import { type QuarantineEntry, quarantineOf } from "../analysis/quarantine.js";
import type { Report, TestResult } from "../analysis/report.js";
import { pct } from "../analysis/summarize.js";
import { TOOL } from "../version.js";
import { clip, codeSpan, fenced, htmlText, mdText } from "./escape.js";
import { firstLine, notes, rateText, SEVERITY_EMOJI } from "./format.js";

/** Where a detection came from and where to link: everything GitHub-shaped output needs beyond the Report. */
export interface RunContext {
  /** owner/name */
  repository?: string | undefined;
  prNumber?: number | undefined;
  prUrl?: string | undefined;
  /** The CI run whose failure triggered this detection. */
  runUrl?: string | undefined;
  runName?: string | undefined;
  /** This detection's own run (the Action's run). */
  detectionUrl?: string | undefined;
  sha?: string | undefined;
  dashboardUrl?: string | undefined;
  quarantine?: readonly QuarantineEntry[] | undefined;
  /** YYYY-MM-DD; quarantine review dates are compared with it. */
  today: string;
}

/** Hidden marker that finds our comment among a pull request's comments. */
export const COMMENT_MARKER = "<!-- flaky-detector:pr-comment -->";
/** GitHub refuses issue comments longer than this (characters). */
export const COMMENT_LIMIT = 65_536;
/** A step summary may hold 1 MiB; stay well under it. */
export const SUMMARY_LIMIT = 900_000;
/** Days a suggested quarantine entry lasts before it must be reviewed. */
export const QUARANTINE_DAYS = 30;

const VERDICT_RANK = { failing: 0, flaky: 1, error: 2, stable: 3, skipped: 4 } as const;

/** The pull-request comment: one per PR, found again by COMMENT_MARKER. */
export function formatComment(report: Report, ctx: RunContext, limit = COMMENT_LIMIT): string {
  return render(report, ctx, limit, COMMENT_MARKER);
}

/** The job summary (GITHUB_STEP_SUMMARY): the same content, with more room. */
export function formatSummary(report: Report, ctx: RunContext, limit = SUMMARY_LIMIT): string {
  return render(report, ctx, limit, "");
}

/** Tests in the order people act on them: failing, flaky (worst first), errors, stable. */
export function rankTests(tests: readonly TestResult[]): TestResult[] {
  return [...tests].sort(
    (a, b) =>
      VERDICT_RANK[a.verdict] - VERDICT_RANK[b.verdict] ||
      b.failureRate - a.failureRate ||
      a.id.localeCompare(b.id),
  );
}

/** "2 flaky tests, 1 failing" — or the command's verdict when there are no per-test results. */
export function headline(report: Report): string {
  const s = report.summary;
  if (report.tests.length === 0) return `${s.verdict.toUpperCase()} · severity ${s.severity.toUpperCase()}`;
  const count = (v: TestResult["verdict"]) => report.tests.filter((t) => t.verdict === v).length;
  const notRerun = count("error");
  if (s.verdict === "error" && notRerun > 0) {
    const first = report.tests.find((t) => t.verdict === "error");
    const what = notRerun === 1 ? JSON.stringify(first?.id ?? "") : `${notRerun} of the requested tests`;
    return `Could not rerun ${what}: no verdict for ${notRerun === 1 ? "it" : "them"}`;
  }
  const flaky = count("flaky");
  const failing = count("failing");
  const parts: string[] = [];
  if (flaky > 0) parts.push(`${flaky} flaky test${flaky === 1 ? "" : "s"}`);
  if (failing > 0)
    parts.push(`${failing} failing${parts.length === 0 ? ` test${failing === 1 ? "" : "s"}` : ""}`);
  if (parts.length === 0) {
    const n = report.tests.length;
    return `No flaky test: ${n === 1 ? "the test" : `all ${n} tests`} passed every rerun`;
  }
  return `${parts.join(", ")} · severity ${s.severity.toUpperCase()}`;
}

function render(report: Report, ctx: RunContext, limit: number, marker: string): string {
  const s = report.summary;
  const conf = `${Math.round(s.confidence * 100)}%`;
  const tests = rankTests(report.tests);

  const head: string[] = [];
  if (marker) head.push(marker);
  head.push(`## ${SEVERITY_EMOJI[s.severity]} ${mdText(headline(report))}`, "", intro(report, ctx), "");
  head.push(advice(report), "");

  const table =
    tests.length === 0
      ? []
      : [
          `| Test | Failures | Rate (${conf} CI) | Severity | Verdict | Seed-deterministic |`,
          "|---|---|---|---|---|---|",
        ];
  const rows = tests.map((t) => row(t, s.confidence, ctx));
  const details = tests.filter((t) => t.firstFailure).map(detail);
  if (tests.length === 0 && report.reproduce) {
    details.push(["Reproduce a failure:", "", fenced(report.reproduce, "sh")].join("\n"));
  }
  const quarantine = quarantineBlock(report, tests, ctx);
  const footer = footerLine(report, ctx);

  // Fill by importance: every row, then the quarantine entries, then failure details; what does
  // not fit is left out with a note (the job summary and the report file keep everything).
  const reserve = 400;
  let budget = limit - reserve - size(head) - footer.length - size(table);
  const keptRows = take(
    rows,
    () => budget,
    (n) => (budget -= n),
  );
  const keepQuarantine =
    quarantine !== "" && keptRows.length === rows.length && quarantine.length + 2 <= budget;
  if (keepQuarantine) budget -= quarantine.length + 2;
  const keptDetails = take(
    details,
    () => budget,
    (n) => (budget -= n),
  );

  const out = [...head];
  if (table.length > 0) out.push(...table, ...keptRows, "");
  const droppedRows = rows.length - keptRows.length;
  const droppedDetails = details.length - keptDetails.length;
  const droppedQuarantine = quarantine !== "" && !keepQuarantine;
  if (droppedRows + droppedDetails > 0 || droppedQuarantine) {
    const what = [
      droppedRows > 0 ? `${droppedRows} test row(s)` : "",
      droppedDetails > 0 ? `${droppedDetails} failure detail(s)` : "",
      droppedQuarantine ? "the quarantine entries" : "",
    ].filter(Boolean);
    out.push(
      `> **Truncated:** ${what.join(", ")} left out to stay under GitHub's ${limit.toLocaleString("en-US")}-character limit; the job summary and the JSON report have every test.`,
      "",
    );
  }
  for (const d of keptDetails) out.push(d, "");
  if (keepQuarantine) out.push(quarantine, "");
  out.push(footer, "");
  return out.join("\n");
}

function size(lines: string[]): number {
  return lines.reduce((n, l) => n + l.length + 1, 0);
}

function take(items: string[], left: () => number, spend: (n: number) => void): string[] {
  const kept: string[] = [];
  for (const item of items) {
    if (item.length + 2 > left()) break;
    spend(item.length + 2);
    kept.push(item);
  }
  return kept;
}

function intro(report: Report, ctx: RunContext): string {
  const s = report.summary;
  const n = report.tests.length;
  const where = ctx.runUrl
    ? `[${mdText(ctx.runName ?? "the CI run")}](${ctx.runUrl})`
    : mdText(ctx.runName ?? "CI");
  const at = ctx.sha ? ` at \`${ctx.sha.slice(0, 7)}\`` : "";
  const what =
    report.request.tests.length > 0
      ? `the ${n === 1 ? "test" : `${n} tests`} that failed in ${where}${at}`
      : `${codeSpan(report.request.command.join(" "))} (failed in ${where}${at})`;
  const stop = s.stoppedEarly ? `, stopped early after ${s.attempts} of ${s.budget} (${s.stopReason})` : "";
  return `flaky-detector reran ${what}: ${s.attempts} attempts at parallelism ${report.request.parallelism}${stop}. Command failure rate ${pct(s.failureRate)} (${Math.round(s.confidence * 100)}% CI ${pct(s.interval[0])}–${pct(s.interval[1])}); ${mdText(s.statement)}.`;
}

function advice(report: Report): string {
  const verdicts = new Set(
    report.tests.length > 0 ? report.tests.map((t) => t.verdict) : [report.summary.verdict],
  );
  const lines: string[] = [];
  if (verdicts.has("failing")) {
    lines.push(
      "- **failing**: failed on every attempt, so a CI rerun is unlikely to pass; fix it (the rate above shows how sure we are).",
    );
  }
  if (verdicts.has("flaky")) {
    lines.push(
      "- **flaky**: passed and failed on the same commit. A CI rerun may pass, but the test needs a fix or a quarantine entry (below).",
    );
  }
  if (verdicts.has("skipped")) {
    lines.push("- **skipped**: reported as skipped (or pending, todo) in every attempt; nothing measured.");
  }
  if (verdicts.has("error")) {
    lines.push(
      "- **error**: could not be run (not found by the filter, or the runner crashed); not counted as failures.",
    );
  }
  if (lines.length === 0) {
    lines.push(
      "- Nothing failed again: the CI failure did not reproduce here. Suspect the CI environment (network, resources, ordering with tests not rerun).",
    );
  }
  return lines.join("\n");
}

function row(t: TestResult, confidence: number, ctx: RunContext): string {
  const seed = t.seedDeterministic === null ? "—" : t.seedDeterministic ? "yes" : "no";
  const q = quarantineOf(t.id, ctx.quarantine ?? [], ctx.today);
  const mark = q === null ? "" : q.expired ? " (quarantine expired)" : " (quarantined)";
  return `| ${codeSpan(t.id)} | ${t.failures}/${t.attempts} | ${rateText(t, confidence).replace(/\|/g, "\\|")} | ${SEVERITY_EMOJI[t.severity]} ${t.severity.toUpperCase()} | ${t.verdict}${mark} | ${seed} |`;
}

function detail(t: TestResult): string {
  const message = t.firstFailure?.message ?? "";
  const out = [
    `<details><summary><code>${htmlText(clip(t.id, 300))}</code>: ${htmlText(clip(firstLine(message), 200))}</summary>`,
    "",
  ];
  for (const n of notes(t)) out.push(`- ${mdText(n)}`);
  if (t.reproduce) out.push("", "Reproduce:", "", fenced(t.reproduce, "sh"));
  out.push("", fenced(clip(message, 4000)), "", "</details>");
  return out.join("\n");
}

function quarantineBlock(report: Report, tests: TestResult[], ctx: RunContext): string {
  const flaky = tests.filter(
    (t) => t.verdict === "flaky" && quarantineOf(t.id, ctx.quarantine ?? [], ctx.today) === null,
  );
  if (flaky.length === 0) return "";
  const review = new Date(`${ctx.today}T00:00:00Z`);
  review.setUTCDate(review.getUTCDate() + QUARANTINE_DAYS);
  const entries = flaky.map((t) => ({
    test: t.id,
    owner: "TODO: team or person",
    reason: `flaky: ${t.failures}/${t.attempts} failed (${pct(t.failureRate)}, ${pct(t.interval[0])}–${pct(t.interval[1])}) in detection ${report.id}`,
    review_by: review.toISOString().slice(0, 10),
  }));
  return [
    "<details><summary>Quarantine entries for <code>.flaky-detector.yml</code></summary>",
    "",
    "A quarantined test still runs and is still measured, but no longer reaches `fail-on` or sends notifications until its `review_by` date.",
    "",
    fenced(YAML.stringify({ quarantine: entries }, { lineWidth: 0 }), "yaml"),
    "",
    "</details>",
  ].join("\n");
}

function footerLine(report: Report, ctx: RunContext): string {
  const links: string[] = [];
  if (ctx.runUrl) links.push(`[CI run](${ctx.runUrl})`);
  if (ctx.detectionUrl) links.push(`[detection run](${ctx.detectionUrl})`);
  if (ctx.dashboardUrl) links.push(`[dashboard](${ctx.dashboardUrl})`);
  links.push(
    `job seed \`${report.request.seed}\``,
    `report \`${report.id}\``,
    `${TOOL.name} ${TOOL.version}`,
  );
  return `<sub>${links.join(" · ")}</sub>`;
}

/** A GitHub annotation for a test whose file is known. */
export interface Annotation {
  level: "warning" | "error";
  title: string;
  message: string;
  file: string;
  line?: number;
}

/** Annotations on test files: flaky tests warn, failing tests are errors; unknown files are skipped. */
export function annotationsOf(report: Report): Annotation[] {
  return rankTests(report.tests)
    .filter((t) => (t.verdict === "flaky" || t.verdict === "failing") && t.file)
    .map((t) => {
      const rate = rateText(t, report.summary.confidence);
      const first = firstLine(t.firstFailure?.message ?? "");
      return {
        level: t.verdict === "failing" ? "error" : "warning",
        title: `${t.verdict === "flaky" ? "Flaky" : "Failing"} test (${t.severity.toUpperCase()}): ${clip(t.name, 200)}`,
        message: [
          `${t.failures}/${t.attempts} attempts failed: ${rate}.`,
          first ? `First failure: ${clip(first, 500)}` : "",
          t.reproduce ? `Reproduce: ${t.reproduce}` : "",
        ]
          .filter(Boolean)
          .join("\n"),
        file: t.file as string,
        ...(t.line !== null ? { line: t.line } : {}),
      };
    });
}
