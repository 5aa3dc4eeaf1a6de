import type { ConfigProblem } from "../errors.js";
import { isPlainObject, type ValidatedLayer } from "./layer.js";
import type { Config } from "./schema.js";

/** Later layers win key by key; nested mappings merge, lists replace. */
export function mergeLayers(base: Config, layers: readonly ValidatedLayer[]): Config {
  let merged: Record<string, unknown> = structuredClone(base) as unknown as Record<string, unknown>;
  for (const layer of layers) merged = mergeInto(merged, layer.values as Record<string, unknown>);
  return merged as unknown as Config;
}

function mergeInto(
  target: Record<string, unknown>,
  source: Record<string, unknown>,
): Record<string, unknown> {
  const out = { ...target };
  for (const [key, value] of Object.entries(source)) {
    if (value === undefined) continue;
    const current = out[key];
    out[key] = isPlainObject(current) && isPlainObject(value) ? mergeInto(current, value) : value;
  }
  return out;
}

/** Rules that span keys, checked on the merged result. */
export function crossFieldProblems(config: Config): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const t = config.severity_thresholds;
  if (!(t.critical >= t.high && t.high >= t.medium && t.medium >= t.low)) {
    problems.push({
      path: "severity_thresholds",
      message: `must be ordered critical >= high >= medium >= low, got critical=${t.critical}, high=${t.high}, medium=${t.medium}, low=${t.low}`,
      hint: "adjust the bands in .flaky-detector.yml so each is at most the one above it",
    });
  }
  if (t.medium <= 0) {
    problems.push({
      path: "severity_thresholds.medium",
      message: `must be above 0 so LOW and MEDIUM differ, got ${t.medium}`,
      hint: "use low: 0 to count any failure as LOW",
    });
  }
  const r = config.random_seed_range;
  if (r.min > r.max) {
    problems.push({
      path: "random_seed_range",
      message: `min must be at most max, got min=${r.min}, max=${r.max}`,
      hint: "swap the two values",
    });
  }
  return problems;
}
