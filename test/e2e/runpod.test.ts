import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, test } from "vitest";
import type { Report } from "../../src/analysis/report.js";
import { fixture, readReport, runCli, tempDir } from "../helpers/cli.js";
import { call, waitStatus } from "../helpers/jobs.js";
import {
  CLIENT_KEY,
  type RunpodSim,
  type SimJob,
  startRunpodSim,
  WORKER_KEY,
} from "../helpers/runpod-sim.js";
import { startWorker, type WorkerProcess } from "../helpers/workers.js";

/**
 * The real `worker runpod` processes and the real `run --backend runpod` client against a local
 * server that implements RunPod's endpoint API and worker webhooks.
 */

const tmp = tempDir("fd-runpod-");
const project = join(tmp.path, "project");
const writer = ["node", fixture("junit-writer.mjs")];
let sim: RunpodSim;
let workers: WorkerProcess[] = [];

beforeAll(() => {
  mkdirSync(project, { recursive: true });
  writeFileSync(join(project, "README"), "tests are the junit-writer fixture\n");
});
afterEach(async () => {
  await Promise.all(workers.map((w) => w.stop()));
  workers = [];
  await sim?.close();
});
afterAll(() => tmp.cleanup());

async function startWorkers(n: number, pingMs = 200): Promise<void> {
  for (let i = 0; i < n; i++) {
    workers.push(startWorker(["runpod", "--allow-path", tmp.path], sim.workerEnv(`pod-${i + 1}`, pingMs)));
  }
  await Promise.all(workers.map((w) => w.waitFor("asks")));
}

function client(args: string[], onStderr?: { includes: string; act: (pid: number) => void }) {
  return runCli(
    [
      "run",
      "--backend",
      "runpod",
      "--endpoint-id",
      sim.endpointId,
      "--runpod-api",
      sim.api,
      "--repo",
      project,
      "--junit",
      "reports/*.xml",
      "--progress",
      "plain",
      ...args,
    ],
    { cwd: tmp.path, env: { RUNPOD_API_KEY: CLIENT_KEY }, ...(onStderr ? { onStderr } : {}) },
  );
}

function essence(r: Report) {
  return {
    summary: r.summary,
    tests: r.tests.map((t) => ({ ...t, failingSeeds: [...t.failingSeeds].sort() })),
    attempts: r.attempts.map((a) => [a.index, a.seed, a.outcome, a.tests]),
    followUps: [...r.followUps].sort((a, b) => a.seed - b.seed || a.test.localeCompare(b.test)),
  };
}

describe("RunPod Serverless: worker protocol and client fan-out", () => {
  test("two workers run the shards; the merged report equals a local run; the protocol is RunPod's", async () => {
    sim = await startRunpodSim();
    await startWorkers(2);
    const json = join(tmp.path, "runpod.json");
    const common = ["--runs", "40", "--stop", "fixed", "--seed", "21", "--parallelism", "2"];
    const res = await client([...common, "--shard-size", "10", "--json", json, "--", ...writer]);
    expect(res.code, res.stderr).toBe(0);
    const localJson = join(tmp.path, "local.json");
    const local = await runCli(
      [
        "run",
        "--repo",
        project,
        "--junit",
        "reports/*.xml",
        ...common,
        "--no-history",
        "--json",
        localJson,
        "--",
        ...writer,
      ],
      { cwd: tmp.path },
    );
    expect(local.code, local.stderr).toBe(0);
    const r = readReport(json);
    expect(Object.keys(r)).toEqual(Object.keys(readReport(localJson)));
    expect(essence(r)).toEqual(essence(readReport(localJson)));
    expect(r.warnings.some((w) => /ran as 4 shard\(s\) on RunPod endpoint ep-test1/.test(w))).toBe(true);

    // Client side: /run with a policy, bare key, one job per shard plus the follow-ups.
    const runs = sim.requests.filter((q) => q.path.endsWith("/run"));
    expect(runs).toHaveLength(5);
    expect(runs.every((q) => q.authorization === CLIENT_KEY)).toBe(true);
    for (const job of sim.jobs.values()) {
      expect(job.status).toBe("COMPLETED");
      expect(job.policy?.executionTimeout).toBeGreaterThan(0);
      expect((job.input as { shard: { jobSeed: number } }).shard.jobSeed).toBe(21);
    }
    // Worker side: job-take with the pod id and job_in_progress, pings naming the job, results
    // posted with isStream=false, the bare worker key everywhere.
    const takes = sim.requests.filter((q) => q.path.startsWith("/job-take/"));
    expect(takes.every((q) => /^\/job-take\/pod-[12]$/.test(q.path) && q.query.job_in_progress === "0")).toBe(
      true,
    );
    expect(takes.every((q) => q.query.gpu === "none")).toBe(true);
    const pings = sim.requests.filter((q) => q.path.startsWith("/ping/"));
    expect(pings.length).toBeGreaterThan(0);
    expect(pings.every((q) => sim.jobs.has(q.query.job_id as string))).toBe(true);
    const done = sim.requests.filter((q) => q.path.startsWith("/job-done/"));
    expect(done).toHaveLength(5);
    expect(done.every((q) => q.query.isStream === "false")).toBe(true);
    const workerCalls = sim.requests.filter((q) => !q.path.startsWith("/v2/"));
    expect(workerCalls.every((q) => q.authorization === WORKER_KEY)).toBe(true);
    // Both pods worked.
    const pods = new Set([...sim.jobs.values()].map((j) => j.worker));
    expect(pods).toEqual(new Set(["pod-1", "pod-2"]));
  }, 120_000);

  test("429 answers are honoured on /run, /status and job-take; the detection still completes", async () => {
    sim = await startRunpodSim();
    sim.throttle("run", 2);
    sim.throttle("status", 2);
    sim.throttle("job-take", 2);
    await startWorkers(1);
    const json = join(tmp.path, "throttled.json");
    const res = await client([
      "--runs",
      "10",
      "--stop",
      "fixed",
      "--shard-size",
      "5",
      "--json",
      json,
      "--",
      ...writer,
    ]);
    expect(res.code, res.stderr).toBe(0);
    expect(readReport(json).attempts).toHaveLength(10);
    expect(sim.requests.filter((q) => q.status === 429)).toHaveLength(6);
    expect(res.stderr).toMatch(/POST \/run: HTTP 429; retrying in 1 s/);
    expect(workers[0]?.log()).toMatch(/taking a job failed \(HTTP 429/);
    // Both shards were refused at first (Retry-After: 1); neither came back sooner than asked.
    const runCalls = sim.requests.filter((q) => q.path.endsWith("/run"));
    expect(runCalls.slice(0, 2).map((q) => q.status)).toEqual([429, 429]);
    const firstAccepted = runCalls.find((q) => q.status === 200);
    expect((firstAccepted?.at ?? 0) - (runCalls[0]?.at ?? 0)).toBeGreaterThanOrEqual(900);
  }, 120_000);

  test("a worker killed mid-job: the job fails for lost heartbeats, the shard runs again, nothing counted twice", async () => {
    sim = await startRunpodSim({ pingTimeoutMs: 1000 });
    await startWorkers(2);
    const json = join(tmp.path, "killed.json");
    const pending = client([
      "--runs",
      "16",
      "--stop",
      "fixed",
      "--seed",
      "9",
      "--parallelism",
      "1",
      "--shard-size",
      "8",
      "--json",
      json,
      "--",
      "DELAY_MS=300",
      ...writer,
    ]);
    const deadline = Date.now() + 30_000;
    while (![...sim.jobs.values()].some((j) => j.status === "IN_PROGRESS") && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    await new Promise((r) => setTimeout(r, 800));
    const running = [...sim.jobs.values()].find((j) => j.status === "IN_PROGRESS");
    expect(running).toBeDefined();
    const victim = workers[Number(running?.worker?.slice(4)) - 1] as WorkerProcess;
    await victim.stop("SIGKILL");

    const res = await pending;
    expect(res.code, res.stderr).toBe(0);
    expect(running?.status).toBe("FAILED");
    expect(running?.error).toMatch(/E_WORKER_LOST/);
    expect(res.stderr).toMatch(
      /failed \(E_WORKER_LOST: worker pod-\d stopped sending heartbeats.*running it again/,
    );
    const r = readReport(json);
    expect(r.attempts.map((a) => a.index)).toEqual(Array.from({ length: 16 }, (_, i) => i));
    expect(r.tests.find((t) => t.name === "stable")?.attempts).toBe(16);
    const seeded = r.tests.find((t) => t.name === "seeded");
    expect(seeded?.failures).toBe(r.attempts.filter((a) => a.seed % 3 === 0).length);
    // The lost shard was submitted twice (same attempts), and completed once.
    const firsts = [...sim.jobs.values()].map(
      (j) => (j.input as { shard: { first: number; count: number } }).shard,
    );
    const lost = ((running as SimJob).input as { shard: { first: number } }).shard.first;
    expect(firsts.filter((s) => s.first === lost && s.count === 8)).toHaveLength(2);
  }, 120_000);

  test("Ctrl-C cancels every shard on the endpoint, queued and running", async () => {
    sim = await startRunpodSim();
    await startWorkers(1);
    let pid = 0;
    const pending = client(
      [
        "--runs",
        "40",
        "--stop",
        "fixed",
        "--shard-size",
        "5",
        "--parallelism",
        "1",
        "--",
        "DELAY_MS=500",
        ...writer,
      ],
      {
        includes: "shard(s) on RunPod",
        act: (p) => {
          pid = p;
        },
      },
    );
    const deadline = Date.now() + 30_000;
    while (
      !(pid && [...sim.jobs.values()].some((j) => j.status === "IN_PROGRESS")) &&
      Date.now() < deadline
    ) {
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(sim.jobs.size).toBe(8);
    process.kill(pid, "SIGINT");
    const res = await pending;
    expect(res.code, res.stderr).toBe(130);
    const statuses = [...sim.jobs.values()].map((j) => j.status);
    expect(statuses.filter((s) => s === "IN_QUEUE" || s === "IN_PROGRESS")).toEqual([]);
    expect(statuses.filter((s) => s === "CANCELLED").length).toBeGreaterThanOrEqual(7);
    const cancels = sim.requests.filter((q) => q.path.includes("/cancel/"));
    expect(cancels.length).toBe(statuses.filter((s) => s === "CANCELLED").length);
  }, 60_000);

  test("the job timeout cancels the outstanding shards and reports what finished", async () => {
    sim = await startRunpodSim();
    await startWorkers(1);
    const json = join(tmp.path, "timeout.json");
    const res = await client([
      "--runs",
      "40",
      "--stop",
      "fixed",
      "--shard-size",
      "2",
      "--parallelism",
      "1",
      "--job-timeout",
      "4",
      "--json",
      json,
      "--",
      "DELAY_MS=300",
      ...writer,
    ]);
    expect(res.code, res.stderr).toBe(0);
    const r = readReport(json);
    expect(r.summary.stopReason).toBe("job-timeout");
    expect(r.attempts.length).toBeGreaterThan(0);
    expect(r.attempts.length).toBeLessThan(40);
    const statuses = [...sim.jobs.values()].map((j) => j.status);
    expect(statuses.filter((s) => s === "IN_QUEUE" || s === "IN_PROGRESS")).toEqual([]);
    expect(statuses.filter((s) => s === "CANCELLED").length).toBeGreaterThan(0);
    // Every attempt in the report came from a completed shard, once (a shard that completed just
    // as the timeout struck may be left out, never counted twice).
    const completed = [...sim.jobs.values()].filter((j) => j.status === "COMPLETED");
    expect(new Set(r.attempts.map((a) => a.index)).size).toBe(r.attempts.length);
    expect(r.attempts.length).toBeLessThanOrEqual(
      completed.reduce((n, j) => n + (j.input as { shard: { count: number } }).shard.count, 0),
    );
  }, 60_000);

  test("job input is validated by the worker: a bad job fails with the field and the fix", async () => {
    sim = await startRunpodSim();
    await startWorkers(1);
    const id = sim.enqueue({ repo: join(tmp.path, "project"), test_command: "node x.js", runs: 0 });
    const deadline = Date.now() + 20_000;
    while (sim.jobs.get(id)?.status === "IN_QUEUE" || sim.jobs.get(id)?.status === "IN_PROGRESS") {
      if (Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const job = sim.jobs.get(id);
    expect(job?.status).toBe("FAILED");
    expect(job?.error).toMatch(/^E_JOB_INPUT: input\.runs: /);
  }, 60_000);
});

describe("worker runpod without RunPod's variables: local test mode", () => {
  test("serves the job API; a shard input returns a shard result", async () => {
    const w = startWorker([
      "runpod",
      "--port",
      "0",
      "--allow-path",
      tmp.path,
      "--db",
      join(tmp.path, "local.db"),
    ]);
    workers.push(w);
    sim = await startRunpodSim();
    await w.waitFor(/dashboard: http:\/\/127\.0\.0\.1:\d+\//);
    expect(w.log()).toMatch(/RUNPOD_WEBHOOK_GET_JOB is not set: local test mode/);
    const url = /dashboard: (http:\/\/127\.0\.0\.1:\d+)\//.exec(w.log())?.[1] as string;
    const submitted = await call(url, "/run", {
      body: {
        input: {
          repo: project,
          test_command: writer,
          junit: "reports/*.xml",
          runs: 10,
          shard: { jobSeed: 4, first: 5, count: 5 },
        },
      },
    });
    expect(submitted.status, JSON.stringify(submitted.body)).toBe(200);
    const done = await waitStatus(url, submitted.body.id as string, ["COMPLETED", "FAILED"]);
    expect(done.status, JSON.stringify(done.error)).toBe("COMPLETED");
    const output = done.output as { kind: string; attempts: { index: number }[] };
    expect(output.kind).toBe("flaky-detector/shard-result");
    expect(output.attempts.map((a) => a.index)).toEqual([5, 6, 7, 8, 9]);
    // A shard beyond the budget is refused with the field named.
    const bad = await call(url, "/run", {
      body: {
        input: { repo: project, test_command: writer, runs: 10, shard: { jobSeed: 4, first: 8, count: 5 } },
      },
    });
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toMatch(/input\.shard/);
  }, 60_000);
});
