import { readFileSync, realpathSync, statSync } from "node:fs";
import { isIP } from "node:net";
import { hostname } from "node:os";
import { resolve } from "node:path";
import { resolveConfig } from "../config/resolve.js";
import { EXIT, InfraError, UsageError } from "../errors.js";
import { parseRedisUrl, RedisTransport } from "../remote/redis-queue.js";
import { type AllowedHosts, parseAllowedHosts } from "../server/access.js";
import { buildServer, LOG_LEVELS, type LogLevel } from "../server/app.js";
import { activeKeyCount } from "../store/api-keys.js";
import { openStore } from "../store/open.js";
import { killOrphans } from "../util/escapees.js";
import { sweepStaleTempDirs } from "../util/temp-dirs.js";
import { historyTarget } from "./history-command.js";
import type { CliIo } from "./io.js";

export interface ServeOptions {
  host: string;
  port: string;
  db?: string;
  apiKeyFile?: string;
  rateLimit: string;
  logLevel: string;
  allowPath: string[];
  concurrency?: string;
  maxQueue: string;
  bodyLimit: string;
  corsOrigin: string[];
  allowedHost: string[];
  shutdownGrace: string;
  jobLease: string;
  redis?: string;
  allowPrivateRepos?: boolean;
}

export function whole(flag: string, value: string, min: number, max: number, what: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new UsageError(
      "E_USAGE",
      `${flag}: expected ${what} (${min}..${max}), got ${JSON.stringify(value)}`,
    );
  return n;
}

/** --allow-path roots, resolved through symbolic links so the allow-list compares real paths. */
export function allowRoots(values: string[], cwd: string): string[] {
  return values.map((v) => {
    const abs = resolve(cwd, v);
    try {
      if (!statSync(abs).isDirectory()) throw new Error("not a directory");
      return realpathSync(abs);
    } catch (e) {
      throw new UsageError(
        "E_USAGE",
        `--allow-path: ${JSON.stringify(v)} is not a directory: ${(e as Error).message}`,
      );
    }
  });
}

function corsOrigins(values: string[]): string[] {
  return values.map((v) => {
    let u: URL;
    try {
      u = new URL(v);
    } catch {
      throw new UsageError(
        "E_USAGE",
        `--cors-origin: expected an origin such as https://ci.example.com, got ${JSON.stringify(v)}`,
      );
    }
    if ((u.protocol !== "https:" && u.protocol !== "http:") || u.origin !== v.replace(/\/$/, "")) {
      throw new UsageError(
        "E_USAGE",
        `--cors-origin: expected an origin (scheme://host[:port], no path), got ${JSON.stringify(v)}`,
      );
    }
    return u.origin;
  });
}

/**
 * Names the server answers to: --allowed-host, else FLAKY_DETECTOR_ALLOWED_HOSTS, plus this
 * machine's own name. IP literals and localhost are always accepted (see access.ts).
 */
function allowedHosts(opts: ServeOptions, io: CliIo): AllowedHosts {
  const fromFlag = opts.allowedHost.length > 0;
  const values = fromFlag ? opts.allowedHost : [io.env.FLAKY_DETECTOR_ALLOWED_HOSTS ?? ""];
  let parsed: AllowedHosts;
  try {
    parsed = parseAllowedHosts(values, fromFlag ? "--allowed-host" : "FLAKY_DETECTOR_ALLOWED_HOSTS");
  } catch (e) {
    throw new UsageError("E_USAGE", (e as Error).message);
  }
  if (parsed === "any") return parsed;
  const own = hostname().toLowerCase();
  return /^[a-z0-9.-]+$/.test(own) ? [...parsed, own] : parsed;
}

function host(value: string): string {
  if (value === "localhost" || isIP(value) !== 0) return value;
  throw new UsageError(
    "E_USAGE",
    `--host: expected an IP address to listen on (127.0.0.1, ::1, 0.0.0.0) or localhost, got ${JSON.stringify(value)}`,
  );
}

/** The key comes from a file or the environment, never from argv (visible to every user in ps). */
function apiKey(opts: ServeOptions, io: CliIo): string | undefined {
  if (opts.apiKeyFile) {
    let text: string;
    try {
      text = readFileSync(opts.apiKeyFile, "utf8").trim();
    } catch (e) {
      throw new UsageError(
        "E_USAGE",
        `--api-key-file: cannot read ${opts.apiKeyFile}: ${(e as Error).message}`,
      );
    }
    if (text.length < 16)
      throw new UsageError(
        "E_USAGE",
        "--api-key-file: the key must be at least 16 characters (try `openssl rand -hex 32`)",
      );
    return text;
  }
  const env = io.env.FLAKY_DETECTOR_API_KEY;
  if (env === undefined || env === "") return undefined;
  if (env.length < 16)
    throw new UsageError(
      "E_USAGE",
      "FLAKY_DETECTOR_API_KEY: the key must be at least 16 characters (try `openssl rand -hex 32`)",
    );
  return env;
}

/** `flaky-detector serve`: job API, read API and dashboard over the history store, until SIGINT/SIGTERM. */
export async function serveCommand(opts: ServeOptions, io: CliIo): Promise<number> {
  const listenHost = host(opts.host);
  const listenPort = whole("--port", opts.port, 0, 65535, "a port; 0 picks a free one");
  const roots = allowRoots(opts.allowPath, io.cwd);
  const redisUrl = opts.redis ?? (io.env.FLAKY_DETECTOR_REDIS_URL || undefined);
  const redis =
    redisUrl === undefined
      ? undefined
      : parseRedisUrl(redisUrl, io.env, opts.redis ? "--redis" : "FLAKY_DETECTOR_REDIS_URL");
  const concurrency =
    opts.concurrency === undefined
      ? // With Redis a running job only coordinates shards: several fit in one server.
        redis
        ? 8
        : 1
      : whole("--concurrency", opts.concurrency, 0, 64, "jobs run at once; 0 only queues them");
  const maxQueue = whole("--max-queue", opts.maxQueue, 1, 1_000_000, "queued jobs at most");
  const bodyLimit = whole("--body-limit", opts.bodyLimit, 1024, 100 * 1024 * 1024, "bytes");
  const graceMs = whole("--shutdown-grace", opts.shutdownGrace, 0, 3600, "seconds") * 1000;
  const leaseMs = whole("--job-lease", opts.jobLease, 1, 3600, "seconds") * 1000;
  const origins = corsOrigins(opts.corsOrigin);
  const hosts = allowedHosts(opts, io);
  const rate = Number(opts.rateLimit);
  if (!Number.isInteger(rate) || rate < 0)
    throw new UsageError(
      "E_USAGE",
      `--rate-limit: expected requests per minute (0 = off), got ${JSON.stringify(opts.rateLimit)}`,
    );
  if (!(LOG_LEVELS as readonly string[]).includes(opts.logLevel))
    throw new UsageError(
      "E_USAGE",
      `--log-level: expected one of ${LOG_LEVELS.join(", ")}, got ${JSON.stringify(opts.logLevel)}`,
    );
  const key = apiKey(opts, io);
  reportSwept(io);
  const { config } = resolveConfig({ cwd: io.cwd, env: io.env });
  const store = await openStore(historyTarget(opts.db, config.history.db, io.env), io.cwd);
  const loopback = listenHost === "localhost" || listenHost.startsWith("127.") || listenHost === "::1";
  const storedKeys = await activeKeyCount(store);
  if (!loopback && !key && storedKeys === 0) {
    await store.close();
    throw new UsageError(
      "E_NO_API_KEY",
      `--host ${listenHost}: without an API key the server only listens on loopback (127.0.0.1); create a key with \`flaky-detector api-key create --name ci\` or set FLAKY_DETECTOR_API_KEY`,
    );
  }
  let fanOut: RedisTransport | undefined;
  if (redis) {
    fanOut = new RedisTransport(redis, { note: (line) => io.stderr.write(`${line}\n`) });
    try {
      await withTimeout(fanOut.ready(), 15_000, `cannot reach Redis at ${redis.display} within 15 s`);
    } catch (e) {
      await fanOut.close();
      await store.close();
      throw new InfraError("E_REDIS", `--redis: ${(e as Error).message}; is redis-server running there?`);
    }
  }
  const app = await buildServer({
    store,
    apiKey: key,
    rateLimit: rate,
    logLevel: opts.logLevel as LogLevel,
    logStream: io.stderr,
    bodyLimit,
    corsOrigins: origins,
    allowedHosts: hosts,
    jobs: {
      concurrency,
      maxQueue,
      leaseMs,
      shutdownGraceMs: graceMs,
      ctx: {
        allowRoots: roots,
        env: io.env,
        cwd: io.cwd,
        allowPrivateRepos: opts.allowPrivateRepos === true,
      },
      ...(fanOut ? { fanOut } : {}),
    },
  });
  let address: string;
  try {
    address = await app.listen({ host: listenHost, port: listenPort });
  } catch (e) {
    await fanOut?.close();
    await store.close();
    throw new UsageError("E_LISTEN", `cannot listen on ${listenHost}:${listenPort}: ${(e as Error).message}`);
  }
  if (!key && storedKeys === 0)
    io.stderr.write(
      "no API key configured: listening on loopback only, and anyone on this machine can submit jobs (create one with `flaky-detector api-key create`)\n",
    );
  io.stdout.write(`flaky-detector dashboard: ${address}/  (history: ${store.location})\n`);
  io.stdout.write(
    `job API: ${address}/run  (${concurrency} job(s) at once${fanOut ? `, shards on ${fanOut.name}` : ""}, ${roots.length > 0 ? `local paths under ${roots.join(", ")}` : "no local paths"}; OpenAPI at ${address}/openapi.json)\n`,
  );
  await new Promise<void>((resolve) => {
    const off = io.onInterrupt(() => {
      off();
      resolve();
    });
  });
  io.stderr.write("shutting down: no new jobs; running ones finish or go back to the queue\n");
  await app.close();
  await fanOut?.close();
  await store.close();
  return EXIT.ok;
}

/** Leftovers of a server or worker that was killed (-9, OOM) are removed before new jobs start. */
export function reportSwept(io: CliIo): void {
  const orphans = killOrphans();
  if (orphans.length > 0) {
    io.stderr.write(
      `killed ${orphans.length} test process(es) left running by a flaky-detector process that no longer runs\n`,
    );
  }
  const removed = sweepStaleTempDirs();
  if (removed.length > 0) {
    io.stderr.write(
      `removed ${removed.length} temporary director${removed.length === 1 ? "y" : "ies"} left by a process that no longer runs\n`,
    );
  }
}

export function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(message)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
