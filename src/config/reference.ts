import { defaultConfig } from "./defaults.js";
import { envName } from "./env.js";
import { description, expectation, objectKeys, schemaAt, typeOf } from "./introspect.js";
import { configSchema, KEY_ALIASES } from "./schema.js";

/** docs/config.md, generated from the schema so the reference cannot drift from the code. */
export function configReferenceMarkdown(): string {
  const defaults = defaultConfig() as unknown as Record<string, unknown>;
  const rows: string[] = [];
  for (const key of objectKeys(configSchema) ?? []) {
    const schema = schemaAt(configSchema, [key]);
    if (!schema) continue;
    const nested = typeOf(schema) === "object" ? objectKeys(schema) : undefined;
    if (nested) {
      for (const sub of nested) {
        const s = schemaAt(configSchema, [key, sub]);
        if (!s) continue;
        rows.push(
          row(`${key}.${sub}`, s, (defaults[key] as Record<string, unknown>)[sub], envName([key, sub])),
        );
      }
    } else {
      rows.push(row(key, schema, key === "parallelism" ? "number of CPUs" : defaults[key], envName([key])));
    }
  }
  const aliases = Object.entries(KEY_ALIASES).map(([a, k]) => `\`${a}\` → \`${k}\``);
  return [
    "# Configuration reference",
    "",
    "<!-- Generated from src/config/schema.ts by `npm run docs`; a test fails when it is stale. -->",
    "",
    "Precedence: built-in defaults < `.flaky-detector.yml` < `FLAKY_DETECTOR_*` environment < command-line flags",
    "(or job input). Unknown keys are errors that name the nearest valid key. Nested keys in the environment",
    "use a double underscore: `FLAKY_DETECTOR_SEVERITY_THRESHOLDS__HIGH=0.6`. Lists in the environment are",
    "comma-separated. `FLAKY_DETECTOR_CONFIG` names the config file; `FLAKY_DETECTOR_DB` is `history.db`.",
    "",
    `Aliases kept for the seed project's files: ${aliases.join(", ")}.`,
    "",
    "Editors can validate the file with the JSON Schema printed by `flaky-detector config schema`",
    "(for yaml-language-server: `# yaml-language-server: $schema=./flaky-detector.schema.json`).",
    "",
    "| key | type | default | environment | description |",
    "|---|---|---|---|---|",
    ...rows,
    "",
  ].join("\n");
}

function row(key: string, schema: Parameters<typeof expectation>[0], value: unknown, env: string): string {
  const cell = (s: string) => s.replace(/\|/g, "\\|");
  const shown = typeof value === "string" && key === "parallelism" ? value : JSON.stringify(value);
  return `| \`${key}\` | ${cell(expectation(schema))} | \`${cell(shown ?? "")}\` | \`${env}\` | ${cell(description(schema) ?? "")} |`;
}
