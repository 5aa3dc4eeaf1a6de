import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { resolveConfig } from "../../src/config/resolve.js";
import { fitShardResult, runShard, type ShardResult } from "../../src/pipeline/shard.js";
import { peakParallelism, planShards } from "../../src/remote/fan-out.js";
import { mergeShards } from "../../src/remote/merge.js";
import { parseRedisUrl } from "../../src/remote/redis-queue.js";
import { validateApiBase, validateEndpointId } from "../../src/remote/runpod-client.js";
import { runpodEnv } from "../../src/remote/runpod-worker.js";
import { isShardResult } from "../../src/remote/shard-result.js";
import { fixture, tempDir } from "../helpers/cli.js";

describe("planShards", () => {
  test("covers every attempt index exactly once, in order, for any budget and size", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10000 }),
        fc.option(fc.integer({ min: 1, max: 10000 })),
        (runs, size) => {
          const shards = planShards(runs, size);
          const indices = shards.flatMap((s) => Array.from({ length: s.count }, (_, i) => s.first + i));
          expect(indices).toEqual(Array.from({ length: runs }, (_, i) => i));
          expect(shards.every((s) => s.count >= 1)).toBe(true);
          if (size === null) expect(shards.length).toBeLessThanOrEqual(8);
        },
      ),
      { numRuns: 300 },
    );
  });

  test("the default is about 8 shards of at least 5 attempts", () => {
    expect(planShards(400, null).map((s) => s.count)).toEqual([50, 50, 50, 50, 50, 50, 50, 50]);
    expect(planShards(12, null).map((s) => s.count)).toEqual([5, 5, 2]);
  });
});

describe("merging shard results", () => {
  const tmp = tempDir("fd-merge-");
  const project = join(tmp.path, "p");
  const { config } = resolveConfig({
    cwd: tmp.path,
    env: {},
    noFile: true,
    overrides: {
      origin: { label: "test", where: () => "in the test" },
      values: { runs: 12, parallelism: 2, stop: "fixed", seed: 17, auto_install_dependencies: false },
    },
  });
  const command = { argv: ["node", fixture("junit-writer.mjs")], env: {} };
  const shards: ShardResult[] = [];

  beforeAll(async () => {
    mkdirSync(project, { recursive: true });
    writeFileSync(join(project, "README"), "x\n");
    for (const first of [0, 6]) {
      shards.push(
        await runShard({
          config,
          command,
          source: { cwd: tmp.path, repo: project },
          env: process.env,
          junitGlob: "reports/*.xml",
          shard: { jobSeed: 17, first, count: 6 },
          tempRoot: tmp.path,
        }),
      );
    }
  }, 60_000);
  afterAll(() => tmp.cleanup());

  const merge = (results: ShardResult[]) =>
    mergeShards({
      config,
      command,
      env: {},
      jobSeed: 17,
      results,
      requestedTests: [],
      followUps: [],
      stopReason: "budget",
      parallelism: 4,
      timings: { sourceMs: 0, installMs: 0, isolationMs: 0, runMs: 0, totalMs: 0 },
      warnings: [],
    });
  const comparable = (r: ReturnType<typeof merge>) => ({
    tests: r.tests,
    attempts: r.attempts,
    summary: r.summary,
  });

  test("a shard result passes the coordinator's shape check and carries its attempt range", () => {
    const [a, b] = shards as [ShardResult, ShardResult];
    expect(isShardResult(a)).toBe(true);
    expect(isShardResult({ ...a, attempts: "nope" })).toBe(false);
    expect(a.attempts.map((x) => x.index)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(b.attempts.map((x) => x.index)).toEqual([6, 7, 8, 9, 10, 11]);
  });

  test("a shard delivered twice (a retry) counts its attempts once", () => {
    const [a, b] = shards as [ShardResult, ShardResult];
    const once = merge([a, b]);
    const twice = merge([b, a, { ...a, worker: "another" }, b]);
    expect(comparable(twice)).toEqual(comparable(once));
    expect(once.attempts).toHaveLength(12);
    const seeded = once.tests.find((t) => t.name === "seeded");
    expect(seeded?.attempts).toBe(12);
    expect(seeded?.failures).toBe(once.attempts.filter((x) => x.seed % 3 === 0).length);
    // The reproduce line of the first failure comes from the shard that saw it.
    expect(seeded?.failures).toBeGreaterThan(0);
    expect(seeded?.reproduce).toContain(`TEST_SEED=${seeded?.failingSeeds[0]}`);
  });

  test("fitting under a size limit cuts output first and never counts", () => {
    const [a] = shards as [ShardResult];
    const big: ShardResult = {
      ...a,
      attempts: a.attempts.map((x) => ({ ...x, output: "o".repeat(50_000) })),
    };
    const size = (r: ShardResult) => Buffer.byteLength(JSON.stringify(r));
    const fitted = fitShardResult(big, 100_000);
    expect(size(fitted)).toBeLessThanOrEqual(100_000);
    expect(fitted.trimmed).toMatch(/attempt output tails cut to 2 KB/);
    expect(fitted.warnings.at(-1)).toMatch(/shard 0\+6: attempt output tails cut/);
    expect(fitted.attempts.map((x) => [x.index, x.outcome, x.tests])).toEqual(
      big.attempts.map((x) => [x.index, x.outcome, x.tests]),
    );
    expect(fitShardResult(a, 10_000_000)).toBe(a);
    expect(() => fitShardResult(big, 500)).toThrow(/E_OUTPUT_TOO_LARGE|even after trimming.*shard_size/);
  });

  test("a refusal of in-process repetition on the workers reaches the merged report", async () => {
    // A go package whose test reads TEST_SEED: each worker refuses `-count`, and says why.
    const goProject = join(tmp.path, "go-seeded");
    mkdirSync(goProject, { recursive: true });
    writeFileSync(join(goProject, "go.mod"), "module example.com/seeded\n\ngo 1.19\n");
    writeFileSync(
      join(goProject, "seed_test.go"),
      [
        "package seeded",
        'import ("os"; "testing")',
        'func TestSeeded(t *testing.T) { if os.Getenv("TEST_SEED") == "" { t.Fatal("no seed") } }',
        "",
      ].join("\n"),
    );
    const goShard = (first: number) =>
      runShard({
        config: { ...config, runs: 4 },
        command: { argv: ["go", "test", "."], env: {} },
        source: { cwd: tmp.path, repo: goProject },
        env: process.env,
        shard: { jobSeed: 17, first, count: 2 },
        tempRoot: tmp.path,
      });
    const results = [await goShard(0), await goShard(2)];
    const why = "seed_test.go reads TEST_SEED, and one go test process cannot change it between repetitions";
    expect(results.map((r) => r.repetitionOff)).toEqual([why, why]);
    expect(isShardResult(results[0])).toBe(true);
    expect(isShardResult({ ...results[0], repetitionOff: 3 })).toBe(false);
    const merged = merge(results);
    expect(merged.request.repetitionOff).toBe(why);
    expect(merged.tests[0]).toMatchObject({ verdict: "stable", attempts: 4 });
    // Shards of a command that may repeat carry no refusal, and the merged report none either.
    expect(shards[0]?.repetitionOff ?? null).toBeNull();
    expect(merge(shards).request.repetitionOff).toBeUndefined();
  }, 120_000);

  test("peak parallelism sums overlapping shards, not back-to-back ones", () => {
    const [a] = shards as [ShardResult];
    const at = (start: number, end: number, parallelism: number) => ({
      ...a,
      window: { start, end },
      parallelism,
    });
    expect(peakParallelism([at(0, 10, 2), at(5, 15, 2), at(10, 20, 2)])).toBe(4);
    expect(peakParallelism([at(0, 10, 2), at(10, 20, 2)])).toBe(2);
  });
});

describe("remote settings are validated with the fix in the message", () => {
  test("--redis URLs", () => {
    expect(parseRedisUrl("redis://127.0.0.1:6390/2", {}).connection).toEqual({
      host: "127.0.0.1",
      port: 6390,
      db: 2,
    });
    expect(parseRedisUrl("rediss://cache.example.com", { REDIS_PASSWORD: "pw" }).connection).toMatchObject({
      port: 6379,
      password: "pw",
      tls: {},
    });
    expect(() => parseRedisUrl("redis://:secret@host", {})).toThrow(
      /contains a password; remove it and set REDIS_PASSWORD/,
    );
    expect(() => parseRedisUrl("http://host", {})).toThrow(/--redis: expected redis:\/\/ or rediss:\/\//);
    expect(() => parseRedisUrl("redis://host/99", {})).toThrow(/database number must be 0\.\.15/);
    expect(() => parseRedisUrl("not a url", {})).toThrow(
      /--redis: expected a URL such as redis:\/\/127\.0\.0\.1:6379/,
    );
  });

  test("RunPod endpoint id and API base", () => {
    expect(validateEndpointId("abc-123_x")).toBe("abc-123_x");
    expect(() => validateEndpointId("../run")).toThrow(/--endpoint-id: expected the endpoint's id/);
    expect(validateApiBase("https://api.runpod.ai/v2/")).toBe("https://api.runpod.ai/v2");
    expect(validateApiBase("http://127.0.0.1:9000/v2")).toBe("http://127.0.0.1:9000/v2");
    expect(() => validateApiBase("http://example.com/v2")).toThrow(
      /must be https:\/\/ \(http:\/\/ only on loopback\)/,
    );
    expect(() => validateApiBase("https://u:p@example.com")).toThrow(/without credentials/);
  });

  test("RunPod worker variables", () => {
    expect(runpodEnv({})).toBeUndefined();
    expect(() => runpodEnv({ RUNPOD_WEBHOOK_GET_JOB: "http://x/$ID" })).toThrow(
      /RUNPOD_WEBHOOK_POST_OUTPUT, RUNPOD_POD_ID, RUNPOD_AI_API_KEY are not/,
    );
    const base = {
      RUNPOD_WEBHOOK_GET_JOB: "https://api.runpod.ai/v2/e/job-take/$ID",
      RUNPOD_WEBHOOK_POST_OUTPUT: "https://api.runpod.ai/v2/e/job-done/$RUNPOD_POD_ID/$ID",
      RUNPOD_POD_ID: "pod",
      RUNPOD_AI_API_KEY: "k",
    };
    expect(runpodEnv(base)?.pingMs).toBe(10_000);
    expect(() => runpodEnv({ ...base, RUNPOD_PING_INTERVAL: "fast" })).toThrow(
      /RUNPOD_PING_INTERVAL must be milliseconds between 100 and 600000, got "fast"/,
    );
    expect(() => runpodEnv({ ...base, RUNPOD_WEBHOOK_GET_JOB: "ftp://x" })).toThrow(
      /RUNPOD_WEBHOOK_GET_JOB must be an http\(s\) URL/,
    );
  });
});
