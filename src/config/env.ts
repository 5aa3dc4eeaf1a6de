import type { ConfigProblem } from "../errors.js";
import { nearest } from "../util/suggest.js";
import { objectKeys, schemaAt, typeOf, unwrap } from "./introspect.js";
import type { RawLayer } from "./layer.js";
import { configLayerSchema } from "./schema.js";

export const ENV_PREFIX = "FLAKY_DETECTOR_";
/** Variables under the prefix that are not config keys, with what they mean. */
export const EXTRA_ENV: Record<string, string> = {
  FLAKY_DETECTOR_CONFIG: "path of the config file",
  FLAKY_DETECTOR_DB: "alias of history.db",
  FLAKY_DETECTOR_API_KEY: "bearer key `flaky-detector serve` requires on /api/ (kept out of argv and logs)",
  FLAKY_DETECTOR_ALLOWED_HOSTS:
    "host names `flaky-detector serve` answers to, comma-separated (serve --allowed-host)",
};

/** Environment name of a key path: severity_thresholds.high → FLAKY_DETECTOR_SEVERITY_THRESHOLDS__HIGH. */
export function envName(path: readonly string[]): string {
  return ENV_PREFIX + path.map((p) => p.toUpperCase()).join("__");
}

function allEnvNames(): Map<string, string[]> {
  const names = new Map<string, string[]>();
  for (const key of objectKeys(configLayerSchema) ?? []) {
    const nested = objectKeys(schemaAt(configLayerSchema, [key]) ?? configLayerSchema);
    if (nested && typeOf(schemaAt(configLayerSchema, [key]) ?? configLayerSchema) === "object") {
      for (const sub of nested) names.set(envName([key, sub]), [key, sub]);
    } else names.set(envName([key]), [key]);
  }
  return names;
}

/** The configuration layer read from FLAKY_DETECTOR_* variables. */
export function envLayer(env: NodeJS.ProcessEnv): { layer: RawLayer; problems: ConfigProblem[] } {
  const known = allEnvNames();
  const values: Record<string, unknown> = {};
  const problems: ConfigProblem[] = [];
  const origin = (path: readonly (string | number)[]) => envName(path.filter((p) => typeof p === "string"));
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || raw === undefined) continue;
    if (name === "FLAKY_DETECTOR_DB") {
      values.history = { ...(values.history as object), db: raw };
      continue;
    }
    if (name in EXTRA_ENV) continue;
    const path = known.get(name);
    if (!path) {
      const suggestion = nearest(name, [...known.keys(), ...Object.keys(EXTRA_ENV)]);
      problems.push({
        path: name,
        message: `unknown environment variable${suggestion ? `; did you mean ${suggestion}?` : ""}`,
        hint: "unset it, or see `flaky-detector config schema` for the keys",
      });
      continue;
    }
    const schema = schemaAt(configLayerSchema, path);
    const value = schema ? coerce(raw, schema) : raw;
    if (path.length === 1) values[path[0] as string] = value;
    else {
      const [outer, inner] = path as [string, string];
      values[outer] = { ...(values[outer] as object), [inner]: value };
    }
  }
  return {
    layer: {
      values,
      origin: { label: "environment", where: (path) => `from environment variable ${origin(path)}` },
    },
    problems,
  };
}

/** Turn a variable's text into the schema's type; leave it as text when it cannot be, so the schema explains. */
function coerce(raw: string, schema: Parameters<typeof unwrap>[0]): unknown {
  const { nullable } = unwrap(schema);
  const text = raw.trim();
  if (nullable && text === "null") return null;
  switch (typeOf(schema)) {
    case "number":
      return text !== "" && Number.isFinite(Number(text)) ? Number(text) : raw;
    case "union":
      // A number-or-keyword key (timeout: 60 or auto): numbers become numbers, words stay words.
      return text !== "" && Number.isFinite(Number(text)) ? Number(text) : raw;
    case "boolean": {
      const lower = text.toLowerCase();
      if (["true", "1", "yes", "on"].includes(lower)) return true;
      if (["false", "0", "no", "off"].includes(lower)) return false;
      return raw;
    }
    case "array":
      return text === "" ? [] : text.split(",").map((s) => s.trim());
    default:
      return raw;
  }
}
