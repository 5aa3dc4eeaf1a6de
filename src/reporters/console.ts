import { styleText } from "node:util";
import type { Report } from "../analysis/report.js";
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
  if (s.stoppedEarly)
    lines.push(`  stopped early after ${s.attempts} of ${s.budget}: ${describeStop(s.stopReason)}`);
  lines.push(`  job seed ${report.request.seed} (replay the whole job with --seed ${report.request.seed})`);
  if (report.reproduce) lines.push(`  reproduce a failure: ${report.reproduce}`);
  const first = report.attempts.find((a) => a.outcome === "failed" || a.outcome === "timedOut");
  if (first) {
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
  for (const w of report.warnings) lines.push(paint("yellow", `  warning: ${w}`));
  lines.push("");
  return lines.join("\n");
}

function duration(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)}ms` : `${(ms / 1000).toFixed(1)}s`;
}
