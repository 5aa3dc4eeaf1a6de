import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import SQLite from "better-sqlite3";
import { Kysely, PostgresDialect, SqliteDialect } from "kysely";
import pg from "pg";
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

/** Open (and migrate) the history database: a SQLite file path or a postgres:// URL. */
export async function openStore(target: string, cwd = process.cwd()): Promise<Store> {
  if (isPostgresUrl(target)) {
    const pool = new pg.Pool({ connectionString: target, max: 4 });
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
  const sqlite = new SQLite(file);
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
