/**
 * Escaping for text we did not write (test names, failure messages, commands) when it lands in
 * GitHub markdown, Slack mrkdwn or Discord markdown. Test names come from the code under test: a
 * name with a pipe must not break a table, a backtick must not end a code span, `<script>` must
 * stay text and `@team` must not notify anyone.
 */

const ZWSP = "\u200b";

/** An inline code span that shows `s` exactly, safe inside a GFM table cell. */
export function codeSpan(s: string): string {
  const flat = s.replace(/\r?\n/g, " ");
  const longest = Math.max(0, ...[...flat.matchAll(/`+/g)].map((m) => m[0].length));
  const ticks = "`".repeat(longest + 1);
  const pad = flat.startsWith("`") || flat.endsWith("`") ? " " : "";
  // GFM splits table cells on `|` before it parses code spans, so the pipe is escaped even here.
  return `${ticks}${pad}${flat.replace(/\|/g, "\\|")}${pad}${ticks}`;
}

/** A fenced block that shows `s` exactly: the fence is longer than any backtick run inside. */
export function fenced(s: string, lang = ""): string {
  const longest = Math.max(0, ...[...s.matchAll(/`{3,}/g)].map((m) => m[0].length));
  const fence = "`".repeat(Math.max(3, longest + 1));
  return `${fence}${lang}\n${s.replace(/\s+$/, "")}\n${fence}`;
}

/** Plain text in markdown or HTML (a `<summary>`, a sentence): no markup, links or mentions survive. */
export function mdText(s: string): string {
  return s
    .replace(/\r?\n/g, " ")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/([\\`*_[\]()#!|~])/g, "\\$1")
    .replace(/@/g, `@${ZWSP}`);
}

/** Slack mrkdwn: only &, < and > are control characters (mentions need <@…>, links <url|…>). */
export function slackText(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** Slack and Discord inline code cannot escape a backtick: show a look-alike instead. */
export function chatCode(s: string): string {
  return `\`${s.replace(/\r?\n/g, " ").replace(/`/g, "ˋ")}\``;
}

/**
 * Discord markdown outside code: escape its inline markup (and headings, quotes and lists at a
 * line start); other punctuation would show its backslash. Mentions are off in the payload too.
 */
export function discordText(s: string): string {
  return s
    .replace(/([\\`*_~|[\]])/g, "\\$1")
    .replace(/^(#{1,3}\s|>\s|-\s)/gm, "\\$1")
    .replace(/@/g, `@${ZWSP}`);
}

/** Cut to `max` characters with an ellipsis, never splitting a surrogate pair. */
export function clip(s: string, max: number): string {
  if (s.length <= max) return s;
  let cut = s.slice(0, Math.max(0, max - 1));
  if (/[\uD800-\uDBFF]$/.test(cut)) cut = cut.slice(0, -1);
  return `${cut}…`;
}

/** Text inside HTML (`<summary>`, `<code>`): entities only, and mentions broken by a zero-width space. */
export function htmlText(s: string): string {
  return s
    .replace(/\r?\n/g, " ")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/@/g, "@&#8203;");
}
