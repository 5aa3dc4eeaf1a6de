import { existsSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { type Document, isMap, isScalar, LineCounter, parseDocument } from "yaml";
import { ConfigError } from "../errors.js";
import type { RawLayer } from "./layer.js";

export const CONFIG_FILE_NAMES = [".flaky-detector.yml", ".flaky-detector.yaml"] as const;

/** The config file in `dir`, if any. */
export function findConfigFile(dir: string): string | undefined {
  for (const name of CONFIG_FILE_NAMES) {
    const candidate = join(dir, name);
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

/** Read and parse a config file; syntax errors name the line. */
export function loadConfigFile(path: string, cwd = process.cwd()): RawLayer {
  const shown = relative(cwd, path) || path;
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    const reason = (e as NodeJS.ErrnoException).code === "ENOENT" ? "file not found" : (e as Error).message;
    throw new ConfigError(
      [
        {
          path: "",
          message: `cannot read config file ${shown}: ${reason}`,
          hint: "check --config or FLAKY_DETECTOR_CONFIG",
        },
      ],
      "E_CONFIG_READ",
    );
  }
  return parseConfigText(text, shown);
}

/** Alias expansions a config file may use (the yaml library's maxAliasCount). */
export const MAX_ALIAS_COUNT = 100;

export function parseConfigText(text: string, shown: string): RawLayer {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((err) => {
        const pos = err.linePos?.[0];
        return {
          path: "",
          message: `${shown}${pos ? ` line ${pos.line} column ${pos.col}` : ""}: ${(err.message.split("\n")[0] ?? "").replace(/ at line \d+, column \d+:?$/, "")}`,
          hint: "fix the YAML syntax",
        };
      }),
      "E_CONFIG_SYNTAX",
    );
  }
  let values: unknown;
  try {
    // Aliases are expanded by toJS: a "billion laughs" file would otherwise take all memory.
    values = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (e) {
    throw new ConfigError(
      [
        {
          path: "",
          message: `${shown}: cannot be read as configuration: ${(e as Error).message}`,
          hint: `a config file needs no more than a few YAML aliases (at most ${MAX_ALIAS_COUNT}) and little nesting; write the values out`,
        },
      ],
      "E_CONFIG_SYNTAX",
    );
  }
  return {
    values,
    origin: {
      label: shown,
      where: (path) => {
        const line = lineOf(doc, lineCounter, path);
        return `in ${shown}${line ? ` line ${line}` : ""}`;
      },
    },
  };
}

/** Line of a key (1-based), walking up to the nearest ancestor that exists. */
function lineOf(doc: Document, lc: LineCounter, path: readonly (string | number)[]): number | undefined {
  for (let depth = path.length; depth > 0; depth--) {
    const parent = depth === 1 ? doc.contents : doc.getIn(path.slice(0, depth - 1), true);
    const key = path[depth - 1];
    if (isMap(parent)) {
      const pair = parent.items.find((p) => isScalar(p.key) && p.key.value === key);
      const range = pair && isScalar(pair.key) ? pair.key.range : undefined;
      if (range) return lc.linePos(range[0]).line;
    }
    const node = doc.getIn(path.slice(0, depth), true) as { range?: [number, number, number] } | undefined;
    if (node?.range) return lc.linePos(node.range[0]).line;
  }
  return undefined;
}
