import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { configJsonSchema } from "../../src/config/json-schema.js";
import type { RawLayer } from "../../src/config/layer.js";
import { resolveConfig } from "../../src/config/resolve.js";
import { ConfigError } from "../../src/errors.js";
import { tempDir } from "../helpers/cli.js";

let dir: { path: string; cleanup: () => void };
beforeEach(() => {
  dir = tempDir("fd-config-");
});
afterEach(() => dir.cleanup());

const flags = (values: Record<string, unknown>): RawLayer => ({
  values,
  origin: { label: "command line", where: (p) => `from --${p.join("-")}` },
});

function writeConfig(text: string): void {
  writeFileSync(join(dir.path, ".flaky-detector.yml"), text);
}

function problemsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as ConfigError).problems.map((p) => `${p.path}: ${p.message} (${p.hint})`);
  }
  throw new Error("expected a ConfigError");
}

describe("resolveConfig", () => {
  it("uses the built-in defaults with no file, no environment and no flags", () => {
    const { config, configFile } = resolveConfig({ cwd: dir.path, env: {} });
    expect(configFile).toBeUndefined();
    expect(config.runs).toBe(100);
    expect(config.isolation).toBe("copy");
    expect(config.severity_thresholds).toEqual({ critical: 0.9, high: 0.5, medium: 0.1, low: 0 });
  });

  it("applies defaults < file < environment < flags", () => {
    writeConfig("runs: 10\nparallelism: 3\ntimeout: 5\nseverity_thresholds:\n  high: 0.6\n");
    const { config } = resolveConfig({
      cwd: dir.path,
      env: {
        FLAKY_DETECTOR_PARALLELISM: "4",
        FLAKY_DETECTOR_TIMEOUT: "7",
        FLAKY_DETECTOR_SEVERITY_THRESHOLDS__MEDIUM: "0.2",
      },
      overrides: flags({ timeout: 9 }),
    });
    expect(config.runs).toBe(10); // file
    expect(config.parallelism).toBe(4); // env over file
    expect(config.timeout).toBe(9); // flag over env
    expect(config.severity_thresholds).toEqual({ critical: 0.9, high: 0.6, medium: 0.2, low: 0 }); // nested merge
  });

  it("honours every key of the seed project's file, including the pip_install_timeout alias", () => {
    writeConfig(
      [
        "runs: 20",
        "parallelism: 2",
        "timeout: 30",
        "ignore_patterns: ['tests/slow_*']",
        "severity_thresholds: {critical: 0.8, high: 0.4, medium: 0.05, low: 0.01}",
        "auto_install_dependencies: false",
        "pip_install_timeout: 120",
        "cleanup_on_failure: false",
        "preserve_temp_dir: true",
        "save_full_output: true",
        "max_error_length: 300",
        "random_seed_range: {min: 1, max: 1000}",
        "auto_trigger_on_failure: false",
        "auto_trigger_runs: 30",
        "auto_trigger_parallelism: 3",
        "test_command: pytest -x tests",
      ].join("\n"),
    );
    const { config } = resolveConfig({ cwd: dir.path, env: {} });
    expect(config).toMatchObject({
      runs: 20,
      parallelism: 2,
      timeout: 30,
      ignore_patterns: ["tests/slow_*"],
      severity_thresholds: { critical: 0.8, high: 0.4, medium: 0.05, low: 0.01 },
      auto_install_dependencies: false,
      install_timeout: 120,
      cleanup_on_failure: false,
      preserve_temp_dir: true,
      save_full_output: true,
      max_error_length: 300,
      random_seed_range: { min: 1, max: 1000 },
      auto_trigger_on_failure: false,
      auto_trigger_runs: 30,
      auto_trigger_parallelism: 3,
      test_command: "pytest -x tests",
    });
  });

  it("names the key, the line, the bad value and the range", () => {
    writeConfig("parallelism: 2\nruns: 0\n");
    expect(problemsOf(() => resolveConfig({ cwd: dir.path, env: {} }))).toEqual([
      "runs: must be an integer from 1 to 10000, got 0 (in .flaky-detector.yml line 2)",
    ]);
  });

  it("suggests the nearest valid key for a typo, at any depth", () => {
    writeConfig("paralelism: 2\nseverity_thresholds:\n  hihg: 0.5\n");
    expect(problemsOf(() => resolveConfig({ cwd: dir.path, env: {} }))).toEqual([
      'paralelism: unknown key; did you mean "parallelism"? (in .flaky-detector.yml line 1)',
      'severity_thresholds.hihg: unknown key; did you mean "high"? (in .flaky-detector.yml line 3)',
    ]);
  });

  it("lists the valid keys when nothing is close", () => {
    writeConfig("random_seed_range:\n  zzzzzz: 1\n");
    expect(problemsOf(() => resolveConfig({ cwd: dir.path, env: {} }))).toEqual([
      "random_seed_range.zzzzzz: unknown key (in .flaky-detector.yml line 2; valid keys here: min, max)",
    ]);
  });

  it("reports every problem of every layer at once", () => {
    writeConfig("framework: pyest\nshuffle: maybe\n");
    const problems = problemsOf(() =>
      resolveConfig({
        cwd: dir.path,
        env: { FLAKY_DETECTOR_RUNS: "many" },
        overrides: flags({ confidence: 2 }),
      }),
    );
    expect(problems).toEqual([
      'framework: must be one of auto, pytest, jest, vitest, mocha, node-test, go, cargo, playwright, junit, command, got "pyest" (in .flaky-detector.yml line 1)',
      'shuffle: must be true or false, got "maybe" (in .flaky-detector.yml line 2)',
      'runs: must be an integer from 1 to 10000, got "many" (from environment variable FLAKY_DETECTOR_RUNS)',
      "confidence: must be a number from 0.5 to 0.9999, got 2 (from --confidence)",
    ]);
  });

  it("refuses unknown FLAKY_DETECTOR_ variables with a suggestion", () => {
    expect(problemsOf(() => resolveConfig({ cwd: dir.path, env: { FLAKY_DETECTOR_RNUS: "5" } }))).toEqual([
      "FLAKY_DETECTOR_RNUS: unknown environment variable; did you mean FLAKY_DETECTOR_RUNS? (unset it, or see `flaky-detector config schema` for the keys)",
    ]);
  });

  it("coerces environment values to the schema's types", () => {
    const { config } = resolveConfig({
      cwd: dir.path,
      env: {
        FLAKY_DETECTOR_SHUFFLE: "yes",
        FLAKY_DETECTOR_IGNORE_PATTERNS: "a/*, b/*",
        FLAKY_DETECTOR_JOB_TIMEOUT: "null",
        FLAKY_DETECTOR_DB: "/tmp/x.db",
      },
    });
    expect(config.shuffle).toBe(true);
    expect(config.ignore_patterns).toEqual(["a/*", "b/*"]);
    expect(config.job_timeout).toBeNull();
    expect(config.history.db).toBe("/tmp/x.db");
  });

  it("checks rules that span keys", () => {
    writeConfig("severity_thresholds: {high: 0.95}\nrandom_seed_range: {min: 10, max: 5}\n");
    expect(problemsOf(() => resolveConfig({ cwd: dir.path, env: {} }))).toEqual([
      "severity_thresholds: must be ordered critical >= high >= medium >= low, got critical=0.9, high=0.95, medium=0.1, low=0 (adjust the bands in .flaky-detector.yml so each is at most the one above it)",
      "random_seed_range: min must be at most max, got min=10, max=5 (swap the two values)",
    ]);
  });

  it("refuses conflicting alias and key", () => {
    writeConfig("pip_install_timeout: 10\ninstall_timeout: 20\n");
    expect(problemsOf(() => resolveConfig({ cwd: dir.path, env: {} }))).toEqual([
      "pip_install_timeout: conflicts with install_timeout (10 vs 20) (keep only install_timeout; in .flaky-detector.yml line 1)",
    ]);
  });

  it("reports YAML syntax errors with line and column", () => {
    writeConfig("runs: 5\nruns: 6\n");
    expect(problemsOf(() => resolveConfig({ cwd: dir.path, env: {} }))).toEqual([
      ": .flaky-detector.yml line 2 column 1: Map keys must be unique (fix the YAML syntax)",
    ]);
  });

  it("refuses a YAML alias bomb as a config error, not a crash", () => {
    // Nine levels of ten aliases each: a billion strings if expanded.
    const lines = ['a0: &a0 ["lol"]'];
    for (let i = 1; i <= 9; i++)
      lines.push(
        `a${i}: &a${i} [${Array(10)
          .fill(`*a${i - 1}`)
          .join(", ")}]`,
      );
    writeConfig(`${lines.join("\n")}\nruns: 5\n`);
    const problems = problemsOf(() => resolveConfig({ cwd: dir.path, env: {} }));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/cannot be read as configuration: .*alias/i);
    expect(problems[0]).toMatch(/at most 100/);
  });

  it("takes more secret names from the file and the environment", () => {
    writeConfig("secrets: [ACME_*, MY_CREDENTIALS]\n");
    expect(resolveConfig({ cwd: dir.path, env: {} }).config.secrets).toEqual(["ACME_*", "MY_CREDENTIALS"]);
    expect(resolveConfig({ cwd: dir.path, env: { FLAKY_DETECTOR_SECRETS: "X_*,Y" } }).config.secrets).toEqual(
      ["X_*", "Y"],
    );
    writeConfig("secrets: ['bad name!']\n");
    expect(problemsOf(() => resolveConfig({ cwd: dir.path, env: {} }))[0]).toMatch(
      /secrets\.0: .*variable name or a glob/,
    );
  });

  it("refuses a file that is not a mapping", () => {
    writeConfig("- runs\n- 5\n");
    expect(problemsOf(() => resolveConfig({ cwd: dir.path, env: {} }))).toEqual([
      ': .flaky-detector.yml must be a mapping of keys to values, got ["runs",5] (in .flaky-detector.yml)',
    ]);
  });

  it("treats an empty file as no settings", () => {
    writeConfig("# nothing yet\n");
    expect(resolveConfig({ cwd: dir.path, env: {} }).config.runs).toBe(100);
  });

  it("says when an explicit config file is missing", () => {
    expect(problemsOf(() => resolveConfig({ cwd: dir.path, env: {}, configPath: "nope.yml" }))).toEqual([
      ": cannot read config file nope.yml: file not found (check --config or FLAKY_DETECTOR_CONFIG)",
    ]);
  });

  it("finds the file named by FLAKY_DETECTOR_CONFIG", () => {
    mkdirSync(join(dir.path, "conf"));
    writeFileSync(join(dir.path, "conf", "fd.yml"), "runs: 7\n");
    const r = resolveConfig({ cwd: dir.path, env: { FLAKY_DETECTOR_CONFIG: "conf/fd.yml" } });
    expect(r.config.runs).toBe(7);
    expect(r.configFile).toBe(join(dir.path, "conf", "fd.yml"));
  });

  it("validates nested lists: quarantine entries and webhook URLs", () => {
    writeConfig(
      "quarantine:\n  - test: a\n    review_by: tomorrow\n  - owner: me\nnotify:\n  slack_webhook: ftp://example.com/x\n",
    );
    expect(problemsOf(() => resolveConfig({ cwd: dir.path, env: {} }))).toEqual([
      'quarantine.0.review_by: must be a date written YYYY-MM-DD, got "tomorrow" (in .flaky-detector.yml line 3)',
      "quarantine.1.test: is required: must be a non-empty string (in .flaky-detector.yml line 4)",
      'notify.slack_webhook: must be an http(s) URL, or null, got "ftp://example.com/x" (in .flaky-detector.yml line 6)',
    ]);
  });
});

describe("config JSON Schema", () => {
  it("is generated from the zod schema and matches the snapshot", async () => {
    const schema = configJsonSchema();
    expect(schema.type).toBe("object");
    expect(schema.additionalProperties).toBe(false);
    await expect(`${JSON.stringify(schema, null, 2)}\n`).toMatchFileSnapshot(
      "../__snapshots__/config-schema.json",
    );
  });
});

describe("generated docs", () => {
  it("docs/config.md and docs/flaky-detector.schema.json are current (npm run docs regenerates them)", async () => {
    const { configReferenceMarkdown } = await import("../../src/config/reference.js");
    const { readFileSync } = await import("node:fs");
    const root = join(__dirname, "../..");
    expect(readFileSync(join(root, "docs/config.md"), "utf8")).toBe(configReferenceMarkdown());
    expect(readFileSync(join(root, "docs/flaky-detector.schema.json"), "utf8")).toBe(
      `${JSON.stringify(configJsonSchema(), null, 2)}\n`,
    );
  });
});
