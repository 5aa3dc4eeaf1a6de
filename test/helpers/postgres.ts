import { spawnSync } from "node:child_process";
import { chownSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * A real PostgreSQL server for tests: initdb + pg_ctl in a temporary directory, listening on
 * 127.0.0.1 only, stopped and removed afterwards. initdb refuses to run as root, so as root the
 * server runs as the `postgres` user (Debian's postgresql package creates it).
 */
export interface TestPostgres {
  url: string;
  stop(): void;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const addr = s.address();
      s.close(() => (typeof addr === "object" && addr ? resolve(addr.port) : reject(new Error("no port"))));
    });
  });
}

function pgBin(name: string): string {
  for (const dir of [
    "/usr/lib/postgresql/17/bin",
    "/usr/lib/postgresql/16/bin",
    "/usr/lib/postgresql/15/bin",
    "/usr/local/bin",
    "/usr/bin",
  ]) {
    const p = join(dir, name);
    if (spawnSync("test", ["-x", p]).status === 0) return p;
  }
  throw new Error(`${name} not found: install postgresql (bash .ci/run does)`);
}

/** `durable: true` keeps fsync on (benchmarks of writes); tests turn it off for speed. */
export async function startPostgres(opts: { durable?: boolean } = {}): Promise<TestPostgres> {
  const dir = mkdtempSync(join(tmpdir(), "fd-pg-"));
  const asUser: { uid?: number; gid?: number } = {};
  if (process.getuid?.() === 0) {
    const id = spawnSync("id", ["-u", "postgres"], { encoding: "utf8" });
    const gid = spawnSync("id", ["-g", "postgres"], { encoding: "utf8" });
    asUser.uid = Number(id.stdout.trim());
    asUser.gid = Number(gid.stdout.trim());
    chownSync(dir, asUser.uid, asUser.gid);
  }
  const run = (argv: string[]) => {
    const r = spawnSync(argv[0] as string, argv.slice(1), { ...asUser, encoding: "utf8", cwd: dir });
    if (r.status !== 0)
      throw new Error(`${argv.join(" ")} failed: ${r.stderr || r.stdout || r.error?.message}`);
  };
  const data = join(dir, "data");
  run([
    pgBin("initdb"),
    "-D",
    data,
    "-U",
    "fd",
    "--auth=trust",
    "-E",
    "UTF8",
    ...(opts.durable ? [] : ["--no-sync"]),
  ]);
  const port = await freePort();
  run([
    pgBin("pg_ctl"),
    "-D",
    data,
    "-l",
    join(dir, "server.log"),
    "-o",
    `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1${opts.durable ? "" : " -c fsync=off"}`,
    "-w",
    "start",
  ]);
  return {
    url: `postgres://fd@127.0.0.1:${port}/postgres`,
    stop() {
      spawnSync(pgBin("pg_ctl"), ["-D", data, "-m", "immediate", "-w", "stop"], { ...asUser });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
