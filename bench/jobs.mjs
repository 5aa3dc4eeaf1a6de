// npm run bench:jobs — the job API under load (autocannon on loopback) and what the queue costs a job.
// 1. GET /health and authenticated POST /run: requests/s and latency percentiles. The server only
//    queues (--concurrency 0) so the figures are the API and the database, not test runs.
// 2. The same detection through the CLI locally and through `run --backend server`, interleaved:
//    the median difference is the queue's overhead per job (submit, claim, events, report transfer).
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";
import { median, round } from "./lib.mjs";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const BIN = join(ROOT, "dist/cli/bin.js");
const REPS = Number(process.env.BENCH_REPS ?? 7);
const DURATION = Number(process.env.BENCH_SECONDS ?? 10);
const KEY = "bench-key-0123456789abcdef0123456789";
const FIXTURES = join(ROOT, "test/fixtures/bin");

function startServer(args, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, "serve", "--port", "0", "--log-level", "warn", ...args], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stderr.on("data", (d) => {
      err += d;
    });
    child.stdout.on("data", (d) => {
      out += d;
      const m = /dashboard: (http:\/\/[^\s/]+)\//.exec(out);
      if (m)
        resolve({
          url: m[1],
          stop: () => new Promise((r) => child.once("exit", r) && child.kill("SIGTERM")),
        });
    });
    child.on("exit", (code) => reject(new Error(`serve exited ${code}: ${err}`)));
  });
}

function cannon(opts) {
  return new Promise((resolve, reject) => {
    autocannon({ connections: 10, duration: DURATION, ...opts }, (err, res) =>
      err ? reject(err) : resolve(res),
    );
  });
}

function summary(res) {
  return {
    requestsPerSecond: round(res.requests.average, 0),
    latencyMs: { p50: res.latency.p50, p90: res.latency.p90, p99: res.latency.p99, max: res.latency.max },
    requests: res.requests.total,
    non2xx: res.non2xx,
    errors: res.errors,
  };
}

function runCli(args, env = {}) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "ignore", "pipe"],
    });
    let err = "";
    child.stderr.on("data", (d) => {
      err += d;
    });
    child.on("exit", (code) =>
      code === 0
        ? resolve(performance.now() - started)
        : reject(new Error(`${args.join(" ")}: ${code} ${err}`)),
    );
  });
}

const work = mkdtempSync(join(tmpdir(), "fd-bench-jobs-"));
const results = {
  date: new Date().toISOString(),
  node: process.version,
  reps: REPS,
  seconds: DURATION,
  benchmarks: {},
};
try {
  // 1. Load: a queue-only server with a key and no rate limit.
  const load = await startServer(
    ["--db", join(work, "load.db"), "--concurrency", "0", "--max-queue", "1000000", "--rate-limit", "0"],
    { FLAKY_DETECTOR_API_KEY: KEY },
  );
  try {
    await cannon({ url: `${load.url}/health`, duration: 2 }); // warm-up
    const health = summary(await cannon({ url: `${load.url}/health` }));
    const body = JSON.stringify({
      input: {
        repo: "https://github.com/acme/shop.git",
        test_command: "pytest tests/",
        runs: 50,
        parallelism: 4,
        framework: "pytest",
      },
    });
    const run = summary(
      await cannon({
        url: `${load.url}/run`,
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${KEY}` },
        body,
      }),
    );
    results.benchmarks.load = { health, run, connections: 10 };
    console.log(`GET /health: ${health.requestsPerSecond} req/s, p99 ${health.latencyMs.p99} ms`);
    console.log(
      `POST /run (authenticated, SQLite insert): ${run.requestsPerSecond} req/s, p99 ${run.latencyMs.p99} ms`,
    );
  } finally {
    await load.stop();
  }

  // 2. Queue overhead per job: local CLI vs the same CLI with --backend server, interleaved.
  const server = await startServer(["--db", join(work, "jobs.db"), "--allow-path", FIXTURES], {
    FLAKY_DETECTOR_API_KEY: KEY,
  });
  try {
    const common = [
      "--runs",
      "20",
      "--parallelism",
      "2",
      "--stop",
      "fixed",
      "--progress",
      "none",
      "--seed",
      "1",
    ];
    const local = [
      "run",
      "--repo",
      FIXTURES,
      ...common,
      "--db",
      join(work, "local.db"),
      "--",
      "node",
      "pass.mjs",
    ];
    const remote = [
      "run",
      "--backend",
      "server",
      "--url",
      server.url,
      "--repo",
      FIXTURES,
      ...common,
      "--",
      "node",
      "pass.mjs",
    ];
    await runCli(local);
    await runCli(remote, { FLAKY_DETECTOR_API_KEY: KEY });
    const l = [];
    const r = [];
    for (let i = 0; i < REPS; i++) {
      l.push(await runCli(local));
      r.push(await runCli(remote, { FLAKY_DETECTOR_API_KEY: KEY }));
    }
    const ml = median(l);
    const mr = median(r);
    results.benchmarks.queueOverhead = {
      job: "20 attempts of `node pass.mjs` at parallelism 2, fixed, copied workspace, history recorded",
      localMedianMs: round(ml),
      serverMedianMs: round(mr),
      overheadMs: round(mr - ml),
      ratio: round(mr / ml, 3),
      localMs: l.map((x) => round(x)),
      serverMs: r.map((x) => round(x)),
    };
    console.log(
      `queue overhead per job: local ${round(ml)} ms, via server ${round(mr)} ms (median of ${REPS}): +${round(mr - ml)} ms`,
    );
  } finally {
    await server.stop();
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
mkdirSync(join(ROOT, "bench/results"), { recursive: true });
writeFileSync(join(ROOT, "bench/results/latest-jobs.json"), `${JSON.stringify(results, null, 2)}\n`);
console.log("written bench/results/latest-jobs.json");
