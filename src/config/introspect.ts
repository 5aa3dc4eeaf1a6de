import type * as z from "zod";

/**
 * Reads the zod schema back so that messages, environment coercion and docs derive from the one
 * source of truth instead of a second hand-written table.
 */

type AnySchema = z.ZodType;
// zod v4 exposes its definition objects; these are the few fields we read.
interface Def {
  type: string;
  innerType?: AnySchema;
  shape?: Record<string, AnySchema>;
  element?: AnySchema;
  options?: AnySchema[];
  entries?: Record<string, string>;
  format?: string;
}

function def(s: AnySchema): Def {
  return (s as unknown as { def: Def }).def;
}

export function unwrap(s: AnySchema): { inner: AnySchema; nullable: boolean } {
  let inner = s;
  let nullable = false;
  for (;;) {
    const d = def(inner);
    if (d.type === "nullable") nullable = true;
    if ((d.type === "optional" || d.type === "nullable" || d.type === "default") && d.innerType) {
      inner = d.innerType;
      continue;
    }
    return { inner, nullable };
  }
}

export function typeOf(s: AnySchema): string {
  return def(unwrap(s).inner).type;
}

export function objectKeys(s: AnySchema): string[] | undefined {
  const d = def(unwrap(s).inner);
  return d.type === "object" && d.shape ? Object.keys(d.shape) : undefined;
}

/** The schema at a dot/array path, or undefined when the path leaves the schema. */
export function schemaAt(root: AnySchema, path: readonly PropertyKey[]): AnySchema | undefined {
  let cur: AnySchema | undefined = root;
  for (const key of path) {
    if (!cur) return undefined;
    const d = def(unwrap(cur).inner);
    if (d.type === "object" && d.shape) cur = d.shape[String(key)];
    else if (d.type === "array" && d.element) cur = d.element;
    else return undefined;
  }
  return cur;
}

export function description(s: AnySchema): string | undefined {
  return (s as unknown as { description?: string }).description;
}

/** "an integer from 1 to 10000", "one of fixed, adaptive", … */
export function expectation(s: AnySchema): string {
  const { inner, nullable } = unwrap(s);
  const d = def(inner);
  const num = inner as unknown as { minValue: number | null; maxValue: number | null; isInt: boolean };
  let text: string;
  switch (d.type) {
    case "number": {
      const kind = num.isInt ? "an integer" : "a number";
      const lo = num.minValue;
      const hi = num.maxValue;
      const bounded = (v: number | null) => v !== null && Number.isFinite(v) && Math.abs(v) < 2 ** 53 - 1;
      if (bounded(lo) && bounded(hi)) text = `${kind} from ${lo} to ${hi}`;
      else if (bounded(lo)) text = `${kind} of at least ${lo}`;
      else if (bounded(hi)) text = `${kind} of at most ${hi}`;
      else text = kind;
      break;
    }
    case "boolean":
      text = "true or false";
      break;
    case "enum":
      text = `one of ${Object.values(d.entries ?? {}).join(", ")}`;
      break;
    case "string":
      text =
        d.format === "url"
          ? "an http(s) URL"
          : d.format === "date"
            ? "a date written YYYY-MM-DD"
            : "a non-empty string";
      break;
    case "array":
      text = `a list of ${d.element ? plural(expectation(d.element)) : "values"}`;
      break;
    case "literal":
      text = ((d as unknown as { values?: unknown[] }).values ?? []).map((v) => String(v)).join(" or ");
      break;
    case "union":
      text = (d.options ?? []).map(expectation).join(", or ");
      break;
    case "object":
      text = `a mapping with keys ${(objectKeys(inner) ?? []).join(", ")}`;
      break;
    default:
      text = d.type;
  }
  return nullable ? `${text}, or null` : text;
}

function plural(e: string): string {
  if (e === "a non-empty string") return "non-empty strings";
  if (e.startsWith("a mapping")) return `mappings${e.slice("a mapping".length)}`;
  return e.replace(/^an? /, "");
}
