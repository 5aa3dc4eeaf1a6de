import { mkdirSync, readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Report } from "../../src/analysis/report.js";
import { FIXTURES, isAlive, ROOT, readReport, runCli, tempDir } from "../helpers/cli.js";
import { call, eventually, waitStatus } from "../helpers/jobs.js";
import { type Served, serve } from "../helpers/serve.js";

/**
 * `flaky-detector run --backend server`: the same command a user runs locally, its attempts run by
 * a real `serve` on loopback. The report must be the one a local run writes.
 */

const ALLOW = join(ROOT, "test/fixtures");
const KEY = "server-backend-test-key-0123456789";

/** Every key path of a JSON value (array elements collapsed), to compare shapes. */
function shape(value: unknown, prefix = ""): string[] {
  if (Array.isArray(value)) return value.length > 0 ? shape(value[0], `${prefix}[]`) : [`${prefix}[]`];
  if (value !== null && typeof value === "object") {
    return Object.entries(value).flatMap(([k, v]) => [`${prefix}.${k}`, ...shape(v, `${prefix}.${k}`)]);
  }
  return [];
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

describe("run --backend server", () => {
  let dir: { path: string; cleanup: () => void };
  let served: Served;
  beforeAll(async () => {
    dir = tempDir("fd-remote-");
    served = await serve(["--db", join(dir.path, "server.db"), "--allow-path", ALLOW], {
      FLAKY_DETECTOR_API_KEY: KEY,
    });
  }, 60_000);
  afterAll(async () => {
    expect(await served?.stop()).toBe(0);
    dir?.cleanup();
  });

  it("prints and writes the same report as a local run of the same job seed", async () => {
    const common = ["--runs", "30", "--seed", "11", "--parallelism", "2", "--stop", "fixed"];
    const remoteJson = join(dir.path, "remote.json");
    const localJson = join(dir.path, "local.json");
    const remote = await runCli(
      [
        "run",
        "--backend",
        "server",
        "--url",
        served.url,
        "--repo",
        FIXTURES,
        ...common,
        "--json",
        remoteJson,
        "--progress",
        "plain",
        "--",
        "node",
        "flaky.mjs",
        "0.3",
      ],
      { env: { FLAKY_DETECTOR_API_KEY: KEY } },
    );
    expect(remote.code, remote.stderr).toBe(0);
    expect(remote.stderr).toMatch(/submitted job [0-9a-f-]{36}/);
    expect(remote.stderr).toMatch(/progress: 30\/30 attempts/);
    expect(remote.stderr).toContain("recorded on the server as detection");
    const local = await runCli([
      "run",
      "--repo",
      FIXTURES,
      ...common,
      "--json",
      localJson,
      "--no-history",
      "--progress",
      "none",
      "--",
      "node",
      "flaky.mjs",
      "0.3",
    ]);
    expect(local.code, local.stderr).toBe(0);
    const r = readReport(remoteJson);
    const l = readReport(localJson);
    expect(shape(r).sort()).toEqual(shape(l).sort());
    // Seeds derive from the job seed, and flaky.mjs fails by seed: the same attempts fail.
    const failed = (x: Report) => x.attempts.map((a) => `${a.seed}:${a.outcome}`).sort();
    expect(failed(r)).toEqual(failed(l));
    expect(r.summary.failureRate).toBe(l.summary.failureRate);
    // The console summary is the same too (minus the timing line).
    const strip = (s: string) => s.replace(/[\d.]+m?s at parallelism/, "N at parallelism");
    expect(strip(remote.stdout)).toBe(strip(local.stdout));
    const detection = await call(served.url, `/api/v1/detections/${r.id}`, { key: KEY });
    expect(detection.status).toBe(200);
  });

  it("Ctrl-C cancels the job on the server and its attempts stop", async () => {
    const pidDir = join(dir.path, "pids");
    mkdirSync(pidDir);
    const result = await runCli(
      [
        "run",
        "--backend",
        "server",
        "--url",
        served.url,
        "--api-key",
        KEY,
        "--repo",
        FIXTURES,
        "--runs",
        "4",
        "--parallelism",
        "2",
        "--progress",
        "plain",
        "--",
        "node",
        "hang.mjs",
        pidDir,
      ],
      {
        onStderr: {
          includes: "running 4 attempts",
          act: (pid) => {
            setTimeout(() => process.kill(pid, "SIGINT"), 300);
          },
        },
      },
    );
    expect(result.code, result.stderr).toBe(130);
    const m = /cancelled job ([0-9a-f-]{36}) on the server \(CANCELLED\)/.exec(result.stderr);
    expect(m, result.stderr).not.toBeNull();
    const status = await call(served.url, `/status/${m?.[1]}`, { key: KEY });
    expect(status.body.status).toBe("CANCELLED");
    const pids = readdirSync(pidDir).map((f) => Number(readFileSync(join(pidDir, f), "utf8")));
    expect(pids.length).toBeGreaterThan(0);
    await eventually(() => pids.every((p) => !isAlive(p)));
  });

  it("explains refusals: wrong key, invalid job, missing --url or --repo, local-only flags", async () => {
    const base = ["run", "--backend", "server", "--url", served.url, "--repo", FIXTURES];
    const wrongKey = await runCli([...base, "--", "node", "pass.mjs"], {
      env: { FLAKY_DETECTOR_API_KEY: "nope-nope-nope-nope" },
    });
    expect(wrongKey.code).toBe(2);
    expect(wrongKey.stderr).toContain("refused the API key");

    const outside = await runCli(
      ["run", "--backend", "server", "--url", served.url, "--repo", "/etc", "--", "true"],
      {
        env: { FLAKY_DETECTOR_API_KEY: KEY },
      },
    );
    expect(outside.code).toBe(2);
    expect(outside.stderr).toMatch(
      /the server refused the job \(1 problem\(s\)\):\n\s+input.repo: .*not under an allowed root/,
    );

    const noUrl = await runCli(["run", "--backend", "server", "--repo", FIXTURES, "--", "true"]);
    expect(noUrl.code).toBe(2);
    expect(noUrl.stderr).toContain("--backend server needs --url");
    const noRepo = await runCli(["run", "--backend", "server", "--url", served.url, "--", "true"]);
    expect(noRepo.stderr).toContain("--backend server needs --repo");
    const localOnly = await runCli([...base, "--save-full-output", "--", "true"]);
    expect(localOnly.stderr).toContain("--save-full-output works with --backend local only");
    const badUrl = await runCli([
      "run",
      "--backend",
      "server",
      "--url",
      "http://u:p@127.0.0.1:1",
      "--repo",
      FIXTURES,
      "--",
      "true",
    ]);
    expect(badUrl.stderr).toContain("--url: the URL contains credentials");
    const badBackend = await runCli(["run", "--backend", "cloud", "--", "true"]);
    expect(badBackend.code).toBe(2);
    expect(badBackend.stderr).toContain("--backend: must be one of local, server");
  });
});

describe("run --backend server when the server is not up yet", () => {
  it("retries with backoff until the server answers, then completes", async () => {
    const dir = tempDir("fd-remote-late-");
    const port = await freePort();
    let served: Served | undefined;
    try {
      const client = runCli(
        [
          "run",
          "--backend",
          "server",
          "--url",
          `http://127.0.0.1:${port}`,
          "--repo",
          FIXTURES,
          "--runs",
          "3",
          "--progress",
          "none",
          "--",
          "node",
          "pass.mjs",
        ],
        {
          onStderr: {
            includes: "retrying in",
            act: () => {
              void serve([
                "--db",
                join(dir.path, "h.db"),
                "--allow-path",
                ALLOW,
                "--port",
                String(port),
              ]).then((s) => {
                served = s;
              });
            },
          },
        },
      );
      const result = await client;
      expect(result.code, result.stderr).toBe(0);
      expect(result.stderr).toMatch(/POST \/run: ECONNREFUSED; retrying in/);
      expect(result.stdout).toContain("STABLE");
      expect(served).toBeDefined();
      const url = (served as Served).url;
      expect(((await call(url, "/health")).body.jobs as { completed: number }).completed).toBe(1);
      await waitStatus(url, (/job ([0-9a-f-]{36})/.exec(result.stderr) as RegExpExecArray)[1] as string, [
        "COMPLETED",
      ]);
    } finally {
      await served?.stop();
      dir.cleanup();
    }
  }, 60_000);
});
