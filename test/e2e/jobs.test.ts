import { mkdirSync, readdirSync, readFileSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FIXTURES, isAlive, ROOT, runCli, tempDir } from "../helpers/cli.js";
import { call, eventually, submit, waitStatus } from "../helpers/jobs.js";
import { startPostgres } from "../helpers/postgres.js";
import { type Served, serve } from "../helpers/serve.js";

/**
 * The job API of `flaky-detector serve`, end to end: the built CLI as a server on loopback, real
 * jobs running real processes, the SQLite database on disk, and plain HTTP as clients send it.
 */

const ALLOW = join(ROOT, "test/fixtures");
const REPO = FIXTURES;
const EXAMPLE = join(ROOT, "examples/node-test");

function jobsIn(db: string): { id: string; status: string; executions: number; retries: number }[] {
  const sqlite = new Database(db, { readonly: true });
  try {
    return sqlite.prepare("select id, status, executions, retries from jobs").all() as never;
  } finally {
    sqlite.close();
  }
}

function pids(dir: string): number[] {
  return readdirSync(dir)
    .filter((f) => f.startsWith("hang-"))
    .map((f) => Number(readFileSync(join(dir, f), "utf8")));
}

describe("job API: submit, poll, cancel, retry, runsync", () => {
  let dir: { path: string; cleanup: () => void };
  let served: Served;
  beforeAll(async () => {
    dir = tempDir("fd-jobs-");
    served = await serve([
      "--db",
      join(dir.path, "h.db"),
      "--allow-path",
      ALLOW,
      "--allow-path",
      join(ROOT, "examples"),
      "--concurrency",
      "2",
    ]);
  }, 60_000);
  afterAll(async () => {
    expect(await served?.stop()).toBe(0);
    dir?.cleanup();
  });

  it("runs a job given in the seed project's input format and records it in history as an API detection", async () => {
    const id = await submit(served.url, {
      repo: EXAMPLE,
      test_command: "node --test",
      runs: 12,
      parallelism: 2,
      framework: "node-test",
      branch: "feature/x",
      pr_number: 42,
      ci_run_url: "https://github.com/acme/shop/actions/runs/77",
    });
    const done = await waitStatus(served.url, id, ["COMPLETED", "FAILED"]);
    expect(done.status, String(done.error)).toBe("COMPLETED");
    expect(done.delayTime).toBeGreaterThanOrEqual(0);
    expect(done.executionTime).toBeGreaterThan(0);
    const report = done.output as {
      schemaVersion: number;
      summary: { attempts: number; verdict: string };
      tests: { name: string; verdict: string }[];
      attempts: unknown[];
    };
    expect(report.schemaVersion).toBe(1);
    expect(report.summary.attempts).toBe(12);
    expect(report.attempts).toHaveLength(12);
    expect(report.tests.find((t) => t.name === "charges the saved card")?.verdict).toBe("failing");
    expect(done.progress).toMatchObject({ phase: "done", done: 12, total: 12 });

    const detection = await call(served.url, `/api/v1/detections/${done.detectionId}`);
    expect(detection.status).toBe(200);
    expect(detection.body.detection).toMatchObject({
      trigger: "api",
      backend: "server",
      branch: "feature/x",
      prNumber: 42,
      repository: EXAMPLE,
      attempts: 12,
      links: { ciRun: "https://github.com/acme/shop/actions/runs/77" },
    });
  });

  it("lists every problem of a bad request by field path, and never runs it", async () => {
    const bad = await call(served.url, "/run", {
      body: {
        input: {
          repo: "/etc",
          runs: 0,
          parallelism: "4",
          framwork: "go",
          history: { enabled: false },
          ci_run_url: "https://user:pw@github.com/x",
        },
        policy: { executionTimeout: -1 },
        extra: true,
      },
    });
    expect(bad.status).toBe(400);
    const problems = (bad.body.error as { problems: { path: string; message: string }[] }).problems;
    const byPath = Object.fromEntries(problems.map((p) => [p.path, p.message]));
    expect(Object.keys(byPath).sort()).toEqual(
      [
        "extra",
        "input.ci_run_url",
        "input.framwork",
        "input.history",
        "input.parallelism",
        "input.repo",
        "input.runs",
        "input.test_command",
        "policy.executionTimeout",
      ].sort(),
    );
    expect(byPath["input.runs"]).toBe("must be an integer from 1 to 10000, got 0");
    expect(byPath["input.framwork"]).toContain('did you mean "framework"');
    expect(byPath["input.history"]).toContain("cannot be set by a job");
    expect(byPath["input.repo"]).toContain("not under an allowed root");
    expect(byPath["input.test_command"]).toContain("is required");
    expect(byPath["input.ci_run_url"]).toContain("URL");
    expect(JSON.stringify(bad.body)).not.toContain("user:pw");

    const notJson = await fetch(`${served.url}/run`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{not json",
    });
    expect(notJson.status).toBe(400);
    const health = await call(served.url, "/health");
    expect((health.body.jobs as { inQueue: number }).inQueue).toBe(0);
  });

  it("refuses local paths outside the allow-list, through symlinks, file:// URLs and relative paths", async () => {
    const link = join(dir.path, "inside");
    mkdirSync(link);
    symlinkSync("/etc", join(link, "etc"));
    const cases: [string, RegExp][] = [
      ["/etc", /not under an allowed root/],
      ["file:///etc", /not under an allowed root/],
      ["test/fixtures/bin", /must be absolute/],
      [`${ALLOW}/${"../".repeat(12)}etc`, /not under an allowed root/],
      ["https://user:secret@example.com/r.git", /contains credentials/],
      ["ftp://example.com/r.git", /unsupported URL scheme/],
    ];
    for (const [repo, message] of cases) {
      const a = await call(served.url, "/run", { body: { input: { repo, test_command: "node pass.mjs" } } });
      expect(a.status, repo).toBe(400);
      const p = (a.body.error as { problems: { path: string; message: string }[] }).problems;
      expect(p.map((x) => x.path)).toEqual(["input.repo"]);
      expect(p[0]?.message).toMatch(message);
    }
    // A symbolic link inside an allowed root that leads out of it is judged by where it leads.
    const served2 = await serve(["--db", join(dir.path, "h2.db"), "--allow-path", link]);
    try {
      const a = await call(served2.url, "/run", {
        body: { input: { repo: join(link, "etc"), test_command: "node pass.mjs" } },
      });
      expect(a.status).toBe(400);
      expect(JSON.stringify(a.body)).toContain("not under an allowed root");
    } finally {
      await served2.stop();
    }
  });

  it("cancels a running job and kills its attempts; cancels a queued one", async () => {
    const pidDir = join(dir.path, "pids");
    mkdirSync(pidDir);
    const id = await submit(served.url, {
      repo: REPO,
      test_command: ["node", "hang.mjs", pidDir],
      runs: 4,
      parallelism: 2,
      timeout: 600,
    });
    await waitStatus(served.url, id, ["IN_PROGRESS"]);
    await eventually(() => pids(pidDir).length === 2);
    const running = pids(pidDir);
    expect(running.every(isAlive)).toBe(true);
    const cancelled = await call(served.url, `/cancel/${id}`, { method: "POST" });
    expect(cancelled.body).toEqual({ id, status: "CANCELLED" });
    await eventually(() => running.every((p) => !isAlive(p)));
    expect((await call(served.url, `/status/${id}`)).body.status).toBe("CANCELLED");
    // Cancelling again reports the status and changes nothing.
    expect((await call(served.url, `/cancel/${id}`, { method: "POST" })).body).toEqual({
      id,
      status: "CANCELLED",
    });
    expect(
      (await call(served.url, "/cancel/00000000-0000-0000-0000-000000000000", { method: "POST" })).status,
    ).toBe(404);
  });

  it("times a job out at policy.executionTimeout, and /retry re-runs it under the same id", async () => {
    const pidDir = join(dir.path, "pids-timeout");
    mkdirSync(pidDir);
    const id = await submit(
      served.url,
      { repo: REPO, test_command: ["node", "hang.mjs", pidDir], runs: 2, parallelism: 1 },
      { policy: { executionTimeout: 1500, ttl: 60_000 } },
    );
    const timedOut = await waitStatus(served.url, id, ["TIMED_OUT"]);
    expect(timedOut.error).toMatch(/executionTimeout \(1500 ms\)/);
    expect(timedOut.output).toBeUndefined();
    await eventually(() => pids(pidDir).length >= 1 && pids(pidDir).every((p) => !isAlive(p)));

    const retried = await call(served.url, `/retry/${id}`, { method: "POST" });
    expect(retried.body).toEqual({ id, status: "IN_QUEUE" });
    const again = await waitStatus(served.url, id, ["TIMED_OUT"], { until: (b) => b.retries === 1 });
    expect(again.retries).toBe(1);

    const completed = await submit(served.url, { repo: REPO, test_command: "node pass.mjs", runs: 2 });
    await waitStatus(served.url, completed, ["COMPLETED"]);
    const refused = await call(served.url, `/retry/${completed}`, { method: "POST" });
    expect(refused.status).toBe(409);
    expect((refused.body.error as { message: string }).message).toContain("only FAILED or TIMED_OUT");
  });

  it("reports an infrastructure failure as FAILED with its code, never as test failures", async () => {
    const id = await submit(served.url, {
      repo: REPO,
      test_command: "definitely-not-a-program --x",
      runs: 3,
    });
    const failed = await waitStatus(served.url, id, ["FAILED", "COMPLETED"]);
    expect(failed.status).toBe("FAILED");
    expect(failed.error).toMatch(/^E_[A-Z_]+: .*definitely-not-a-program/);
    expect(failed.output).toBeUndefined();
    const detections = await call(served.url, "/api/v1/detections?limit=500");
    expect(JSON.stringify(detections.body)).not.toContain("definitely-not-a-program");
  });

  it("runsync returns the finished job, or its status when the wait runs out", async () => {
    const quick = await call(served.url, "/runsync", {
      body: { input: { repo: REPO, test_command: "node flaky.mjs 0.5", runs: 10, seed: 3, parallelism: 2 } },
    });
    expect(quick.status).toBe(200);
    expect(quick.body.status).toBe("COMPLETED");
    const report = quick.body.output as { summary: { attempts: number; failedAttempts: number } };
    expect(report.summary.attempts).toBe(10);
    expect(report.summary.failedAttempts).toBeGreaterThan(0);

    const slow = await call(served.url, "/runsync?wait=1000", {
      body: { input: { repo: REPO, test_command: "node sleep.mjs 800", runs: 4, parallelism: 1 } },
    });
    expect(["IN_QUEUE", "IN_PROGRESS"]).toContain(slow.body.status);
    expect(slow.body.output).toBeUndefined();
    const finished = await waitStatus(served.url, slow.body.id as string, ["COMPLETED"]);
    expect((finished.output as { summary: { attempts: number } }).summary.attempts).toBe(4);

    const badWait = await call(served.url, "/runsync?wait=5", { body: { input: {} } });
    expect(badWait.status).toBe(400);
    expect(JSON.stringify(badWait.body)).toContain("wait");
  });

  it("streams progress as server-sent events until the end", async () => {
    const id = await submit(served.url, {
      repo: REPO,
      test_command: "node sleep.mjs 100",
      runs: 6,
      parallelism: 2,
    });
    const res = await fetch(`${served.url}/events/${id}`);
    expect(res.headers.get("content-type")).toContain("text/event-stream");
    const text = await res.text();
    const events = text
      .split("\n\n")
      .filter((b) => b.startsWith("event:"))
      .map((b) => ({
        event: (/^event: (.+)$/m.exec(b) as RegExpExecArray)[1],
        data: JSON.parse((/^data: (.+)$/m.exec(b) as RegExpExecArray)[1] as string),
      }));
    const attempts = events.filter((e) => e.event === "progress" && e.data.type === "attempt-finished");
    expect(attempts.map((e) => e.data.done)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(events.some((e) => e.event === "progress" && e.data.type === "job-started")).toBe(true);
    const end = events.at(-1);
    expect(end?.event).toBe("end");
    expect(end?.data).toMatchObject({ id, status: "COMPLETED" });
  });

  it("accepts concurrent submissions, runs every job once, and counts them in /metrics", async () => {
    const ids = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        submit(served.url, {
          repo: REPO,
          test_command: `node flaky.mjs 0.${i % 9}`,
          runs: 3,
          parallelism: 1,
        }),
      ),
    );
    expect(new Set(ids).size).toBe(12);
    const done = await Promise.all(
      ids.map((id) => waitStatus(served.url, id, ["COMPLETED"], { timeoutMs: 90_000 })),
    );
    const detectionIds = done.map((d) => d.detectionId);
    expect(new Set(detectionIds).size).toBe(12);
    for (const id of detectionIds) {
      expect((await call(served.url, `/api/v1/detections/${id}`)).status).toBe(200);
    }
    const metrics = await (await fetch(`${served.url}/metrics`)).text();
    expect(metrics).toContain("# TYPE flaky_detector_jobs gauge");
    const finished = /flaky_detector_jobs_finished_total\{status="COMPLETED"\} (\d+)/.exec(metrics);
    expect(Number(finished?.[1])).toBeGreaterThanOrEqual(12);
    expect(metrics).toMatch(/flaky_detector_attempts_total\{outcome="passed"\} \d+/);
    expect(metrics).toMatch(/flaky_detector_job_execution_seconds_count \d+/);
  }, 120_000);

  it("serves an OpenAPI document generated from the request schema", async () => {
    const doc = (await call(served.url, "/openapi.json")).body as {
      openapi: string;
      paths: Record<string, unknown>;
      components: {
        schemas: { RunRequest: { properties: { input: { properties: Record<string, unknown> } } } };
      };
    };
    expect(doc.openapi).toBe("3.1.0");
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        "/run",
        "/runsync",
        "/status/{id}",
        "/cancel/{id}",
        "/retry/{id}",
        "/purge-queue",
        "/health",
      ]),
    );
    const input = doc.components.schemas.RunRequest.properties.input.properties;
    expect(Object.keys(input)).toEqual(
      expect.arrayContaining([
        "repo",
        "test_command",
        "runs",
        "parallelism",
        "framework",
        "ref",
        "tests",
        "stop",
        "shuffle",
        "timeout",
      ]),
    );
  });
});

describe("job API: queue limits and purge", () => {
  it("answers 429 with Retry-After when the queue is full, and purges it", async () => {
    const dir = tempDir("fd-jobs-queue-");
    // Concurrency 0: this instance only queues (another one on the same database would run them).
    const served = await serve(["--db", join(dir.path, "h.db"), "--max-queue", "2", "--concurrency", "0"]);
    try {
      const input = { repo: "https://example.com/r.git", test_command: "npm test" };
      await submit(served.url, input);
      const low = await submit(served.url, input, { policy: { lowPriority: true } });
      const full = await call(served.url, "/run", { body: { input } });
      expect(full.status).toBe(429);
      expect(Number(full.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
      expect((full.body.error as { code: string }).code).toBe("E_QUEUE_FULL");
      const cancelled = await call(served.url, `/cancel/${low}`, { method: "POST" });
      expect(cancelled.body.status).toBe("CANCELLED");
      expect((await call(served.url, "/health")).body.jobs).toMatchObject({ inQueue: 1, cancelled: 1 });
      expect((await call(served.url, "/purge-queue", { method: "POST" })).body).toEqual({
        removed: 1,
        status: "completed",
      });
      expect((await call(served.url, "/health")).body.jobs).toMatchObject({ inQueue: 0 });
      const big = await call(served.url, "/run", {
        body: { input: { ...input, tests: ["x".repeat(4000)], junit: "y" }, pad: "z".repeat(1_100_000) },
      });
      expect(big.status).toBe(413);
      expect((big.body.error as { message: string }).message).toContain("--body-limit");
    } finally {
      await served.stop();
      dir.cleanup();
    }
  });
});

describe("job API: durability", () => {
  it("a server killed with SIGKILL mid-job: the restarted server runs the job to completion, once", async () => {
    const dir = tempDir("fd-jobs-kill-");
    const db = join(dir.path, "h.db");
    const args = ["--db", db, "--allow-path", ALLOW, "--job-lease", "2"];
    let served = await serve(args);
    try {
      const id = await submit(served.url, {
        repo: REPO,
        test_command: "node sleep.mjs 400",
        runs: 8,
        parallelism: 1,
      });
      await waitStatus(served.url, id, ["IN_PROGRESS"], {
        until: (b) => ((b.progress as { done?: number })?.done ?? 0) >= 2,
      });
      served.child.kill("SIGKILL");
      await new Promise((r) => served.child.once("exit", r));
      expect(jobsIn(db)).toMatchObject([{ id, status: "IN_PROGRESS", executions: 1 }]);

      served = await serve(args);
      const done = await waitStatus(served.url, id, ["COMPLETED"], { timeoutMs: 60_000 });
      expect((done.output as { summary: { attempts: number } }).summary.attempts).toBe(8);
      expect(jobsIn(db)).toMatchObject([{ id, status: "COMPLETED", executions: 2 }]);
      const detections = (await call(served.url, "/api/v1/detections")).body as { total: number };
      expect(detections.total).toBe(1);
      expect(served.stderr()).toContain("job taken over after its previous runner stopped");
    } finally {
      await served.stop();
      dir.cleanup();
    }
  }, 120_000);

  it("SIGTERM puts a running job back in the queue; the next server finishes it", async () => {
    const dir = tempDir("fd-jobs-term-");
    const db = join(dir.path, "h.db");
    const args = ["--db", db, "--allow-path", ALLOW, "--shutdown-grace", "0"];
    let served = await serve(args);
    try {
      const id = await submit(served.url, {
        repo: REPO,
        test_command: "node sleep.mjs 300",
        runs: 6,
        parallelism: 1,
      });
      await waitStatus(served.url, id, ["IN_PROGRESS"], {
        until: (b) => ((b.progress as { done?: number })?.done ?? 0) >= 1,
      });
      expect(await served.stop()).toBe(0);
      expect(jobsIn(db)).toMatchObject([{ id, status: "IN_QUEUE" }]);
      served = await serve(args);
      const done = await waitStatus(served.url, id, ["COMPLETED"]);
      expect((done.output as { summary: { attempts: number } }).summary.attempts).toBe(6);
    } finally {
      await served.stop();
      dir.cleanup();
    }
  }, 120_000);
});

describe("job API on PostgreSQL", () => {
  it("runs a job and records it when the database is PostgreSQL", async () => {
    const pg = await startPostgres();
    const served = await serve(["--db", pg.url, "--allow-path", ALLOW]);
    try {
      expect((await call(served.url, "/health")).body).toMatchObject({
        store: "postgres",
        jobs: { inQueue: 0 },
      });
      const id = await submit(served.url, {
        repo: REPO,
        test_command: "node flaky.mjs 0.4",
        runs: 10,
        parallelism: 2,
      });
      const done = await waitStatus(served.url, id, ["COMPLETED", "FAILED"]);
      expect(done.status, String(done.error)).toBe("COMPLETED");
      const detection = await call(served.url, `/api/v1/detections/${done.detectionId}`);
      expect(detection.body.detection).toMatchObject({ trigger: "api", attempts: 10 });
    } finally {
      await served.stop();
      pg.stop();
    }
  }, 120_000);
});

describe("job API: security", () => {
  it("needs the key on every job route, accepts Bearer and RunPod's bare key, keeps it out of logs and tests", async () => {
    const dir = tempDir("fd-jobs-auth-");
    const key = "k-0123456789abcdef-secret";
    const served = await serve(
      ["--db", join(dir.path, "h.db"), "--allow-path", ALLOW, "--log-level", "debug"],
      {
        FLAKY_DETECTOR_API_KEY: key,
        GIT_TOKEN: "ghs_not_for_tests",
      },
    );
    try {
      const input = { repo: REPO, test_command: ["node", "env-all.mjs", dir.path], runs: 2, parallelism: 1 };
      for (const [path, method] of [
        ["/run", "POST"],
        ["/runsync", "POST"],
        ["/status/00000000-0000-0000-0000-000000000000", "GET"],
        ["/cancel/00000000-0000-0000-0000-000000000000", "POST"],
        ["/retry/00000000-0000-0000-0000-000000000000", "POST"],
        ["/purge-queue", "POST"],
        ["/events/00000000-0000-0000-0000-000000000000", "GET"],
        ["/metrics", "GET"],
        ["/api/v1/detections", "GET"],
      ] as const) {
        const a = await call(served.url, path, { method, ...(method === "POST" ? { body: { input } } : {}) });
        expect(a.status, path).toBe(401);
      }
      expect((await call(served.url, "/run", { body: { input }, key: "wrong-key-0123456789" })).status).toBe(
        401,
      );
      expect((await call(served.url, "/health")).status).toBe(200);
      expect((await call(served.url, "/openapi.json")).status).toBe(200);

      const id = await submit(served.url, input, {}, key);
      const bare = await call(served.url, `/status/${id}`, { authorization: key });
      expect(bare.status).toBe(200);
      await waitStatus(served.url, id, ["COMPLETED"], { key });
      const env = readFileSync(join(dir.path, "env-0.json"), "utf8");
      expect(env).not.toContain(key);
      expect(env).not.toContain("ghs_not_for_tests");
      expect(served.stderr()).not.toContain(key);
      expect(served.stderr()).toContain("job accepted");
    } finally {
      await served.stop();
      dir.cleanup();
    }
  });

  it("keys made with `api-key create` are stored hashed, work, list and revoke", async () => {
    const dir = tempDir("fd-jobs-keys-");
    const db = join(dir.path, "h.db");
    try {
      const created = await runCli(["api-key", "create", "--name", "ci", "--db", db]);
      expect(created.code).toBe(0);
      const key = created.stdout.trim();
      expect(key).toMatch(/^fdk_[A-Za-z0-9_-]{43}$/);
      const sqlite = new Database(db, { readonly: true });
      const rows = sqlite.prepare("select * from api_keys").all() as Record<string, unknown>[];
      sqlite.close();
      expect(rows).toHaveLength(1);
      expect(JSON.stringify(rows)).not.toContain(key);

      const served = await serve(["--db", db]);
      try {
        expect((await call(served.url, "/health")).status).toBe(200);
        expect((await call(served.url, "/purge-queue", { method: "POST" })).status).toBe(401);
        expect((await call(served.url, "/purge-queue", { method: "POST", key })).status).toBe(200);
      } finally {
        await served.stop();
      }
      const list = await runCli(["api-key", "list", "--db", db, "--json"]);
      const [info] = JSON.parse(list.stdout) as { id: string; name: string; lastUsedAt: string | null }[];
      expect(info?.name).toBe("ci");
      expect(info?.lastUsedAt).not.toBeNull();
      expect(list.stdout).not.toContain(key);
      expect((await runCli(["api-key", "revoke", info?.id as string, "--db", db])).code).toBe(0);
      const served2 = await serve(["--db", db]);
      try {
        // Revoked, and no other key: the API is open again on loopback (and says so).
        await eventually(() => served2.stderr().includes("no API key configured"));
      } finally {
        await served2.stop();
      }
      const wrong = await runCli(["api-key", "revoke", "zz", "--db", db]);
      expect(wrong.code).toBe(2);
      expect(wrong.stderr).toContain("12 hex digits");
    } finally {
      dir.cleanup();
    }
  });

  it("refuses to listen beyond loopback without a key", async () => {
    const dir = tempDir("fd-jobs-host-");
    try {
      const r = await runCli(["serve", "--host", "0.0.0.0", "--port", "0", "--db", join(dir.path, "h.db")]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("only listens on loopback");
      expect(r.stderr).toContain("api-key create");
    } finally {
      dir.cleanup();
    }
  });
});
