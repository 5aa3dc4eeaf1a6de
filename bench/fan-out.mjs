// npm run bench:fan-out — a 400-attempt detection fanned out over 1, 2 and 4 Redis worker processes
// on this machine (serve --redis, worker redis, a real redis-server on loopback), against the same
// detection run locally at the same per-process parallelism, interleaved in every repetition.
// Reports wall time, attempts/s, scaling efficiency (speed-up ÷ workers) and the per-shard overhead
// (1 worker minus local, divided by the number of shards: queueing, workspace copy, result transfer).
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { median, round as roundTo } from "./lib.mjs";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const BIN = join(ROOT, "dist/cli/bin.js");
const REPS = Number(process.env.BENCH_REPS ?? 3);
const RUNS = Number(process.env.BENCH_RUNS ?? 400);
const SHARD = Number(process.env.BENCH_SHARD ?? 25);
const DELAY_MS = Number(process.env.BENCH_DELAY_MS ?? 50);
const WORKERS = [1, 2, 4];

const round = (x, d = 2) => roundTo(x, d);

const freePort = () =>
  new Promise((resolve) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

function waitOutput(child, re, what) {
  return new Promise((resolve, reject) => {
    let text = "";
    const on = (d) => {
      text += d;
      const m = re.exec(text);
      if (m) resolve(m);
    };
    child.stdout?.on("data", on);
    child.stderr?.on("data", on);
    child.once("exit", (code) => reject(new Error(`${what} exited ${code}: ${text}`)));
  });
}

const stop = (child) =>
  new Promise((r) => {
    if (child.exitCode !== null) return r();
    child.once("exit", r);
    child.kill("SIGTERM");
  });

function cli(args, cwd) {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [BIN, ...args], { cwd, stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    child.stderr.on("data", (d) => {
      err += d;
    });
    child.on("exit", (code) =>
      code === 0 ? resolve(performance.now() - started) : reject(new Error(`run exited ${code}: ${err}`)),
    );
  });
}

const tmp = mkdtempSync(join(tmpdir(), "fd-bench-fanout-"));
const project = join(tmp, "project");
mkdirSync(project);
writeFileSync(join(project, "README"), "bench project: the junit-writer fixture\n");
const redisPort = await freePort();
const redis = spawn(
  "redis-server",
  ["--port", String(redisPort), "--bind", "127.0.0.1", "--save", "", "--dir", tmp],
  {
    stdio: ["ignore", "pipe", "pipe"],
  },
);
await waitOutput(redis, /Ready to accept connections/, "redis-server");
const redisUrl = `redis://127.0.0.1:${redisPort}`;
const server = spawn(
  process.execPath,
  [
    BIN,
    "serve",
    "--port",
    "0",
    "--log-level",
    "warn",
    "--redis",
    redisUrl,
    "--allow-path",
    tmp,
    "--db",
    join(tmp, "s.db"),
    "--rate-limit",
    "0",
  ],
  { stdio: ["ignore", "pipe", "pipe"] },
);
const url = (await waitOutput(server, /dashboard: (http:\/\/[^\s/]+)\//, "serve"))[1];

const detection = [
  "--repo",
  project,
  "--runs",
  String(RUNS),
  "--stop",
  "fixed",
  "--parallelism",
  "1",
  "--seed",
  "1",
  "--junit",
  "reports/*.xml",
  "--progress",
  "none",
];
const command = ["--", `DELAY_MS=${DELAY_MS}`, "node", join(ROOT, "test/fixtures/bin/junit-writer.mjs")];

const times = { local: [], ...Object.fromEntries(WORKERS.map((n) => [`workers${n}`, []])) };
for (let rep = 0; rep < REPS; rep++) {
  times.local.push(await cli(["run", ...detection, "--no-history", ...command], tmp));
  for (const n of WORKERS) {
    const workers = Array.from({ length: n }, () =>
      spawn(
        process.execPath,
        [BIN, "worker", "redis", "--redis", redisUrl, "--allow-path", tmp, "--concurrency", "1"],
        {
          stdio: ["ignore", "pipe", "pipe"],
        },
      ),
    );
    await Promise.all(workers.map((w) => waitOutput(w, /takes shards/, "worker")));
    const json = join(tmp, `w${n}.json`);
    const ms = await cli(
      [
        "run",
        "--backend",
        "server",
        "--url",
        url,
        ...detection,
        "--shard-size",
        String(SHARD),
        "--json",
        json,
        ...command,
      ],
      tmp,
    );
    const report = JSON.parse(readFileSync(json, "utf8"));
    if (report.attempts.length !== RUNS)
      throw new Error(`${n} workers: ${report.attempts.length} attempts, not ${RUNS}`);
    times[`workers${n}`].push(ms);
    await Promise.all(workers.map(stop));
  }
  console.log(
    `rep ${rep + 1}/${REPS}: ${Object.entries(times)
      .map(([k, v]) => `${k} ${Math.round(v.at(-1))} ms`)
      .join(", ")}`,
  );
}
await stop(server);
await stop(redis);
rmSync(tmp, { recursive: true, force: true });

const shards = Math.ceil(RUNS / SHARD);
const local = median(times.local);
const one = median(times.workers1);
const rows = WORKERS.map((n) => {
  const ms = median(times[`workers${n}`]);
  return {
    workers: n,
    medianMs: Math.round(ms),
    attemptsPerSecond: round(RUNS / (ms / 1000), 1),
    speedupVs1Worker: round(one / ms),
    scalingEfficiency: round(one / ms / n),
  };
});
const results = {
  date: new Date().toISOString(),
  machine: { cpus: (await import("node:os")).availableParallelism(), node: process.version },
  setup: {
    runs: RUNS,
    shardSize: SHARD,
    shards,
    perAttempt: `node junit-writer.mjs with DELAY_MS=${DELAY_MS}`,
    perWorkerParallelism: 1,
    reps: REPS,
  },
  localBaseline: { medianMs: Math.round(local), attemptsPerSecond: round(RUNS / (local / 1000), 1) },
  fanOut: rows,
  perShardOverheadMs: Math.round((one - local) / shards),
  raw: times,
};
mkdirSync(join(ROOT, "bench/results"), { recursive: true });
writeFileSync(join(ROOT, "bench/results/latest-fan-out.json"), `${JSON.stringify(results, null, 2)}\n`);
console.table([
  {
    workers: "local",
    medianMs: results.localBaseline.medianMs,
    attemptsPerSecond: results.localBaseline.attemptsPerSecond,
  },
  ...rows,
]);
console.log(`per-shard overhead: ${results.perShardOverheadMs} ms over ${shards} shards`);
console.log("written bench/results/latest-fan-out.json");
