import * as z from "zod";

// Schemas are parsed once or twice per process: compiling a fast path for each (zod's JIT) costs
// more start-up than it saves.
z.config({ jitless: true });

/**
 * The single source of truth for configuration: the `.flaky-detector.yml` keys, their types, ranges
 * and descriptions. Defaults, the JSON Schema, the docs reference, environment coercion and error
 * messages are all derived from these objects.
 */

import { FRAMEWORKS, ISOLATIONS, SEVERITIES, STOP_RULES } from "./enums.js";

export { FRAMEWORKS, ISOLATIONS, SEVERITIES, STOP_RULES } from "./enums.js";

const rate = () => z.number().min(0).max(1);
// A lower bound of 1 ms rather than `positive()` so the message can state the exact range.
const seconds = () =>
  z
    .number()
    .min(0.001)
    .max(7 * 24 * 3600);

export const severityThresholdsSchema = z.strictObject({
  critical: rate().describe("Failure rate at or above which a result is CRITICAL."),
  high: rate().describe("Failure rate at or above which a result is HIGH."),
  medium: rate().describe("Failure rate at or above which a result is MEDIUM."),
  low: rate().describe("Failure rate at or above which a result is LOW; 0 means any failure at all."),
});

export const seedRangeSchema = z.strictObject({
  min: z.int().min(0).max(4294967295).describe("Smallest per-attempt seed (TEST_SEED)."),
  max: z.int().min(0).max(4294967295).describe("Largest per-attempt seed (TEST_SEED)."),
});

export const historySchema = z.strictObject({
  enabled: z.boolean().describe("Record every detection in the history database."),
  db: z
    .string()
    .min(1)
    .nullable()
    .describe("SQLite file path or postgres:// URL; null uses the documented default location."),
});

export const notifySchema = z.strictObject({
  on: z.enum(SEVERITIES).describe("Send notifications only at or above this severity."),
  slack_webhook: z
    .url({ protocol: /^https?$/ })
    .nullable()
    .describe("Slack incoming-webhook URL."),
  discord_webhook: z
    .url({ protocol: /^https?$/ })
    .nullable()
    .describe("Discord webhook URL."),
});

export const quarantineEntrySchema = z.strictObject({
  test: z.string().min(1).describe("Test id or glob."),
  owner: z.string().min(1).optional().describe("Who is responsible for fixing it."),
  reason: z.string().optional().describe("Why it is quarantined."),
  review_by: z.iso.date().optional().describe("Date (YYYY-MM-DD) by which the entry must be reviewed."),
});

export const configSchema = z.strictObject({
  runs: z.int().min(1).max(10000).describe("Attempt budget: how many times the command is run."),
  parallelism: z.int().min(1).max(1024).describe("Concurrent attempts (default: the number of CPUs)."),
  timeout: z
    .union([seconds(), z.literal("auto")])
    .describe(
      "Per-attempt timeout in seconds, or auto: 600 s until the first wave of attempts (one per slot) has finished, then 5 × the slowest of them, at least 60 s. The whole process tree is killed; a timeout counts as a failure.",
    ),
  job_timeout: seconds()
    .nullable()
    .describe("Whole-job timeout in seconds; the report covers the attempts that finished."),
  kill_grace: z
    .number()
    .min(0)
    .max(600)
    .describe("Seconds between SIGTERM and SIGKILL when an attempt is stopped."),
  ignore_patterns: z
    .array(z.string().min(1))
    .describe("Globs on test ids removed from verdicts and listed as ignored."),
  severity_thresholds: severityThresholdsSchema.describe("Failure-rate bands for severities."),
  event_reporters: z
    .boolean()
    .describe(
      "Load our per-test event reporters (pytest plugin, mocha root hook, jest and vitest reporters, node:test hooks) so a test that kills its process or worker is named; turn off if a suite conflicts with them.",
    ),
  auto_install_dependencies: z
    .boolean()
    .describe("Install dependencies (npm/pnpm/yarn, pip, go, cargo) in a workspace the tool owns."),
  install_timeout: seconds().describe(
    "Seconds the dependency install may take (alias: pip_install_timeout).",
  ),
  install_cache: z
    .string()
    .min(1)
    .refine((v) => v === "auto" || v === "off" || v.startsWith("/"), {
      message: "must be auto, off or an absolute directory",
    })
    .describe(
      "Where a JavaScript project's node_modules is kept after an install with a lockfile, keyed by the lockfile, package.json, .npmrc and node version, and hard-linked into the next workspace with the same key instead of installing (npm projects' own install scripts still run): auto ($XDG_CACHE_HOME/flaky-detector/installs), off, or an absolute directory. See docs/install-cache.md.",
    ),
  cleanup_on_failure: z
    .boolean()
    .describe("Remove temporary directories when the job fails with an infrastructure error."),
  preserve_temp_dir: z.boolean().describe("Keep temporary directories (workspace and slot copies)."),
  save_full_output: z.boolean().describe("Write every attempt's full output to files under logs_dir."),
  logs_dir: z.string().min(1).describe("Where save_full_output writes attempt logs."),
  max_error_length: z.int().min(20).max(1_000_000).describe("Characters kept of a failure message."),
  output_head_bytes: z
    .int()
    .min(0)
    .max(10_485_760)
    .describe("Bytes kept from the start of each attempt's output."),
  output_tail_bytes: z
    .int()
    .min(0)
    .max(10_485_760)
    .describe("Bytes kept from the end of each attempt's output."),
  random_seed_range: seedRangeSchema.describe("Range of the per-attempt seeds."),
  seed: z
    .int()
    .min(0)
    .max(4294967295)
    .nullable()
    .describe("Job seed; every attempt seed derives from it. null picks one (printed)."),
  shard_size: z
    .int()
    .min(1)
    .max(10000)
    .nullable()
    .describe(
      "Remote backends: attempts per shard (one worker's unit of work); null splits the budget into about 8 shards of at least 5 attempts.",
    ),
  auto_trigger_on_failure: z.boolean().describe("GitHub Action: run automatically when CI fails."),
  auto_trigger_runs: z.int().min(1).max(10000).describe("GitHub Action: runs when auto-triggered."),
  auto_trigger_parallelism: z
    .int()
    .min(1)
    .max(1024)
    .describe("GitHub Action: parallelism when auto-triggered."),
  test_command: z
    .union([z.string().min(1), z.array(z.string()).min(1)])
    .nullable()
    .describe(
      "Command to run when none is given after --; a string is split like a shell would, without one.",
    ),
  framework: z.enum(FRAMEWORKS).describe("Test framework; auto detects it."),
  stop: z
    .enum(STOP_RULES)
    .describe(
      "adaptive: stop when every verdict and severity band is settled (docs/design/stopping.md); fixed: run the whole budget.",
    ),
  confidence: z.number().min(0.5).max(0.9999).describe("Confidence level of intervals and stopping."),
  min_detectable_rate: z
    .number()
    .min(0.001)
    .max(0.5)
    .describe("Adaptive stopping: a test that never failed is settled once its rate is bounded below this."),
  shuffle: z
    .boolean()
    .describe(
      "Seeded random test order per attempt: the framework's own (jest, vitest, go, node:test on Node 22+), or our plugin's (pytest, mocha).",
    ),
  focus: z
    .boolean()
    .describe(
      "With adaptive stopping: once some tests are settled, later attempts run only the tests still open, through the framework's filter (off with --shuffle, where the whole order matters).",
    ),
  repeat: z
    .union([z.literal("auto"), z.literal("off"), z.int().min(1).max(100)])
    .describe(
      "In-process repetition where the framework can repeat its tests (pytest, through our plugin; go, through -count, unless a source reads TEST_SEED or ATTEMPT; vitest 3+ and jest 29+, through our scripts that run the project's vitest or jest once per attempt): auto runs up to 20 attempts per process, sized so no process spans a stopping checkpoint; N runs at most N; off (or 1) runs one process per attempt. Each repetition is its own attempt with its own seed (docs/design/repeat.md).",
    ),
  isolation: z
    .enum(ISOLATIONS)
    .describe("copy: one copy of the workspace per parallel slot; shared: all slots use one directory."),
  fail_on: z.enum(SEVERITIES).describe("Exit 1 when the result reaches this severity; none never does."),
  history: historySchema.describe("History database."),
  notify: notifySchema.describe("Slack and Discord notifications."),
  quarantine: z.array(quarantineEntrySchema).describe("Tests known to be flaky."),
  secrets: z
    .array(
      z
        .string()
        .min(1)
        .max(200)
        .regex(/^[A-Za-z0-9_*?]+$/, { message: "expected a variable name or a glob such as MY_*" }),
    )
    .max(1000)
    .describe(
      "More environment variables to treat as secrets (names or globs such as ACME_*), besides *_TOKEN, *_KEY, *_SECRET, *_PASSWORD, webhook URLs and FLAKY_DETECTOR_NOTIFY__*: masked in everything stored or printed, and removed from tests on servers and workers.",
    ),
});

export type Config = z.infer<typeof configSchema>;
export type Severity = (typeof SEVERITIES)[number];
export type Framework = (typeof FRAMEWORKS)[number];

/** One layer (file, environment, flags, job input): every key optional, nested objects partial. */
export const configLayerSchema = configSchema.partial().extend({
  severity_thresholds: severityThresholdsSchema.partial().optional(),
  random_seed_range: seedRangeSchema.partial().optional(),
  history: historySchema.partial().optional(),
  notify: notifySchema.partial().optional(),
});
export type ConfigLayer = z.infer<typeof configLayerSchema>;

/** What the file may contain: a layer plus the seed project's alias. */
export const configFileSchema = configLayerSchema.extend({
  pip_install_timeout: seconds()
    .optional()
    .describe("Alias of install_timeout (kept for the seed project's files)."),
});

export const KEY_ALIASES: Record<string, string> = { pip_install_timeout: "install_timeout" };
