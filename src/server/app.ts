import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import fastifyCors from "@fastify/cors";
import fastifyRateLimit from "@fastify/rate-limit";
import fastifyStatic from "@fastify/static";
import Fastify, { type FastifyInstance, type FastifyRequest } from "fastify";
import type { ShardTransport } from "../remote/fan-out.js";
import { withoutCredentials } from "../source/repo-spec.js";
import type { Store } from "../store/open.js";
import { TOOL } from "../version.js";
import { type AllowedHosts, checkAccess, isDashboardRoute, isProtected } from "./access.js";
import { Authenticator } from "./auth.js";
import { jobHealth, registerJobApi } from "./job-api.js";
import type { JobContext } from "./job-input.js";
import { JobRunner } from "./job-runner.js";
import { registerJsonBodyParser } from "./json-body.js";
import { JobMetrics } from "./metrics.js";
import { openApiDocument } from "./openapi.js";
import { BadRequest } from "./params.js";
import { registerReadApi } from "./read-api.js";

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface ServerOptions {
  store: Store;
  /**
   * When set (or when the database holds API keys), every API route needs
   * `Authorization: Bearer <key>`; /health, /openapi.json and the dashboard's files stay open.
   */
  apiKey?: string | undefined;
  /** The job API; without it only the read API and dashboard are served. */
  jobs?: JobsOptions;
  /** Largest request body in bytes (default 1 MiB). */
  bodyLimit?: number;
  /** Origins allowed by CORS; none (the default) sends no CORS headers at all. */
  corsOrigins?: string[];
  /**
   * Host names the server answers to besides IP literals and localhost (DNS rebinding guard);
   * "any" turns the check off (behind a reverse proxy that checks Host itself).
   */
  allowedHosts?: AllowedHosts;
  /** Requests per minute per client address on protected routes (0 turns the limit off). */
  rateLimit?: number;
  logLevel?: LogLevel;
  /** Where pino writes its JSON lines (default stderr). */
  logStream?: NodeJS.WritableStream;
  /** Where the built dashboard lives; defaults to the package's dist/dashboard. */
  dashboardDir?: string;
}

export interface JobsOptions {
  /** Jobs this instance runs at once; 0 only accepts them (another instance on the same database runs them). */
  concurrency: number;
  maxQueue: number;
  ctx: JobContext;
  leaseMs?: number;
  pollMs?: number;
  /** Seconds running jobs get to finish on shutdown before they are put back in the queue. */
  shutdownGraceMs?: number;
  tempRoot?: string;
  /** Fan detections out over this transport (serve --redis) instead of running them in-process. */
  fanOut?: ShardTransport;
}

function scrubUrls(value: unknown, depth = 0): unknown {
  if (typeof value === "string") return withoutCredentials(value);
  if (depth > 20 || value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map((v) => scrubUrls(v, depth + 1));
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, scrubUrls(v, depth + 1)]));
}

/** The dashboard's files as built next to this module (dist/server → dist/dashboard). */
export function defaultDashboardDir(): string {
  return fileURLToPath(new URL("../dashboard/", import.meta.url));
}

/** Fastify app: job API, read API, static dashboard, health, metrics. Listening is the caller's business. */
export async function buildServer(opts: ServerOptions): Promise<FastifyInstance> {
  const app = Fastify({
    bodyLimit: opts.bodyLimit ?? 1024 * 1024,
    logger: {
      level: opts.logLevel ?? "info",
      // The Authorization header must never reach a log line.
      redact: ["req.headers.authorization"],
      stream: opts.logStream ?? process.stderr,
    },
  });

  if ((opts.rateLimit ?? 600) > 0) {
    await app.register(fastifyRateLimit, {
      max: opts.rateLimit ?? 600,
      timeWindow: "1 minute",
      allowList: (req) => !isProtected(req),
    });
  }
  if (opts.corsOrigins && opts.corsOrigins.length > 0) {
    await app.register(fastifyCors, { origin: opts.corsOrigins, methods: ["GET", "POST"] });
  }

  registerJsonBodyParser(app);
  const allowedHosts = opts.allowedHosts ?? [];
  const origins = opts.corsOrigins ?? [];
  const auth = new Authenticator(opts.store, opts.apiKey);
  app.addHook("onRequest", async (req, reply) => {
    const refused = checkAccess(req, allowedHosts, origins);
    if (refused) {
      return reply.code(refused.status).send({ error: { code: refused.code, message: refused.message } });
    }
    if (!isProtected(req)) return;
    const result = await auth.check(req.headers.authorization);
    if (result.ok) {
      if (result.keyId) (req as FastifyRequest & { apiKeyId?: string }).apiKeyId = result.keyId;
      return;
    }
    return reply
      .code(401)
      .header("www-authenticate", 'Bearer realm="flaky-detector"')
      .send({
        error: {
          code: "E_UNAUTHORIZED",
          message:
            "missing or wrong API key: send Authorization: Bearer <key> (the server's FLAKY_DETECTOR_API_KEY or a key from `flaky-detector api-key create`)",
        },
      });
  });

  app.setErrorHandler((error, req, reply) => {
    if (error instanceof BadRequest) {
      // Values are echoed so the caller sees what was wrong, but never a URL's credentials.
      const problems = error.problems.map((p) => ({
        ...p,
        message: withoutCredentials(p.message),
        ...(p.value !== undefined ? { value: scrubUrls(p.value) } : {}),
      }));
      return reply.code(400).send({
        error: { code: "E_BAD_REQUEST", message: withoutCredentials(error.message), problems },
      });
    }
    const status = (error as { statusCode?: number }).statusCode;
    const code = (error as { code?: string }).code ?? "";
    if (status === 400 && code.startsWith("FST_ERR_CTP")) {
      // The JSON parser refuses bad JSON and, against prototype poisoning, __proto__ and
      // constructor.prototype keys: say both, since its own message names only the first.
      return reply.code(400).send({
        error: {
          code: "E_BAD_REQUEST",
          message: "the request body is not usable JSON",
          problems: [
            {
              path: "",
              message: `the request body is not valid JSON or uses a refused key (__proto__, constructor.prototype): ${(error as Error).message}`,
            },
          ],
        },
      });
    }
    if (status === 413) {
      return reply.code(413).send({
        error: {
          code: "E_BODY_TOO_LARGE",
          message: `the request body is larger than this server accepts (${opts.bodyLimit ?? 1024 * 1024} bytes); the operator can raise it with serve --body-limit`,
        },
      });
    }
    if (status && status < 500) {
      return reply.code(status).send({ error: { code: "E_REQUEST", message: (error as Error).message } });
    }
    req.log.error({ err: error }, "request failed");
    return reply
      .code(500)
      .send({ error: { code: "E_INTERNAL", message: "internal error; see the server log" } });
  });

  // The dashboard loads only its own files; nothing inline, nothing from elsewhere.
  app.addHook("onSend", async (req, reply) => {
    reply.header("x-content-type-options", "nosniff");
    reply.header("referrer-policy", "no-referrer");
    if (isDashboardRoute(req)) {
      reply.header(
        "content-security-policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
      );
    }
  });

  const metrics = new JobMetrics();
  const closing = new AbortController();
  let runner: JobRunner | undefined;
  if (opts.jobs) {
    const jobs = opts.jobs;
    runner = new JobRunner({
      store: opts.store,
      concurrency: jobs.concurrency,
      ctx: jobs.ctx,
      log: app.log.child({ component: "jobs" }),
      metrics,
      ...(jobs.leaseMs !== undefined ? { leaseMs: jobs.leaseMs } : {}),
      ...(jobs.pollMs !== undefined ? { pollMs: jobs.pollMs } : {}),
      ...(jobs.tempRoot !== undefined ? { tempRoot: jobs.tempRoot } : {}),
      ...(jobs.fanOut !== undefined ? { fanOut: jobs.fanOut } : {}),
    });
    registerJobApi(app, {
      store: opts.store,
      runner,
      metrics,
      ctx: jobs.ctx,
      maxQueue: jobs.maxQueue,
      closing: closing.signal,
    });
    const started = runner;
    app.addHook("onReady", () => started.start());
    // Stop accepting first (preClose ends waits and event streams so close is not held up by
    // them), then give running jobs their grace and put the rest back in the queue.
    app.addHook("preClose", async () => closing.abort());
    app.addHook("onClose", () => started.stop(jobs.shutdownGraceMs ?? 30_000));
  }

  app.get("/health", async () => ({
    status: "ok",
    version: TOOL.version,
    store: opts.store.kind,
    ...(runner ? await jobHealth(opts.store, runner) : {}),
  }));
  app.get("/openapi.json", async () => openApiDocument());

  registerReadApi(app, opts.store);

  const dir = opts.dashboardDir ?? defaultDashboardDir();
  if (existsSync(dir)) {
    await app.register(fastifyStatic, { root: dir, prefix: "/", index: ["index.html"] });
  }
  app.setNotFoundHandler((req, reply) =>
    reply
      .code(404)
      .send({ error: { code: "E_NOT_FOUND", message: `no route ${req.method} ${req.url.split("?")[0]}` } }),
  );
  return app;
}
