import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import * as z from "zod";
import {
  cancelJob,
  countsByStatus,
  getJob,
  insertJobIfRoom,
  type JobRow,
  type JobStatus,
  purgeQueue,
  retriedCount,
  retryJob,
  TERMINAL,
} from "../store/jobs.js";
import type { Store } from "../store/open.js";
import {
  DEFAULT_EXECUTION_TIMEOUT_MS,
  DEFAULT_TTL_MS,
  type JobContext,
  validateRunRequest,
} from "./job-input.js";
import type { JobProgress, JobRunner, StreamEvent } from "./job-runner.js";
import type { JobMetrics } from "./metrics.js";
import { BadRequest, parseQuery } from "./params.js";

/**
 * The job API, shaped like a RunPod Serverless endpoint so one client talks to either:
 * /run, /runsync, /status/{id}, /cancel/{id}, /retry/{id}, /purge-queue, plus /events/{id}
 * (server-sent progress) and /metrics.
 */

export interface JobApiOptions {
  store: Store;
  runner: JobRunner;
  metrics: JobMetrics;
  ctx: JobContext;
  /** Queued jobs at most; a submission beyond it gets 429 with Retry-After. */
  maxQueue: number;
  /** Aborted when the server starts closing: waits end, event streams close. */
  closing: AbortSignal;
}

const ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const runsyncQuery = z.strictObject({
  wait: z.coerce
    .number({ message: "expected milliseconds from 1000 to 300000" })
    .int({ message: "expected milliseconds from 1000 to 300000" })
    .min(1000, { message: "expected milliseconds from 1000 to 300000" })
    .max(300_000, { message: "expected milliseconds from 1000 to 300000" })
    .default(90_000),
});

/** What /status returns: RunPod's fields, plus our progress and the detection's id in history. */
export function statusBody(row: JobRow, live?: JobProgress, withOutput = true): Record<string, unknown> {
  const body: Record<string, unknown> = { id: row.id, status: row.status };
  const created = Date.parse(row.created_at);
  const started = row.started_at ? Date.parse(row.started_at) : undefined;
  if (started !== undefined) {
    body.delayTime = started - created;
    body.executionTime = (row.finished_at ? Date.parse(row.finished_at) : Date.now()) - started;
  } else if (row.status === "IN_QUEUE") {
    body.delayTime = Date.now() - created;
  }
  const progress = live ?? (row.progress ? JSON.parse(row.progress) : undefined);
  if (progress) body.progress = progress;
  if (row.retries > 0) body.retries = row.retries;
  if (row.detection_id) body.detectionId = row.detection_id;
  if (withOutput && row.output) body.output = JSON.parse(row.output);
  if (row.error) body.error = row.error;
  return body;
}

function notFound(reply: FastifyReply, id: string) {
  return reply.code(404).send({
    error: {
      code: "E_JOB_NOT_FOUND",
      message: `no job ${JSON.stringify(id)}: it never existed here, was purged, or its result outlived policy.ttl`,
    },
  });
}

export function registerJobApi(app: FastifyInstance, opts: JobApiOptions): void {
  const { store, runner, metrics } = opts;

  const load = async (req: FastifyRequest<{ Params: { id: string } }>, reply: FastifyReply) => {
    const { id } = req.params;
    const row = ID.test(id) ? await getJob(store, id) : undefined;
    if (!row) {
      notFound(reply, id);
      return undefined;
    }
    return row;
  };

  const submit = async (req: FastifyRequest, reply: FastifyReply): Promise<JobRow | undefined> => {
    const checked = validateRunRequest(req.body, opts.ctx);
    if (!checked.ok) {
      metrics.rejected.inc({ reason: "invalid" });
      throw new BadRequest(checked.problems);
    }
    const { request } = checked;
    const inserted = await insertJobIfRoom(
      store,
      {
        input: request.input,
        lowPriority: request.policy?.lowPriority ?? false,
        executionTimeoutMs: request.policy?.executionTimeout ?? DEFAULT_EXECUTION_TIMEOUT_MS,
        ttlMs: request.policy?.ttl ?? DEFAULT_TTL_MS,
        apiKeyId: (req as FastifyRequest & { apiKeyId?: string }).apiKeyId ?? null,
      },
      opts.maxQueue,
    );
    if ("full" in inserted) {
      metrics.rejected.inc({ reason: "queue_full" });
      const retryAfter = retryAfterSeconds(runner, metrics);
      reply
        .code(429)
        .header("retry-after", String(retryAfter))
        .send({
          error: {
            code: "E_QUEUE_FULL",
            message: `the queue is full (${inserted.queued} jobs waiting, limit ${opts.maxQueue}); retry in ${retryAfter} s`,
          },
        });
      return undefined;
    }
    const { row } = inserted;
    metrics.submitted.inc();
    req.log.info({ job: row.id, repo: request.input.repo }, "job accepted");
    runner.wake();
    return row;
  };

  app.post("/run", async (req, reply) => {
    const row = await submit(req, reply);
    if (!row) return reply;
    return { id: row.id, status: row.status };
  });

  app.post("/runsync", async (req, reply) => {
    const { wait } = parseQuery(runsyncQuery, req.query);
    const row = await submit(req, reply);
    if (!row) return reply;
    const final = await waitForEnd(store, runner, row.id, wait, opts.closing);
    return statusBody(final ?? row, runner.progressOf(row.id));
  });

  app.get<{ Params: { id: string } }>("/status/:id", async (req, reply) => {
    const row = await load(req, reply);
    if (!row) return reply;
    return statusBody(row, runner.progressOf(row.id));
  });

  app.post<{ Params: { id: string } }>("/cancel/:id", async (req, reply) => {
    const found = await load(req, reply);
    if (!found) return reply;
    const row = await cancelJob(store, found.id);
    if (!row) return notFound(reply, found.id);
    if (found.status === "IN_PROGRESS") runner.cancelLocal(found.id);
    req.log.info({ job: row.id, was: found.status, now: row.status }, "job cancel requested");
    return { id: row.id, status: row.status };
  });

  app.post<{ Params: { id: string } }>("/retry/:id", async (req, reply) => {
    const found = await load(req, reply);
    if (!found) return reply;
    const { row, retried } = await retryJob(store, found.id);
    if (!retried) {
      return reply.code(409).send({
        error: {
          code: "E_NOT_RETRYABLE",
          message: `only FAILED or TIMED_OUT jobs can be retried; job ${found.id} is ${row?.status ?? "gone"}`,
        },
      });
    }
    runner.wake();
    return { id: found.id, status: "IN_QUEUE" };
  });

  app.post("/purge-queue", async (req) => {
    const removed = await purgeQueue(store);
    req.log.info({ removed }, "queue purged");
    return { removed, status: "completed" };
  });

  app.get<{ Params: { id: string } }>("/events/:id", async (req, reply) => {
    const row = await load(req, reply);
    if (!row) return reply;
    streamEvents(req, reply, store, runner, row, opts.closing);
    return reply;
  });

  app.get("/metrics", async (_req, reply) => {
    const counts = await countsByStatus(store);
    reply.header("content-type", "text/plain; version=0.0.4; charset=utf-8");
    return metrics.render({
      jobsByStatus: counts,
      running: runner.running,
      concurrency: runner.concurrency,
    });
  });
}

/** Job counts and worker slots for /health, in RunPod's field names. */
export async function jobHealth(store: Store, runner: JobRunner) {
  const c = await countsByStatus(store);
  return {
    jobs: {
      completed: c.COMPLETED,
      failed: c.FAILED,
      inProgress: c.IN_PROGRESS,
      inQueue: c.IN_QUEUE,
      retried: await retriedCount(store),
      cancelled: c.CANCELLED,
      timedOut: c.TIMED_OUT,
    },
    workers: { idle: Math.max(0, runner.concurrency - runner.running), running: runner.running },
  };
}

/** Seconds until the queue likely moves: one job's mean run time spread over the slots; 1..300. */
function retryAfterSeconds(runner: JobRunner, metrics: JobMetrics): number {
  const mean = metrics.execution.mean() ?? 30;
  return Math.min(300, Math.max(1, Math.ceil(mean / Math.max(1, runner.concurrency))));
}

/** Until the job is terminal or `waitMs` passed: woken by the local runner, polling for others. */
async function waitForEnd(
  store: Store,
  runner: JobRunner,
  id: string,
  waitMs: number,
  closing: AbortSignal,
): Promise<JobRow | undefined> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const row = await getJob(store, id);
    if (!row || TERMINAL.includes(row.status as JobStatus)) return row;
    const left = deadline - Date.now();
    if (left <= 0 || closing.aborted) return row;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, Math.min(left, 500));
      const off = runner.onFinished(id, done);
      closing.addEventListener("abort", done, { once: true });
      function done() {
        clearTimeout(timer);
        off();
        closing.removeEventListener("abort", done);
        resolve();
      }
    });
  }
}

/**
 * Server-sent events: `status` when the job's status changes, `progress` for each pipeline event
 * while this instance runs it, `end` (with the final status, without the report) and close.
 */
function streamEvents(
  req: FastifyRequest,
  reply: FastifyReply,
  store: Store,
  runner: JobRunner,
  first: JobRow,
  closing: AbortSignal,
): void {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache, no-transform",
    connection: "keep-alive",
    "x-content-type-options": "nosniff",
    // Reverse proxies (nginx) buffer responses unless told not to.
    "x-accel-buffering": "no",
  });
  let closed = false;
  let unsubscribe: (() => void) | undefined;
  let lastStatus = "";
  const send = (event: string, data: unknown) => {
    if (!closed) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  };
  const close = () => {
    if (closed) return;
    closed = true;
    clearInterval(poll);
    clearInterval(keepAlive);
    unsubscribe?.();
    closing.removeEventListener("abort", close);
    res.end();
  };
  const check = async (row?: JobRow) => {
    const current = row ?? (await getJob(store, first.id));
    if (closed) return;
    if (!current) {
      send("end", { id: first.id, status: "GONE" });
      close();
      return;
    }
    if (current.status !== lastStatus) {
      lastStatus = current.status;
      send("status", statusBody(current, runner.progressOf(current.id), false));
    }
    if (TERMINAL.includes(current.status as JobStatus)) {
      send("end", statusBody(current, undefined, false));
      close();
      return;
    }
    if (!unsubscribe) {
      unsubscribe = runner.subscribe(current.id, (e: StreamEvent) => {
        if (e.type === "event") {
          send("progress", e.event);
          return;
        }
        unsubscribe?.();
        unsubscribe = undefined;
        void check().catch(close);
      });
    }
  };
  // While this instance runs the job its events say everything; the database is read only for
  // jobs queued or running elsewhere.
  const poll = setInterval(() => {
    if (!unsubscribe) void check().catch(close);
  }, 1000);
  const keepAlive = setInterval(() => {
    if (!closed) res.write(": keep-alive\n\n");
  }, 15_000);
  req.raw.on("close", close);
  closing.addEventListener("abort", close, { once: true });
  void check(first).catch(close);
}
