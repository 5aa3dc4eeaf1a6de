import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { BIN, ROOT, tempDir } from "../helpers/cli.js";

/**
 * What a command loads: every module the CLI resolves is logged by module hooks (test/fixtures/
 * module-log), so a path that has no use for the database, the server, the queue or a chat client
 * is checked not to import them (each costs startup time on every run). The CLI is bundled
 * (scripts/build-cli.mjs): a loaded bundle file counts as loading every package it holds, as its
 * build's map (dist/cli/bundle.json) says.
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

const BUNDLE: Record<string, { packages: string[] }> = JSON.parse(
  readFileSync(join(ROOT, "dist/cli/bundle.json"), "utf8"),
);
const CLI_DIR = pathToFileURL(join(ROOT, "dist/cli/")).href;

function packages(urls: string[]): Set<string> {
  const found = new Set<string>();
  for (const u of urls) {
    if (u.includes("/node_modules/")) {
      const rest = u.split("/node_modules/").pop() ?? "";
      const parts = rest.split("/");
      found.add(rest.startsWith("@") ? `${parts[0]}/${parts[1]}` : (parts[0] ?? ""));
    } else if (u.startsWith(CLI_DIR)) {
      for (const p of BUNDLE[u.slice(CLI_DIR.length)]?.packages ?? []) found.add(p);
    }
  }
  return found;
}

const DATABASE = ["kysely", "better-sqlite3", "pg"];
const HEAVY = [...DATABASE, "fastify", "pino", "bullmq", "ioredis", "zod"];

describe("startup loads only what the command uses", () => {
  it("--version loads no database driver, schema library, server or queue", () => {
    const mods = packages(loaded(["--version"], "version"));
    for (const p of HEAVY) expect(mods, p).not.toContain(p);
  });

  it("a --no-history run loads no database module; with history it does (the log sees them)", () => {
    const without = packages(loaded(["run", "--runs", "2", "--no-history", "--", "true"], "no-history"));
    for (const p of [...DATABASE, "fastify", "pino", "bullmq", "ioredis"])
      expect(without, p).not.toContain(p);
    // The control: the same run recording history loads the store, so the log is not blind.
    const withHistory = packages(loaded(["run", "--runs", "2", "--", "true"], "history"));
    expect(withHistory).toContain("kysely");
    expect(withHistory).toContain("better-sqlite3");
  });
});

describe("the bundle's zod", () => {
  it("holds its English messages and none of its other translations (scripts/esbuild-options.mjs)", () => {
    // zod re-exports ~60 translations that nothing here uses; each start that validates settings
    // read and parsed them. English must stay: zod configures its messages from it.
    const files = Object.keys(BUNDLE).map((f) => readFileSync(join(ROOT, "dist/cli", f), "utf8"));
    const locales = new Set(
      files.flatMap((t) =>
        [...t.matchAll(/\/\/ node_modules\/zod\/v4\/locales\/(\w+)\.js/g)].map((m) => m[1]),
      ),
    );
    expect([...locales]).toEqual(["en"]);
    // A value zod itself rejects, through the bundled CLI: still an English message naming the key.
    const dir = tempDir("fd-zod-");
    try {
      writeFileSync(join(dir.path, ".flaky-detector.yml"), "runs: many\n");
      const r = spawnSync(process.execPath, [BIN, "run", "--no-history", "--", "true"], {
        cwd: dir.path,
        env: { ...process.env, NO_COLOR: "1" },
        encoding: "utf8",
      });
      expect(r.status).toBe(2);
      expect(r.stderr).toContain('runs: must be an integer from 1 to 10000, got "many"');
    } finally {
      dir.cleanup();
    }
  });
});
