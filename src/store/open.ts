import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { Kysely, PostgresDialect, SqliteDialect } from "kysely";
import { InfraError } from "../errors.js";
import { migrate } from "./migrations.js";
import type { Database } from "./schema.js";
import { isPostgresUrl, redactUrl } from "./target.js";

export { defaultDbPath, isPostgresUrl, redactUrl } from "./target.js";

export interface Store {
  db: Kysely<Database>;
  kind: "sqlite" | "postgres";
  /** Where it lives, with any password removed (safe to print). */
  location: string;
  close(): Promise<void>;
}

/** How long an idle PostgreSQL connection stays open (see openStore). */
const IDLE_CONNECTION_MS = 5 * 60_000;

/** Open (and migrate) the history database: a SQLite file path or a postgres:// URL. */
export async function openStore(target: string, cwd = process.cwd()): Promise<Store> {
  if (isPostgresUrl(target)) {
    const { default: pg } = await import("pg");
    const pool = new pg.Pool({
      connectionString: target,
      max: 4,
      // A backend's first large query costs about 3× a warm one's (it maps each shared buffer it
      // reads into its own memory): pg's default 10 s made a dashboard opened after a pause pay
      // that on every connection. Idle connections are kept 5 minutes, TCP keep-alive finds a
      // dropped one, and they never keep a finished command's process running.
      idleTimeoutMillis: IDLE_CONNECTION_MS,
      keepAlive: true,
      allowExitOnIdle: true,
    });
    // An idle connection that fails (the server restarted, the network dropped it) is discarded
    // by the pool, and the next query opens a new one; unhandled, the event would end the process.
    pool.on("error", () => {});
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    try {
      await migrate(db);
    } catch (e) {
      await db.destroy();
      throw e;
    }
    return { db, kind: "postgres", location: redactUrl(target), close: () => db.destroy() };
  }
  const file = target === ":memory:" ? target : resolve(cwd, target);
  if (file !== ":memory:") mkdirSync(dirname(file), { recursive: true });
  const SQLite = await loadSqlite();
  let sqlite: InstanceType<typeof SQLite>;
  try {
    sqlite = new SQLite(file);
  } catch (e) {
    // The native binding is loaded on first use, here: a missing or foreign build fails now.
    if (isBindingFailure(e)) throw sqliteUnavailable(e);
    throw e;
  }
  // WAL: readers (the dashboard) never block the writer (a detection being recorded).
  sqlite.pragma("journal_mode = WAL");
  sqlite.pragma("foreign_keys = ON");
  sqlite.pragma("busy_timeout = 5000");
  // SQLite plans queries from statistics it only gathers when asked. optimize=0x10002 (on open)
  // analyses just the tables whose statistics are missing or stale, bounded by analysis_limit, so
  // the window queries keep choosing the right index as the history grows.
  sqlite.pragma("analysis_limit = 1000");
  sqlite.pragma("optimize = 0x10002");
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
  await migrate(db);
  return { db, kind: "sqlite", location: file, close: () => db.destroy() };
}

/**
 * better-sqlite3 is an optional dependency: a native module that compiles from source where no
 * prebuilt binary can be downloaded, and may be missing or unloadable (no C++ toolchain, another
 * Node ABI). Everything but SQLite history works without it; this says how to get history back.
 */
async function loadSqlite(): Promise<typeof import("better-sqlite3")> {
  try {
    return (await import("better-sqlite3")).default;
  } catch (e) {
    throw sqliteUnavailable(e);
  }
}

/** A native module that is missing, truncated or built for another Node (not a database error). */
function isBindingFailure(e: unknown): boolean {
  const err = e as NodeJS.ErrnoException;
  if (err?.name === "SqliteError") return false;
  return (
    err?.code === "ERR_DLOPEN_FAILED" ||
    /bindings file|\.node\b|NODE_MODULE_VERSION|invalid ELF header/.test(String(err?.message ?? ""))
  );
}

function sqliteUnavailable(e: unknown): InfraError {
  const why = String((e as Error)?.message ?? e).split("\n")[0];
  return new InfraError(
    "E_SQLITE_UNAVAILABLE",
    [
      `SQLite history needs the better-sqlite3 module, which cannot be loaded here (${why}).`,
      "To keep history, either install it next to flaky-detector (npm install better-sqlite3; where no prebuilt binary downloads it compiles, which needs python3, make and a C++ compiler),",
      "or record history in PostgreSQL (history.db: postgres://… in .flaky-detector.yml, or FLAKY_DETECTOR_DB),",
      "or run without history (--no-history). Detections, reports, init and the Action work without it.",
    ].join("\n"),
  );
}
