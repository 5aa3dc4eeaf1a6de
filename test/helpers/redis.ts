import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createServer } from "node:net";
import { tempDir } from "./cli.js";

/** A real redis-server (Debian's package) on a free loopback port, without persistence. */
export interface TestRedis {
  url: string;
  port: number;
  /** Run redis-cli against it (KEYS, LLEN…), returning its output. */
  cli(...args: string[]): string;
  /** Stop the server and start an empty one on the same port after `downMs`. */
  restart(downMs?: number): Promise<void>;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

/** Start redis-server on `port` and wait until it accepts connections. */
async function launch(port: number, dir: string): Promise<ChildProcess> {
  const child: ChildProcess = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let out = "";
  child.stdout?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server did not start: ${out}`)), 10_000);
    const check = setInterval(() => {
      if (out.includes("Ready to accept connections")) {
        clearTimeout(timer);
        clearInterval(check);
        resolve();
      }
    }, 20);
    child.on("exit", (code) => {
      clearTimeout(timer);
      clearInterval(check);
      reject(new Error(`redis-server exited ${code}: ${out}`));
    });
  });
  return child;
}

function stopChild(child: ChildProcess): Promise<unknown> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  const exited = new Promise((r) => child.on("exit", r));
  child.kill("SIGTERM");
  return exited;
}

export async function startRedis(): Promise<TestRedis> {
  const port = await freePort();
  const dir = tempDir("fd-redis-");
  let child = await launch(port, dir.path);
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    cli: (...args) =>
      spawnSync("redis-cli", ["-p", String(port), ...args], { encoding: "utf8" }).stdout.trim(),
    restart: async (downMs = 0) => {
      // Without persistence every key (queued and running shards included) is gone afterwards.
      await stopChild(child);
      await new Promise((r) => setTimeout(r, downMs));
      child = await launch(port, dir.path);
    },
    stop: async () => {
      await stopChild(child);
      dir.cleanup();
    },
  };
}
