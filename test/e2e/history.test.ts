import { join } from "node:path";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { fixture, runCli, tempDir } from "../helpers/cli.js";
import { startPostgres, type TestPostgres } from "../helpers/postgres.js";

let dir: { path: string; cleanup: () => void };
beforeEach(() => {
  dir = tempDir("fd-hist-");
});
afterEach(() => dir.cleanup());

const writer = [process.execPath, fixture("junit-writer.mjs")];
const detection = (db: string, seed: string) =>
  runCli(
    [
      "run",
      "--runs",
      "12",
      "--stop",
      "fixed",
      "--seed",
      seed,
      "--junit",
      "reports/*.xml",
      "--db",
      db,
      "--progress",
      "none",
      "--",
      ...writer,
    ],
    {
      cwd: dir.path,
    },
  );

async function exercise(db: string) {
  const first = await detection(db, "5");
  expect(first.code).toBe(0);
  expect(first.stderr).toContain("recorded in");
  await detection(db, "6");
  const list = JSON.parse(
    (await runCli(["history", "list", "--db", db, "--json"], { cwd: dir.path })).stdout,
  );
  expect(list.total).toBe(2);
  expect(list.rows[0]).toMatchObject({
    repository: dir.path,
    framework: "junit",
    attempts: 12,
    trigger: "cli",
    backend: "local",
  });
  const show = JSON.parse(
    (await runCli(["history", "show", list.rows[0].id, "--db", db, "--json"], { cwd: dir.path })).stdout,
  );
  expect(show.tests.map((t: { test_id: string }) => t.test_id).sort()).toEqual([
    "suite::seeded",
    "suite::stable",
  ]);
  expect(show.attempts).toHaveLength(12);
  const top = JSON.parse(
    (await runCli(["history", "top", "--db", db, "--json", "--min-attempts", "10"], { cwd: dir.path }))
      .stdout,
  );
  expect(top.map((t: { testId: string }) => t.testId)).toEqual(["suite::seeded"]);
  expect(top[0].detections).toBe(2);
  const trend = JSON.parse(
    (await runCli(["history", "trend", "--db", db, "--json", "--test", "suite::seeded"], { cwd: dir.path }))
      .stdout,
  );
  expect(trend).toHaveLength(1);
  expect(trend[0].detections).toBe(2);
  const stats = JSON.parse(
    (await runCli(["history", "stats", "--db", db, "--json"], { cwd: dir.path })).stdout,
  );
  expect(Object.values(stats).reduce((a, b) => (a as number) + (b as number), 0)).toBe(2);
  const timeline = JSON.parse(
    (
      await runCli(["history", "test", "suite::seeded", "--repo", dir.path, "--db", db, "--json"], {
        cwd: dir.path,
      })
    ).stdout,
  );
  expect(timeline.results).toHaveLength(2);
  expect(timeline.catalog.first_flaky_at).toBe(timeline.results[0].started_at);
  const pruned = await runCli(["history", "prune", "--older-than", "0h", "--db", db], { cwd: dir.path });
  expect(pruned.stdout).toContain("deleted 2 detection(s)");
}

describe("history on SQLite", () => {
  it("records every run and answers list, show, top, trend, stats, test and prune", async () => {
    await exercise(join(dir.path, "h.db"));
  });

  it("records nothing with --no-history, and says so when empty", async () => {
    const db = join(dir.path, "h.db");
    await runCli(["run", "--runs", "2", "--no-history", "--db", db, "--", "true"], { cwd: dir.path });
    const r = await runCli(["history", "list", "--db", db], { cwd: dir.path });
    expect(r.stdout).toContain("no detections recorded yet");
  });

  it("a store failure warns and never fails the detection", async () => {
    const r = await runCli(
      [
        "run",
        "--runs",
        "2",
        "--db",
        "postgres://me:hunter2@127.0.0.1:1/none",
        "--fail-on",
        "none",
        "--",
        "true",
      ],
      { cwd: dir.path },
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("STABLE");
    expect(r.stderr).toContain(
      "warning: could not record this detection in postgres://me:***@127.0.0.1:1/none",
    );
    expect(r.stderr + r.stdout).not.toContain("hunter2");
  });

  it("refuses bad query arguments with the fix", async () => {
    const db = join(dir.path, "h.db");
    const r = await runCli(["history", "prune", "--older-than", "soon", "--db", db], { cwd: dir.path });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--older-than: expected a duration like 90d, 12h or 2w, got "soon"');
    const s = await runCli(["history", "show", "nope", "--db", db], { cwd: dir.path });
    expect(s.code).toBe(2);
    expect(s.stderr).toContain('history show: no detection "nope"');
  });
});

describe("history on PostgreSQL", () => {
  let pg: TestPostgres;
  beforeAll(async () => {
    pg = await startPostgres();
  }, 60_000);
  afterAll(() => pg?.stop());

  it("the same commands against a postgres:// URL", async () => {
    await exercise(pg.url);
  });
});
