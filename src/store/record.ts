import { type Kysely, PostgresAdapter, sql } from "kysely";
import { isoDay, type QuarantineEntry, quarantineOf } from "../analysis/quarantine.js";
import type { Report, ReportAttempt } from "../analysis/report.js";
import type { Store } from "./open.js";
import { addToRollups, type PreviousRanking, RANKED, rankedDelta } from "./rollups.js";
import type { Database } from "./schema.js";

export interface RecordMeta {
  trigger: "cli" | "action" | "api";
  backend: "local" | "server" | "runpod";
  branch?: string | null;
  prNumber?: number | null;
  /** Repository identity used for grouping; defaults to the report's source name (owner/name), else its path or URL. */
  repository?: string;
  /** The CI run that triggered this detection, linked from the dashboard. */
  ciRunUrl?: string | null;
  /** The config's quarantine entries: each test's owner and whether it was quarantined (on `today`). */
  quarantine?: readonly QuarantineEntry[];
  today?: string;
}

/** Output kept per attempt in the database (the report keeps more). */
export const STORED_OUTPUT_CHARS = 4096;
const CHUNK = 200;

/** Record one detection in a single transaction: the detection, its per-test results, attempts, and the catalogue. */
export async function recordDetection(store: Store, report: Report, meta: RecordMeta): Promise<void> {
  await store.db.transaction().execute((trx) => writeDetection(trx, report, meta));
}

/** The writes of recordDetection inside a transaction the caller owns (a job's completion). */
export async function writeDetection(trx: Kysely<Database>, report: Report, meta: RecordMeta): Promise<void> {
  const repository = meta.repository ?? report.source.name ?? report.source.repo;
  const today = meta.today ?? isoDay(new Date(report.createdAt));
  const s = report.summary;
  const startedAt = report.createdAt;
  await trx
    .insertInto("detections")
    .values({
      id: report.id,
      repository,
      command: report.request.command.join(" "),
      framework: report.framework,
      ref: report.source.ref,
      commit_sha: report.source.commit,
      branch: meta.branch ?? null,
      pr_number: meta.prNumber ?? null,
      trigger: meta.trigger,
      backend: meta.backend,
      started_at: startedAt,
      duration_ms: report.timings.totalMs,
      attempts: s.attempts,
      failed_attempts: s.failedAttempts,
      failure_rate: s.failureRate,
      interval_lo: s.interval[0],
      interval_hi: s.interval[1],
      severity: s.severity,
      verdict: s.verdict,
      tests_total: s.tests?.total ?? 0,
      tests_flaky: s.tests?.flaky ?? 0,
      tests_failing: s.tests?.failing ?? 0,
      job_seed: String(report.request.seed),
      stop_reason: s.stopReason,
      repository_url: report.source.url ?? null,
      ci_run_url: meta.ciRunUrl ?? null,
    })
    .execute();
  const outcomes = outcomeColumns(report.attempts);
  const tests = report.tests.map((t) => {
    const q = quarantineOf(t.id, meta.quarantine ?? [], today);
    return {
      detection_id: report.id,
      repository,
      test_id: t.id,
      name: t.name,
      file: t.file,
      started_at: startedAt,
      attempts: t.attempts,
      failures: t.failures,
      failure_rate: t.failureRate,
      interval_lo: t.interval[0],
      interval_hi: t.interval[1],
      severity: t.severity,
      verdict: t.verdict,
      failing_seeds: JSON.stringify(t.failingSeeds.slice(0, 20)),
      first_failure: t.firstFailure?.message ?? null,
      reproduce: t.reproduce,
      seed_deterministic: t.seedDeterministic === null ? null : t.seedDeterministic ? 1 : 0,
      owner: q?.entry.owner ?? null,
      quarantined: q && !q.expired ? 1 : 0,
      outcomes: t.failures > 0 ? outcomes(t.id) : null,
    };
  });
  for (let i = 0; i < tests.length; i += CHUNK)
    await trx
      .insertInto("test_results")
      .values(tests.slice(i, i + CHUNK))
      .execute();
  const attempts = report.attempts.map((a) => ({
    detection_id: report.id,
    idx: a.index,
    seed: String(a.seed),
    slot: a.slot,
    outcome: a.outcome,
    duration_ms: a.durationMs,
    exit_code: a.exitCode,
    output_tail:
      a.outputTail.length > STORED_OUTPUT_CHARS ? a.outputTail.slice(-STORED_OUTPUT_CHARS) : a.outputTail,
  }));
  for (let i = 0; i < attempts.length; i += CHUNK)
    await trx
      .insertInto("attempts")
      .values(attempts.slice(i, i + CHUNK))
      .execute();
  const previous = await rankedLast(trx, repository, report.tests);
  const sqlite = !(trx.getExecutor().adapter instanceof PostgresAdapter);
  for (const t of report.tests) {
    const flakyAt = t.verdict === "flaky" ? startedAt : null;
    const ranked = RANKED.includes(t.verdict);
    const d = ranked ? rankedDelta(t) : { detections: 0, failing: 0, attempts: 0, failures: 0 };
    await trx
      .insertInto("test_catalog")
      .values({
        repository,
        test_id: t.id,
        first_seen: startedAt,
        last_seen: startedAt,
        last_verdict: t.verdict,
        last_severity: t.severity,
        first_flaky_at: flakyAt,
        detections: 1,
        ranked_detections: d.detections,
        ranked_failing: d.failing,
        ranked_attempts: d.attempts,
        ranked_failures: d.failures,
        ranked_last: ranked ? startedAt : null,
        ranked_last_failing: ranked && t.failures > 0 ? startedAt : null,
        // PostgreSQL's column default draws from a sequence; SQLite has one writer at a time.
        ...(sqlite
          ? { test_key: sql<number>`(select coalesce(max(test_key), 0) + 1 from test_catalog)` }
          : {}),
      })
      .onConflict((oc) =>
        oc.columns(["repository", "test_id"]).doUpdateSet((eb) => ({
          last_seen: startedAt,
          last_verdict: t.verdict,
          last_severity: t.severity,
          detections: eb("test_catalog.detections", "+", 1),
          first_flaky_at: eb.fn.coalesce("test_catalog.first_flaky_at", eb.val(flakyAt)),
          ...(ranked
            ? {
                ranked_detections: eb("test_catalog.ranked_detections", "+", d.detections),
                ranked_failing: eb("test_catalog.ranked_failing", "+", d.failing),
                ranked_attempts: eb("test_catalog.ranked_attempts", "+", d.attempts),
                ranked_failures: eb("test_catalog.ranked_failures", "+", d.failures),
                ranked_last: sql<string>`case when test_catalog.ranked_last is null or test_catalog.ranked_last < ${startedAt} then ${startedAt} else test_catalog.ranked_last end`,
              }
            : {}),
          ...(ranked && t.failures > 0
            ? {
                ranked_last_failing: sql<string>`case when test_catalog.ranked_last_failing is null or test_catalog.ranked_last_failing < ${startedAt} then ${startedAt} else test_catalog.ranked_last_failing end`,
              }
            : {}),
        })),
      )
      .execute();
  }
  await addToRollups(trx, repository, startedAt, report.tests, previous);
}

/** Each known test's key and latest ranked detection before this one (null: never ranked). */
async function rankedLast(
  trx: Kysely<Database>,
  repository: string,
  tests: readonly { id: string }[],
): Promise<Map<string, PreviousRanking>> {
  const out = new Map<string, PreviousRanking>();
  const ids = tests.map((t) => t.id);
  for (let i = 0; i < ids.length; i += CHUNK) {
    const rows = await trx
      .selectFrom("test_catalog")
      .select(["test_id", "test_key", "ranked_last"])
      .where("repository", "=", repository)
      .where("test_id", "in", ids.slice(i, i + CHUNK))
      .execute();
    for (const r of rows) out.set(r.test_id, { key: r.test_key, rankedLast: r.ranked_last });
  }
  return out;
}

/**
 * Per-test outcome strings for the dashboard's tests × attempts grid, one character per attempt
 * in attempt order: F the test failed in it, ? the attempt left no per-test results, . otherwise
 * (it passed, or did not run: attempts record failures by id, not every pass).
 */
function outcomeColumns(attempts: readonly ReportAttempt[]): (id: string) => string {
  const ordered = [...attempts].sort((a, b) => a.index - b.index);
  const failed = ordered.map((a) => (a.tests ? new Set(a.tests.failed) : null));
  return (id) => failed.map((f) => (f === null ? "?" : f.has(id) ? "F" : ".")).join("");
}
