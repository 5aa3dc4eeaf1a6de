import { Writable } from "node:stream";
import fc from "fast-check";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildServer } from "../../src/server/app.js";
import { openStore, type Store } from "../../src/store/open.js";
import { ROOT } from "../helpers/cli.js";

/**
 * The job input schema under fire: whatever JSON a client sends to /run, the answer is a 200 with a
 * job id or a 400 listing problems that each name a field path — never a 500. Runs against the real
 * app in-process; concurrency 0 so accepted jobs are only queued.
 */

let store: Store;
let app: FastifyInstance;
const logged: string[] = [];
beforeAll(async () => {
  store = await openStore(":memory:");
  app = await buildServer({
    store,
    rateLimit: 0,
    logLevel: "error",
    logStream: new Writable({
      write(chunk, _enc, cb) {
        logged.push(String(chunk));
        cb();
      },
    }),
    jobs: { concurrency: 0, maxQueue: 1_000_000, ctx: { allowRoots: [ROOT], env: {}, cwd: ROOT } },
  });
  await app.ready();
});
afterAll(async () => {
  await app?.close();
  await store?.close();
});

const KEYS = [
  "repo",
  "ref",
  "test_command",
  "tests",
  "junit",
  "branch",
  "pr_number",
  "runs",
  "parallelism",
  "framework",
  "timeout",
  "job_timeout",
  "stop",
  "confidence",
  "shuffle",
  "isolation",
  "seed",
  "severity_thresholds",
  "random_seed_range",
  "ignore_patterns",
  "history",
  "notify",
  "bogus",
];

const anyValue = fc.oneof(
  fc.jsonValue(),
  fc.constantFrom(
    "https://example.com/r.git",
    ROOT,
    "/etc",
    "main",
    "npm test",
    "a && b",
    "-rf",
    "pytest",
    0,
    -1,
    1e9,
  ),
);
/** Bodies close enough to valid that they reach the deeper checks, mixed with garbage. */
const body = fc.oneof(
  fc.jsonValue(),
  fc.record({ input: fc.dictionary(fc.constantFrom(...KEYS), anyValue), policy: fc.option(fc.jsonValue()) }),
  fc.record({
    input: fc.record(
      {
        repo: fc.constantFrom(
          "https://example.com/r.git",
          `${ROOT}/examples/node-test`,
          "git@github.com:o/r.git",
        ),
        test_command: fc.oneof(fc.string(), fc.array(fc.string(), { maxLength: 4 })),
        runs: fc.oneof(fc.integer(), fc.double()),
        parallelism: fc.integer({ min: -2, max: 2000 }),
        framework: fc.constantFrom("pytest", "go", "jest", "nope", ""),
        ref: fc.constantFrom("main", "v1.2", "a..b", "--upload-pack=x", "abc123"),
      },
      { requiredKeys: ["repo"] },
    ),
    policy: fc.option(
      fc.record(
        { executionTimeout: fc.integer(), ttl: fc.integer(), lowPriority: fc.jsonValue() },
        { requiredKeys: [] },
      ),
    ),
  }),
);

describe("POST /run input validation (property)", () => {
  it("answers 200 with a job or 400 with field paths, never anything else", async () => {
    await fc.assert(
      fc.asyncProperty(body, async (b) => {
        const res = await app.inject({
          method: "POST",
          url: "/run",
          payload: JSON.stringify(b),
          headers: { "content-type": "application/json" },
        });
        const json = res.json() as {
          id?: string;
          status?: string;
          error?: { code: string; problems?: { path: string; message: string }[] };
        };
        if (res.statusCode === 200) {
          expect(json.status).toBe("IN_QUEUE");
          expect(json.id).toMatch(/^[0-9a-f-]{36}$/);
          return;
        }
        expect(res.statusCode).toBe(400);
        expect(json.error?.code).toBe("E_BAD_REQUEST");
        const problems = json.error?.problems ?? [];
        expect(problems.length).toBeGreaterThan(0);
        for (const p of problems) {
          expect(typeof p.path).toBe("string");
          expect(p.message.length).toBeGreaterThan(5);
          // Every problem names where it is, except a body that is not an object at all.
          if (p.path === "")
            expect(p.message).toMatch(/request body (must be a JSON object|is not valid JSON)/);
          else expect(p.path).toMatch(/^(input|policy|"|[A-Za-z_])/);
        }
      }),
      { numRuns: 1000 },
    );
    expect(logged.join("")).not.toContain('"statusCode":500');
  });

  it("accepts the seed project's input as it sends it", async () => {
    const res = await app.inject({
      method: "POST",
      url: "/run",
      payload: {
        input: {
          repo: "https://github.com/acme/shop.git",
          test_command: "pytest tests/",
          runs: 50,
          parallelism: 4,
          framework: "pytest",
        },
      },
    });
    expect(res.statusCode).toBe(200);
  });

  it("refuses operators in test_command and bad refs with the field named", async () => {
    const res = await app.inject({
      method: "POST",
      url: "/run",
      payload: {
        input: {
          repo: "https://example.com/r.git",
          test_command: "npm test && rm -rf /",
          ref: "--upload-pack=x",
        },
      },
    });
    expect(res.statusCode).toBe(400);
    const problems = (res.json() as { error: { problems: { path: string; message: string }[] } }).error
      .problems;
    expect(problems.map((p) => p.path).sort()).toEqual(["input.ref", "input.test_command"]);
    expect(problems.find((p) => p.path === "input.test_command")?.message).toMatch(/&&/);
  });

  it("a coordinator's follow-ups asking to confirm a test that never passed: 400 naming the field", async () => {
    const confirm = (failures: number) =>
      app.inject({
        method: "POST",
        url: "/run",
        payload: {
          input: {
            repo: ROOT,
            test_command: "npm test",
            runs: 20,
            shard: {
              jobSeed: 7,
              first: 20,
              count: 0,
              followUps: { replay: [], confirm: [{ id: "t", attempts: 20, failures }], shuffledSeeds: [] },
            },
          },
        },
      });
    const bad = await confirm(20);
    expect(bad.statusCode).toBe(400);
    const problems = (bad.json() as { error: { problems: { path: string; message: string }[] } }).error
      .problems;
    expect(problems).toEqual([
      {
        path: "input.shard.followUps.confirm.0.failures",
        message: expect.stringMatching(/fewer than attempts/),
        value: expect.anything(),
      },
    ]);
    expect((await confirm(6)).statusCode).toBe(200);
  });
});

describe("repositories a server refuses by default", () => {
  const post = (target: FastifyInstance, repo: string) =>
    target.inject({ method: "POST", url: "/run", payload: { input: { repo, test_command: "npm test" } } });

  it("plain http, loopback, private, link-local and unusable file URLs are a 400 naming input.repo and the way out", async () => {
    for (const repo of [
      "http://example.com/r.git",
      "https://127.0.0.1/r.git",
      "https://localhost:8443/r.git",
      "https://10.1.2.3/r.git",
      "https://172.20.0.5/r.git",
      "https://192.168.1.10/r.git",
      "https://169.254.169.254/latest",
      "https://[::1]/r.git",
      "https://[fd00::1]/r.git",
      "https://[::ffff:127.0.0.1]/r.git",
      "ssh://git@192.168.0.2/r.git",
      "git@10.0.0.7:team/r.git",
      "file://127.0.0.1/etc",
      "file:///tmp%2Fetc",
    ]) {
      const res = await post(app, repo);
      expect(res.statusCode, repo).toBe(400);
      const problem = res.json().error.problems.find((p: { path: string }) => p.path === "input.repo");
      expect(problem?.message, repo).toMatch(/--allow-private-repos|file URL|use https:\/\//);
    }
    for (const repo of [
      "https://github.com/acme/shop.git",
      "git@github.com:acme/shop.git",
      "ssh://git@gitlab.com/a/b.git",
    ]) {
      expect((await post(app, repo)).statusCode, repo).toBe(200);
    }
  });

  it("--allow-private-repos accepts them", async () => {
    const open = await buildServer({
      store,
      rateLimit: 0,
      logLevel: "error",
      jobs: {
        concurrency: 0,
        maxQueue: 100,
        ctx: { allowRoots: [], env: {}, cwd: ROOT, allowPrivateRepos: true },
      },
    });
    for (const repo of ["http://127.0.0.1:9418/r.git", "https://10.1.2.3/r.git", "git@192.168.0.2:a/b.git"]) {
      expect((await post(open, repo)).statusCode, repo).toBe(200);
    }
    await open.close();
  });

  it("a host name that resolves to a private address is refused when the job runs", async () => {
    const { executeJob } = await import("../../src/remote/execute.js");
    const { hostname } = await import("node:os");
    const { lookup } = await import("node:dns/promises");
    const { isPrivateHost } = await import("../../src/source/repo-spec.js");
    // localhost's own names resolve to loopback on every machine; the host name usually does too.
    const names = ["localhost.", hostname()];
    let checked = 0;
    for (const name of names) {
      const addresses = await lookup(name, { all: true }).catch(() => []);
      if (!addresses.some((a) => isPrivateHost(a.address)) || isPrivateHost(name)) continue;
      checked++;
      await expect(
        executeJob(
          { repo: `https://${name}/acme/shop.git`, test_command: "npm test" },
          { allowRoots: [], env: {}, cwd: ROOT },
          { signal: new AbortController().signal, emit: () => {} },
        ),
      ).rejects.toThrow(/input\.repo: .* resolves to .*--allow-private-repos/);
    }
    expect(checked).toBeGreaterThan(0);
  });
});
