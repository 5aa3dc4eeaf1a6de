import { severityAtLeast } from "../analysis/classify.js";
import type { Report } from "../analysis/report.js";
import type { Severity } from "../config/schema.js";
import { UsageError } from "../errors.js";
import { discordMessage, slackMessage } from "../reporters/chat.js";
import type { RunContext } from "../reporters/github.js";
import { retrying } from "../util/retry.js";

/**
 * Slack and Discord notifications. A notification is a courtesy: it is sent only at or above
 * `notify.on`, retried on 429 and 5xx honouring Retry-After, and a failure becomes a warning —
 * never a failed detection. Webhook URLs are secrets (the path is the credential): they never
 * appear in a message, a log line or a report.
 */

export interface NotifyTargets {
  on: Severity;
  slackWebhook: string | null;
  discordWebhook: string | null;
}

export interface NotifyOutcome {
  target: "slack" | "discord";
  status: "sent" | "skipped" | "failed";
  /** Requests made (retries included). */
  requests: number;
  detail: string;
}

export interface NotifyOptions {
  /** The severity that gates (quarantined tests excluded); defaults to the report's. */
  severity?: Severity;
  note?: (line: string) => void;
  signal?: AbortSignal;
  /** Retries after the first request (default 4). */
  retries?: number;
  /** First backoff when no Retry-After is given, in ms (default 1000, doubling). */
  backoffMs?: number;
  /** Longest wait we accept from a Retry-After, in ms (default 60 s). */
  maxWaitMs?: number;
}

/** Check a webhook URL: https (http only on loopback, for local receivers), no credentials. */
export function validateWebhookUrl(field: string, value: string): string {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new UsageError(
      "E_USAGE",
      `${field}: expected a webhook URL such as https://hooks.slack.com/services/…, got a value that is not a URL`,
    );
  }
  const loopback = ["127.0.0.1", "localhost", "[::1]"].includes(u.hostname);
  if (u.protocol !== "https:" && !(u.protocol === "http:" && loopback)) {
    throw new UsageError(
      "E_USAGE",
      `${field}: webhooks must use https:// (http:// only for a receiver on loopback), got ${u.protocol}//${u.host}`,
    );
  }
  if (u.username || u.password) {
    throw new UsageError("E_USAGE", `${field}: the webhook URL must not contain user:password@`);
  }
  return u.toString();
}

export async function sendNotifications(
  report: Report,
  ctx: RunContext,
  targets: NotifyTargets,
  opts: NotifyOptions = {},
): Promise<NotifyOutcome[]> {
  const severity = opts.severity ?? report.summary.severity;
  const out: NotifyOutcome[] = [];
  const jobs: ["slack" | "discord", string | null][] = [
    ["slack", targets.slackWebhook],
    ["discord", targets.discordWebhook],
  ];
  for (const [target, url] of jobs) {
    if (!url) continue;
    if (!severityAtLeast(severity, targets.on)) {
      const detail = `severity ${severity.toUpperCase()} is below notify-on ${targets.on.toUpperCase()}`;
      out.push({ target, status: "skipped", requests: 0, detail });
      opts.note?.(`${target}: not sent: ${detail}`);
      continue;
    }
    const outcome =
      target === "slack"
        ? await withRetries(target, opts, (signal) =>
            postWebhook("Slack", url, slackMessage(report, ctx), signal),
          )
        : await withRetries(target, opts, (signal) =>
            postWebhook("Discord", url, discordMessage(report, ctx), signal),
          );
    out.push(outcome);
    opts.note?.(
      outcome.status === "sent"
        ? `${target}: notification sent`
        : `warning: ${target} notification not sent: ${outcome.detail}`,
    );
  }
  return out;
}

/** What one request answered: ok, or a status with the Retry-After it carried. */
type Answer =
  | { ok: true }
  | { ok: false; status: number | null; retryAfterMs: number | null; detail: string };

async function withRetries(
  target: "slack" | "discord",
  opts: NotifyOptions,
  post: (signal: AbortSignal | undefined) => Promise<Answer>,
): Promise<NotifyOutcome> {
  return retrying<NotifyOutcome>(
    {
      retries: opts.retries ?? 4,
      backoffMs: opts.backoffMs ?? 1000,
      maxWaitMs: opts.maxWaitMs ?? 60_000,
      signal: opts.signal,
      note: (detail, wait) =>
        opts.note?.(`${target}: ${detail}; retrying in ${Math.round(wait / 100) / 10} s`),
    },
    async (n) => {
      const answer = await post(opts.signal);
      if (answer.ok) return { done: { target, status: "sent", requests: n + 1, detail: "sent" } };
      return {
        retryable: answer.status === null || answer.status === 429 || answer.status >= 500,
        retryAfterMs: answer.retryAfterMs,
        detail: answer.detail,
        giveUp: () => ({ target, status: "failed", requests: n + 1, detail: answer.detail }),
      };
    },
  );
}

function retryAfterOf(res: Response): number | null {
  const v = Number(res.headers.get("retry-after"));
  return Number.isFinite(v) && v >= 0 && res.headers.has("retry-after") ? v * 1000 : null;
}

function networkCause(e: unknown): string {
  const cause = (e as { cause?: { code?: string } }).cause;
  return cause?.code ?? (e as Error).name ?? "network error";
}

/**
 * One POST of a JSON message to a Slack or Discord webhook. Plain fetch for both: the retry loop
 * above needs each answer's status and Retry-After, which @slack/webhook's own retries (that did
 * not read Retry-After) hid — with them switched off it added nothing but a dependency.
 */
async function postWebhook(
  service: "Slack" | "Discord",
  url: string,
  body: Record<string, unknown>,
  signal?: AbortSignal,
): Promise<Answer> {
  let res: Response;
  try {
    res = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", "user-agent": "flaky-detector" },
      body: JSON.stringify(body),
      redirect: "error",
      signal: signal ? AbortSignal.any([signal, AbortSignal.timeout(15_000)]) : AbortSignal.timeout(15_000),
    });
  } catch (e) {
    return {
      ok: false,
      status: null,
      retryAfterMs: null,
      detail: `cannot reach ${service}: ${networkCause(e)}`,
    };
  }
  if (res.ok) {
    await res.body?.cancel();
    return { ok: true };
  }
  const text = await res.text().catch(() => "");
  let retryAfterMs = retryAfterOf(res);
  if (retryAfterMs === null && res.status === 429) {
    // Discord also puts the wait in the JSON body, in seconds (Slack sends the header).
    const seconds = Number((safeJson(text) as { retry_after?: unknown } | null)?.retry_after);
    if (Number.isFinite(seconds) && seconds >= 0) retryAfterMs = seconds * 1000;
  }
  return {
    ok: false,
    status: res.status,
    retryAfterMs,
    detail: `${service} answered HTTP ${res.status}${text ? ` (${text.slice(0, 200)})` : ""}`,
  };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
