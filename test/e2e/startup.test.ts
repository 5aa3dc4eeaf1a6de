import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { BIN, ROOT, tempDir } from "../helpers/cli.js";

/**
 * What a command loads: every module the CLI resolves is logged by module hooks (test/fixtures/
 * module-log), so a path that has no use for the database, the server, the queue or a chat client
 * is checked not to import them (each costs startup time on every run).
 */

const tmp = tempDir("fd-startup-");
afterAll(() => tmp.cleanup());
const REGISTER = join(ROOT, "test/fixtures/module-log/register.mjs");

function loaded(args: string[], label: string): string[] {
  const log = join(tmp.path, `${label}.log`);
  const r = spawnSync(process.execPath, ["--import", REGISTER, BIN, ...args], {
    cwd: tmp.path,
    env: { ...process.env, MODULE_LOG: log, XDG_DATA_HOME: join(tmp.path, "data"), NO_COLOR: "1" },
    encoding: "utf8",
  });
  expect(r.status, r.stderr).toBe(0);
  return readFileSync(log, "utf8").split("\n").filter(Boolean);
}

const packages = (urls: string[]) =>
  new Set(
    urls
      .filter((u) => u.includes("/node_modules/"))
      .map((u) => u.split("/node_modules/").pop()?.split("/")[0]),
  );

const DATABASE = ["kysely", "better-sqlite3", "pg"];
const HEAVY = [...DATABASE, "@slack", "fastify", "bullmq", "@octokit", "zod"];

describe("startup loads only what the command uses", () => {
  it("--version loads no database driver, schema library, server, queue or chat client", () => {
    const mods = packages(loaded(["--version"], "version"));
    for (const p of HEAVY) expect(mods, p).not.toContain(p);
  });

  it("a --no-history run loads no database module; with history it does (the log sees them)", () => {
    const without = packages(loaded(["run", "--runs", "2", "--no-history", "--", "true"], "no-history"));
    for (const p of [...DATABASE, "@slack", "fastify", "bullmq"]) expect(without, p).not.toContain(p);
    // The control: the same run recording history loads the store, so the log is not blind.
    const withHistory = packages(loaded(["run", "--runs", "2", "--", "true"], "history"));
    expect(withHistory).toContain("kysely");
    expect(withHistory).toContain("better-sqlite3");
  });
});
