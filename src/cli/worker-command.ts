import { EXIT, InfraError, UsageError } from "../errors.js";
import { parseRedisUrl } from "../remote/redis-queue.js";
import { startRedisWorker } from "../remote/redis-worker.js";
import { runpodEnv, runRunpodWorker } from "../remote/runpod-worker.js";
import type { CliIo } from "./io.js";
import {
  allowRoots,
  reportSwept,
  type ServeOptions,
  serveCommand,
  whole,
  withTimeout,
} from "./serve-command.js";

export interface WorkerOptions {
  redis?: string;
  concurrency: string;
  allowPath: string[];
  lockDuration: string;
  host: string;
  port: string;
  db?: string;
  logLevel: string;
  allowPrivateRepos?: boolean;
}

const KINDS = ["runpod", "redis"] as const;

/** `flaky-detector worker <runpod|redis>`: run shards (or whole jobs) handed out by a queue. */
export async function workerCommand(kind: string, opts: WorkerOptions, io: CliIo): Promise<number> {
  if (!(KINDS as readonly string[]).includes(kind)) {
    throw new UsageError(
      "E_USAGE",
      `worker: expected one of ${KINDS.join(", ")}, got ${JSON.stringify(kind)}`,
    );
  }
  const log = (line: string) => io.stderr.write(`${new Date().toISOString()} ${line}\n`);
  if (kind === "redis" || runpodEnv(io.env)) reportSwept(io);
  const roots = allowRoots(opts.allowPath, io.cwd);
  const ctx = {
    allowRoots: roots,
    env: io.env,
    cwd: io.cwd,
    allowPrivateRepos: opts.allowPrivateRepos === true,
  };

  if (kind === "runpod") {
    const rp = runpodEnv(io.env);
    if (!rp) {
      // RunPod's SDKs serve the endpoint API locally when the worker variables are absent; ours
      // serves its own job API, which takes the same /run, /status and /cancel calls.
      io.stderr.write(
        "RUNPOD_WEBHOOK_GET_JOB is not set: local test mode, serving the job API like a RunPod endpoint\n",
      );
      const serve: ServeOptions = {
        host: opts.host,
        port: opts.port,
        ...(opts.db ? { db: opts.db } : {}),
        rateLimit: "0",
        logLevel: opts.logLevel,
        allowPath: opts.allowPath,
        concurrency: opts.concurrency,
        maxQueue: "1000",
        bodyLimit: String(10 * 1024 * 1024),
        corsOrigin: [],
        allowedHost: [],
        ...(opts.allowPrivateRepos ? { allowPrivateRepos: true } : {}),
        shutdownGrace: "30",
        jobLease: "30",
      };
      return serveCommand(serve, io);
    }
    const controller = new AbortController();
    const off = io.onInterrupt(() => {
      log("stopping: no new jobs; the running one finishes and posts its result");
      controller.abort();
    });
    try {
      await runRunpodWorker({ rp, ctx, signal: controller.signal, log });
    } finally {
      off();
    }
    return EXIT.ok;
  }

  const url = opts.redis ?? (io.env.FLAKY_DETECTOR_REDIS_URL || undefined);
  if (!url) {
    throw new UsageError(
      "E_USAGE",
      "worker redis needs --redis <url> (or FLAKY_DETECTOR_REDIS_URL), e.g. --redis redis://127.0.0.1:6379",
    );
  }
  const target = parseRedisUrl(url, io.env, opts.redis ? "--redis" : "FLAKY_DETECTOR_REDIS_URL");
  const worker = startRedisWorker({
    target,
    ctx,
    concurrency: whole("--concurrency", opts.concurrency, 1, 64, "shards run at once"),
    lockMs: whole("--lock-duration", opts.lockDuration, 1, 3600, "seconds") * 1000,
    log,
  });
  try {
    await withTimeout(worker.ready, 15_000, `cannot reach Redis at ${target.display} within 15 s`);
  } catch (e) {
    await worker.close().catch(() => {});
    throw new InfraError("E_REDIS", `--redis: ${(e as Error).message}; is redis-server running there?`);
  }
  await new Promise<void>((resolve) => {
    const off = io.onInterrupt(() => {
      off();
      resolve();
    });
  });
  log("stopping: no new shards; running ones finish first");
  await worker.close();
  return EXIT.ok;
}
