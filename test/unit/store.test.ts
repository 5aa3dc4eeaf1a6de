import { join } from "node:path";
import SQLite from "better-sqlite3";
import { type RawNode, sql } from "kysely";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { MIGRATIONS, migrate, schemaVersion } from "../../src/store/migrations.js";
import { openStore, type Store } from "../../src/store/open.js";
import {
  getDetection,
  listDetections,
  prune,
  repositories,
  statsBySeverity,
  testTimeline,
  topFlaky,
  trend,
} from "../../src/store/queries.js";
import { recordDetection } from "../../src/store/record.js";
import { rankWindow } from "../../src/store/rollups.js";
import { tempDir } from "../helpers/cli.js";
import { startPostgres, type TestPostgres } from "../helpers/postgres.js";
import { report } from "../helpers/reports.js";

/** The history's tables, children before the tables they refer to. */
const HISTORY_TABLES = [
  "attempts",
  "test_results",
  "test_rollups",
  "rollup_edges",
  "rollup_edge_days",
  "test_catalog",
  "detections",
] as const;

let pgServer: TestPostgres | undefined;
beforeAll(async () => {
  pgServer = await startPostgres();
}, 60_000);
afterAll(() => pgServer?.stop());

for (const engine of ["sqlite", "postgres"] as const) {
  describe(`store on ${engine}`, () => {
    let store: Store;
    beforeEach(async () => {
      if (store) await store.close();
      if (engine === "sqlite") store = await openStore(":memory:");
      else {
        store = await openStore(pgServer?.url as string);
        for (const t of HISTORY_TABLES) await store.db.deleteFrom(t).execute();
      }
    });
    afterAll(async () => store?.close());

    it("migrates forward once, and again is a no-op", async () => {
      expect(await schemaVersion(store.db)).toBe(MIGRATIONS.length);
      expect(await migrate(store.db)).toEqual([]);
    });

    it("upgrades a version-1 database of the earlier migration runner, with data in it", async () => {
      // Roll this database back to exactly what version 1 created under the runner that kept its
      // record in fd_migrations, with a detection recorded.
      for (const t of [
        "jobs",
        "api_keys",
        ...HISTORY_TABLES,
        "fd_schema_migrations",
        "fd_schema_migrations_lock",
      ])
        await store.db.schema.dropTable(t).ifExists().execute();
      await (MIGRATIONS[0] as (typeof MIGRATIONS)[0]).up(store.db);
      await sql`create table fd_migrations (version integer primary key, name text not null, applied_at varchar(32) not null)`.execute(
        store.db,
      );
      await sql`insert into fd_migrations values (1, 'v1', 'x')`.execute(store.db);
      await sql`insert into detections (id, repository, command, framework, trigger, backend, started_at, duration_ms, attempts, failed_attempts, failure_rate, interval_lo, interval_hi, severity, verdict, tests_total, tests_flaky, tests_failing, job_seed, stop_reason) values ('old', '/home/me/app', 'npm test', 'jest', 'cli', 'local', '2026-10-01T00:00:00.000Z', 10, 3, 1, 0.33, 0.01, 0.9, 'high', 'flaky', 1, 1, 0, '1', 'budget')`.execute(
        store.db,
      );
      await sql`insert into test_results (detection_id, repository, test_id, name, started_at, attempts, failures, failure_rate, interval_lo, interval_hi, severity, verdict, failing_seeds) values ('old', '/home/me/app', 'a', 'a', '2026-10-01T00:00:00.000Z', 3, 1, 0.33, 0.01, 0.9, 'high', 'flaky', '[]')`.execute(
        store.db,
      );
      await sql`insert into test_catalog (repository, test_id, first_seen, last_seen, last_verdict, last_severity, first_flaky_at, detections) values ('/home/me/app', 'a', '2026-10-01T00:00:00.000Z', '2026-10-01T00:00:00.000Z', 'flaky', 'high', '2026-10-01T00:00:00.000Z', 1)`.execute(
        store.db,
      );
      // Version 1 is not applied again (its tables exist: it would fail); the rest are.
      expect(await migrate(store.db)).toEqual(MIGRATIONS.slice(1).map((m) => m.version));
      expect(await schemaVersion(store.db)).toBe(MIGRATIONS.length);
      const tables = (await store.db.introspection.getTables()).map((t) => t.name);
      expect(tables).not.toContain("fd_migrations");
      const old = await getDetection(store, "old");
      expect(old?.detection.repository_url).toBeNull();
      expect(old?.tests).toMatchObject([{ test_id: "a", quarantined: 0, owner: null, outcomes: null }]);
      // Migration 5 turned the history into running totals: the ranking reads them.
      expect(await topFlaky(store, { minAttempts: 1 })).toMatchObject([
        { testId: "a", detections: 1, failingDetections: 1, attempts: 3, failures: 1 },
      ]);
    });

    it("ranks any window from running totals exactly as summing its test results would, through late records and pruning", async () => {
      // 150 detections at random instants over 20 days, in 3 repositories, recorded in random order
      // (so a test is often recorded on a day before one it already has), then compared with the
      // plain sum over the window for windows whose ends fall mid-day, on a day boundary, or open.
      let seed = 17;
      const rand = () => {
        seed = (seed * 1103515245 + 12345) % 2147483648;
        return seed / 2147483648;
      };
      const day0 = Date.parse("2026-10-01T00:00:00.000Z");
      const iso = (ms: number) => new Date(ms).toISOString();
      const detections = Array.from({ length: 150 }, (_, n) => {
        const at = day0 + Math.floor(rand() * 20 * 86_400_000);
        const repo = `/srv/r${Math.floor(rand() * 3)}`;
        const tests = Array.from({ length: 12 }, (_, i) => `t${i}`)
          .filter(() => rand() < 0.6)
          .map((id) => {
            const attempts = 5 + Math.floor(rand() * 20);
            const kind = rand();
            const failures = kind < 0.5 ? 0 : kind < 0.9 ? 1 + Math.floor(rand() * (attempts - 1)) : attempts;
            return { id, attempts, failures };
          });
        return {
          id: `x${n}`,
          at,
          repo,
          tests: tests.length > 0 ? tests : [{ id: "t0", attempts: 5, failures: 0 }],
        };
      });
      const shuffled = [...detections].sort(() => rand() - 0.5);
      const record = async (from: number, to: number) => {
        for (const d of shuffled.slice(from, to))
          await recordDetection(store, report(d.id, iso(d.at), d.tests, d.repo), {
            trigger: "cli",
            backend: "local",
          });
      };

      const byTest = (a: unknown[], b: unknown[]) => `${a[0]} ${a[1]}`.localeCompare(`${b[0]} ${b[1]}`);
      const summed = async (
        w: { repository?: string; since?: string; until?: string },
        minAttempts: number,
      ) => {
        const where = [
          sql`verdict in ('flaky', 'stable')`,
          ...(w.repository ? [sql`repository = ${w.repository}`] : []),
          ...(w.since ? [sql`started_at >= ${w.since}`] : []),
          ...(w.until ? [sql`started_at < ${w.until}`] : []),
        ];
        const res = await sql<{
          repository: string;
          test_id: string;
          d: number;
          f: number;
          a: number;
          x: number;
          l: string;
        }>`select repository, test_id, count(*) as d, sum(case when failures > 0 then 1 else 0 end) as f,
            sum(attempts) as a, sum(failures) as x, max(started_at) as l
          from test_results where ${sql.join(where, sql` and `)}
          group by repository, test_id
          having sum(attempts) >= ${minAttempts} and sum(failures) > 0`.execute(store.db);
        return res.rows
          .map((r) => [r.repository, r.test_id, Number(r.d), Number(r.f), Number(r.a), Number(r.x), r.l])
          .sort(byTest);
      };
      const ranked = async (
        w: { repository?: string; since?: string; until?: string },
        minAttempts: number,
      ) => {
        const top = await topFlaky(store, { ...w, minAttempts, limit: 500 });
        // Ranked by impact, highest first.
        for (let i = 1; i < top.length; i++)
          expect(top[i - 1]?.impact ?? 0).toBeGreaterThanOrEqual((top[i]?.impact ?? 0) - 1e-12);
        return top
          .map((t) => [
            t.repository,
            t.testId,
            t.detections,
            t.failingDetections,
            t.attempts,
            t.failures,
            t.lastSeen,
          ])
          .sort(byTest);
      };
      // The same windows with every candidate across repositories found by the scan of days (a
      // history with many failing tests) rather than looked up one by one (few: topFlaky here);
      // with each edge's day-start totals from rollup_edges, or (noEdges) from test_rollups.
      const scan =
        (noEdges: boolean) =>
        async (w: { repository?: string; since?: string; until?: string }, minAttempts: number) =>
          (
            await rankWindow(store.db, store.kind, w, {
              minAttempts,
              limit: 500,
              score: sql<number>`(1.0 * failures / attempts) * failing`,
              lookupsAtMost: 0,
              noEdges,
            })
          )
            .map((t) => [
              t.repository,
              t.test_id,
              t.detections,
              t.failing,
              t.attempts,
              t.failures,
              t.last_seen,
            ])
            .sort(byTest);
      const scanned = scan(false);
      const withoutEdges = scan(true);
      const windows = (from: number) =>
        Array.from({ length: 12 }, (_, i) => {
          const a = from + Math.floor(rand() * (20 * 86_400_000 - (from - day0)));
          const b = a + Math.floor(rand() * 8 * 86_400_000);
          const mid = i % 3 === 0 ? Math.floor(a / 86_400_000) * 86_400_000 : a; // some on a day boundary
          return {
            ...(i % 4 !== 1 ? { since: iso(mid) } : {}),
            ...(i % 2 === 0 ? { until: iso(b) } : {}),
            ...(i % 5 === 0 ? { repository: "/srv/r1" } : {}),
          };
        });
      // Rankings between batches of records build each window edge's rollup_edges; the next
      // batch records detections on days before them (recorded out of order), which must drop them.
      const edgeWindows = windows(day0);
      let compared = 0;
      for (const [from, to] of [
        [0, 50],
        [50, 100],
        [100, 150],
      ] as const) {
        await record(from, to);
        for (const w of edgeWindows) {
          const want = await summed(w, 0);
          expect(await scanned(w, 0)).toEqual(want);
          compared += want.length;
        }
      }
      const built = await store.db.selectFrom("rollup_edge_days").select("day").execute();
      expect(built.length).toBeGreaterThan(3);
      for (const w of [{}, ...windows(day0)]) {
        const want = await summed(w, 10);
        expect(await ranked(w, 10)).toEqual(want);
        expect(await scanned(w, 10)).toEqual(want);
        expect(await withoutEdges(w, 10)).toEqual(want);
        compared += want.length;
      }
      expect(compared).toBeGreaterThan(100);

      // Pruning mid-day takes the pruned detections out of every total, and windows still agree.
      const cut = day0 + 6.5 * 86_400_000;
      await prune(store, iso(cut));
      for (const w of [{}, ...windows(cut)]) {
        const want = await summed(w, 0);
        expect(await ranked(w, 0)).toEqual(want);
        expect(await scanned(w, 0)).toEqual(want);
        expect(await withoutEdges(w, 0)).toEqual(want);
      }
    });

    it("records a detection with its tests, attempts (bounded output) and catalogue in one go", async () => {
      await recordDetection(
        store,
        report("d1", "2026-11-01T10:00:00.000Z", [
          { id: "a", attempts: 3, failures: 1 },
          { id: "b", attempts: 3, failures: 0 },
        ]),
        {
          trigger: "cli",
          backend: "local",
          branch: "main",
          prNumber: 12,
        },
      );
      const got = await getDetection(store, "d1");
      expect(got?.detection).toMatchObject({
        repository: "/srv/app",
        verdict: "flaky",
        pr_number: 12,
        branch: "main",
        tests_flaky: 1,
      });
      expect(got?.tests.map((t) => [t.test_id, t.verdict, t.seed_deterministic])).toEqual([
        ["a", "flaky", 1],
        ["b", "stable", null],
      ]);
      expect(got?.attempts).toHaveLength(3);
      expect(got?.attempts[0]?.output_tail).toHaveLength(4096);
      expect(await getDetection(store, "nope")).toBeUndefined();
    });

    it("records the repository by its remote, with its links, owners, quarantine and per-attempt outcomes", async () => {
      const r = report("d3", "2026-11-01T10:00:00.000Z", [
        { id: "a", attempts: 3, failures: 1 },
        { id: "b", attempts: 3, failures: 0 },
        { id: "c", attempts: 3, failures: 1 },
      ]);
      r.source = { ...r.source, name: "octo/app", url: "https://github.com/octo/app" };
      r.attempts = r.attempts.map((a) => ({
        ...a,
        tests: a.index === 2 ? null : { passed: 1, failed: a.index === 1 ? ["a", "c"] : [], skipped: 0 },
      }));
      await recordDetection(store, r, {
        trigger: "cli",
        backend: "local",
        ciRunUrl: "https://github.com/octo/app/actions/runs/9",
        today: "2026-11-01",
        quarantine: [
          { test: "a", owner: "@alice", review_by: "2026-12-31" },
          { test: "c", owner: "@bob", review_by: "2026-10-01" },
        ],
      });
      const got = await getDetection(store, "d3");
      expect(got?.detection).toMatchObject({
        repository: "octo/app",
        repository_url: "https://github.com/octo/app",
        ci_run_url: "https://github.com/octo/app/actions/runs/9",
      });
      expect(got?.tests.map((t) => [t.test_id, t.owner, t.quarantined, t.outcomes])).toEqual([
        ["a", "@alice", 1, ".F?"],
        ["c", "@bob", 0, ".F?"],
        ["b", null, 0, null],
      ]);
    });

    it("keeps the detection out entirely when any part fails (one transaction)", async () => {
      const bad = report("d2", "2026-11-01T10:00:00.000Z", [
        { id: "a", attempts: 3, failures: 1 },
        { id: "a", attempts: 3, failures: 1 },
      ]);
      await expect(recordDetection(store, bad, { trigger: "cli", backend: "local" })).rejects.toThrow();
      expect(await getDetection(store, "d2")).toBeUndefined();
    });

    it("lists with filters, sorting and pagination; trends per day; ranks by impact; counts by severity", async () => {
      const days = ["2026-11-01", "2026-11-02", "2026-11-03"];
      let n = 0;
      for (const day of days) {
        for (let k = 0; k < 2; k++) {
          n++;
          await recordDetection(
            store,
            report(`d${n}`, `${day}T0${k}:00:00.000Z`, [
              { id: "often", attempts: 10, failures: 5 },
              { id: "rare", attempts: 10, failures: day === "2026-11-03" ? 1 : 0 },
              { id: "fine", attempts: 10, failures: 0 },
            ]),
            { trigger: "cli", backend: "local" },
          );
        }
      }
      await recordDetection(
        store,
        report("other", "2026-11-02T00:00:00.000Z", [{ id: "x", attempts: 10, failures: 0 }], "/srv/other"),
        {
          trigger: "api",
          backend: "local",
        },
      );
      const page = await listDetections(store, { repository: "/srv/app", limit: 4, offset: 0 });
      expect(page.total).toBe(6);
      expect(page.rows.map((r) => r.id)).toEqual(["d6", "d5", "d4", "d3"]);
      expect(
        (await listDetections(store, { repository: "/srv/app", limit: 4, offset: 4 })).rows.map((r) => r.id),
      ).toEqual(["d2", "d1"]);
      expect((await listDetections(store, { since: "2026-11-03" })).total).toBe(2);
      expect(await repositories(store)).toEqual(["/srv/app", "/srv/other"]);

      expect(await trend(store, { repository: "/srv/app" })).toEqual([
        { day: "2026-11-01", detections: 2, failureRate: expect.any(Number), flakyTests: 2 },
        { day: "2026-11-02", detections: 2, failureRate: expect.any(Number), flakyTests: 2 },
        { day: "2026-11-03", detections: 2, failureRate: expect.any(Number), flakyTests: 4 },
      ]);
      expect(await trend(store, { repository: "/srv/app", testId: "rare" })).toEqual([
        { day: "2026-11-01", detections: 2, failureRate: 0 },
        { day: "2026-11-02", detections: 2, failureRate: 0 },
        { day: "2026-11-03", detections: 2, failureRate: 0.1 },
      ]);

      const top = await topFlaky(store, { repository: "/srv/app", minAttempts: 20 });
      expect(top.map((t) => [t.testId, t.failingDetections])).toEqual([
        ["often", 6],
        ["rare", 2],
      ]);
      expect(top[0]?.failureRate).toBe(0.5);

      expect(await statsBySeverity(store, { repository: "/srv/app" })).toEqual({
        critical: 0,
        high: 0,
        medium: 6,
        low: 0,
        none: 0,
      });

      const timeline = await testTimeline(store, "/srv/app", "rare");
      expect(timeline.results.map((r) => r.verdict)).toEqual([
        "stable",
        "stable",
        "stable",
        "stable",
        "flaky",
        "flaky",
      ]);
      expect(timeline.catalog).toMatchObject({
        first_seen: "2026-11-01T00:00:00.000Z",
        first_flaky_at: "2026-11-03T00:00:00.000Z",
        detections: 6,
      });

      expect(await prune(store, "2026-11-02")).toBe(2);
      expect((await listDetections(store, {})).total).toBe(5);
      expect(await getDetection(store, "d1")).toBeUndefined();
    });
  });
}

describe("migrating one PostgreSQL database from several processes at once", () => {
  it("applies each migration once while four servers start together", async () => {
    // Several `serve` instances on one database is the documented team set-up: they all migrate
    // on start. Without the Migrator's lock they race to create the same tables.
    const admin = await openStore(pgServer?.url as string);
    const name = `fd_race_${process.pid}`;
    await sql`drop database if exists ${sql.id(name)}`.execute(admin.db);
    await sql`create database ${sql.id(name)}`.execute(admin.db);
    await admin.close();
    const url = String(pgServer?.url).replace(/\/postgres$/, `/${name}`);
    const stores = await Promise.all([1, 2, 3, 4].map(() => openStore(url)));
    try {
      for (const s of stores) expect(await schemaVersion(s.db)).toBe(MIGRATIONS.length);
      const rows = await sql<{ name: string }>`select name from fd_schema_migrations order by name`.execute(
        stores[0]?.db as Store["db"],
      );
      expect(rows.rows.map((r) => Number(r.name))).toEqual(MIGRATIONS.map((m) => m.version));
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });
});

describe("a PostgreSQL connection the server drops while idle", () => {
  it("is replaced on the next query instead of ending the process", async () => {
    // `serve` keeps idle connections for minutes (openStore); a database restart or a network
    // drop then fails them while nobody uses them. pg reports that as an "error" event on the
    // pool, which ends the process when nothing listens for it.
    const store = await openStore(pgServer?.url as string);
    const admin = await openStore(pgServer?.url as string);
    const uncaught: unknown[] = [];
    const onUncaught = (e: unknown) => uncaught.push(e);
    process.on("uncaughtException", onUncaught);
    try {
      const pid = async (s: Store) =>
        Number((await sql<{ pid: number }>`select pg_backend_pid() as pid`.execute(s.db)).rows[0]?.pid);
      const before = await pid(store);
      const killed = await sql<{ ok: boolean }>`select pg_terminate_backend(${before}) as ok`.execute(
        admin.db,
      );
      expect(killed.rows[0]?.ok).toBe(true);
      // The pool hears of it when the server closes the socket.
      await new Promise((r) => setTimeout(r, 300));
      const after = await pid(store);
      expect(after).not.toBe(before);
      expect(await schemaVersion(store.db)).toBe(MIGRATIONS.length);
      expect(uncaught).toEqual([]);
    } finally {
      process.off("uncaughtException", onUncaught);
      await admin.close();
      await store.close();
    }
  });
});

describe("edges on SQLite shared by two processes", () => {
  it("builds an edge day while another connection commits between its statements", async () => {
    const dir = tempDir("fd-edges-");
    const file = join(dir.path, "history.db");
    const store = await openStore(file);
    // Another process writing to the same file: a second connection, committing synchronously
    // just before this store's transaction runs its first insert.
    const other = new SQLite(file);
    other.pragma("busy_timeout = 5000");
    other.exec("create table elsewhere (n integer)");
    try {
      await recordDetection(
        store,
        report("d1", "2026-11-01T10:00:00.000Z", [{ id: "a", attempts: 4, failures: 2 }]),
        { trigger: "cli", backend: "local" },
      );
      let commits = 0;
      const interleaved = store.db.withPlugin({
        transformQuery(args) {
          const n = args.node;
          const insert =
            n.kind === "InsertQueryNode" ||
            (n.kind === "RawNode" && (n as RawNode).sqlFragments[0]?.trimStart().startsWith("insert"));
          if (insert && commits === 0) {
            other.prepare("insert into elsewhere values (1)").run();
            commits++;
          }
          return n;
        },
        transformResult: async (args) => args.result,
      });
      const ranked = await rankWindow(
        interleaved,
        "sqlite",
        { since: "2026-11-01T00:00:00.000Z", until: "2026-11-02T12:00:00.000Z" },
        { minAttempts: 1, limit: 10, score: sql<number>`failures`, lookupsAtMost: 0 },
      );
      expect(commits).toBe(1);
      expect(ranked).toMatchObject([{ test_id: "a", attempts: 4, failures: 2 }]);
      const built = await store.db.selectFrom("rollup_edge_days").select("day").orderBy("day").execute();
      expect(built.map((b) => b.day)).toEqual(["2026-11-01", "2026-11-02"]);
    } finally {
      other.close();
      await store.close();
      dir.cleanup();
    }
  });
});
