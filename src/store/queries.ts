import { type RawBuilder, type SqlBool, sql } from "kysely";
import type { Store } from "./open.js";
import { rankWindow, removeFromRollups } from "./rollups.js";

/** Read side of the history: the same queries on SQLite and PostgreSQL. */

/** A repository (or all of them) and a half-open time window [since, until) on started_at. */
export interface Window {
  repository?: string;
  since?: string;
  until?: string;
}

/**
 * The window as one condition, for the tables that carry `repository` and `started_at`
 * (detections, test_results); always true when the window is open on every side.
 */
function inWindow(w: Window): RawBuilder<SqlBool> {
  const parts = [
    ...(w.repository ? [sql`repository = ${w.repository}`] : []),
    ...(w.since ? [sql`started_at >= ${w.since}`] : []),
    ...(w.until ? [sql`started_at < ${w.until}`] : []),
  ];
  return parts.length === 0 ? sql<SqlBool>`1 = 1` : sql<SqlBool>`${sql.join(parts, sql` and `)}`;
}

export interface DetectionFilter extends Window {
  verdict?: string;
  severity?: string;
  branch?: string;
  limit?: number;
  offset?: number;
  sort?: "started_at" | "failure_rate" | "duration_ms";
  order?: "asc" | "desc";
}

export async function listDetections(store: Store, f: DetectionFilter = {}) {
  let q = store.db.selectFrom("detections").selectAll().where(inWindow(f));
  if (f.verdict) q = q.where("verdict", "=", f.verdict);
  if (f.severity) q = q.where("severity", "=", f.severity);
  if (f.branch) q = q.where("branch", "=", f.branch);
  const total = await q.clearSelect().select(sql<number>`count(*)`.as("n")).executeTakeFirst();
  const rows = await q
    .orderBy(f.sort ?? "started_at", f.order ?? "desc")
    .orderBy("id")
    .limit(Math.min(f.limit ?? 50, 500))
    .offset(f.offset ?? 0)
    .execute();
  return { total: Number(total?.n ?? 0), rows };
}

export async function getDetection(store: Store, id: string) {
  const detection = await store.db
    .selectFrom("detections")
    .selectAll()
    .where("id", "=", id)
    .executeTakeFirst();
  if (!detection) return undefined;
  const tests = await store.db
    .selectFrom("test_results")
    .selectAll()
    .where("detection_id", "=", id)
    .orderBy("failure_rate", "desc")
    .orderBy("test_id")
    .execute();
  const attempts = await store.db
    .selectFrom("attempts")
    .selectAll()
    .where("detection_id", "=", id)
    .orderBy("idx")
    .execute();
  return { detection, tests, attempts };
}

/** Flakiness per day: detections, their mean failure rate, and flaky tests seen (or one test's rate). */
export async function trend(store: Store, opts: Window & { testId?: string }) {
  const day = sql<string>`substr(started_at, 1, 10)`;
  if (opts.testId) {
    const q = store.db
      .selectFrom("test_results")
      .select([
        day.as("day"),
        sql<number>`count(*)`.as("detections"),
        sql<number>`sum(failures)`.as("failures"),
        sql<number>`sum(attempts)`.as("attempts"),
      ])
      .where("test_id", "=", opts.testId)
      .where(inWindow(opts));
    const rows = await q.groupBy(day).orderBy(day).execute();
    return rows.map((r) => ({
      day: r.day,
      detections: Number(r.detections),
      failureRate: Number(r.attempts) === 0 ? 0 : Number(r.failures) / Number(r.attempts),
    }));
  }
  const q = store.db
    .selectFrom("detections")
    .select([
      day.as("day"),
      sql<number>`count(*)`.as("detections"),
      sql<number>`avg(failure_rate)`.as("rate"),
      sql<number>`sum(tests_flaky)`.as("flaky"),
    ])
    .where(inWindow(opts));
  const rows = await q.groupBy(day).orderBy(day).execute();
  return rows.map((r) => ({
    day: r.day,
    detections: Number(r.detections),
    failureRate: Number(r.rate),
    flakyTests: Number(r.flaky),
  }));
}

/**
 * Most flaky tests by impact: mean failure rate × the number of detections that saw the test
 * failing, among tests with at least `minAttempts` attempts in the window. A detection where the
 * test failed every attempt (broken there, not flaky) does not count. The window's totals come
 * from the running totals of rollups.ts, two lookups per test seen since the window began.
 */
export async function topFlaky(store: Store, opts: Window & { minAttempts?: number; limit?: number }) {
  const rows = await rankWindow(store.db, store.kind, opts, {
    minAttempts: opts.minAttempts ?? 20,
    limit: Math.min(opts.limit ?? 20, 500),
    score: sql<number>`(1.0 * failures / attempts) * failing`,
  });
  const recent = await Promise.all(rows.map((r) => recentRates(store, r.repository, r.test_id, opts)));
  return rows.map((r, i) => {
    const rate = r.failures / r.attempts;
    return {
      testId: r.test_id,
      owner: recent[i]?.owner ?? null,
      quarantined: recent[i]?.quarantined ?? false,
      recent: recent[i]?.rates ?? [],
      repository: r.repository,
      detections: r.detections,
      failingDetections: r.failing,
      attempts: r.attempts,
      failures: r.failures,
      failureRate: rate,
      impact: rate * r.failing,
      lastSeen: r.last_seen,
    };
  });
}

/**
 * A test's failure rate in its latest detections of the window, oldest first (the ranking's
 * sparkline), and its owner and quarantine state in the latest of them. Read per ranked test from
 * the (repository, test_id, started_at) index: in the ranking's aggregate these columns would make
 * it read every row of the window instead of its covering index.
 */
async function recentRates(store: Store, repository: string, testId: string, w: Window, limit = 20) {
  const rows = await store.db
    .selectFrom("test_results")
    .select(["failure_rate", "verdict", "owner", "quarantined"])
    .where("repository", "=", repository)
    .where("test_id", "=", testId)
    .where(inWindow({ ...w, repository }))
    .orderBy("started_at", "desc")
    .limit(limit)
    .execute();
  const latest = rows[0];
  return {
    owner: latest?.owner ?? null,
    quarantined: Number(latest?.quarantined ?? 0) === 1,
    rates: rows.reverse().map((r) => ({ rate: Number(r.failure_rate), verdict: r.verdict })),
  };
}

/**
 * Tests whose id contains `text` (case-insensitive), across the catalogue: the dashboard's search.
 * Most recently seen first.
 */
export async function searchTests(store: Store, opts: { text: string; repository?: string; limit?: number }) {
  const pattern = `%${opts.text.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  let q = store.db
    .selectFrom("test_catalog")
    .selectAll()
    .where(sql<SqlBool>`lower(test_id) like ${pattern} escape '\\'`);
  if (opts.repository) q = q.where("repository", "=", opts.repository);
  return q
    .orderBy("last_seen", "desc")
    .orderBy("test_id")
    .limit(Math.min(opts.limit ?? 50, 200))
    .execute();
}

export async function statsBySeverity(store: Store, opts: Window) {
  const q = store.db
    .selectFrom("detections")
    .select(["severity", sql<number>`count(*)`.as("n")])
    .where(inWindow(opts));
  const rows = await q.groupBy("severity").execute();
  const out: Record<string, number> = { critical: 0, high: 0, medium: 0, low: 0, none: 0 };
  for (const r of rows) out[r.severity] = Number(r.n);
  return out;
}

/**
 * One test's history, oldest first, with when it first turned flaky: the latest `limit` detections
 * that ran it (a test seen in thousands of detections would otherwise ship them all) and the total.
 */
export async function testTimeline(store: Store, repository: string, testId: string, limit = 200) {
  const catalog = await store.db
    .selectFrom("test_catalog")
    .selectAll()
    .where("repository", "=", repository)
    .where("test_id", "=", testId)
    .executeTakeFirst();
  const latest = await store.db
    .selectFrom("test_results")
    .innerJoin("detections", "detections.id", "test_results.detection_id")
    .select([
      "test_results.detection_id",
      "test_results.started_at",
      "test_results.attempts",
      "test_results.failures",
      "test_results.failure_rate",
      "test_results.interval_lo",
      "test_results.interval_hi",
      "test_results.severity",
      "test_results.verdict",
      "test_results.owner",
      "test_results.quarantined",
      "detections.commit_sha",
      "detections.branch",
      "detections.pr_number",
      "detections.repository_url",
      "detections.ci_run_url",
    ])
    .where("test_results.repository", "=", repository)
    .where("test_results.test_id", "=", testId)
    .orderBy("test_results.started_at", "desc")
    .limit(limit)
    .execute();
  return { catalog, results: latest.reverse(), total: catalog?.detections ?? latest.length };
}

/** Headline figures for a window: what the dashboard's overview cards show. */
export async function overview(store: Store, opts: Window & { now?: number }) {
  const q = store.db
    .selectFrom("detections")
    .select([
      sql<number>`count(*)`.as("detections"),
      sql<number>`coalesce(sum(attempts), 0)`.as("attempts"),
      sql<number>`coalesce(sum(failed_attempts), 0)`.as("failed_attempts"),
      sql<number>`coalesce(sum(case when verdict = 'flaky' then 1 else 0 end), 0)`.as("flaky"),
      sql<number>`coalesce(sum(case when verdict = 'failing' then 1 else 0 end), 0)`.as("failing"),
      sql<number>`coalesce(sum(case when verdict = 'stable' then 1 else 0 end), 0)`.as("stable"),
      sql<number>`coalesce(avg(failure_rate), 0)`.as("mean_rate"),
      sql<number>`coalesce(sum(duration_ms), 0)`.as("duration_ms"),
      sql<string | null>`max(started_at)`.as("last_started_at"),
    ])
    .where(inWindow(opts));
  const d = await q.executeTakeFirstOrThrow();
  const distinctTests = async (where: "flaky" | "failing" | "quarantined") => {
    let t = store.db.selectFrom("test_results").select(["repository", "test_id"]).where(inWindow(opts));
    t = where === "quarantined" ? t.where("quarantined", "=", 1) : t.where("verdict", "=", where);
    const row = await store.db
      .selectFrom(t.groupBy(["repository", "test_id"]).as("f"))
      .select(sql<number>`count(*)`.as("n"))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  };
  // "New this week" is relative to now, whatever the window: tests whose first flaky detection
  // (kept in the catalogue) is at most 7 days old.
  const weekAgo = new Date((opts.now ?? Date.now()) - 7 * 86_400_000).toISOString();
  let fresh = store.db
    .selectFrom("test_catalog")
    .select(sql<number>`count(*)`.as("n"))
    .where("first_flaky_at", ">=", weekAgo);
  if (opts.repository) fresh = fresh.where("repository", "=", opts.repository);
  const [flakyTests, brokenTests, quarantinedTests, newFlaky] = await Promise.all([
    distinctTests("flaky"),
    distinctTests("failing"),
    distinctTests("quarantined"),
    fresh.executeTakeFirstOrThrow(),
  ]);
  return {
    detections: Number(d.detections),
    attempts: Number(d.attempts),
    failedAttempts: Number(d.failed_attempts),
    flakyDetections: Number(d.flaky),
    failingDetections: Number(d.failing),
    stableDetections: Number(d.stable),
    meanFailureRate: Number(d.mean_rate),
    runtimeMs: Number(d.duration_ms),
    flakyTests,
    brokenTests,
    quarantinedTests,
    newFlakyTestsThisWeek: Number(newFlaky.n),
    lastStartedAt: d.last_started_at ?? null,
  };
}

/** Every repository with its number of detections and latest one, most recently active first. */
export async function repositorySummaries(store: Store) {
  const rows = await store.db
    .selectFrom("detections")
    .select(["repository", sql<number>`count(*)`.as("n"), sql<string>`max(started_at)`.as("last")])
    .groupBy("repository")
    .orderBy(sql`max(started_at)`, "desc")
    .execute();
  // The web address from each one's latest detection: one index seek per repository (in the
  // aggregate it would read every detection row).
  const urls = await Promise.all(
    rows.map((r) =>
      store.db
        .selectFrom("detections")
        .select("repository_url")
        .where("repository", "=", r.repository)
        .orderBy("started_at", "desc")
        .limit(1)
        .executeTakeFirst(),
    ),
  );
  return rows.map((r, i) => ({
    name: r.repository,
    url: urls[i]?.repository_url ?? null,
    detections: Number(r.n),
    lastStartedAt: r.last,
  }));
}

export async function repositories(store: Store): Promise<string[]> {
  const rows = await store.db
    .selectFrom("detections")
    .select("repository")
    .distinct()
    .orderBy("repository")
    .execute();
  return rows.map((r) => r.repository);
}

/** Delete detections older than `before` (ISO date); their tests and attempts go with them. */
export async function prune(store: Store, before: string): Promise<number> {
  return store.db.transaction().execute(async (trx) => {
    const old = trx.selectFrom("detections").select("id").where("started_at", "<", before);
    await removeFromRollups(trx, before);
    await trx.deleteFrom("attempts").where("detection_id", "in", old).execute();
    await trx.deleteFrom("test_results").where("detection_id", "in", old).execute();
    const res = await trx.deleteFrom("detections").where("started_at", "<", before).executeTakeFirst();
    return Number(res.numDeletedRows);
  });
}
