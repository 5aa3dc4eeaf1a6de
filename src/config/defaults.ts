import { availableParallelism } from "node:os";
import type { Config } from "./schema.js";

/** Built-in defaults: the lowest layer of precedence. */
export function defaultConfig(): Config {
  return {
    runs: 100,
    parallelism: availableParallelism(),
    timeout: "auto",
    job_timeout: null,
    kill_grace: 2,
    ignore_patterns: [],
    severity_thresholds: { critical: 0.9, high: 0.5, medium: 0.1, low: 0 },
    event_reporters: true,
    auto_install_dependencies: true,
    install_timeout: 600,
    cleanup_on_failure: true,
    preserve_temp_dir: false,
    save_full_output: false,
    logs_dir: "flaky-detector-logs",
    max_error_length: 1000,
    output_head_bytes: 2048,
    output_tail_bytes: 8192,
    random_seed_range: { min: 0, max: 2147483647 },
    seed: null,
    shard_size: null,
    auto_trigger_on_failure: true,
    auto_trigger_runs: 50,
    auto_trigger_parallelism: 4,
    test_command: null,
    framework: "auto",
    stop: "adaptive",
    confidence: 0.95,
    min_detectable_rate: 0.05,
    shuffle: false,
    focus: true,
    isolation: "copy",
    fail_on: "none",
    history: { enabled: true, db: null },
    notify: { on: "medium", slack_webhook: null, discord_webhook: null },
    quarantine: [],
    secrets: [],
  };
}
