import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { resolveConfig } from "../config/resolve.js";
import { EXIT, UsageError } from "../errors.js";
import { buildServer, LOG_LEVELS, type LogLevel } from "../server/app.js";
import { openStore } from "../store/open.js";
import { historyTarget } from "./history-command.js";
import type { CliIo } from "./io.js";

export interface ServeOptions {
  host: string;
  port: string;
  db?: string;
  apiKeyFile?: string;
  rateLimit: string;
  logLevel: string;
}

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new UsageError(
      "E_USAGE",
      `--port: expected 0..65535 (0 picks a free port), got ${JSON.stringify(value)}`,
    );
  return n;
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

/** `flaky-detector serve`: the read API and dashboard over the history store, until SIGINT/SIGTERM. */
export async function serveCommand(opts: ServeOptions, io: CliIo): Promise<number> {
  const listenHost = host(opts.host);
  const listenPort = port(opts.port);
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
  const { config } = resolveConfig({ cwd: io.cwd, env: io.env });
  const store = await openStore(historyTarget(opts.db, config.history.db, io.env), io.cwd);
  const app = await buildServer({
    store,
    apiKey: key,
    rateLimit: rate,
    logLevel: opts.logLevel as LogLevel,
    logStream: io.stderr,
  });
  let address: string;
  try {
    address = await app.listen({ host: listenHost, port: listenPort });
  } catch (e) {
    await store.close();
    throw new UsageError("E_LISTEN", `cannot listen on ${listenHost}:${listenPort}: ${(e as Error).message}`);
  }
  const loopback = listenHost === "localhost" || listenHost.startsWith("127.") || listenHost === "::1";
  if (!loopback && !key)
    io.stderr.write(
      `warning: listening on ${listenHost} without an API key: anyone who can reach it reads your history; set FLAKY_DETECTOR_API_KEY\n`,
    );
  io.stdout.write(`flaky-detector dashboard: ${address}/  (history: ${store.location})\n`);
  await new Promise<void>((resolve) => {
    const off = io.onInterrupt(() => {
      off();
      resolve();
    });
  });
  await app.close();
  await store.close();
  return EXIT.ok;
}
