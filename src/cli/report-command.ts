import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { isoDay } from "../analysis/quarantine.js";
import { resolveConfig } from "../config/resolve.js";
import { EXIT, UsageError } from "../errors.js";
import { discordMessage, slackMessage } from "../reporters/chat.js";
import { formatComment, type RunContext } from "../reporters/github.js";
import { formatJUnit } from "../reporters/junit.js";
import { formatMarkdown } from "../reporters/markdown.js";
import { readReportFile } from "../reporters/report-file.js";
import type { CliIo } from "./io.js";
import { REPORT_FORMATS } from "./report-formats.js";

/** `flaky-detector report <report.json> --format …`: render a saved report again, in any of our outputs. */
export function reportCommand(
  file: string,
  options: { format?: string; output?: string; config?: string },
  io: CliIo,
): number {
  const format = options.format ?? "markdown";
  if (!(REPORT_FORMATS as readonly string[]).includes(format)) {
    throw new UsageError(
      "E_USAGE",
      `--format: must be one of ${REPORT_FORMATS.join(", ")}, got ${JSON.stringify(format)}`,
    );
  }
  const report = readReportFile(resolve(io.cwd, file));
  const { config } = resolveConfig({
    cwd: io.cwd,
    env: io.env,
    ...(options.config !== undefined ? { configPath: options.config } : {}),
  });
  const repository = io.env.GITHUB_REPOSITORY || undefined;
  const ctx: RunContext = { today: isoDay(new Date()), quarantine: config.quarantine, repository };
  const text: Record<(typeof REPORT_FORMATS)[number], () => string> = {
    markdown: () => formatMarkdown(report),
    json: () => `${JSON.stringify(report, null, 2)}\n`,
    junit: () => formatJUnit(report),
    github: () => formatComment(report, ctx),
    slack: () => `${JSON.stringify(slackMessage(report, ctx), null, 2)}\n`,
    discord: () => `${JSON.stringify(discordMessage(report, ctx), null, 2)}\n`,
  };
  const out = text[format as (typeof REPORT_FORMATS)[number]]();
  if (options.output) {
    const target = resolve(io.cwd, options.output);
    writeFileSync(target, out);
    io.stderr.write(`written to ${target}\n`);
  } else io.stdout.write(out);
  return EXIT.ok;
}
