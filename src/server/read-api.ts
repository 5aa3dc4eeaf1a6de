import type { FastifyInstance } from "fastify";
import type { Store } from "../store/open.js";
import {
  getDetection,
  listDetections,
  overview,
  repositorySummaries,
  searchTests,
  statsBySeverity,
  testTimeline,
  topFlaky,
  trend,
} from "../store/queries.js";
import {
  attemptDto,
  catalogDto,
  detectionDto,
  detectionLinks,
  detectionReproduce,
  testResultDto,
} from "./dto.js";
import {
  detectionsQuery,
  parseQuery,
  searchQuery,
  testQuery,
  topQuery,
  trendQuery,
  windowQuery,
} from "./params.js";

const SORT_COLUMN = {
  startedAt: "started_at",
  failureRate: "failure_rate",
  durationMs: "duration_ms",
} as const;

/** The read API the dashboard is built on (documented in docs/api.md). Read-only. */
export function registerReadApi(app: FastifyInstance, store: Store): void {
  app.get("/api/v1/repositories", async () => ({ repositories: await repositorySummaries(store) }));

  app.get("/api/v1/overview", async (req) => {
    const w = parseQuery(windowQuery, req.query);
    const [totals, severity] = await Promise.all([overview(store, w), statsBySeverity(store, w)]);
    return {
      window: { repository: w.repository ?? null, since: w.since ?? null, until: w.until ?? null },
      ...totals,
      bySeverity: Object.fromEntries(Object.entries(severity).map(([k, v]) => [k.toUpperCase(), v])),
    };
  });

  app.get("/api/v1/trend", async (req) => {
    const q = parseQuery(trendQuery, req.query);
    const days = await trend(store, { ...q, ...(q.test ? { testId: q.test } : {}) });
    return { days };
  });

  app.get("/api/v1/top-tests", async (req) => {
    const q = parseQuery(topQuery, req.query);
    return { tests: await topFlaky(store, q) };
  });

  app.get("/api/v1/tests", async (req) => {
    const q = parseQuery(searchQuery, req.query);
    const rows = await searchTests(store, {
      text: q.q,
      limit: q.limit,
      ...(q.repository ? { repository: q.repository } : {}),
    });
    return { tests: rows.map(catalogDto) };
  });

  app.get("/api/v1/detections", async (req) => {
    const q = parseQuery(detectionsQuery, req.query);
    const res = await listDetections(store, { ...q, sort: SORT_COLUMN[q.sort] });
    return {
      total: res.total,
      limit: q.limit,
      offset: q.offset,
      items: res.rows.map(detectionDto),
    };
  });

  app.get<{ Params: { id: string } }>("/api/v1/detections/:id", async (req, reply) => {
    const found = await getDetection(store, req.params.id);
    if (!found) {
      return reply.code(404).send({
        error: {
          code: "E_NOT_FOUND",
          message: `no detection ${JSON.stringify(req.params.id)}; list them at /api/v1/detections`,
        },
      });
    }
    return {
      detection: detectionDto(found.detection),
      reproduce: detectionReproduce(found.detection, found.tests),
      tests: found.tests.map(testResultDto),
      attempts: found.attempts.map(attemptDto),
    };
  });

  app.get("/api/v1/test", async (req, reply) => {
    const q = parseQuery(testQuery, req.query);
    const { catalog, results, total } = await testTimeline(store, q.repository, q.id, q.limit);
    if (!catalog) {
      return reply.code(404).send({
        error: {
          code: "E_NOT_FOUND",
          message: `no test ${JSON.stringify(q.id)} in ${JSON.stringify(q.repository)}; see /api/v1/top-tests`,
        },
      });
    }
    const latest = results.at(-1);
    return {
      test: {
        ...catalogDto(catalog),
        owner: latest?.owner ?? null,
        quarantined: latest?.quarantined === 1,
      },
      total,
      history: results.map((r) => ({
        detectionId: r.detection_id,
        startedAt: r.started_at,
        attempts: r.attempts,
        failures: r.failures,
        failureRate: r.failure_rate,
        interval: [r.interval_lo, r.interval_hi],
        severity: r.severity.toUpperCase(),
        verdict: r.verdict,
        commit: r.commit_sha,
        branch: r.branch,
        links: detectionLinks(r),
      })),
    };
  });
}
