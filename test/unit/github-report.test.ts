import { afterEach, describe, expect, test } from "vitest";
import { expiredQuarantines, gateSeverity } from "../../src/analysis/quarantine.js";
import type { Report } from "../../src/analysis/report.js";
import { sendNotifications } from "../../src/notify/send.js";
import { discordMessage, SEVERITY_COLOR, slackMessage } from "../../src/reporters/chat.js";
import { codeSpan, fenced } from "../../src/reporters/escape.js";
import {
  annotationsOf,
  COMMENT_LIMIT,
  COMMENT_MARKER,
  formatComment,
  formatSummary,
  type RunContext,
} from "../../src/reporters/github.js";
import { report } from "../helpers/reports.js";
import { type Receiver, startReceiver } from "../helpers/webhooks.js";

const HOSTILE = "cart | total `x` <script>alert(1)</script> @octocat ```";

function detection(tests: { id: string; attempts: number; failures: number }[], message = "boom"): Report {
  const r = report("r-1", "2026-11-24T10:00:00.000Z", tests);
  return {
    ...r,
    request: { ...r.request, tests: tests.map((t) => t.id), parallelism: 2, command: ["npm", "test"] },
    tests: r.tests.map((t) => ({
      ...t,
      file: "test/cart.test.js",
      line: 12,
      firstFailure: t.firstFailure ? { ...t.firstFailure, message } : null,
    })),
  } as Report;
}

const ctx: RunContext = {
  repository: "acme/shop",
  prNumber: 7,
  prUrl: "https://github.com/acme/shop/pull/7",
  runUrl: "https://github.com/acme/shop/actions/runs/1",
  runName: "CI #1",
  today: "2026-11-24",
};

describe("the pull-request comment", () => {
  test("escapes test names and messages: tables, code, HTML and mentions stay inert", () => {
    const r = detection(
      [{ id: HOSTILE, attempts: 10, failures: 3 }],
      "expected 1 got 2\n```\n<img src=x> @team/reviewers",
    );
    const body = formatComment(r, ctx);
    expect(body.startsWith(COMMENT_MARKER)).toBe(true);
    // The table row keeps six cells: the pipe is escaped, the backticks get a longer fence.
    const row = body.split("\n").find((l) => l.includes("cart \\| total")) as string;
    expect(row).toContain("```` cart \\| total `x` <script>alert(1)</script> @octocat ``` ````");
    expect(row.replace(/\\\|/g, "").split("|").length).toBe(8);
    // HTML contexts get entities, mentions a zero-width space.
    expect(body).toContain(
      "<summary><code>cart | total `x` &lt;script&gt;alert(1)&lt;/script&gt; @&#8203;octocat ```</code>",
    );
    // The message block's fence is longer than the backticks inside it.
    expect(body).toContain("````\nexpected 1 got 2\n```\n<img src=x> @team/reviewers\n````");
    // Outside code, no raw tag and no live mention.
    const outsideCode = body.replace(/(`{3,})[\s\S]*?\1/g, "").replace(/(`+)[^`]*?\1/g, "");
    expect(outsideCode).not.toMatch(/<script|<img|@octocat|@team/);
  });

  test("stays under GitHub's limit: every row first, failure details left out with a note", () => {
    const tests = Array.from({ length: 300 }, (_, i) => ({
      id: `suite ${i} › does thing ${i}`,
      attempts: 40,
      failures: (i % 7) + 1,
    }));
    const r = detection(tests, "x".repeat(2000));
    const body = formatComment(r, ctx);
    expect(body.length).toBeLessThanOrEqual(COMMENT_LIMIT);
    expect(body).toMatch(
      /> \*\*Truncated:\*\* \d+ failure detail\(s\), the quarantine entries left out to stay under GitHub's 65,536-character limit/,
    );
    expect(body.trimEnd().endsWith("</sub>")).toBe(true);
    expect(body.split("\n").filter((l) => l.startsWith("| `suite ")).length).toBe(300);
    const summary = formatSummary(r, ctx);
    expect(summary.length).toBeGreaterThan(body.length);
    expect(summary).not.toContain(COMMENT_MARKER);
    expect(summary).not.toContain("Truncated");
  });

  test("with more rows than fit, the worst tests keep theirs", () => {
    const tests = Array.from({ length: 1500 }, (_, i) => ({
      id: `suite ${i} › does thing ${i}`,
      attempts: 100,
      failures: i % 50,
    }));
    const body = formatComment(detection(tests), ctx);
    expect(body.length).toBeLessThanOrEqual(COMMENT_LIMIT);
    const rows = body.split("\n").filter((l) => l.startsWith("| `suite "));
    expect(rows.length).toBeGreaterThan(100);
    expect(body).toContain(`${1500 - rows.length} test row(s)`);
    // Ranked: the highest failure rate (49/100) first; stable tests (0/100) are the ones left out.
    expect(rows[0]).toContain("| 49/100 |");
    expect(rows.some((l) => l.includes("| 0/100 |"))).toBe(false);
  });

  test("a tiny limit still yields a well-formed comment that says what it left out", () => {
    const r = detection(
      [
        { id: "a", attempts: 10, failures: 3 },
        { id: "b", attempts: 10, failures: 10 },
      ],
      "m".repeat(5000),
    );
    const body = formatComment(r, ctx, 2500);
    expect(body.length).toBeLessThanOrEqual(2500);
    expect(body).toMatch(/Truncated:.*left out/);
  });

  test("suggests quarantine entries for flaky tests only, and marks quarantined ones", () => {
    const r = detection([
      { id: "flaky one", attempts: 10, failures: 3 },
      { id: "flaky two", attempts: 10, failures: 4 },
      { id: "broken", attempts: 10, failures: 10 },
    ]);
    const body = formatComment(r, {
      ...ctx,
      quarantine: [{ test: "flaky t*", owner: "team-cart", review_by: "2026-12-01" }],
    });
    expect(body).toContain("| flaky (quarantined) |");
    expect(body).toContain('  - test: flaky one\n    owner: "TODO: team or person"');
    expect(body).toContain("review_by: 2026-12-24");
    expect(body).not.toContain("- test: flaky two");
    expect(body).not.toContain("- test: broken");
  });
});

describe("quarantine", () => {
  const r = detection([
    { id: "flaky", attempts: 10, failures: 6 },
    { id: "low", attempts: 100, failures: 2 },
  ]);
  r.tests[0] = { ...(r.tests[0] as Report["tests"][number]), severity: "high" };
  r.tests[1] = { ...(r.tests[1] as Report["tests"][number]), severity: "low" };
  r.summary.severity = "high";

  test("a quarantined test no longer gates; others still do", () => {
    expect(gateSeverity(r, [], "2026-11-24")).toBe("high");
    expect(gateSeverity(r, [{ test: "flaky", review_by: "2026-12-01" }], "2026-11-24")).toBe("low");
    expect(gateSeverity(r, [{ test: "*" }], "2026-11-24")).toBe("none");
  });

  test("an entry past its review date counts again, with a warning naming it", () => {
    const entries = [{ test: "flaky", review_by: "2026-11-01" }];
    expect(gateSeverity(r, entries, "2026-11-24")).toBe("high");
    expect(expiredQuarantines(r.tests, entries, "2026-11-24")).toEqual([
      'quarantine entry for "flaky" expired on 2026-11-01; flaky counts again: fix the test or renew review_by',
    ]);
  });
});

describe("escaping helpers", () => {
  test("code spans and fences show any text exactly", () => {
    expect(codeSpan("a`b")).toBe("``a`b``");
    expect(codeSpan("`edge`")).toBe("`` `edge` ``");
    expect(fenced("x\n`````\ny")).toBe("``````\nx\n`````\ny\n``````");
  });
});

describe("annotations", () => {
  test("flaky tests warn and failing tests are errors, on their file and line", () => {
    const r = detection([
      { id: "f", attempts: 10, failures: 3 },
      { id: "b", attempts: 10, failures: 10 },
      { id: "s", attempts: 10, failures: 0 },
    ]);
    const a = annotationsOf(r);
    expect(a.map((x) => [x.level, x.file, x.line])).toEqual([
      ["error", "test/cart.test.js", 12],
      ["warning", "test/cart.test.js", 12],
    ]);
    expect(a[1]?.message).toContain("3/10 attempts failed");
    expect(a[1]?.message).toContain("Reproduce: TEST_SEED=1 x");
  });
});

describe("Slack and Discord bodies", () => {
  const r = detection([{ id: "<@U123> & <!here>", attempts: 10, failures: 3 }]);

  test("Slack: Block Kit with escaped mrkdwn and buttons to the PR and run", () => {
    const m = slackMessage(r, ctx) as {
      text: string;
      blocks: { type: string; text?: { text: string }; elements?: { url?: string }[] }[];
    };
    expect(m.blocks.map((b) => b.type)).toEqual(["header", "section", "section", "actions", "context"]);
    const top = m.blocks[2]?.text?.text as string;
    expect(top).toContain("&lt;@U123&gt; &amp; &lt;!here&gt;");
    expect(top).not.toContain("<@U123>");
    expect(m.blocks[3]?.elements?.map((e) => e.url)).toEqual([ctx.prUrl, ctx.runUrl]);
  });

  test("Discord: one embed coloured by severity, mentions disabled", () => {
    const m = discordMessage(r, ctx) as {
      allowed_mentions: unknown;
      embeds: { color: number; url: string }[];
    };
    expect(m.allowed_mentions).toEqual({ parse: [] });
    expect(m.embeds[0]?.color).toBe(SEVERITY_COLOR[r.summary.severity]);
    expect(m.embeds[0]?.url).toBe(ctx.prUrl);
  });
});

describe("notifications", () => {
  let receivers: Receiver[] = [];
  afterEach(async () => {
    await Promise.all(receivers.map((x) => x.close()));
    receivers = [];
  });
  const r = detection([{ id: "t", attempts: 10, failures: 3 }]);

  test("below notify-on nothing is sent", async () => {
    const slack = await startReceiver("slack");
    receivers.push(slack);
    const out = await sendNotifications(r, ctx, {
      on: "critical",
      slackWebhook: slack.url,
      discordWebhook: null,
    });
    expect(out).toEqual([
      {
        target: "slack",
        status: "skipped",
        requests: 0,
        detail: "severity MEDIUM is below notify-on CRITICAL",
      },
    ]);
    expect(slack.times).toEqual([]);
  });

  test("a receiver that keeps failing gives a warning after the retries, never an exception", async () => {
    const five = { status: 500, body: "oops" };
    const slack = await startReceiver("slack", [five, five, five]);
    const discord = await startReceiver("discord", [
      { status: 400, body: '{"message":"Invalid Form Body"}' },
    ]);
    receivers.push(slack, discord);
    const lines: string[] = [];
    const out = await sendNotifications(
      r,
      ctx,
      { on: "low", slackWebhook: slack.url, discordWebhook: discord.url },
      { retries: 2, backoffMs: 10, note: (l) => lines.push(l) },
    );
    expect(out.map((o) => [o.target, o.status, o.requests])).toEqual([
      ["slack", "failed", 3],
      ["discord", "failed", 1],
    ]);
    expect(slack.times).toHaveLength(3);
    expect(
      lines.some((l) => l.startsWith("warning: discord notification not sent: Discord answered HTTP 400")),
    ).toBe(true);
    expect(lines.join("\n")).not.toContain("XXXXSECRET");
  });
});
