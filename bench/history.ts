// npm run bench:history — the history store and read API at scale, on SQLite and PostgreSQL.
// Seeds BENCH_DETECTIONS detections (default 100,000) with 20 per-test rows each (2,000,000), 5
// attempts each, over 365 days and 20 repositories of very different sizes (Zipf); then measures
// every read endpoint over real HTTP (p50/p95 of sequential requests) and recording a 1,000-attempt
// detection. Writes bench/results/latest-history.json.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import SQLite from "better-sqlite3";
import { CompiledQuery, type KyselyPlugin, type RootOperationNode, sql } from "kysely";
import pg from "pg";
import type { Report } from "../src/analysis/report.js";
import { buildServer } from "../src/server/app.js";
import { openStore, type Store } from "../src/store/open.js";
import { topFlaky } from "../src/store/queries.js";
import { recordDetection } from "../src/store/record.js";
import { rankWindow, rebuildLastFailing, rebuildRollups } from "../src/store/rollups.js";
import { startPostgres } from "../test/helpers/postgres.js";

const DETECTIONS = Number(process.env.BENCH_DETECTIONS ?? 100_000);
const TESTS_PER_DETECTION = 20;
const ATTEMPTS_PER_DETECTION = 5;
const REPOS = 20;
const TESTS_PER_REPO = 500;
const DAYS = 365;
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 40);
// BENCH_FLAKY_SHARE=0.05: only that share of the tests ever fail (a real history, where most never
// do); by default every test may, and 30% of all results fail. Results go to their own file.
const FLAKY_SHARE = Number(process.env.BENCH_FLAKY_SHARE ?? 1);
const NOW = Date.parse("2026-11-24T12:00:00Z");

function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const repoName = (i: number) => `https://git.example.com/team/service-${String(i).padStart(2, "0")}.git`;
const testName = (i: number) => `tests/module_${i % 40}/test_feature.py::test_case_${i}`;
const severityOf = (r: number) =>
  r >= 0.9 ? "critical" : r >= 0.5 ? "high" : r >= 0.1 ? "medium" : r > 0 ? "low" : "none";

type Row = Record<string, string | number | null>;

/** The seeded data set, generated in batches so memory stays flat. */
function* batches(size: number): Generator<{ detections: Row[]; tests: Row[]; attempts: Row[] }> {
  const rand = rng(42);
  const weights = Array.from({ length: REPOS }, (_, i) => 1 / (i + 1));
  const total = weights.reduce((a, b) => a + b, 0);
  const pickRepo = () => {
    let x = rand() * total;
    for (let i = 0; i < REPOS; i++) {
      x -= weights[i] as number;
      if (x <= 0) return i;
    }
    return REPOS - 1;
  };
  let detections: Row[] = [];
  let tests: Row[] = [];
  let attempts: Row[] = [];
  for (let n = 0; n < DETECTIONS; n++) {
    const id = `bench-${String(n).padStart(7, "0")}`;
    const repository = repoName(pickRepo());
    const started = new Date(NOW - rand() * DAYS * 86_400_000).toISOString();
    const chosen = new Set<number>();
    while (chosen.size < TESTS_PER_DETECTION) chosen.add(Math.floor(TESTS_PER_REPO * rand() ** 2));
    const runs = [20, 50, 100, 200][Math.floor(rand() * 4)] as number;
    let worst = 0;
    let flaky = 0;
    let failing = 0;
    for (const t of chosen) {
      const kind = rand();
      const base = ((t * 2654435761) % 1000) / 1000;
      const mayFail = ((t * 40503 + repository.length * 7919) % 1000) / 1000 < FLAKY_SHARE;
      const failures =
        !mayFail || kind < 0.7
          ? 0
          : kind < 0.95
            ? Math.max(1, Math.min(runs - 1, Math.round(runs * base * 0.6)))
            : runs;
      const rate = failures / runs;
      const verdict = failures === 0 ? "stable" : failures === runs ? "failing" : "flaky";
      if (verdict === "flaky") flaky++;
      if (verdict === "failing") failing++;
      worst = Math.max(worst, rate);
      tests.push({
        detection_id: id,
        repository,
        test_id: testName(t),
        name: `test_case_${t}`,
        file: `tests/module_${t % 40}/test_feature.py`,
        started_at: started,
        attempts: runs,
        failures,
        failure_rate: rate,
        interval_lo: Math.max(0, rate - 0.1),
        interval_hi: Math.min(1, rate + 0.1),
        severity: severityOf(rate),
        verdict,
        failing_seeds: failures > 0 ? "[1234,5678]" : "[]",
        first_failure: failures > 0 ? "AssertionError: expected 3, got 2" : null,
        reproduce: failures > 0 ? `TEST_SEED=1234 pytest ${testName(t)}` : null,
        seed_deterministic: failures > 0 ? 0 : null,
      });
    }
    detections.push({
      id,
      repository,
      command: "python -m pytest -q",
      framework: "pytest",
      ref: "main",
      commit_sha: (n * 2654435761).toString(16).padStart(40, "0").slice(0, 40),
      branch: n % 3 === 0 ? "main" : `feature-${n % 50}`,
      pr_number: n % 3 === 0 ? null : n % 5000,
      trigger: "action",
      backend: "local",
      started_at: started,
      duration_ms: 30_000 + Math.floor(rand() * 300_000),
      attempts: runs,
      failed_attempts: Math.round(runs * worst),
      failure_rate: worst,
      interval_lo: Math.max(0, worst - 0.1),
      interval_hi: Math.min(1, worst + 0.1),
      severity: severityOf(worst),
      verdict: failing > 0 ? "failing" : flaky > 0 ? "flaky" : "stable",
      tests_total: TESTS_PER_DETECTION,
      tests_flaky: flaky,
      tests_failing: failing,
      job_seed: String(n),
      stop_reason: "budget",
    });
    for (let i = 0; i < ATTEMPTS_PER_DETECTION; i++)
      attempts.push({
        detection_id: id,
        idx: i,
        seed: String(1000 + i),
        slot: i % 2,
        outcome: i === 0 && worst > 0 ? "failed" : "passed",
        duration_ms: 2000 + i,
        exit_code: i === 0 && worst > 0 ? 1 : 0,
        output_tail: "FAILED tests/module_1/test_feature.py::test_case_1 - AssertionError",
      });
    if (detections.length === size) {
      yield { detections, tests, attempts };
      detections = [];
      tests = [];
      attempts = [];
    }
  }
  if (detections.length > 0) yield { detections, tests, attempts };
}

const CATALOG_SQL = `insert into test_catalog (repository, test_id, first_seen, last_seen, last_verdict, last_severity, first_flaky_at, detections, test_key)
  select repository, test_id, min(started_at), max(started_at), 'flaky', 'medium',
         min(case when verdict = 'flaky' then started_at end), count(*),
         row_number() over (order by repository, test_id)
  from test_results group by repository, test_id`;

/** The running totals the ranking reads (src/store/rollups.ts), from the seeded test results. */
async function seedRollups(target: string): Promise<void> {
  const store = await openStore(target);
  if (store.kind === "postgres")
    await sql`select setval('test_catalog_key_seq', (select max(test_key) from test_catalog) + 1, false)`.execute(
      store.db,
    );
  await rebuildRollups(store.db);
  await rebuildLastFailing(store.db);
  // What autovacuum does after a bulk load: statistics, and the visibility map index-only scans need.
  if (store.kind === "postgres") await sql`vacuum analyze`.execute(store.db);
  await store.close();
}

function seedSqlite(file: string): void {
  const db = new SQLite(file);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = OFF"); // seeding only; measurements use the store's own settings
  const insert = (table: string, row: Row) =>
    db.prepare(
      `insert into ${table} (${Object.keys(row).join(", ")}) values (${Object.keys(row)
        .map(() => "?")
        .join(", ")})`,
    );
  let stmts: Record<string, SQLite.Statement> | undefined;
  const load = db.transaction((b: { detections: Row[]; tests: Row[]; attempts: Row[] }) => {
    stmts ??= {
      detections: insert("detections", b.detections[0] as Row),
      test_results: insert("test_results", b.tests[0] as Row),
      attempts: insert("attempts", b.attempts[0] as Row),
    };
    for (const r of b.detections) stmts.detections?.run(Object.values(r));
    for (const r of b.tests) stmts.test_results?.run(Object.values(r));
    for (const r of b.attempts) stmts.attempts?.run(Object.values(r));
  });
  for (const b of batches(5000)) load(b);
  db.exec(CATALOG_SQL);
  db.close();
}

async function seedPostgres(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const types: Record<string, Record<string, string>> = {};
  const insert = async (table: string, rows: Row[]) => {
    const cols = Object.keys(rows[0] as Row);
    const t = types[table] as Record<string, string>;
    // unnest over one array per column: one statement per batch, any number of rows.
    await client.query(
      `insert into ${table} (${cols.join(", ")}) select * from unnest(${cols.map((c, i) => `$${i + 1}::${t[c]}[]`).join(", ")})`,
      cols.map((c) => rows.map((r) => r[c] ?? null)),
    );
  };
  for (const table of ["detections", "test_results", "attempts"]) {
    const res = await client.query(
      "select column_name, data_type from information_schema.columns where table_name = $1",
      [table],
    );
    types[table] = Object.fromEntries(
      res.rows.map((r: { column_name: string; data_type: string }) => [
        r.column_name,
        r.data_type === "character varying" ? "varchar" : r.data_type,
      ]),
    );
  }
  for (const b of batches(5000)) {
    await client.query("begin");
    await insert("detections", b.detections);
    await insert("test_results", b.tests);
    await insert("attempts", b.attempts);
    await client.query("commit");
  }
  await client.query(CATALOG_SQL);
  // What autovacuum does shortly after a bulk load; measured queries then see real statistics.
  await client.query("analyze");
  await client.end();
}

/** The ranking as it was computed before running totals: every test result of the window summed. */
async function summedTop(store: Store, since: string) {
  const res = await sql<{ repository: string; test_id: string; a: number; x: number }>`
    select repository, test_id, sum(attempts) as a, sum(failures) as x
    from test_results where verdict in ('flaky', 'stable') and started_at >= ${since}
    group by repository, test_id
    having sum(attempts) >= 20 and sum(failures) > 0
    order by (1.0 * sum(failures) / sum(attempts)) * sum(case when failures > 0 then 1 else 0 end) desc, test_id, repository
    limit 10`.execute(store.db);
  return res.rows.map((r) => [r.repository, r.test_id, Number(r.a), Number(r.x)]);
}

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)] as number;
}

/** A Report of one detection with 1,000 attempts (4 KiB output tails) and 50 tests. */
function bigReport(id: string): Report {
  const tests = Array.from({ length: 50 }, (_, i) => ({
    id: `tests/test_big.py::test_${i}`,
    name: `test_${i}`,
    file: "tests/test_big.py",
    line: null,
    attempts: 1000,
    failures: i % 5 === 0 ? 30 : 0,
    timeouts: 0,
    skipped: 0,
    failureRate: i % 5 === 0 ? 0.03 : 0,
    interval: [0.02, 0.04],
    severity: i % 5 === 0 ? "low" : "none",
    verdict: i % 5 === 0 ? "flaky" : "stable",
    bound: null,
    failingSeeds: i % 5 === 0 ? [1, 2, 3] : [],
    firstFailure: i % 5 === 0 ? { attempt: 3, seed: 1, message: "assert 2 == 3" } : null,
    reproduce: i % 5 === 0 ? `TEST_SEED=1 pytest tests/test_big.py::test_${i}` : null,
    seedDeterministic: null,
    orderDependent: null,
    resourceSensitive: null,
    innerReruns: 0,
  }));
  return {
    schemaVersion: 1,
    id,
    createdAt: new Date(NOW).toISOString(),
    tool: { name: "flaky-detector", version: "bench" },
    request: { command: ["python", "-m", "pytest"], seed: 9 },
    source: { repo: repoName(0), ref: "main", commit: "f".repeat(40), kind: "git" },
    framework: "pytest",
    summary: {
      attempts: 1000,
      failedAttempts: 120,
      failureRate: 0.12,
      interval: [0.1, 0.14],
      severity: "medium",
      verdict: "flaky",
      stopReason: "budget",
      tests: { total: 50, stable: 40, flaky: 10, failing: 0, error: 0, ignored: 0 },
    },
    tests,
    attempts: Array.from({ length: 1000 }, (_, i) => ({
      index: i,
      seed: 100000 + i,
      slot: i % 8,
      outcome: i % 9 === 0 ? "failed" : "passed",
      exitCode: i % 9 === 0 ? 1 : 0,
      signal: null,
      durationMs: 1500,
      timedOut: false,
      tests: null,
      outputTail: `${"collected 50 items\n".repeat(150)}`.slice(0, 4096),
      outputBytes: 4096,
    })),
    timings: { sourceMs: 1, installMs: 0, isolationMs: 0, runMs: 5, totalMs: 6 },
  } as unknown as Report;
}

async function measure(engine: "sqlite" | "postgres", target: string) {
  const store: Store = await openStore(target);
  const app = await buildServer({ store, logLevel: "silent", rateLimit: 0 });
  const base = await app.listen({ host: "127.0.0.1", port: 0 });
  const big = repoName(0);
  const small = repoName(REPOS - 1);
  const since30 = new Date(NOW - 30 * 86_400_000).toISOString();
  const since90 = new Date(NOW - 90 * 86_400_000).toISOString();
  const rand = rng(7);
  const id = () => `bench-${String(Math.floor(rand() * DETECTIONS)).padStart(7, "0")}`;
  const test = () => testName(Math.floor(TESTS_PER_REPO * rand() ** 2));
  const q = (p: Record<string, string | number>) =>
    `?${new URLSearchParams(Object.entries(p).map(([k, v]) => [k, String(v)]))}`;
  // What the dashboard asks for by default (30 days), per repository and for all, plus deep pages.
  const cases: Record<string, () => string> = {
    repositories: () => "/api/v1/repositories",
    "overview (all repos, 30d)": () => `/api/v1/overview${q({ since: since30 })}`,
    "overview (largest repo, 30d)": () => `/api/v1/overview${q({ repository: big, since: since30 })}`,
    "trend (all repos, 30d)": () => `/api/v1/trend${q({ since: since30 })}`,
    "trend (largest repo, 90d)": () => `/api/v1/trend${q({ repository: big, since: since90 })}`,
    "trend (one test, 90d)": () => `/api/v1/trend${q({ repository: big, test: test(), since: since90 })}`,
    "top-tests (all repos, 30d)": () => `/api/v1/top-tests${q({ since: since30, limit: 10 })}`,
    "top-tests (largest repo, 30d)": () =>
      `/api/v1/top-tests${q({ repository: big, since: since30, limit: 10 })}`,
    "top-tests (smallest repo, 90d)": () =>
      `/api/v1/top-tests${q({ repository: small, since: since90, limit: 10 })}`,
    "detections (all, 30d, page 1)": () => `/api/v1/detections${q({ since: since30, limit: 25 })}`,
    "detections (largest repo, 30d, by rate)": () =>
      `/api/v1/detections${q({ repository: big, since: since30, sort: "failureRate", limit: 25 })}`,
    "detections (30d, flaky, page 20)": () =>
      `/api/v1/detections${q({ since: since30, verdict: "flaky", limit: 25, offset: 475 })}`,
    "detection by id": () => `/api/v1/detections/${id()}`,
    "test history": () => `/api/v1/test${q({ repository: big, id: test() })}`,
    "test search (largest repo)": () => `/api/v1/tests${q({ repository: big, q: "test_1" })}`,
    "test search (all repos)": () => `/api/v1/tests${q({ q: "test_1" })}`,
    // Worst cases reported for information: a whole year across every repository.
    "overview (all repos, all time)": () => "/api/v1/overview",
    "top-tests (all repos, 365d)": () =>
      `/api/v1/top-tests${q({ since: new Date(NOW - 365 * 86_400_000).toISOString() })}`,
  };
  const endpoints: Record<string, { p50: number; p95: number; max: number }> = {};
  // The first ranking across repositories of a new edge day builds that day's rollup_edges
  // (docs/design/history.md); every later one reads them. Timed once, then once more built.
  let t0 = performance.now();
  await topFlaky(store, { since: since30, limit: 10 });
  const firstRanking = performance.now() - t0;
  t0 = performance.now();
  await topFlaky(store, { since: since30, limit: 10 });
  const builtRanking = performance.now() - t0;
  console.log(
    `${engine}  top tests 30d, first of its edge day (builds it) ${firstRanking.toFixed(1)} ms, then ${builtRanking.toFixed(1)} ms`,
  );
  for (const [name, url] of Object.entries(cases)) {
    const times: number[] = [];
    // Warm-up: as many requests at once as the server has database connections (openStore keeps
    // 4), so that each has run this route's query once. A connection's first large query on
    // PostgreSQL costs about 3× a warm one's (docs/design/history.md); sequential warm-ups left
    // connections that only the sparkline lookups had used, and their first ranking then fell
    // among the samples. Then three sequential ones, as before.
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        const res = await fetch(base + url());
        await res.arrayBuffer();
      }),
    );
    for (let i = 0; i < SAMPLES + 3; i++) {
      const t0 = performance.now();
      const res = await fetch(base + url());
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`${name}: HTTP ${res.status}`);
      if (i >= 3) times.push(performance.now() - t0);
    }
    endpoints[name] = { p50: quantile(times, 0.5), p95: quantile(times, 0.95), max: Math.max(...times) };
    console.log(
      `${engine}  ${name.padEnd(42)} p50 ${endpoints[name].p50.toFixed(1).padStart(7)} ms  p95 ${endpoints[name].p95.toFixed(1).padStart(7)} ms`,
    );
  }
  // The same ranking as the query before running totals (every test result of the window summed),
  // against topFlaky, interleaved on one connection without HTTP: the ratio of the same run.
  // Also the ranking query alone (rankOnly): topFlaky adds one sparkline lookup per ranked test.
  const compare = { summed: [] as number[], rollups: [] as number[], rankOnly: [] as number[] };
  for (let i = 0; i < SAMPLES + 3; i++) {
    let t0 = performance.now();
    const a = await summedTop(store, since30);
    const summedMs = performance.now() - t0;
    t0 = performance.now();
    const b = await topFlaky(store, { since: since30, limit: 10 });
    const rollupMs = performance.now() - t0;
    t0 = performance.now();
    await rankWindow(
      store.db,
      store.kind,
      { since: since30 },
      {
        minAttempts: 20,
        limit: 10,
        score: sql<number>`(1.0 * failures / attempts) * failing`,
      },
    );
    const rankOnlyMs = performance.now() - t0;
    if (
      i === 0 &&
      JSON.stringify(a) !== JSON.stringify(b.map((t) => [t.repository, t.testId, t.attempts, t.failures]))
    )
      throw new Error(`running totals and summing disagree: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
    if (i >= 3) {
      compare.summed.push(summedMs);
      compare.rollups.push(rollupMs);
      compare.rankOnly.push(rankOnlyMs);
    }
  }
  const ranking = {
    what: "top 10 tests, all repositories, 30 days, on the store without HTTP",
    summingP50: quantile(compare.summed, 0.5),
    summingP95: quantile(compare.summed, 0.95),
    rollupsP50: quantile(compare.rollups, 0.5),
    rollupsP95: quantile(compare.rollups, 0.95),
    ratioP50: quantile(compare.rollups, 0.5) / quantile(compare.summed, 0.5),
    rankQueryP50: quantile(compare.rankOnly, 0.5),
    rankQueryP95: quantile(compare.rankOnly, 0.95),
  };
  console.log(
    `${engine}  ranking 30d: summing p50 ${ranking.summingP50.toFixed(1)} ms, running totals p50 ${ranking.rollupsP50.toFixed(1)} ms (ratio ${ranking.ratioP50.toFixed(3)}), of which the ranking query p50 ${ranking.rankQueryP50.toFixed(1)} ms`,
  );
  // BENCH_EXPLAIN=1: the ranking query's plan, as the engine ran it (where its time goes).
  if (process.env.BENCH_EXPLAIN) {
    let node: RootOperationNode | undefined;
    const capture: KyselyPlugin = {
      transformQuery: (args) => {
        node = args.node;
        return args.node;
      },
      transformResult: async (args) => args.result,
    };
    const db = store.db.withPlugin(capture);
    await rankWindow(
      db,
      store.kind,
      { since: since30 },
      {
        minAttempts: 20,
        limit: 10,
        score: sql<number>`(1.0 * failures / attempts) * failing`,
      },
    );
    if (!node) throw new Error("no query captured");
    const q = db.getExecutor().compileQuery(node, { queryId: "explain" } as never);
    const explain = engine === "postgres" ? "explain (analyze, buffers) " : "explain query plan ";
    const plan = await store.db.executeQuery(CompiledQuery.raw(explain + q.sql, [...q.parameters]));
    console.log(
      `${engine}  ranking plan:\n${plan.rows.map((r) => Object.values(r as object).join(" ")).join("\n")}`,
    );
  }
  const record: number[] = [];
  for (let i = 0; i < 10; i++) {
    const t0 = performance.now();
    await recordDetection(store, bigReport(`bench-big-${i}`), { trigger: "cli", backend: "local" });
    record.push(performance.now() - t0);
  }
  const recording = { p50: quantile(record, 0.5), p95: quantile(record, 0.95), max: Math.max(...record) };
  console.log(
    `${engine}  record 1,000-attempt detection               p50 ${recording.p50.toFixed(1)} ms  max ${recording.max.toFixed(1)} ms`,
  );
  await app.close();
  await store.close();
  return { endpoints, ranking, recording, edgeBuild: { firstRankingMs: firstRanking, thenMs: builtRanking } };
}

const results: Record<string, unknown> = {
  date: new Date().toISOString(),
  detections: DETECTIONS,
  testRows: DETECTIONS * TESTS_PER_DETECTION,
  attemptRows: DETECTIONS * ATTEMPTS_PER_DETECTION,
  samplesPerEndpoint: SAMPLES,
  flakyShare: FLAKY_SHARE,
};
const engines = (process.env.BENCH_ENGINES ?? "sqlite,postgres").split(",");
if (engines.includes("sqlite")) {
  const dir = mkdtempSync(join(tmpdir(), "fd-bench-hist-"));
  try {
    const file = join(dir, "history.db");
    await (await openStore(file)).close(); // migrations, exactly as a user's database
    let t0 = performance.now();
    seedSqlite(file);
    await seedRollups(file);
    console.log(`sqlite  seeded in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    t0 = performance.now();
    results.sqlite = await measure("sqlite", file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
if (engines.includes("postgres")) {
  const server = await startPostgres({ durable: true });
  try {
    await (await openStore(server.url)).close();
    const t0 = performance.now();
    await seedPostgres(server.url);
    await seedRollups(server.url);
    console.log(`postgres  seeded in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    results.postgres = await measure("postgres", server.url);
  } finally {
    server.stop();
  }
}
const out = join(import.meta.dirname, "results");
mkdirSync(out, { recursive: true });
const file = join(
  out,
  FLAKY_SHARE < 1 ? `latest-history-flaky-share-${FLAKY_SHARE}.json` : "latest-history.json",
);
// BENCH_ENGINES=sqlite re-measures one engine and keeps the other's last figures (each dated).
let previous: Record<string, unknown> = {};
try {
  previous = JSON.parse(readFileSync(file, "utf8"));
} catch {}
for (const engine of ["sqlite", "postgres"])
  if (results[engine]) results[engine] = { date: results.date, ...(results[engine] as object) };
writeFileSync(file, `${JSON.stringify({ ...previous, ...results }, null, 2)}\n`);
