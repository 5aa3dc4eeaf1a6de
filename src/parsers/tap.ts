import type { ParsedTest } from "./types.js";

/**
 * TAP 13/14 as node:test and tap-producing tools print it: `ok`/`not ok` lines, `# Subtest:`
 * nesting by indentation, SKIP/TODO directives, YAML diagnostics after a failure. Identity is the
 * path of subtest names joined with " > ". Pure: text in, results out.
 */
export function parseTap(text: string): ParsedTest[] {
  const out: ParsedTest[] = [];
  const lines = text.split("\n");
  // Names of open subtests by indentation depth, from "# Subtest: name".
  const open: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i] as string;
    const indent = raw.length - raw.trimStart().length;
    const depth = Math.floor(indent / 4);
    const line = raw.trim();
    const subtest = /^# Subtest: (.*)$/.exec(line);
    if (subtest) {
      open.length = depth;
      open[depth] = subtest[1] as string;
      continue;
    }
    const m = /^(not ok|ok)\b\s*(\d+)?\s*(?:- )?(.*?)(?:\s+#\s+(SKIP|TODO)\b.*)?$/i.exec(line);
    if (!m) continue;
    const name = (m[3] ?? "").replace(/\\#/g, "#");
    const directive = m[4]?.toUpperCase();
    // A parent's own ok line closes it: it is a suite, counted only when it has no children.
    const hasChildren = open.length > depth + 1;
    open.length = depth;
    if (hasChildren) continue;
    let status: ParsedTest["status"] = m[1] === "ok" ? "passed" : "failed";
    if (directive === "SKIP") status = "skipped";
    if (directive === "TODO") status = status === "failed" ? "skipped" : status;
    const diag = status === "failed" ? yamlBlock(lines, i + 1) : null;
    out.push({
      id: [...open.slice(0, depth), name].join(" > "),
      name,
      file: null,
      status,
      message: status === "failed" ? (diag?.error ?? diag?.text ?? "failed") : null,
      durationMs: diag?.durationMs ?? null,
    });
  }
  return out;
}

function yamlBlock(
  lines: string[],
  start: number,
): { text: string; error?: string; durationMs?: number } | null {
  if (lines[start]?.trim() !== "---") return null;
  const body: string[] = [];
  for (let j = start + 1; j < lines.length; j++) {
    if ((lines[j] as string).trim() === "...") break;
    body.push((lines[j] as string).trim());
  }
  const text = body.join("\n");
  const err = /^error: ['|"]?(.*?)['|"]?$/m.exec(text);
  const dur = /^duration_ms: ([\d.]+)/m.exec(text);
  return {
    text,
    ...(err?.[1] ? { error: err[1] } : {}),
    ...(dur ? { durationMs: Math.round(Number(dur[1])) } : {}),
  };
}
