import { hostname } from "node:os";
import { type Job, UnrecoverableError, Worker } from "bullmq";
import { Redis } from "ioredis";
import { isFlakyDetectorError } from "../errors.js";
import type { ShardResult } from "../pipeline/shard.js";
import { type JobContext, jobInputSchema } from "../server/job-input.js";
import { executeJob } from "./execute.js";
import {
  CANCEL_CHANNEL,
  connectionOf,
  QUEUE_NAME,
  type RedisTarget,
  type ShardJobData,
} from "./redis-queue.js";

/**
 * `flaky-detector worker redis`: take shards from the BullMQ queue and run them through the
 * normal pipeline. BullMQ renews the worker's lock on a running shard; a worker killed with
 * SIGKILL stops renewing, and another worker's stalled-job check hands the shard on. SIGTERM
 * stops taking shards and lets the running ones finish.
 */

export interface RedisWorkerOptions {
  target: RedisTarget;
  ctx: JobContext;
  /** Shards run at once by this process. */
  concurrency: number;
  /** How long a shard's lock lasts without renewal; a dead worker's shard moves on after it. */
  lockMs: number;
  tempRoot?: string;
  log: (line: string) => void;
}

export interface RunningWorker {
  close(): Promise<void>;
  /** Resolves once the worker listens for shards and cancellations. */
  ready: Promise<void>;
}

/** Stop reasons: cancelled by the coordinator, or past its execution timeout. */
type Reason = "cancelled" | "timeout";

export function startRedisWorker(opts: RedisWorkerOptions): RunningWorker {
  const name = `${hostname()}-${process.pid}`;
  /** Shards running in this process, so a cancel message for another worker's shard is ignored. */
  const running = new Set<string>();
  const processor = async (job: Job<ShardJobData, ShardResult>, _token?: string, signal?: AbortSignal) => {
    const parsed = jobInputSchema.safeParse(job.data?.input);
    if (!parsed.success || !parsed.data.shard) {
      throw new UnrecoverableError(
        `E_JOB_INPUT: queued shard ${job.id} is not a shard input: ${parsed.success ? "no shard field" : parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`,
      );
    }
    const state: { controller: AbortController; reason?: Reason } = { controller: new AbortController() };
    running.add(job.id as string);
    signal?.addEventListener("abort", () => {
      state.reason ??= "cancelled";
      state.controller.abort();
    });
    const timer = setTimeout(() => {
      state.reason ??= "timeout";
      state.controller.abort();
    }, job.data.executionTimeoutMs);
    const started = performance.now();
    opts.log(
      `shard ${job.id} (attempts ${parsed.data.shard.first}+${parsed.data.shard.count}) started, try ${job.attemptsMade + 1}`,
    );
    try {
      const out = await executeJob(parsed.data, opts.ctx, {
        signal: state.controller.signal,
        emit: () => {},
        worker: name,
        ...(opts.tempRoot ? { tempRoot: opts.tempRoot } : {}),
      });
      if (state.reason === "cancelled")
        throw new UnrecoverableError("E_CANCELLED: cancelled by the coordinator");
      if (state.reason === "timeout") {
        throw new UnrecoverableError(
          `E_JOB_TIMED_OUT: the shard ran longer than its execution timeout (${job.data.executionTimeoutMs} ms)`,
        );
      }
      if (out.kind !== "shard") throw new UnrecoverableError("E_INTERNAL: a shard input produced a report");
      opts.log(`shard ${job.id} done in ${Math.round(performance.now() - started)} ms`);
      return out.result;
    } catch (e) {
      if (e instanceof UnrecoverableError) throw e;
      // Input and usage errors will fail again anywhere: no retry. The rest (a clone that hit the
      // network, an install that timed out) may pass on the next try.
      if (isFlakyDetectorError(e)) {
        const text = `${e.code}: ${e.message}`;
        if (e.exitCode === 2 || e.code === "E_ALL_ERRORED") throw new UnrecoverableError(text);
        throw new Error(text);
      }
      throw new Error(`E_INTERNAL: ${(e as Error).message}`);
    } finally {
      clearTimeout(timer);
      running.delete(job.id as string);
    }
  };

  const worker = new Worker<ShardJobData, ShardResult>(QUEUE_NAME, processor, {
    connection: connectionOf(opts.target),
    prefix: opts.target.prefix,
    concurrency: opts.concurrency,
    lockDuration: opts.lockMs,
    stalledInterval: Math.max(1000, Math.floor(opts.lockMs / 2)),
    maxStalledCount: 2,
    name,
  });
  worker.on("error", (e) => opts.log(`redis: ${e.message}`));
  worker.on("failed", (job, e) => opts.log(`shard ${job?.id ?? "?"} failed: ${e.message}`));
  worker.on("stalled", (id) =>
    opts.log(`shard ${id} stalled (its worker stopped renewing the lock); handed on`),
  );

  const subscriber = new Redis({ ...opts.target.connection, maxRetriesPerRequest: null });
  subscriber.on("error", (e) => opts.log(`redis: ${e.message}`));
  subscriber.on("message", (_channel, id: string) => {
    if (running.has(id)) {
      opts.log(`shard ${id} cancelled by the coordinator`);
      worker.cancelJob(id, "cancelled by the coordinator");
    }
  });
  const ready = Promise.all([worker.waitUntilReady(), subscriber.subscribe(CANCEL_CHANNEL)]).then(() => {
    opts.log(
      `worker ${name} takes shards from ${QUEUE_NAME} at ${opts.target.display} (concurrency ${opts.concurrency})`,
    );
  });

  return {
    ready,
    async close() {
      await worker.close();
      subscriber.disconnect();
    },
  };
}
