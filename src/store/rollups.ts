import { type ExpressionBuilder, type Kysely, PostgresAdapter, type RawBuilder, sql } from "kysely";
import type { Database } from "./schema.js";

/**
 * Running totals per test and UTC day (docs/design/history.md). Each
 * test_rollups row holds a test's totals over every ranked detection (verdict flaky or stable)
 * through the end of its day, and test_catalog holds the all-time totals; a window's totals are
 * then A(until) − A(since), where A(T) is the latest row of a day before T's plus the raw test
 * results of T's own day before T: a scan of a few days of rows (and a lookup for each test it
 * misses) instead of every result in the window, exact to the millisecond like the sum it replaces.
 */

/** The verdicts a ranking counts: a test that failed every attempt was broken there, not flaky. */
export const RANKED: readonly string[] = ["flaky", "stable"];

/** A known test's key and its latest ranked detection before the one being recorded. */
export interface PreviousRanking {
  key: number;
  rankedLast: string | null;
}

export interface RankedTest {
  id: string;
  verdict: string;
  attempts: number;
  failures: number;
}

/** What one ranked detection adds to a test's totals. */
export function rankedDelta(t: { attempts: number; failures: number }) {
  return { detections: 1, failing: t.failures > 0 ? 1 : 0, attempts: t.attempts, failures: t.failures };
}

const day = (iso: string) => iso.slice(0, 10);

/**
 * Bring test_rollups up to date with one detection, after test_catalog's totals include it.
 * `previous` holds each known test's key and ranked_last before this detection: a test last
 * ranked on this day or earlier (the usual case) gets its row for the day set from the catalog's
 * totals; one already ranked on a later day (a detection recorded late) gets the detection added
 * to its row for the day and to every later row.
 */
export async function addToRollups(
  trx: Kysely<Database>,
  repository: string,
  startedAt: string,
  tests: readonly RankedTest[],
  previous: ReadonlyMap<string, PreviousRanking>,
): Promise<void> {
  const today = day(startedAt);
  const ranked = tests.filter((t) => RANKED.includes(t.verdict));
  const late: { test: RankedTest; key: number }[] = [];
  const inOrder: string[] = [];
  for (const t of ranked) {
    const known = previous.get(t.id);
    if (known?.rankedLast != null && day(known.rankedLast) > today) late.push({ test: t, key: known.key });
    else inOrder.push(t.id);
  }
  for (let i = 0; i < inOrder.length; i += CHUNK) {
    await trx
      .insertInto("test_rollups")
      .columns(["test_key", "day", "detections", "failing", "attempts", "failures", "last_seen"])
      .expression((eb) =>
        eb
          .selectFrom("test_catalog")
          .select([
            "test_key",
            sql<string>`${today}`.as("day"),
            "ranked_detections",
            "ranked_failing",
            "ranked_attempts",
            "ranked_failures",
            sql<string>`ranked_last`.as("last_seen"),
          ])
          .where("repository", "=", repository)
          .where("test_id", "in", inOrder.slice(i, i + CHUNK)),
      )
      .onConflict((oc) =>
        oc.columns(["test_key", "day"]).doUpdateSet((eb) => ({
          detections: eb.ref("excluded.detections"),
          failing: eb.ref("excluded.failing"),
          attempts: eb.ref("excluded.attempts"),
          failures: eb.ref("excluded.failures"),
          last_seen: eb.ref("excluded.last_seen"),
        })),
      )
      .execute();
  }
  for (const { test, key } of late) await addLate(trx, key, test, startedAt);
  // Rows of this day and later changed: the totals at the start of any later day did too.
  if (ranked.length > 0) await dropEdges(trx, today);
}

async function addLate(trx: Kysely<Database>, key: number, t: RankedTest, startedAt: string) {
  const today = day(startedAt);
  const d = rankedDelta(t);
  const before = await trx
    .selectFrom("test_rollups")
    .selectAll()
    .where("test_key", "=", key)
    .where("day", "<=", today)
    .orderBy("day", "desc")
    .limit(1)
    .executeTakeFirst();
  if (before?.day === today) {
    await trx
      .updateTable("test_rollups")
      .set((eb) => ({
        ...added(eb, d),
        last_seen: sql`case when last_seen < ${startedAt} then ${startedAt} else last_seen end`,
      }))
      .where("test_key", "=", key)
      .where("day", "=", today)
      .execute();
  } else {
    await trx
      .insertInto("test_rollups")
      .values({
        test_key: key,
        day: today,
        detections: Number(before?.detections ?? 0) + d.detections,
        failing: Number(before?.failing ?? 0) + d.failing,
        attempts: Number(before?.attempts ?? 0) + d.attempts,
        failures: Number(before?.failures ?? 0) + d.failures,
        last_seen: startedAt,
      })
      .execute();
  }
  await trx
    .updateTable("test_rollups")
    .set((eb) => added(eb, d))
    .where("test_key", "=", key)
    .where("day", ">", today)
    .execute();
}

function added(eb: ExpressionBuilder<Database, "test_rollups">, d: ReturnType<typeof rankedDelta>) {
  return {
    detections: eb("detections", "+", d.detections),
    failing: eb("failing", "+", d.failing),
    attempts: eb("attempts", "+", d.attempts),
    failures: eb("failures", "+", d.failures),
  };
}

/**
 * Take the detections started before `before` out of the running totals, before prune deletes
 * them: every later row and the catalog's totals lose what those detections added, and the rows
 * of days entirely before `before` go.
 */
export async function removeFromRollups(trx: Kysely<Database>, before: string): Promise<void> {
  const pruned = sql`select c.test_key as k, count(*) as d, sum(case when t.failures > 0 then 1 else 0 end) as f,
      sum(t.attempts) as a, sum(t.failures) as x
    from test_results t join test_catalog c on c.repository = t.repository and c.test_id = t.test_id
    where t.started_at < ${before} and t.verdict in ('flaky', 'stable')
    group by c.test_key`;
  await sql`update test_rollups set detections = detections - p.d, failing = failing - p.f,
      attempts = attempts - p.a, failures = failures - p.x
    from (${pruned}) p where test_rollups.test_key = p.k and test_rollups.day >= ${day(before)}`.execute(trx);
  await sql`update test_catalog set ranked_detections = ranked_detections - p.d, ranked_failing = ranked_failing - p.f,
      ranked_attempts = ranked_attempts - p.a, ranked_failures = ranked_failures - p.x
    from (${pruned}) p where test_catalog.test_key = p.k`.execute(trx);
  await trx.deleteFrom("test_rollups").where("day", "<", day(before)).execute();
  await dropEdges(trx, null);
}

/**
 * The running totals recomputed from every test result: migration 5 on the history recorded before
 * it, and anyone who loaded test_results by other means (bench/history.ts). Every catalogue row
 * must have its test_key. Runs before any rollup_edges exist (migration 5 precedes their table; the
 * benchmark rebuilds a newly seeded database), so it leaves them alone.
 */
export async function rebuildRollups(db: Kysely<Database>): Promise<void> {
  await db.deleteFrom("test_rollups").execute();
  await sql`update test_catalog set ranked_detections = 0, ranked_failing = 0, ranked_attempts = 0,
      ranked_failures = 0, ranked_last = null`.execute(db);
  await sql`update test_catalog set ranked_detections = t.d, ranked_failing = t.f, ranked_attempts = t.a,
      ranked_failures = t.x, ranked_last = t.l
    from (select repository, test_id, count(*) as d, sum(case when failures > 0 then 1 else 0 end) as f,
            sum(attempts) as a, sum(failures) as x, max(started_at) as l
          from test_results where verdict in ('flaky', 'stable') group by repository, test_id) t
    where test_catalog.repository = t.repository and test_catalog.test_id = t.test_id`.execute(db);
  await sql`insert into test_rollups (test_key, day, detections, failing, attempts, failures, last_seen)
    select test_key, day, sum(d) over w, sum(f) over w, sum(a) over w, sum(x) over w, l
    from (select c.test_key, substr(t.started_at, 1, 10) as day, count(*) as d,
            sum(case when t.failures > 0 then 1 else 0 end) as f, sum(t.attempts) as a,
            sum(t.failures) as x, max(t.started_at) as l
          from test_results t join test_catalog c on c.repository = t.repository and c.test_id = t.test_id
          where t.verdict in ('flaky', 'stable')
          group by c.test_key, substr(t.started_at, 1, 10)) g
    window w as (partition by test_key order by day)`.execute(db);
}

/**
 * Set each test's latest failing ranked detection from its test results (migration 6, and the
 * benchmark after seeding).
 */
export async function rebuildLastFailing(db: Kysely<Database>): Promise<void> {
  await sql`update test_catalog set ranked_last_failing = null`.execute(db);
  await sql`update test_catalog set ranked_last_failing = t.l
    from (select repository, test_id, max(started_at) as l from test_results
          where verdict in ('flaky', 'stable') and failures > 0 group by repository, test_id) t
    where test_catalog.repository = t.repository and test_catalog.test_id = t.test_id`.execute(db);
}

export interface WindowTotals {
  repository: string;
  test_id: string;
  detections: number;
  failing: number;
  attempts: number;
  failures: number;
  last_seen: string;
}

/**
 * The tests ranked highest over [since, until) by `score` (a SQL expression over the window's
 * columns detections, failing, attempts and failures), with at least `minAttempts` attempts and
 * one failure.
 */
export async function rankWindow(
  db: Kysely<Database>,
  engine: "sqlite" | "postgres",
  w: { repository?: string; since?: string; until?: string },
  opts: {
    minAttempts: number;
    limit: number;
    score: RawBuilder<number>;
    /** Candidates across repositories up to which each is looked up rather than scanned for. */
    lookupsAtMost?: number;
    /** Compute every edge from test_rollups, never from rollup_edges (the tests' comparison). */
    noEdges?: boolean;
  },
): Promise<WindowTotals[]> {
  // Only a test with a failing ranked detection at or after since can have a failure in the
  // window. The column only grows (a pruned detection can leave it later than the latest left),
  // so it may let through a test that then sums to no failure, and never keeps out one that fails.
  const candidateOf = (column: RawBuilder<unknown>) =>
    w.since ? sql`${column} >= ${w.since}` : sql`${column} is not null`;
  const candidate = candidateOf(sql`c.ranked_last_failing`);
  // Scan a few days of rows for all candidates, or look each one up by key: one repository's, or
  // few across repositories (a real history, where most tests never fail), are looked up.
  const most = opts.lookupsAtMost ?? LOOKUPS_AT_MOST;
  const scan = w.repository === undefined && (await candidates(db, candidate, most)) > most;
  // Many candidates: each edge's totals at the start of its day come from rollup_edges, built
  // once for that day (ensureEdges); read in one snapshot with the list of complete days, so a
  // detection recorded in between cannot leave half of them.
  const edgeDays = scan && !opts.noEdges ? [w.since, w.until].filter((x) => x !== undefined).map(day) : [];
  for (const d of new Set(edgeDays)) await ensureEdges(db, engine, d);
  if (edgeDays.length === 0) return rankWith(db, engine, w, opts, candidate, candidateOf, scan, new Set());
  return db
    .transaction()
    .setIsolationLevel("repeatable read")
    .execute(async (trx) => {
      const built = await trx
        .selectFrom("rollup_edge_days")
        .select("day")
        .where("day", "in", edgeDays)
        .execute();
      return rankWith(trx, engine, w, opts, candidate, candidateOf, scan, new Set(built.map((b) => b.day)));
    });
}

async function rankWith(
  db: Kysely<Database>,
  engine: "sqlite" | "postgres",
  w: { repository?: string; since?: string; until?: string },
  opts: { minAttempts: number; limit: number; score: RawBuilder<number> },
  candidate: RawBuilder<unknown>,
  candidateOf: (column: RawBuilder<unknown>) => RawBuilder<unknown>,
  scan: boolean,
  edges: ReadonlySet<string>,
): Promise<WindowTotals[]> {
  const edge = (instant: string, name: "u" | "l", known: boolean) =>
    edges.has(day(instant))
      ? fromEdges(instant, name, known)
      : at(instant, name, w.repository, scan, engine, known);
  // The window's own tests were ranked at or after since: no shortcut for the lower edge.
  const upper = w.until ? edge(w.until, "u", true) : ALL_TIME;
  const lower = w.since ? edge(w.since, "l", false) : NOTHING;
  const minus = (c: keyof typeof ALL_TIME.cols) => sql`(${upper.cols[c]}) - (${lower.cols[c]})`;
  // Many candidates are most of the catalogue: SQLite would still walk the column's index and
  // fetch each row from it; unary + keeps it to reading the table (PostgreSQL weighs this itself).
  const filters = [
    ...(w.repository ? [sql`c.repository = ${w.repository}`] : []),
    scan && engine === "sqlite" ? candidateOf(sql`+c.ranked_last_failing`) : candidate,
  ];
  const res = await sql<WindowTotals>`select * from (
      select c.repository, c.test_id, ${minus("detections")} as detections, ${minus("failing")} as failing,
        ${minus("attempts")} as attempts, ${minus("failures")} as failures, ${upper.last} as last_seen
      from test_catalog c ${upper.joins} ${lower.joins}
      where ${sql.join(filters, sql` and `)}
      -- Computed once per test: without this the outer filter and order would repeat each lookup.
      ${engine === "postgres" ? sql`offset 0` : sql`limit -1 offset 0`}
    ) w
    where attempts >= ${opts.minAttempts} and failures > 0
    order by ${opts.score} desc, test_id, repository
    limit ${opts.limit}`.execute(db);
  return res.rows.map((r) => ({
    ...r,
    detections: Number(r.detections),
    failing: Number(r.failing),
    attempts: Number(r.attempts),
    failures: Number(r.failures),
  }));
}

/**
 * Above this many candidates across repositories, the edges scan a few days of rows rather than
 * look each test up: a lookup costs about 4 µs inside the plan on PostgreSQL, the 7-day scan
 * ~10 ms at 100,000 detections (docs/design/history.md).
 */
const LOOKUPS_AT_MOST = 2000;

/** How many tests pass the candidate filter, counted from its index (stops counting past the bound). */
async function candidates(
  db: Kysely<Database>,
  candidate: RawBuilder<unknown>,
  most: number,
): Promise<number> {
  const res = await sql<{ n: number | string }>`select count(*) as n from (
      select 1 from test_catalog c where ${candidate} limit ${most + 1}) x`.execute(db);
  return Number(res.rows[0]?.n ?? 0);
}

type Totals = {
  cols: Record<"detections" | "failing" | "attempts" | "failures", RawBuilder<unknown>>;
  last: RawBuilder<unknown>;
  joins: RawBuilder<unknown>;
};

const ALL_TIME: Totals = {
  cols: {
    detections: sql`c.ranked_detections`,
    failing: sql`c.ranked_failing`,
    attempts: sql`c.ranked_attempts`,
    failures: sql`c.ranked_failures`,
  },
  last: sql`c.ranked_last`,
  joins: sql``,
};

const NOTHING: Totals = {
  cols: { detections: sql`0`, failing: sql`0`, attempts: sql`0`, failures: sql`0` },
  last: sql`null`,
  joins: sql``,
};

/**
 * A(T), the totals of everything ranked before the instant T: a test's latest row of a day before
 * T's plus T's own day up to T from the raw results (p). `name` keeps two of these apart.
 *
 * Across repositories, the latest rows come from one range scan of the LOOKBACK_DAYS before T's
 * day (r), which holds them for every test ranked in those days: the totals only grow, so the
 * latest row's are each column's max. A test without a row there, and every test when `scanned` is
 * off (one repository's, or few candidates), is looked up by its key (f): PostgreSQL skips that
 * lookup for the tests the scan found (a one-time filter on r), SQLite's coalesce never evaluates
 * it for them. A lookup per test is what a database does fastest one at a time and slowest ten
 * thousand times (about 8 µs each on PostgreSQL here); the scan reads a few days of rows.
 * With `known` set, a test last ranked before T's day has all of its totals before T: the
 * catalogue's, with no lookup at all.
 */
function at(
  instant: string,
  name: "u" | "l" | "e",
  repository: string | undefined,
  scanned: boolean,
  engine: "sqlite" | "postgres",
  known: boolean,
): Totals {
  const r = sql.id(`${name}r`);
  const f = sql.id(`${name}f`);
  const p = sql.id(`${name}p`);
  const d = day(instant);
  const from = new Date(Date.parse(`${d}T00:00:00.000Z`) - LOOKBACK_DAYS * 86_400_000)
    .toISOString()
    .slice(0, 10);
  const lookup = (c: string) =>
    engine === "postgres"
      ? sql`${f}.${sql.id(c)}`
      : sql`(select x.${sql.id(c)} from test_rollups x where x.test_key = c.test_key
          and x.day < ${d} order by x.day desc limit 1)`;
  const latest = (c: string) => (scanned ? sql`coalesce(${r}.${sql.id(c)}, ${lookup(c)})` : lookup(c));
  const fallback =
    engine === "postgres"
      ? sql`left join lateral (select x.detections, x.failing, x.attempts, x.failures, x.last_seen from test_rollups x
          where ${scanned ? sql`${r}.test_key is null and ` : sql``}x.test_key = c.test_key and x.day < ${d}
          order by x.day desc limit 1) ${f} on true`
      : sql``;
  return dayStartTotals(
    d,
    p,
    known,
    latest,
    sql`
      ${
        scanned
          ? sql`left join (
        select test_key, max(detections) as detections, max(failing) as failing, max(attempts) as attempts,
          max(failures) as failures, max(last_seen) as last_seen
        from test_rollups ${engine === "sqlite" ? sql`indexed by test_rollups_day` : sql``}
        where day >= ${from} and day < ${d}
        group by test_key
      ) ${r} on ${r}.test_key = c.test_key`
          : sql``
      }
      ${fallback}
      ${sinceDayStart(instant, p, repository)}`,
  );
}

/**
 * A(T)'s columns: the totals at the start of T's day (`latest`) plus T's day up to T (`p`); with
 * `known`, the catalogue's for a test last ranked before T's day. `joins` bring both in.
 */
function dayStartTotals(
  d: string,
  p: RawBuilder<unknown>,
  known: boolean,
  latest: (c: string) => RawBuilder<unknown>,
  joins: RawBuilder<unknown>,
): Totals {
  const col = (c: "detections" | "failing" | "attempts" | "failures") => {
    const before = sql`coalesce(${latest(c)}, 0) + coalesce(${p}.${sql.id(c)}, 0)`;
    return known ? sql`case when c.ranked_last < ${d} then ${ALL_TIME.cols[c]} else ${before} end` : before;
  };
  const last = sql`coalesce(${p}.last_seen, ${latest("last_seen")})`;
  return {
    cols: {
      detections: col("detections"),
      failing: col("failing"),
      attempts: col("attempts"),
      failures: col("failures"),
    },
    last: known ? sql`case when c.ranked_last < ${d} then c.ranked_last else ${last} end` : last,
    joins,
  };
}

/** The raw results ranked on `instant`'s day before it, per test, joined to the catalogue as `p`. */
function sinceDayStart(instant: string, p: RawBuilder<unknown>, repository: string | undefined) {
  return sql`left join (
        select repository, test_id, count(*) as detections, sum(case when failures > 0 then 1 else 0 end) as failing,
          sum(attempts) as attempts, sum(failures) as failures, max(started_at) as last_seen
        from test_results
        where verdict in ('flaky', 'stable') and started_at >= ${day(instant)} and started_at < ${instant}
          ${repository ? sql`and repository = ${repository}` : sql``}
        group by repository, test_id
      ) ${p} on ${p}.repository = c.repository and ${p}.test_id = c.test_id`;
}

/**
 * A(T) as `at` computes it, with the totals at the start of T's day read from rollup_edges (one
 * row per test, built by ensureEdges) instead of looked up or scanned for. Across repositories only.
 */
function fromEdges(instant: string, name: "u" | "l", known: boolean): Totals {
  const e = sql.id(`${name}e`);
  const p = sql.id(`${name}p`);
  const d = day(instant);
  return dayStartTotals(
    d,
    p,
    known,
    (c) => sql`${e}.${sql.id(c)}`,
    sql`
      left join rollup_edges ${e} on ${e}.day = ${d} and ${e}.test_key = c.test_key
      ${sinceDayStart(instant, p, undefined)}`,
  );
}

/** Serialises building a day's edges with the writes that drop them (PostgreSQL). */
const EDGES_LOCK = 720_345_199;

function isPostgres(db: Kysely<Database>): boolean {
  return db.getExecutor().adapter instanceof PostgresAdapter;
}

/**
 * Make sure rollup_edges holds every test's totals at the start of day `d` (its latest row before
 * it; the catalogue's totals for a test last ranked before it). Built in one statement from what is
 * committed, and listed in rollup_edge_days in the same transaction. On PostgreSQL the build holds
 * EDGES_LOCK, which dropEdges takes before deleting: a detection recorded while a day is being
 * built either is in it or drops it. Edges built more than two days ago go.
 */
async function ensureEdges(db: Kysely<Database>, engine: "sqlite" | "postgres", d: string): Promise<void> {
  if (await db.selectFrom("rollup_edge_days").select("day").where("day", "=", d).executeTakeFirst()) return;
  await db.transaction().execute(async (trx) => {
    if (engine === "postgres") await sql`select pg_advisory_xact_lock(${EDGES_LOCK})`.execute(trx);
    const now = new Date();
    // Claiming the day is the transaction's first statement, a write: on SQLite a read first would
    // fix a snapshot that another process's commit makes stale before this transaction's first
    // write, which then fails at once (SQLITE_BUSY_SNAPSHOT) rather than waiting its turn.
    const claimed = await sql`insert into rollup_edge_days (day, built_at)
      select ${d}, ${now.toISOString()}
      where not exists (select 1 from rollup_edge_days where day = ${d})`.execute(trx);
    if (Number(claimed.numAffectedRows ?? 0) === 0) return;
    const start = at(`${d}T00:00:00.000Z`, "e", undefined, true, engine, true);
    await sql`insert into rollup_edges (day, test_key, detections, failing, attempts, failures, last_seen)
      select ${d}, c.test_key, ${start.cols.detections}, ${start.cols.failing}, ${start.cols.attempts},
        ${start.cols.failures}, ${start.last}
      from test_catalog c ${start.joins}
      where c.ranked_last is not null`.execute(trx);
    const stale = new Date(now.getTime() - 2 * 86_400_000).toISOString();
    await trx
      .deleteFrom("rollup_edges")
      .where("day", "in", (eb) =>
        eb.selectFrom("rollup_edge_days").select("day").where("built_at", "<", stale),
      )
      .execute();
    await trx.deleteFrom("rollup_edge_days").where("built_at", "<", stale).execute();
  });
}

/**
 * Forget the edges of days after `after` (every day: null), whose totals a write to test_rollups
 * just changed. Inside the writer's transaction; on PostgreSQL after taking EDGES_LOCK, so that an
 * edge being built from the rows before this write is either finished, and deleted here, or starts
 * after this write commits.
 */
async function dropEdges(db: Kysely<Database>, after: string | null): Promise<void> {
  if (isPostgres(db)) await sql`select pg_advisory_xact_lock(${EDGES_LOCK})`.execute(db);
  let days = db.deleteFrom("rollup_edge_days");
  let rows = db.deleteFrom("rollup_edges");
  if (after !== null) {
    days = days.where("day", ">", after);
    rows = rows.where("day", ">", after);
  }
  await days.execute();
  await rows.execute();
}

/** How many days before a window's edge the scan for latest rows reads (see `at`). */
const LOOKBACK_DAYS = 7;

const CHUNK = 200;
