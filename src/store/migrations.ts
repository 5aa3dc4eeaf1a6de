import { type Kysely, type Migration as KyselyMigration, Migrator, PostgresAdapter, sql } from "kysely";
import { rebuildLastFailing, rebuildRollups } from "./rollups.js";
import type { Database } from "./schema.js";

/**
 * Forward-only, versioned migrations. A version, once released, is never edited: a change to the
 * schema is a new entry. kysely's Migrator applies the pending ones in one transaction, under its
 * lock (a PostgreSQL advisory lock), so several `serve` instances starting on one database migrate
 * it once. Applied migrations are recorded in fd_schema_migrations.
 */
export interface Migration {
  version: number;
  name: string;
  up(db: Kysely<Database>): Promise<void>;
}

export const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: "detections, test results, attempts, test catalogue",
    async up(db) {
      await db.schema
        .createTable("detections")
        .addColumn("id", "varchar(64)", (c) => c.primaryKey())
        .addColumn("repository", "text", (c) => c.notNull())
        .addColumn("command", "text", (c) => c.notNull())
        .addColumn("framework", "varchar(32)", (c) => c.notNull())
        .addColumn("ref", "text")
        .addColumn("commit_sha", "varchar(64)")
        .addColumn("branch", "text")
        .addColumn("pr_number", "integer")
        .addColumn("trigger", "varchar(16)", (c) => c.notNull())
        .addColumn("backend", "varchar(16)", (c) => c.notNull())
        .addColumn("started_at", "varchar(32)", (c) => c.notNull())
        .addColumn("duration_ms", "integer", (c) => c.notNull())
        .addColumn("attempts", "integer", (c) => c.notNull())
        .addColumn("failed_attempts", "integer", (c) => c.notNull())
        .addColumn("failure_rate", "double precision", (c) => c.notNull())
        .addColumn("interval_lo", "double precision", (c) => c.notNull())
        .addColumn("interval_hi", "double precision", (c) => c.notNull())
        .addColumn("severity", "varchar(16)", (c) => c.notNull())
        .addColumn("verdict", "varchar(16)", (c) => c.notNull())
        .addColumn("tests_total", "integer", (c) => c.notNull())
        .addColumn("tests_flaky", "integer", (c) => c.notNull())
        .addColumn("tests_failing", "integer", (c) => c.notNull())
        .addColumn("job_seed", "varchar(16)", (c) => c.notNull())
        .addColumn("stop_reason", "varchar(16)", (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex("detections_repo_time")
        .on("detections")
        .columns(["repository", "started_at"])
        .execute();
      await db.schema.createIndex("detections_time").on("detections").column("started_at").execute();

      await db.schema
        .createTable("test_results")
        .addColumn("detection_id", "varchar(64)", (c) =>
          c.notNull().references("detections.id").onDelete("cascade"),
        )
        .addColumn("repository", "text", (c) => c.notNull())
        .addColumn("test_id", "text", (c) => c.notNull())
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("file", "text")
        .addColumn("started_at", "varchar(32)", (c) => c.notNull())
        .addColumn("attempts", "integer", (c) => c.notNull())
        .addColumn("failures", "integer", (c) => c.notNull())
        .addColumn("failure_rate", "double precision", (c) => c.notNull())
        .addColumn("interval_lo", "double precision", (c) => c.notNull())
        .addColumn("interval_hi", "double precision", (c) => c.notNull())
        .addColumn("severity", "varchar(16)", (c) => c.notNull())
        .addColumn("verdict", "varchar(16)", (c) => c.notNull())
        .addColumn("failing_seeds", "text", (c) => c.notNull())
        .addColumn("first_failure", "text")
        .addColumn("reproduce", "text")
        .addColumn("seed_deterministic", "integer")
        .addPrimaryKeyConstraint("test_results_pk", ["detection_id", "test_id"])
        .execute();
      await db.schema
        .createIndex("test_results_repo_test_time")
        .on("test_results")
        .columns(["repository", "test_id", "started_at"])
        .execute();
      await db.schema
        .createIndex("test_results_repo_time")
        .on("test_results")
        .columns(["repository", "started_at"])
        .execute();

      await db.schema
        .createTable("attempts")
        .addColumn("detection_id", "varchar(64)", (c) =>
          c.notNull().references("detections.id").onDelete("cascade"),
        )
        .addColumn("idx", "integer", (c) => c.notNull())
        .addColumn("seed", "varchar(16)", (c) => c.notNull())
        .addColumn("slot", "integer", (c) => c.notNull())
        .addColumn("outcome", "varchar(16)", (c) => c.notNull())
        .addColumn("duration_ms", "integer", (c) => c.notNull())
        .addColumn("exit_code", "integer")
        .addColumn("output_tail", "text", (c) => c.notNull())
        .addPrimaryKeyConstraint("attempts_pk", ["detection_id", "idx"])
        .execute();

      await db.schema
        .createTable("test_catalog")
        .addColumn("repository", "text", (c) => c.notNull())
        .addColumn("test_id", "text", (c) => c.notNull())
        .addColumn("first_seen", "varchar(32)", (c) => c.notNull())
        .addColumn("last_seen", "varchar(32)", (c) => c.notNull())
        .addColumn("last_verdict", "varchar(16)", (c) => c.notNull())
        .addColumn("last_severity", "varchar(16)", (c) => c.notNull())
        .addColumn("first_flaky_at", "varchar(32)")
        .addColumn("detections", "integer", (c) => c.notNull())
        .addPrimaryKeyConstraint("test_catalog_pk", ["repository", "test_id"])
        .execute();
      await db.schema
        .createIndex("test_catalog_repo_seen")
        .on("test_catalog")
        .columns(["repository", "last_seen"])
        .execute();
    },
  },
  {
    version: 2,
    name: "covering indexes for the dashboard's window queries",
    async up(db) {
      // Top tests and overview for a repository and window read only these columns: with all of
      // them in the index the database never touches the table rows.
      await db.schema
        .createIndex("test_results_repo_time_cover")
        .on("test_results")
        .columns(["repository", "started_at", "test_id", "verdict", "attempts", "failures"])
        .execute();
      await db.schema.dropIndex("test_results_repo_time").execute();
      // Distinct flaky tests in a window across repositories, from the index alone.
      await db.schema
        .createIndex("test_results_verdict_time")
        .on("test_results")
        .columns(["verdict", "started_at", "repository", "test_id"])
        .execute();
    },
  },
  {
    version: 3,
    name: "job queue and hashed API keys",
    async up(db) {
      await db.schema
        .createTable("jobs")
        .addColumn("id", "varchar(64)", (c) => c.primaryKey())
        .addColumn("status", "varchar(16)", (c) => c.notNull())
        .addColumn("input", "text", (c) => c.notNull())
        .addColumn("priority", "integer", (c) => c.notNull().defaultTo(0))
        .addColumn("execution_timeout_ms", "integer", (c) => c.notNull())
        .addColumn("ttl_ms", "integer", (c) => c.notNull())
        .addColumn("created_at", "varchar(32)", (c) => c.notNull())
        .addColumn("started_at", "varchar(32)")
        .addColumn("finished_at", "varchar(32)")
        .addColumn("expires_at", "varchar(32)")
        .addColumn("lease_owner", "varchar(64)")
        .addColumn("lease_expires_at", "varchar(32)")
        .addColumn("executions", "integer", (c) => c.notNull().defaultTo(0))
        .addColumn("retries", "integer", (c) => c.notNull().defaultTo(0))
        .addColumn("progress", "text")
        .addColumn("output", "text")
        .addColumn("error", "text")
        .addColumn("detection_id", "varchar(64)")
        .addColumn("api_key_id", "varchar(64)")
        .execute();
      // The claim query: oldest queued job of the best priority, or a running job whose lease lapsed.
      await db.schema
        .createIndex("jobs_claim")
        .on("jobs")
        .columns(["status", "priority", "created_at"])
        .execute();
      await db.schema.createIndex("jobs_expiry").on("jobs").column("expires_at").execute();
      await db.schema
        .createTable("api_keys")
        .addColumn("id", "varchar(32)", (c) => c.primaryKey())
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("key_hash", "varchar(64)", (c) => c.notNull().unique())
        .addColumn("prefix", "varchar(16)", (c) => c.notNull())
        .addColumn("created_at", "varchar(32)", (c) => c.notNull())
        .addColumn("last_used_at", "varchar(32)")
        .addColumn("revoked_at", "varchar(32)")
        .execute();
    },
  },
  {
    version: 4,
    name: "repository links, owners, quarantine and per-attempt outcomes for the dashboard",
    async up(db) {
      await db.schema.alterTable("detections").addColumn("repository_url", "text").execute();
      await db.schema.alterTable("detections").addColumn("ci_run_url", "text").execute();
      await db.schema.alterTable("test_results").addColumn("owner", "text").execute();
      await db.schema
        .alterTable("test_results")
        .addColumn("quarantined", "integer", (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema.alterTable("test_results").addColumn("outcomes", "text").execute();
      // The headline's quarantined tests in a window: few rows, so a partial index finds them
      // without reading every test result of the window.
      await db.schema
        .createIndex("test_results_quarantined")
        .on("test_results")
        .columns(["started_at", "repository", "test_id"])
        .where(sql.ref("quarantined"), "=", 1)
        .execute();
      // The runner before kysely's Migrator kept its own table; its record moved to ours.
      await db.schema.dropTable("fd_migrations").ifExists().execute();
    },
  },
  {
    version: 5,
    name: "running totals per test and day, for rankings over a window",
    async up(db) {
      // Top tests over a window summed every test result in it (p95 224 ms at 100,000 detections);
      // with running totals the window is the difference of two rows per test (docs/design/history.md).
      for (const column of ["ranked_detections", "ranked_failing", "ranked_attempts", "ranked_failures"])
        await db.schema
          .alterTable("test_catalog")
          .addColumn(column, "bigint", (c) => c.notNull().defaultTo(0))
          .execute();
      await db.schema.alterTable("test_catalog").addColumn("ranked_last", "varchar(32)").execute();
      await db.schema.alterTable("test_catalog").addColumn("test_key", "bigint").execute();
      await sql`update test_catalog set test_key = n.k
        from (select repository, test_id, row_number() over (order by repository, test_id) as k from test_catalog) n
        where test_catalog.repository = n.repository and test_catalog.test_id = n.test_id`.execute(db);
      const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
      if (postgres) {
        // Concurrent writers (several serve instances) each take their own number.
        await sql`create sequence test_catalog_key_seq owned by test_catalog.test_key`.execute(db);
        await sql`select setval('test_catalog_key_seq', coalesce((select max(test_key) from test_catalog), 0) + 1, false)`.execute(
          db,
        );
        await sql`alter table test_catalog alter column test_key set default nextval('test_catalog_key_seq')`.execute(
          db,
        );
      }
      await db.schema
        .createIndex("test_catalog_key")
        .unique()
        .on("test_catalog")
        .column("test_key")
        .execute();
      // Read from indexes alone: the key holds the whole row (SQLite without rowid; PostgreSQL's
      // index includes the columns, for index-only scans).
      const columns = "detections, failing, attempts, failures, last_seen";
      await db.schema
        .createTable("test_rollups")
        .addColumn("test_key", "bigint", (c) => c.notNull())
        .addColumn("day", "varchar(10)", (c) => c.notNull())
        .addColumn("detections", "bigint", (c) => c.notNull())
        .addColumn("failing", "bigint", (c) => c.notNull())
        .addColumn("attempts", "bigint", (c) => c.notNull())
        .addColumn("failures", "bigint", (c) => c.notNull())
        .addColumn("last_seen", "varchar(32)", (c) => c.notNull())
        .$call((t) =>
          postgres
            ? t
            : t.addPrimaryKeyConstraint("test_rollups_pk", ["test_key", "day"]).modifyEnd(sql`without rowid`),
        )
        .execute();
      if (postgres)
        await sql`alter table test_rollups add constraint test_rollups_pk primary key (test_key, day) include (${sql.raw(columns)})`.execute(
          db,
        );
      // The latest rows before a window's edge, for every test at once, by one range scan of days.
      if (postgres)
        await sql`create index test_rollups_day on test_rollups (day, test_key) include (${sql.raw(columns)})`.execute(
          db,
        );
      else
        await db.schema
          .createIndex("test_rollups_day")
          .on("test_rollups")
          .columns(["day", "test_key", ...columns.split(", ")])
          .execute();
      // A window's first and last day are summed from the test results themselves: with attempts
      // and failures in the index, from the index alone.
      await db.schema.dropIndex("test_results_verdict_time").execute();
      await db.schema
        .createIndex("test_results_verdict_time")
        .on("test_results")
        .columns(["verdict", "started_at", "repository", "test_id", "attempts", "failures"])
        .execute();
      await rebuildRollups(db);
    },
  },
  {
    version: 6,
    name: "each test's latest failing ranked detection, for rankings over a window",
    async up(db) {
      // Only a test that failed in the window can rank; in a real history most never fail, and the
      // ranking read every test ranked in the window (docs/design/history.md).
      await db.schema.alterTable("test_catalog").addColumn("ranked_last_failing", "varchar(32)").execute();
      await db.schema
        .createIndex("test_catalog_last_failing")
        .on("test_catalog")
        .column("ranked_last_failing")
        .execute();
      await rebuildLastFailing(db);
    },
  },
  {
    version: 7,
    name: "every test's running totals at the start of a day, for window edges across repositories",
    async up(db) {
      // A ranking across repositories looked up each test's latest row before the window's edge:
      // 43 ms of PostgreSQL's 45 at 100,000 detections. Kept per edge day once built, until a
      // detection changes a row before it (docs/design/history.md).
      const postgres = db.getExecutor().adapter instanceof PostgresAdapter;
      await db.schema
        .createTable("rollup_edges")
        .addColumn("day", "varchar(10)", (c) => c.notNull())
        .addColumn("test_key", "bigint", (c) => c.notNull())
        .addColumn("detections", "bigint", (c) => c.notNull())
        .addColumn("failing", "bigint", (c) => c.notNull())
        .addColumn("attempts", "bigint", (c) => c.notNull())
        .addColumn("failures", "bigint", (c) => c.notNull())
        .addColumn("last_seen", "varchar(32)")
        .addPrimaryKeyConstraint("rollup_edges_pk", ["day", "test_key"])
        .$call((t) => (postgres ? t : t.modifyEnd(sql`without rowid`)))
        .execute();
      await db.schema
        .createTable("rollup_edge_days")
        .addColumn("day", "varchar(10)", (c) => c.primaryKey())
        .addColumn("built_at", "varchar(32)", (c) => c.notNull())
        .execute();
    },
  },
];

const MIGRATION_TABLE = "fd_schema_migrations";

/** kysely orders migrations by name: zero-padded versions keep that the order of MIGRATIONS. */
function migrationName(m: Migration): string {
  return `${String(m.version).padStart(4, "0")}`;
}

/**
 * Versions 1–3 were applied by an earlier runner that recorded them in fd_migrations. On such a
 * database they are recorded as applied without running again (inside the Migrator's lock, so a
 * concurrent start cannot apply them twice).
 */
async function appliedByEarlierRunner(db: Kysely<Database>, version: number): Promise<boolean> {
  const tables = await db.introspection.getTables();
  if (!tables.some((t) => t.name === "fd_migrations")) return false;
  const row = await sql<{
    version: number;
  }>`select version from fd_migrations where version = ${version}`.execute(db);
  return row.rows.length > 0;
}

/** Apply every migration newer than the database. Returns the versions that ran. */
export async function migrate(db: Kysely<Database>): Promise<number[]> {
  const ran: number[] = [];
  const migrations: Record<string, KyselyMigration> = {};
  for (const m of MIGRATIONS) {
    migrations[migrationName(m)] = {
      async up(trx: Kysely<unknown>) {
        const tx = trx as Kysely<Database>;
        if (await appliedByEarlierRunner(tx, m.version)) return;
        await m.up(tx);
        ran.push(m.version);
      },
    };
  }
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => migrations },
    migrationTableName: MIGRATION_TABLE,
    migrationLockTableName: `${MIGRATION_TABLE}_lock`,
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === "Error");
    const what = failed ? `migration ${failed.migrationName}` : "migrating";
    throw new Error(`history database: ${what} failed: ${(error as Error).message ?? error}`);
  }
  return ran;
}

/** The latest version applied to this database (0 for an empty one). */
export async function schemaVersion(db: Kysely<Database>): Promise<number> {
  const row = await sql<{
    v: string | null;
  }>`select max(name) as v from ${sql.table(MIGRATION_TABLE)}`.execute(db);
  return Number(row.rows[0]?.v ?? 0);
}
