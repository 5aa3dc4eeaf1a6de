import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import fastifyRateLimit from "@fastify/rate-limit";
import fastifyStatic from "@fastify/static";
import Fastify, { type FastifyInstance } from "fastify";
import type { Store } from "../store/open.js";
import { TOOL } from "../version.js";
import { bearerMatches } from "./auth.js";
import { BadRequest } from "./params.js";
import { registerReadApi } from "./read-api.js";

export const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface ServerOptions {
  store: Store;
  /** When set, every /api/ route needs `Authorization: Bearer <key>`. */
  apiKey?: string | undefined;
  /** Requests per minute per client address on /api/ (0 turns the limit off). */
  rateLimit?: number;
  logLevel?: LogLevel;
  /** Where pino writes its JSON lines (default stderr). */
  logStream?: NodeJS.WritableStream;
  /** Where the built dashboard lives; defaults to the package's dist/dashboard. */
  dashboardDir?: string;
}

/** The dashboard's files as built next to this module (dist/server → dist/dashboard). */
export function defaultDashboardDir(): string {
  return fileURLToPath(new URL("../dashboard/", import.meta.url));
}

/** Fastify app: read API, static dashboard, health. Listening is the caller's business. */
export async function buildServer(opts: ServerOptions): Promise<FastifyInstance> {
  const app = Fastify({
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
      allowList: (req) => !req.url.startsWith("/api/"),
    });
  }

  app.addHook("onRequest", async (req, reply) => {
    if (!opts.apiKey || !req.url.startsWith("/api/")) return;
    if (!bearerMatches(req.headers.authorization, opts.apiKey)) {
      return reply
        .code(401)
        .header("www-authenticate", 'Bearer realm="flaky-detector"')
        .send({
          error: {
            code: "E_UNAUTHORIZED",
            message:
              "missing or wrong API key: send Authorization: Bearer <key> (the server's FLAKY_DETECTOR_API_KEY)",
          },
        });
    }
  });

  app.setErrorHandler((error, req, reply) => {
    if (error instanceof BadRequest) {
      return reply.code(400).send({
        error: { code: "E_BAD_REQUEST", message: error.message, problems: error.problems },
      });
    }
    const status = (error as { statusCode?: number }).statusCode;
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
    if (!req.url.startsWith("/api/")) {
      reply.header(
        "content-security-policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
      );
    }
  });

  app.get("/health", async () => ({
    status: "ok",
    version: TOOL.version,
    store: opts.store.kind,
  }));

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
