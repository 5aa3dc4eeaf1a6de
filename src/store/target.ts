import { homedir } from "node:os";
import { join } from "node:path";

// Where history lives, without loading a database driver: `run --no-history` and `--version`
// never import better-sqlite3, pg or kysely (src/store/open.ts does, on use).

/**
 * The documented default location: $FLAKY_DETECTOR_DB, else config history.db, else
 * $XDG_DATA_HOME/flaky-detector/history.db (~/.local/share/flaky-detector/history.db).
 */
export function defaultDbPath(env: NodeJS.ProcessEnv): string {
  const base =
    env.XDG_DATA_HOME && env.XDG_DATA_HOME !== "" ? env.XDG_DATA_HOME : join(homedir(), ".local", "share");
  return join(base, "flaky-detector", "history.db");
}

export function isPostgresUrl(target: string): boolean {
  return /^postgres(ql)?:\/\//.test(target);
}

/** A postgres:// URL with its password replaced (safe to print). */
export function redactUrl(url: string): string {
  if (!isPostgresUrl(url)) return url;
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return "postgres://(unparseable URL)";
  }
}
