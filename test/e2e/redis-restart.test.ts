import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { fixture, readReport, runCli, tempDir } from "../helpers/cli.js";
import { startRedis, type TestRedis } from "../helpers/redis.js";
import { type Served, serve } from "../helpers/serve.js";
import { startWorker, type WorkerProcess } from "../helpers/workers.js";

/**
 * Redis restarted without persistence in the middle of a fanned-out detection: every queued and
 * running shard's entry is gone. The coordinator notices (the shard's state is polled every 5 s),
 * queues the lost shards again, and the job completes with every attempt exactly once.
 */

let redis: TestRedis;
let server: Served;
const workers: WorkerProcess[] = [];
const tmp = tempDir("fd-redis-restart-");
const project = join(tmp.path, "project");

beforeAll(async () => {
  mkdirSync(project, { recursive: true });
  writeFileSync(join(project, "README"), "a project whose tests are the junit-writer fixture\n");
  redis = await startRedis();
  for (let i = 0; i < 2; i++) {
    workers.push(
      startWorker(["redis", "--redis", redis.url, "--allow-path", tmp.path, "--lock-duration", "2"]),
    );
  }
  await Promise.all(workers.map((w) => w.waitFor("takes shards")));
  server = await serve([
    "--redis",
    redis.url,
    "--allow-path",
    tmp.path,
    "--db",
    join(tmp.path, "server.db"),
    "--rate-limit",
    "0",
  ]);
}, 60_000);

afterAll(async () => {
  await server?.stop();
  await Promise.all(workers.map((w) => w.stop()));
  await redis?.stop();
  tmp.cleanup();
});

describe("a Redis restart in the middle of a job", () => {
  test("lost shards are queued again: COMPLETED with attempts 0..39 once each", async () => {
    const json = join(tmp.path, "restart.json");
    const started = Date.now();
    const client = runCli(
      [
        "run",
        "--backend",
        "server",
        "--url",
        server.url,
        "--repo",
        project,
        "--runs",
        "40",
        "--stop",
        "fixed",
        "--shard-size",
        "5",
        "--parallelism",
        "1",
        "--seed",
        "7",
        "--junit",
        "reports/*.xml",
        "--json",
        json,
        "--progress",
        "none",
        "--",
        "DELAY_MS=250",
        "node",
        fixture("junit-writer.mjs"),
      ],
      { cwd: tmp.path },
    );
    // Wait until some shards are done and others are running, then wipe Redis.
    const deadline = Date.now() + 60_000;
    const doneCount = () => workers.reduce((n, w) => n + (w.log().match(/shard \d+ done/g)?.length ?? 0), 0);
    while (doneCount() < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(doneCount()).toBeGreaterThanOrEqual(2);
    await redis.restart(300);
    const restartedAt = Date.now();

    const res = await client;
    expect(res.code, `${res.stderr}\n${workers.map((w) => w.log()).join("\n")}`).toBe(0);
    const r = readReport(json);
    expect(r.attempts.map((a) => a.index)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    const seeded = r.tests.find((t) => t.name === "seeded");
    expect(seeded?.attempts).toBe(40);
    expect(seeded?.failures).toBe(r.attempts.filter((a) => a.seed % 3 === 0).length);
    // The stated bound: a lost shard is noticed within one check (5 s) and run again; what is
    // left of the job is 40 attempts of ~0.3 s on two workers.
    expect(Date.now() - restartedAt).toBeLessThan(60_000);
    expect(Date.now() - started).toBeLessThan(100_000);
  }, 150_000);
});
