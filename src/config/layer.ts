import type * as z from "zod";
import type { ConfigProblem } from "../errors.js";
import { nearest } from "../util/suggest.js";
import { expectation, objectKeys, schemaAt } from "./introspect.js";
import { type ConfigLayer, configFileSchema, configLayerSchema, KEY_ALIASES } from "./schema.js";

/** Where a layer of configuration came from, so a message can say where to fix a value. */
export interface LayerOrigin {
  /** ".flaky-detector.yml", "environment", "command line", "job input". */
  label: string;
  /** Location and fix for one key path, e.g. "in .flaky-detector.yml line 3". */
  where(path: readonly (string | number)[]): string;
}

export interface RawLayer {
  origin: LayerOrigin;
  values: unknown;
}

export interface ValidatedLayer {
  origin: LayerOrigin;
  values: ConfigLayer;
}

export interface LayerResult {
  layer?: ValidatedLayer;
  problems: ConfigProblem[];
  warnings: string[];
}

/** Validate one layer against the schema; every problem is reported, with the bad value and a fix. */
export function validateLayer(raw: RawLayer, opts: { allowAliases?: boolean } = {}): LayerResult {
  const problems: ConfigProblem[] = [];
  const warnings: string[] = [];
  const { origin } = raw;
  if (raw.values === null || raw.values === undefined)
    return { layer: { origin, values: {} }, problems, warnings };
  if (!isPlainObject(raw.values)) {
    problems.push({
      path: "",
      message: `${origin.label} must be a mapping of keys to values, got ${show(raw.values)}`,
      hint: origin.where([]),
    });
    return { problems, warnings };
  }
  const values: Record<string, unknown> = { ...raw.values };
  for (const [alias, canonical] of Object.entries(KEY_ALIASES)) {
    if (!(alias in values) || !opts.allowAliases) continue;
    if (canonical in values && values[canonical] !== values[alias]) {
      problems.push({
        path: alias,
        message: `conflicts with ${canonical} (${show(values[alias])} vs ${show(values[canonical])})`,
        hint: `keep only ${canonical}; ${origin.where([alias])}`,
      });
    }
    values[canonical] ??= values[alias];
    delete values[alias];
  }
  const schema = opts.allowAliases ? configFileSchema : configLayerSchema;
  const parsed = configLayerSchema.safeParse(values);
  if (!parsed.success) {
    // In the order the user wrote the keys, not zod's traversal order.
    const order = Object.keys(values);
    const rank = (p: ConfigProblem) => {
      const i = order.indexOf(p.path.split(".")[0] ?? "");
      return i === -1 ? order.length : i;
    };
    const found = parsed.error.issues.flatMap((i) => toProblems(i, values, origin, schema));
    const sorted = found.map((p, i) => ({ p, i })).sort((a, b) => rank(a.p) - rank(b.p) || a.i - b.i);
    problems.push(...sorted.map((x) => x.p));
  }
  if (problems.length > 0) return { problems, warnings };
  return { layer: { origin, values: parsed.data as ConfigLayer }, problems, warnings };
}

/** One zod issue as problems naming the key path, the bad value and the fix (also used for job inputs). */
export function toProblems(
  issue: z.core.$ZodIssue,
  values: unknown,
  origin: LayerOrigin,
  schema: z.ZodType,
): ConfigProblem[] {
  const path = issue.path.map((p) => (typeof p === "symbol" ? String(p) : p));
  if (issue.code === "unrecognized_keys") {
    const valid = objectKeys(schemaAt(schema, path) ?? schema) ?? [];
    return issue.keys.map((key) => {
      const suggestion = nearest(key, valid);
      const keyPath = [...path, key];
      return {
        path: dotted(keyPath),
        message: `unknown key${suggestion ? `; did you mean "${suggestion}"?` : ""}`,
        hint: suggestion
          ? origin.where(keyPath)
          : `${origin.where(keyPath)}; valid keys here: ${valid.join(", ")}`,
      };
    });
  }
  const at = schemaAt(schema, path);
  const value = valueAt(values, path);
  // A pattern's own message ("expected a variable name or a glob…") says more than "a string".
  // So does a refinement's (a rule between fields, which the field's type cannot express).
  const own =
    (issue.code === "invalid_format" && issue.message.startsWith("expected")) || issue.code === "custom"
      ? issue.message
      : undefined;
  const message =
    value === undefined
      ? `is required: must be ${at ? expectation(at) : "set"}`
      : own
        ? `${own}, got ${show(value)}`
        : `must be ${at ? expectation(at) : issue.message}, got ${show(value)}`;
  return [{ path: dotted(path), message, hint: origin.where(path) }];
}

/** runs, severity_thresholds.high, tests.0, "odd key": a path a person can read back. */
export function dotted(path: readonly (string | number)[]): string {
  return path
    .map((p) => (typeof p === "number" || /^[A-Za-z_][A-Za-z0-9_]*$/.test(p) ? String(p) : JSON.stringify(p)))
    .join(".");
}

export function valueAt(values: unknown, path: readonly (string | number)[]): unknown {
  let cur: unknown = values;
  for (const key of path) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<string | number, unknown>)[key];
  }
  return cur;
}

export function show(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (value === undefined) return "nothing";
  try {
    const text = JSON.stringify(value);
    return text.length > 80 ? `${text.slice(0, 77)}...` : text;
  } catch {
    return String(value);
  }
}

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
