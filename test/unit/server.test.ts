import { Writable } from "node:stream";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { buildServer } from "../../src/server/app.js";
import { openStore, type Store } from "../../src/store/open.js";
import { recordDetection } from "../../src/store/record.js";
import { ROOT } from "../helpers/cli.js";
import { startPostgres, type TestPostgres } from "../helpers/postgres.js";
import { report } from "../helpers/reports.js";

let pgServer: TestPostgres | undefined;
beforeAll(async () => {
  pgServer = await startPostgres();
}, 60_000);
afterAll(() => pgServer?.stop());

const meta = { trigger: "cli" as const, backend: "local" as const };

async function seed(store: Store): Promise<void> {
  await recordDetection(
    store,
    report("d1", "2026-11-01T10:00:00.000Z", [
      { id: "a", attempts: 30, failures: 9 },
      { id: "b", attempts: 30, failures: 0 },
    ]),
    { ...meta, branch: "main" },
  );
  await recordDetection(
    store,
    report("d2", "2026-11-03T09:00:00.000Z", [
      { id: "a", attempts: 30, failures: 3 },
      { id: "b", attempts: 30, failures: 0 },
    ]),
    { ...meta, branch: "feature" },
  );
  await recordDetection(
    store,
    report("d3", "2026-11-03T12:00:00.000Z", [{ id: "z", attempts: 30, failures: 0 }], "/srv/other"),
    meta,
  );
}

for (const engine of ["sqlite", "postgres"] as const) {
  describe(`read API on ${engine}`, () => {
    let store: Store;
    let app: FastifyInstance;
    const get = async (url: string) => {
      const res = await app.inject({ method: "GET", url });
      // biome-ignore lint/suspicious/noExplicitAny: response bodies are JSON checked field by field below
      return { status: res.statusCode, body: res.json() as Record<string, any>, headers: res.headers };
    };

    beforeEach(async () => {
      await app?.close();
      await store?.close();
      if (engine === "sqlite") store = await openStore(":memory:");
      else {
        store = await openStore(pgServer?.url as string);
        for (const t of ["attempts", "test_results", "test_rollups", "test_catalog", "detections"] as const)
          await store.db.deleteFrom(t).execute();
      }
      app = await buildServer({ store, logLevel: "silent", rateLimit: 0 });
    });
    afterAll(async () => {
      await app?.close();
      await store?.close();
    });

    it("answers an empty database with empty results, not errors", async () => {
      expect((await get("/api/v1/repositories")).body).toEqual({ repositories: [] });
      const ov = await get("/api/v1/overview");
      expect(ov.status).toBe(200);
      expect(ov.body).toMatchObject({ detections: 0, flakyTests: 0, lastStartedAt: null });
      expect((await get("/api/v1/detections")).body).toMatchObject({ total: 0, items: [] });
      expect((await get("/api/v1/trend")).body).toEqual({ days: [] });
      expect((await get("/api/v1/top-tests")).body).toEqual({ tests: [] });
      expect((await get("/health")).body).toMatchObject({ status: "ok", store: engine });
    });

    it("serves overview, trend, top tests and repositories for a window", async () => {
      await seed(store);
      const repos = (await get("/api/v1/repositories")).body.repositories;
      expect(repos).toEqual([
        { name: "/srv/other", url: null, detections: 1, lastStartedAt: "2026-11-03T12:00:00.000Z" },
        { name: "/srv/app", url: null, detections: 2, lastStartedAt: "2026-11-03T09:00:00.000Z" },
      ]);
      const all = (await get("/api/v1/overview")).body;
      expect(all).toMatchObject({
        detections: 3,
        flakyDetections: 2,
        stableDetections: 1,
        flakyTests: 1,
        brokenTests: 0,
        quarantinedTests: 0,
        // First flaky on 2026-11-01: more than a week before today.
        newFlakyTestsThisWeek: 0,
        attempts: 9,
      });
      expect(all.bySeverity).toEqual({ CRITICAL: 0, HIGH: 0, MEDIUM: 2, LOW: 0, NONE: 1 });

      const app1 = (await get("/api/v1/overview?repository=/srv/app&since=2026-11-02")).body;
      expect(app1).toMatchObject({ detections: 1, lastStartedAt: "2026-11-03T09:00:00.000Z" });
      expect(app1.window).toEqual({ repository: "/srv/app", since: "2026-11-02T00:00:00.000Z", until: null });
      const until = (await get("/api/v1/overview?until=2026-11-03")).body;
      expect(until.detections).toBe(1);

      const trend = (await get("/api/v1/trend?repository=/srv/app")).body.days;
      expect(trend.map((d: { day: string; detections: number }) => [d.day, d.detections])).toEqual([
        ["2026-11-01", 1],
        ["2026-11-03", 1],
      ]);
      const oneTest = (await get(`/api/v1/trend?repository=/srv/app&test=a`)).body.days;
      expect(oneTest.map((d: { failureRate: number }) => d.failureRate)).toEqual([0.3, 0.1]);

      const top = (await get("/api/v1/top-tests?minAttempts=10")).body.tests;
      expect(top).toHaveLength(1);
      expect(top[0]).toMatchObject({
        testId: "a",
        repository: "/srv/app",
        failingDetections: 2,
        attempts: 60,
        failures: 12,
        owner: null,
        quarantined: false,
        recent: [
          { rate: 0.3, verdict: "flaky" },
          { rate: 0.1, verdict: "flaky" },
        ],
      });
      expect(top[0].failureRate).toBeCloseTo(0.2);
    });

    it("searches test ids case-insensitively, with LIKE's wildcards taken literally", async () => {
      await seed(store);
      const found = (await get("/api/v1/tests?q=A")).body.tests;
      expect(found.map((t: { id: string; repository: string }) => `${t.repository} ${t.id}`).sort()).toEqual(
        (await get("/api/v1/tests?q=a")).body.tests
          .map((t: { id: string; repository: string }) => `${t.repository} ${t.id}`)
          .sort(),
      );
      expect(found.length).toBeGreaterThan(0);
      expect(found.every((t: { id: string }) => t.id.toLowerCase().includes("a"))).toBe(true);
      expect((await get("/api/v1/tests?q=%25")).body.tests).toEqual([]);
      expect((await get("/api/v1/tests?q=_")).body.tests).toEqual([]);
      expect((await get("/api/v1/tests?q=a&repository=/srv/nowhere")).body.tests).toEqual([]);
      const bad = await get("/api/v1/tests?q=");
      expect(bad.status).toBe(400);
      expect(JSON.stringify(bad.body)).toContain("q");
    });

    it("lists detections with filters, sorting and pagination", async () => {
      await seed(store);
      const page = (await get("/api/v1/detections?limit=2")).body;
      expect(page.total).toBe(3);
      expect(page.items.map((d: { id: string }) => d.id)).toEqual(["d3", "d2"]);
      expect(
        (await get("/api/v1/detections?limit=2&offset=2")).body.items.map((d: { id: string }) => d.id),
      ).toEqual(["d1"]);
      expect((await get("/api/v1/detections?sort=startedAt&order=asc")).body.items[0].id).toBe("d1");
      const medium = (await get("/api/v1/detections?severity=MEDIUM&verdict=flaky")).body;
      expect(medium.items.map((d: { id: string }) => d.id).sort()).toEqual(["d1", "d2"]);
      expect(
        (await get("/api/v1/detections?branch=feature")).body.items.map((d: { id: string }) => d.id),
      ).toEqual(["d2"]);
      const item = page.items[1];
      expect(item).toMatchObject({
        id: "d2",
        repository: "/srv/app",
        branch: "feature",
        verdict: "flaky",
        severity: "MEDIUM",
        tests: { total: 2, flaky: 1, failing: 0 },
        interval: [0.06, 0.79],
      });
    });

    it("returns one detection in full, and a test's history", async () => {
      await seed(store);
      const d = await get("/api/v1/detections/d1");
      expect(d.status).toBe(200);
      expect(d.body.reproduce).toBe("TEST_SEED=1 x");
      expect(d.body.tests.map((t: { id: string }) => t.id)).toEqual(["a", "b"]);
      expect(d.body.tests[0]).toMatchObject({
        failures: 9,
        failingSeeds: ["1", "2"],
        firstFailure: "boom",
        seedDeterministic: true,
      });
      expect(d.body.attempts).toHaveLength(3);
      expect(d.body.attempts[1]).toMatchObject({
        index: 1,
        outcome: "failed",
        seed: "101",
        slot: 1,
        exitCode: 1,
      });
      expect(d.body.attempts[1].outputTail.length).toBeLessThanOrEqual(4096);

      const missing = await get("/api/v1/detections/nope");
      expect(missing.status).toBe(404);
      expect(missing.body.error.message).toContain('"nope"');

      const t = await get("/api/v1/test?repository=/srv/app&id=a");
      expect(t.body.test).toMatchObject({
        id: "a",
        detections: 2,
        firstFlakyAt: "2026-11-01T10:00:00.000Z",
        lastVerdict: "flaky",
      });
      expect(
        t.body.history.map((h: { detectionId: string; branch: string }) => [h.detectionId, h.branch]),
      ).toEqual([
        ["d1", "main"],
        ["d2", "feature"],
      ]);
      expect((await get("/api/v1/test?repository=/srv/app&id=zzz")).status).toBe(404);
    });

    it("rejects bad parameters with every problem named", async () => {
      const res = await get("/api/v1/detections?since=yesterday&limit=5000&sort=speed&colour=red");
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe("E_BAD_REQUEST");
      const paths = res.body.error.problems.map((p: { path: string }) => p.path).sort();
      expect(paths).toEqual(["colour", "limit", "since", "sort"]);
      const since = res.body.error.problems.find((p: { path: string }) => p.path === "since");
      expect(since).toMatchObject({ value: "yesterday" });
      expect(since.message).toContain("2026-11-01");
      expect((await get("/api/v1/test?id=a")).body.error.problems[0].path).toBe("repository");
      expect((await get("/api/v1/top-tests?minAttempts=-1")).status).toBe(400);
    });
  });
}

describe("server security", () => {
  let store: Store;
  beforeAll(async () => {
    store = await openStore(":memory:");
    await seed(store);
  });
  afterAll(async () => store.close());

  it("requires the bearer key on /api/ and keeps it out of the logs", async () => {
    const key = "k3y-0123456789abcdef";
    let logs = "";
    const logStream = new Writable({
      write(chunk, _enc, cb) {
        logs += String(chunk);
        cb();
      },
    });
    const app = await buildServer({ store, apiKey: key, logLevel: "debug", logStream, rateLimit: 0 });
    try {
      const none = await app.inject({ url: "/api/v1/overview" });
      expect(none.statusCode).toBe(401);
      expect(none.headers["www-authenticate"]).toContain("Bearer");
      expect(
        (await app.inject({ url: "/api/v1/overview", headers: { authorization: "Bearer wrong" } }))
          .statusCode,
      ).toBe(401);
      const ok = await app.inject({ url: "/api/v1/overview", headers: { authorization: `Bearer ${key}` } });
      expect(ok.statusCode).toBe(200);
      expect((await app.inject({ url: "/health" })).statusCode).toBe(200);
      expect(logs).toContain("/api/v1/overview");
      expect(logs).not.toContain(key);
    } finally {
      await app.close();
    }
  });

  it("rate-limits the API per client", async () => {
    const app = await buildServer({ store, logLevel: "silent", rateLimit: 3 });
    try {
      const codes = [];
      for (let i = 0; i < 4; i++) codes.push((await app.inject({ url: "/api/v1/repositories" })).statusCode);
      expect(codes).toEqual([200, 200, 200, 429]);
      // The dashboard's own files are not counted.
      expect((await app.inject({ url: "/health" })).statusCode).toBe(200);
    } finally {
      await app.close();
    }
  });

  it("serves the dashboard with a strict content security policy", async () => {
    const app = await buildServer({ store, logLevel: "silent", dashboardDir: `${ROOT}/dist/dashboard` });
    try {
      const page = await app.inject({ url: "/" });
      expect(page.statusCode).toBe(200);
      expect(page.body).toContain('<main id="app"');
      expect(page.headers["content-security-policy"]).toContain("script-src 'self'");
      const chart = await app.inject({ url: "/vendor/chart.umd.min.js" });
      expect(chart.statusCode).toBe(200);
      expect(chart.body.length).toBeGreaterThan(100_000);
      const missing = await app.inject({ url: "/api/v1/nothing" });
      expect(missing.statusCode).toBe(404);
      expect(missing.json().error.message).toContain("/api/v1/nothing");
    } finally {
      await app.close();
    }
  });
});
