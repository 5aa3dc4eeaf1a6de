import { type ConnectionOptions, Job, Queue, QueueEvents } from "bullmq";
import { Redis } from "ioredis";
import { UsageError } from "../errors.js";
import type { ShardResult } from "../pipeline/shard.js";
import {
  failureOf,
  SHARD_LOST,
  ShardFailure,
  type ShardInput,
  type ShardRunOptions,
  type ShardTransport,
} from "./fan-out.js";
import { isShardResult } from "./shard-result.js";

/**
 * Shards on a BullMQ queue in Redis, taken by `flaky-detector worker redis` processes on any
 * number of machines. BullMQ does the hard parts: a shard whose worker dies (its lock lapses) is
 * "stalled" and handed to another worker; a shard that fails is retried with backoff. Cancelling
 * a shard that a worker already runs goes over a pub/sub channel every worker listens to.
 */

export const QUEUE_NAME = "flaky-detector-shards";
export const CANCEL_CHANNEL = "flaky-detector:cancel";

/** The data of one queued shard. */
export interface ShardJobData {
  input: ShardInput;
  executionTimeoutMs: number;
}

export interface RedisTarget {
  /** For messages: the URL without any password. */
  display: string;
  connection: {
    host: string;
    port: number;
    db: number;
    username?: string;
    password?: string;
    tls?: Record<string, never>;
  };
  prefix: string;
}

/**
 * `redis://host:port/db` or `rediss://` (TLS). The password comes from REDIS_PASSWORD, never the
 * URL: URLs end up in shell history, process lists and logs.
 */
export function parseRedisUrl(value: string, env: NodeJS.ProcessEnv, flag = "--redis"): RedisTarget {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new UsageError(
      "E_USAGE",
      `${flag}: expected a URL such as redis://127.0.0.1:6379, got ${JSON.stringify(value)}`,
    );
  }
  if (u.protocol !== "redis:" && u.protocol !== "rediss:") {
    throw new UsageError(
      "E_USAGE",
      `${flag}: expected redis:// or rediss://, got ${JSON.stringify(u.protocol)}`,
    );
  }
  if (u.password) {
    throw new UsageError(
      "E_USAGE",
      `${flag}: the URL contains a password; remove it and set REDIS_PASSWORD instead (URLs end up in logs and process lists)`,
    );
  }
  const db = u.pathname && u.pathname !== "/" ? Number(u.pathname.slice(1)) : 0;
  if (!Number.isInteger(db) || db < 0 || db > 15) {
    throw new UsageError(
      "E_USAGE",
      `${flag}: the database number must be 0..15, got ${JSON.stringify(u.pathname.slice(1))}`,
    );
  }
  if (u.search || u.hash) {
    throw new UsageError("E_USAGE", `${flag}: expected no ?query or #fragment, got ${JSON.stringify(value)}`);
  }
  const port = u.port ? Number(u.port) : 6379;
  const host = u.hostname.replace(/^\[|\]$/g, "");
  return {
    display: `${u.protocol}//${u.username ? `${u.username}@` : ""}${u.host}/${db}`,
    connection: {
      host,
      port,
      db,
      ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
      ...(env.REDIS_PASSWORD ? { password: env.REDIS_PASSWORD } : {}),
      ...(u.protocol === "rediss:" ? { tls: {} } : {}),
    },
    prefix: "fd",
  };
}

/** Connection options BullMQ needs for blocking commands (no per-request retry limit). */
export function connectionOf(t: RedisTarget): ConnectionOptions {
  return { ...t.connection, maxRetriesPerRequest: null };
}

export class RedisTransport implements ShardTransport {
  readonly name: string;
  readonly retriesShards = true;
  private readonly queue: Queue<ShardJobData, ShardResult>;
  private readonly events: QueueEvents;
  private readonly publisher: Redis;

  constructor(
    target: RedisTarget,
    private readonly opts: {
      attempts?: number;
      note?: (line: string) => void;
      /** How often a waiting shard's queue entry is checked (default 5 s). */
      checkMs?: number;
      /** How long Redis may stay unreachable before a waiting shard fails (default 120 s). */
      unreachableMs?: number;
    } = {},
  ) {
    this.name = `Redis queue ${QUEUE_NAME} at ${target.display}`;
    this.queue = new Queue(QUEUE_NAME, { connection: connectionOf(target), prefix: target.prefix });
    this.events = new QueueEvents(QUEUE_NAME, { connection: connectionOf(target), prefix: target.prefix });
    this.publisher = new Redis({ ...target.connection, lazyConnect: true, maxRetriesPerRequest: 3 });
    const onError = (e: Error) => this.opts.note?.(`redis: ${e.message}`);
    this.queue.on("error", onError);
    this.events.on("error", onError);
    this.publisher.on("error", onError);
  }

  async ready(): Promise<void> {
    await Promise.all([this.queue.waitUntilReady(), this.events.waitUntilReady()]);
  }

  /** Workers connected to the queue right now. */
  async workerCount(): Promise<number> {
    return (await this.queue.getWorkers()).length;
  }

  async run(input: ShardInput, opts: ShardRunOptions): Promise<ShardResult> {
    if (opts.signal.aborted) throw new ShardFailure("cancelled before it was queued", false, "E_CANCELLED");
    const unreachableMs = this.opts.unreachableMs ?? 120_000;
    const job = await bounded(
      this.queue.add(
        "shard",
        { input, executionTimeoutMs: opts.executionTimeoutMs },
        {
          attempts: this.opts.attempts ?? 3,
          backoff: { type: "exponential", delay: 1000 },
          removeOnComplete: { age: 3600 },
          removeOnFail: { age: 24 * 3600 },
        },
      ),
      unreachableMs,
    ).catch((e: Error) => {
      throw new ShardFailure(`cannot queue a shard on Redis: ${e.message}`, false, "E_REDIS");
    });
    const id = job.id as string;
    let onAbort: (() => void) | undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => {
        this.cancel(id).finally(() =>
          reject(new ShardFailure(`shard job ${id} cancelled`, false, "E_CANCELLED")),
        );
      };
      opts.signal.addEventListener("abort", onAbort, { once: true });
    });
    aborted.catch(() => {});
    const watch = this.watch(id);
    try {
      const value = await Promise.race([job.waitUntilFinished(this.events), aborted, watch.done]);
      if (!isShardResult(value)) {
        throw new ShardFailure(
          `shard job ${id} returned something that is not a shard result`,
          false,
          "E_BAD_OUTPUT",
        );
      }
      return value;
    } catch (e) {
      if (e instanceof ShardFailure) throw e;
      // BullMQ already retried it: what is left is the worker's last error.
      const f = failureOf((e as Error).message);
      throw new ShardFailure(`${f.message} (shard job ${id}, after retries)`, false, f.code);
    } finally {
      watch.stop();
      if (onAbort) opts.signal.removeEventListener("abort", onAbort);
    }
  }

  /**
   * The queue's completion events are not enough on their own: when Redis restarts without
   * persistence (or evicts keys) the job is gone and no event will ever come, and a completion
   * that happened while the event connection was down is never delivered. So the job's state is
   * polled: gone → SHARD_LOST (the coordinator queues the shard again); finished → its result;
   * Redis unreachable past `unreachableMs` → a failure naming Redis. No wait outlives that bound.
   */
  private watch(id: string): { done: Promise<ShardResult>; stop(): void } {
    const checkMs = this.opts.checkMs ?? 5000;
    const unreachableMs = this.opts.unreachableMs ?? 120_000;
    let timer: NodeJS.Timeout | undefined;
    let stopped = false;
    const done = new Promise<ShardResult>((resolve, reject) => {
      let downSince: number | undefined;
      const check = async () => {
        if (stopped) return;
        try {
          const state = await bounded(this.queue.getJobState(id), Math.max(1000, checkMs));
          downSince = undefined;
          if (state === "unknown") {
            reject(
              new ShardFailure(
                `shard job ${id} vanished from Redis (a restart without persistence, or an eviction)`,
                true,
                SHARD_LOST,
              ),
            );
            return;
          }
          if (state === "completed" || state === "failed") {
            const job = await bounded(Job.fromId(this.queue, id), Math.max(1000, checkMs));
            if (state === "completed" && job) return resolve(job.returnvalue as ShardResult);
            if (state === "failed") return reject(new Error(job?.failedReason ?? "the shard failed"));
          }
        } catch {
          downSince ??= Date.now();
          if (Date.now() - downSince >= unreachableMs) {
            reject(
              new ShardFailure(
                `Redis was unreachable for ${Math.round(unreachableMs / 1000)} s while shard job ${id} ran; is redis-server up?`,
                false,
                "E_REDIS",
              ),
            );
            return;
          }
        }
        if (!stopped) timer = setTimeout(check, checkMs);
      };
      timer = setTimeout(check, checkMs);
    });
    done.catch(() => {});
    return {
      done,
      stop: () => {
        stopped = true;
        clearTimeout(timer);
      },
    };
  }

  /** A queued shard is removed; a running one is told to stop through the cancel channel. */
  private async cancel(id: string): Promise<void> {
    try {
      const state = await this.queue.getJobState(id);
      if (state === "waiting" || state === "delayed" || state === "prioritized") {
        // 0 when a worker took it in the meantime: then it is told to stop like a running one.
        if ((await this.queue.remove(id)) > 0) return;
      }
      if (this.publisher.status === "wait") await this.publisher.connect();
      await this.publisher.publish(CANCEL_CHANNEL, id);
    } catch (e) {
      this.opts.note?.(`cancelling shard job ${id} failed: ${(e as Error).message}`);
    }
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.events.close(), this.queue.close(), this.publisher.quit()]);
  }
}

function bounded<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer from Redis within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
