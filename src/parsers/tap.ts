import type { ParsedTest } from "./types.js";

/**
 * TAP 13/14 as node:test and tap-producing tools print it: `ok`/`not ok` lines, `# Subtest:`
 * nesting by indentation, SKIP/TODO directives, YAML diagnostics after a failure. Identity is the
 * path of subtest names joined with " > ". Pure: text in, results out.
 */
export function parseTap(text: string): ParsedTest[] {
  const out: ParsedTest[] = [];
  const lines = text.split("\n");
  // Names of open subtests by indentation depth, from "# Subtest: name", and whether each has
  // reported a child result (then its own ok line closes a suite, not a test).
  const open: string[] = [];
  const hasChild: boolean[] = [];
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i] as string;
    const indent = raw.length - raw.trimStart().length;
    const depth = Math.floor(indent / 4);
    const line = raw.trim();
    const subtest = /^# Subtest: (.*)$/.exec(line);
    if (subtest) {
      open.length = depth;
      hasChild.length = depth;
      open[depth] = subtest[1] as string;
      hasChild[depth] = false;
      continue;
    }
    const m = /^(not ok|ok)\b\s*(\d+)?\s*(?:- )?(.*?)(?:\s+#\s+(SKIP|TODO)\b.*)?$/i.exec(line);
    if (!m) continue;
    const name = (m[3] ?? "").replace(/\\#/g, "#");
    const directive = m[4]?.toUpperCase();
    const isSuite = hasChild[depth] === true && open[depth] === name;
    open.length = depth;
    hasChild.length = depth;
    if (depth > 0) hasChild[depth - 1] = true;
    if (isSuite) continue;
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
    body.push(lines[j] as string);
  }
  const text = body.map((l) => l.trim()).join("\n");
  const dur = /^duration_ms: ([\d.]+)/m.exec(text);
  const error = yamlValue(body, "error");
  return {
    text,
    ...(error ? { error } : {}),
    ...(dur ? { durationMs: Math.round(Number(dur[1])) } : {}),
  };
}

/** A top-level key of a diagnostic block: a plain or quoted scalar, or a `|`/`>` block scalar. */
function yamlValue(body: string[], key: string): string | undefined {
  const i = body.findIndex((l) => l.trimStart().startsWith(`${key}:`));
  if (i === -1) return undefined;
  const line = body[i] as string;
  const indent = line.length - line.trimStart().length;
  const value = line
    .trimStart()
    .slice(key.length + 1)
    .trim();
  if (/^[|>][-+]?$/.test(value)) {
    const block: string[] = [];
    for (let j = i + 1; j < body.length; j++) {
      const l = body[j] as string;
      if (l.trim() !== "" && l.length - l.trimStart().length <= indent) break;
      block.push(l.trim());
    }
    return block.join("\n").trim();
  }
  return value.replace(/^(['"])(.*)\1$/, "$2");
}
