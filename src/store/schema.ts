import type { ColumnType } from "kysely";

/**
 * Tables of the history database. Timestamps are ISO-8601 UTC text on both engines, so the same
 * queries (ordering, day buckets with substr) run unchanged on SQLite and PostgreSQL.
 */
export interface DetectionsTable {
  id: string;
  repository: string;
  command: string;
  framework: string;
  ref: string | null;
  commit_sha: string | null;
  branch: string | null;
  pr_number: number | null;
  trigger: string;
  backend: string;
  started_at: string;
  duration_ms: number;
  attempts: number;
  failed_attempts: number;
  failure_rate: number;
  interval_lo: number;
  interval_hi: number;
  severity: string;
  verdict: string;
  tests_total: number;
  tests_flaky: number;
  tests_failing: number;
  job_seed: string;
  stop_reason: string;
  /** The repository's web address (https://host/owner/name) from its remote; null when unknown. */
  repository_url: string | null;
  /** The CI run that triggered it (GitHub Actions run URL); null outside CI. */
  ci_run_url: string | null;
}

export interface TestResultsTable {
  detection_id: string;
  repository: string;
  test_id: string;
  name: string;
  file: string | null;
  started_at: string;
  attempts: number;
  failures: number;
  failure_rate: number;
  interval_lo: number;
  interval_hi: number;
  severity: string;
  verdict: string;
  failing_seeds: string;
  first_failure: string | null;
  reproduce: string | null;
  seed_deterministic: number | null;
  /** From the config's quarantine entry covering the test. */
  owner: string | null;
  /** 1 when an unexpired quarantine entry covered the test in this detection. */
  quarantined: number;
  /**
   * One character per attempt, in attempt order, for tests that failed at least once: F failed,
   * . ran without failing or was not run, ? the attempt left no results. Null otherwise.
   */
  outcomes: string | null;
}

export interface AttemptsTable {
  detection_id: string;
  idx: number;
  seed: string;
  slot: number;
  outcome: string;
  duration_ms: number;
  exit_code: number | null;
  output_tail: string;
}

export interface TestCatalogTable {
  repository: string;
  test_id: string;
  first_seen: string;
  last_seen: string;
  last_verdict: string;
  last_severity: string;
  first_flaky_at: string | null;
  detections: number;
  /**
   * A number for the test, for test_rollups' key (migration 5). PostgreSQL draws it from a
   * sequence; SQLite (one writer at a time) takes the next after the largest.
   */
  test_key: ColumnType<number, number | undefined, never>;
  /** Running totals of the detections that rank it (verdict flaky or stable), all time. */
  ranked_detections: ColumnType<number, number | undefined, number>;
  ranked_failing: ColumnType<number, number | undefined, number>;
  ranked_attempts: ColumnType<number, number | undefined, number>;
  ranked_failures: ColumnType<number, number | undefined, number>;
  /** started_at of its latest ranked detection. */
  ranked_last: string | null;
  /** The latest ranked detection in which the test failed at least once (a ranking's candidates). */
  ranked_last_failing: string | null;
}

/**
 * A test's running totals through the end of one UTC day in which it was ranked (flaky or stable):
 * the totals of a window are the difference of two of these (src/store/rollups.ts).
 */
export interface TestRollupsTable {
  test_key: number;
  /** YYYY-MM-DD (UTC), the first ten characters of started_at. */
  day: string;
  detections: number;
  failing: number;
  attempts: number;
  failures: number;
  /** started_at of its latest ranked detection through this day. */
  last_seen: string;
}

/**
 * Every test's running totals as of the start of one day (its latest test_rollups row before it),
 * for a window edge on that day (migration 7, docs/design/history.md): built on first use, deleted
 * as soon as a recorded or pruned detection changes a row before that day.
 */
export interface RollupEdgesTable {
  day: string;
  test_key: number;
  detections: number;
  failing: number;
  attempts: number;
  failures: number;
  last_seen: string | null;
}

/** The days whose rollup_edges are complete; a day's edges are read only while it is listed. */
export interface RollupEdgeDaysTable {
  day: string;
  built_at: string;
}

/** A job submitted to `serve` (RunPod-shaped). Terminal jobs are deleted once `expires_at` passes. */
export interface JobsTable {
  id: string;
  status: string;
  /** The validated job input as JSON (never holds credentials: URLs with them are refused). */
  input: string;
  /** 0 normal, 1 lowPriority: claimed after every normal job. */
  priority: number;
  execution_timeout_ms: number;
  ttl_ms: number;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  expires_at: string | null;
  /** Server instance holding the job while IN_PROGRESS; the lease must be renewed or it lapses. */
  lease_owner: string | null;
  lease_expires_at: string | null;
  /** Times execution began (more than 1 after a server died mid-job and another picked it up). */
  executions: number;
  /** Times POST /retry re-queued it. */
  retries: number;
  progress: string | null;
  output: string | null;
  error: string | null;
  detection_id: string | null;
  api_key_id: string | null;
}

/** API keys are stored as SHA-256 of the key: the key itself is shown once, at creation. */
export interface ApiKeysTable {
  id: string;
  name: string;
  key_hash: string;
  prefix: string;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

export interface Database {
  jobs: JobsTable;
  api_keys: ApiKeysTable;
  detections: DetectionsTable;
  test_results: TestResultsTable;
  attempts: AttemptsTable;
  test_catalog: TestCatalogTable;
  test_rollups: TestRollupsTable;
  rollup_edges: RollupEdgesTable;
  rollup_edge_days: RollupEdgeDaysTable;
}
