import type { Report, TestResult } from "../analysis/report.js";
import { pct } from "../analysis/summarize.js";
import type { Severity } from "../config/schema.js";
import { TOOL } from "../version.js";
import { chatCode, clip, discordText, slackText } from "./escape.js";
import { rateText, SEVERITY_EMOJI } from "./format.js";
import { headline, type RunContext, rankTests } from "./github.js";

/** Slack Block Kit and Discord embed bodies for one detection: the same facts, each platform's shape. */

/** Discord embed colours by severity (GitHub's palette: red, orange, yellow, blue, green). */
export const SEVERITY_COLOR: Record<Severity, number> = {
  critical: 0xd73a49,
  high: 0xf66a0a,
  medium: 0xdbab09,
  low: 0x0366d6,
  none: 0x28a745,
};

const TOP = 5;

function topTests(report: Report): TestResult[] {
  return rankTests(report.tests)
    .filter((t) => t.verdict === "flaky" || t.verdict === "failing")
    .slice(0, TOP);
}

function facts(report: Report, ctx: RunContext): [string, string][] {
  const s = report.summary;
  const out: [string, string][] = [];
  if (ctx.repository) out.push(["Repository", ctx.repository]);
  if (ctx.prNumber !== undefined) out.push(["Pull request", `#${ctx.prNumber}`]);
  out.push(["Verdict", `${s.verdict} (${s.severity.toUpperCase()})`]);
  out.push(["Failure rate", `${pct(s.failureRate)} (${pct(s.interval[0])}–${pct(s.interval[1])})`]);
  out.push(["Attempts", `${s.attempts} of ${s.budget}`]);
  if (ctx.sha) out.push(["Commit", ctx.sha.slice(0, 7)]);
  return out;
}

function testLine(t: TestResult, report: Report, code: (s: string) => string): string {
  return `${code(clip(t.id, 150))} — ${t.failures}/${t.attempts}, ${rateText(t, report.summary.confidence)}, ${t.verdict} ${t.severity.toUpperCase()}`;
}

/** An incoming-webhook message in Block Kit (header, fields, top tests, buttons), with fallback text. */
export function slackMessage(report: Report, ctx: RunContext): Record<string, unknown> {
  const s = report.summary;
  const title = `${SEVERITY_EMOJI[s.severity]} ${headline(report)}`;
  const where = [ctx.repository, ctx.prNumber !== undefined ? `#${ctx.prNumber}` : ""]
    .filter(Boolean)
    .join(" ");
  const blocks: Record<string, unknown>[] = [
    { type: "header", text: { type: "plain_text", text: clip(title, 150), emoji: true } },
    {
      type: "section",
      fields: facts(report, ctx).map(([k, v]) => ({
        type: "mrkdwn",
        text: clip(`*${k}*\n${k === "Commit" ? chatCode(v) : slackText(v)}`, 2000),
      })),
    },
  ];
  const top = topTests(report);
  if (top.length > 0) {
    blocks.push({
      type: "section",
      text: {
        type: "mrkdwn",
        text: clip(
          [`*Top tests*`, ...top.map((t) => `• ${slackText(testLine(t, report, chatCode))}`)].join("\n"),
          3000,
        ),
      },
    });
  }
  const buttons = [
    ["Open pull request", ctx.prUrl],
    ["View CI run", ctx.runUrl],
    ["Dashboard", ctx.dashboardUrl],
  ]
    .filter((b): b is [string, string] => typeof b[1] === "string")
    .map(([text, url]) => ({ type: "button", text: { type: "plain_text", text }, url }));
  if (buttons.length > 0) blocks.push({ type: "actions", elements: buttons });
  blocks.push({
    type: "context",
    elements: [{ type: "mrkdwn", text: `${TOOL.name} ${TOOL.version} · report ${chatCode(report.id)}` }],
  });
  return { text: slackText(`${title}${where ? ` in ${where}` : ""}`), blocks };
}

/** A Discord webhook body: one embed coloured by severity; mentions are switched off. */
export function discordMessage(report: Report, ctx: RunContext): Record<string, unknown> {
  const s = report.summary;
  const fields: Record<string, unknown>[] = facts(report, ctx).map(([name, value]) => ({
    name,
    value: clip(name === "Commit" ? chatCode(value) : discordText(value), 1024),
    inline: true,
  }));
  const top = topTests(report);
  if (top.length > 0) {
    fields.push({
      name: "Top tests",
      value: clip(top.map((t) => `• ${testLine(t, report, chatCode)}`).join("\n"), 1024),
      inline: false,
    });
  }
  const links = [
    ["pull request", ctx.prUrl],
    ["CI run", ctx.runUrl],
    ["dashboard", ctx.dashboardUrl],
  ]
    .filter((l): l is [string, string] => typeof l[1] === "string")
    .map(([text, url]) => `[${text}](${url})`);
  const embed: Record<string, unknown> = {
    title: clip(`${SEVERITY_EMOJI[s.severity]} ${headline(report)}`, 256),
    description: clip([discordText(s.statement), links.join(" · ")].filter(Boolean).join("\n"), 4096),
    color: SEVERITY_COLOR[s.severity],
    fields,
    footer: { text: clip(`${TOOL.name} ${TOOL.version} · report ${report.id}`, 2048) },
    timestamp: report.createdAt,
  };
  const url = ctx.prUrl ?? ctx.runUrl;
  if (url) embed.url = url;
  return { username: "flaky-detector", allowed_mentions: { parse: [] }, embeds: [embed] };
}
