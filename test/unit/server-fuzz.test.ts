import { connect } from "node:net";
import { Writable } from "node:stream";
import fc from "fast-check";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildServer } from "../../src/server/app.js";
import { insertJob } from "../../src/store/jobs.js";
import { openStore, type Store } from "../../src/store/open.js";
import { recordDetection } from "../../src/store/record.js";
import { ROOT } from "../helpers/cli.js";
import { report } from "../helpers/reports.js";

/**
 * Hostile requests against the real app with an API key configured: every percent-encoding, case
 * and slash variant of the protected routes, foreign Host and Origin headers, and bodies of wrong
 * types, deep nesting, huge strings and injection payloads in every field. 10,000 requests in
 * all: no 500, no protected data without the key, no answer to a foreign host.
 */

const KEY = "fuzz-key-0123456789abcdef";
const MARKER = "MARKER-6f1c2a";
let store: Store;
let app: FastifyInstance;
let jobId: string;
const detectionId = `det-${MARKER}`;
const logged: string[] = [];

beforeAll(async () => {
  store = await openStore(":memory:");
  await recordDetection(
    store,
    report(
      detectionId,
      "2026-11-01T10:00:00.000Z",
      [{ id: `t-${MARKER}`, attempts: 10, failures: 3 }],
      `/srv/${MARKER}`,
    ),
    { trigger: "cli", backend: "local" },
  );
  const job = await insertJob(store, {
    input: { repo: `/srv/${MARKER}`, test_command: "npm test" },
    lowPriority: false,
    executionTimeoutMs: 60_000,
    ttlMs: 60_000,
    apiKeyId: null,
  });
  jobId = job.id;
  app = await buildServer({
    store,
    apiKey: KEY,
    rateLimit: 0,
    logStream: new Writable({
      write(c, _e, cb) {
        logged.push(c.toString());
        cb();
      },
    }),
    jobs: { concurrency: 0, maxQueue: 1_000_000, ctx: { allowRoots: [], env: {}, cwd: ROOT } },
  });
  await app.ready();
});

afterAll(async () => {
  await app?.close();
  await store?.close();
});

/** Routes that hold data or change state: reached without the key, they must answer 401. */
const PROTECTED = () => [
  "/api/v1/repositories",
  "/api/v1/overview",
  `/api/v1/trend?repository=/srv/${MARKER}`,
  "/api/v1/top-tests",
  "/api/v1/detections",
  `/api/v1/detections/${detectionId}`,
  `/api/v1/test?repository=/srv/${MARKER}&id=t-${MARKER}`,
  "/metrics",
  `/status/${jobId}`,
  `/events/${jobId}`,
];

const hex = (c: string, upper: boolean) => {
  const h = Buffer.from(c, "utf8").toString("hex");
  const pairs = h.match(/../g) ?? [];
  return pairs.map((p) => `%${upper ? p.toUpperCase() : p}`).join("");
};

/** One way of writing a path that a lenient router might still match. */
const variant = fc
  .record({
    base: fc.integer({ min: 0, max: 9 }),
    encode: fc.array(fc.boolean(), { minLength: 80, maxLength: 80 }),
    upperHex: fc.boolean(),
    flipCase: fc.array(fc.boolean(), { minLength: 80, maxLength: 80 }),
    doubleSlash: fc.integer({ min: -1, max: 6 }),
    prefix: fc.constantFrom("", "/.", "/x/..", "/", "//", "/%2e", "/%2E/"),
    suffix: fc.constantFrom("", "/", "?", "?a=1", "#x", ";x=1", "/.", "%00", "%2F", "/..", "?%61=b"),
  })
  .map((v) => {
    const full = PROTECTED()[v.base] as string;
    const q = full.indexOf("?");
    const path = q >= 0 ? full.slice(0, q) : full;
    const query = q >= 0 ? full.slice(q) : "";
    let out = "";
    for (const [i, ch] of [...path].entries()) {
      let c = ch;
      if (v.flipCase[i % 80] && /[a-z]/i.test(c) && i % 3 === 0)
        c = c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase();
      if (v.encode[i % 80] && (c !== "/" || i % 5 === 0)) c = hex(c, v.upperHex);
      out += c;
      if (c === "/" && v.doubleSlash === i % 7) out += "/";
    }
    return `${v.prefix}${out}${query}${v.suffix}`.replace(/^([^/])/, "/$1");
  });

/** A 2xx without the key must be something public: health, the API description, dashboard files. */
function assertPublic(
  res: { statusCode: number; body: string; headers: Record<string, unknown> },
  url: string,
) {
  expect(res.statusCode, url).toBeLessThan(500);
  expect(res.body, url).not.toContain(MARKER);
  expect(res.body, url).not.toContain("# HELP flaky_detector");
  if (res.statusCode >= 200 && res.statusCode < 300) {
    const type = String(res.headers["content-type"] ?? "");
    if (type.startsWith("application/json")) {
      const body = JSON.parse(res.body);
      expect(
        body.status === "ok" || typeof body.openapi === "string",
        `${url}: ${res.body.slice(0, 200)}`,
      ).toBe(true);
    } else {
      expect(type, url).toMatch(/^(text\/html|text\/css|application\/javascript|text\/javascript|image\/)/);
    }
  }
}

describe("hostile requests (fast-check)", () => {
  it("6,000 spellings of protected routes without the key: never data, never a 500", async () => {
    const seen = { unauthorized: 0, notFound: 0, other: 0 };
    await fc.assert(
      fc.asyncProperty(
        variant,
        fc.constantFrom("GET", "HEAD", "POST", "DELETE", "OPTIONS"),
        async (url, method) => {
          const res = await app.inject({ method: method as "GET", url, headers: { host: "127.0.0.1:8080" } });
          assertPublic(res, `${method} ${url}`);
          if (res.statusCode === 401) seen.unauthorized++;
          else if (res.statusCode === 404) seen.notFound++;
          else seen.other++;
        },
      ),
      { numRuns: 6000 },
    );
    // The property is not vacuous: most spellings do reach a protected route and are refused.
    expect(seen.unauthorized).toBeGreaterThan(1000);
  }, 120_000);

  it("the canonical protected routes answer 401 without the key and 200 with it", async () => {
    for (const url of PROTECTED()) {
      if (url.startsWith("/events/")) continue; // a stream: covered by the raw-socket test
      const no = await app.inject({ method: "GET", url });
      expect(no.statusCode, url).toBe(401);
      const yes = await app.inject({ method: "GET", url, headers: { authorization: `Bearer ${KEY}` } });
      expect(yes.statusCode, url).toBe(200);
    }
    for (const url of [
      "/%61pi/v1/repositories",
      "/m%65trics",
      `/st%61tus/${jobId}`,
      "/api/v1/%64etections",
    ]) {
      expect((await app.inject({ method: "GET", url })).statusCode, url).toBe(401);
    }
  });

  it("1,000 foreign Host and cross-site Origin headers: refused with 403 even with the key", async () => {
    const foreign = fc
      .tuple(
        fc.domain().filter((d) => d !== "localhost" && !d.endsWith(".localhost")),
        fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }),
      )
      .map(([d, p]) => (p === undefined ? d : `${d}:${p}`));
    await fc.assert(
      fc.asyncProperty(
        foreign,
        fc.constantFrom(...PROTECTED(), "/run", "/health", "/"),
        fc.boolean(),
        async (host, url, withKey) => {
          const res = await app.inject({
            method: url === "/run" ? "POST" : "GET",
            url,
            headers: {
              host,
              origin: `http://${host}`,
              ...(withKey ? { authorization: `Bearer ${KEY}` } : {}),
            },
            ...(url === "/run"
              ? { payload: { input: { repo: "https://example.com/r.git", test_command: "x" } } }
              : {}),
          });
          expect(res.statusCode, `${host} ${url}`).toBe(403);
          expect(res.body).not.toContain(MARKER);
        },
      ),
      { numRuns: 700 },
    );
    // A page on another origin may not POST to a loopback server even with a loopback Host.
    await fc.assert(
      fc.asyncProperty(fc.webUrl({ withQueryParameters: false, withFragments: false }), async (origin) => {
        const res = await app.inject({
          method: "POST",
          url: "/run",
          headers: { host: "127.0.0.1:8080", origin: new URL(origin).origin, authorization: `Bearer ${KEY}` },
          payload: { input: { repo: "https://example.com/r.git", test_command: "x" } },
        });
        expect(res.statusCode, origin).toBe(403);
        expect(res.json().error.code).toBe("E_ORIGIN_NOT_ALLOWED");
      }),
      { numRuns: 300 },
    );
  }, 120_000);

  it("3,000 hostile bodies with the key: a 400 listing problems by field, or accepted; never a 500", async () => {
    const canary = "/tmp/fd-canary-should-never-exist";
    const injections = [
      `$(touch ${canary})`,
      `\`touch ${canary}\``,
      `; touch ${canary}`,
      `| touch ${canary}`,
      `--upload-pack=touch ${canary}`,
      "-oProxyCommand=touch /tmp/x",
      "../../../../etc/passwd",
      "file://127.0.0.1/etc",
      "file:///tmp%2Fetc",
      "http://169.254.169.254/latest/meta-data",
      "https://user:pass@example.com/r.git",
      "\u0000\r\nX-Injected: 1",
      "' OR 1=1 --",
      '{"__proto__":{"polluted":true}}',
      "<script>alert(1)</script>",
      "%s%s%s%n",
      "ssh://-oProxyCommand=x/y",
      "git@127.0.0.1:x/y.git",
    ];
    const hostile = fc.oneof(
      fc.constantFrom(...injections),
      fc.string({ maxLength: 40 }),
      fc.integer(),
      fc.double(),
      fc.boolean(),
      fc.constant(null),
      fc.array(fc.string({ maxLength: 10 }), { maxLength: 5 }),
      fc.integer({ min: 100_000, max: 900_000 }).map((n) => "x".repeat(n)),
      fc
        .integer({ min: 60, max: 20_000 })
        .map((n) => JSON.parse(`${"[".repeat(Math.min(n, 60))}${"]".repeat(Math.min(n, 60))}`)),
      fc.jsonValue({ maxDepth: 4 }),
    );
    const fields = [
      "repo",
      "ref",
      "test_command",
      "tests",
      "junit",
      "branch",
      "pr_number",
      "shard",
      "runs",
      "parallelism",
      "timeout",
      "framework",
      "stop",
      "confidence",
      "ignore_patterns",
      "severity_thresholds",
      "secrets",
      "random_seed_range",
      "history",
      "__proto__",
      "constructor",
    ];
    const input = fc.dictionary(fc.constantFrom(...fields), hostile, { maxKeys: 6 });
    const body = fc.oneof(
      {
        weight: 6,
        arbitrary: fc.record({
          input,
          policy: fc.option(fc.dictionary(fc.string({ maxLength: 12 }), hostile), { nil: undefined }),
        }),
      },
      { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)) },
      {
        weight: 1,
        arbitrary: fc
          .integer({ min: 65, max: 12_000 })
          .map((n) => `{"input":${"[".repeat(n)}${"]".repeat(n)}}`),
      },
      { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
    );
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(
        body,
        fc.constantFrom(
          "/run",
          "/runsync?wait=1000",
          "/retry/x",
          "/cancel/00000000-0000-0000-0000-000000000000",
        ),
        async (b, url) => {
          const isRunsync = url.startsWith("/runsync");
          const payload = typeof b === "string" ? b : JSON.stringify(b);
          const res = await app.inject({
            method: "POST",
            url,
            headers: { authorization: `Bearer ${KEY}`, "content-type": "application/json" },
            payload,
          });
          statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
          expect(
            [200, 400, 404, 409, 413, 415, 429],
            `${url} ${payload.slice(0, 300)} → ${res.body.slice(0, 300)}`,
          ).toContain(res.statusCode);
          if (res.statusCode === 400) {
            const problems = res.json().error.problems;
            expect(Array.isArray(problems) && problems.length > 0, res.body.slice(0, 300)).toBe(true);
            for (const p of problems) expect(typeof p.path).toBe("string");
            // A credentialed URL is never echoed back.
            expect(res.body).not.toContain("user:pass@");
          }
          if (isRunsync && res.statusCode === 200) expect(res.json().status).toBe("IN_QUEUE");
        },
      ),
      { numRuns: 3000 },
    );
    expect(statuses.get(500)).toBeUndefined();
    expect(statuses.get(400) ?? 0).toBeGreaterThan(500);
    expect(logged.join("")).not.toContain('"level":50');
    const { existsSync } = await import("node:fs");
    expect(existsSync(canary)).toBe(false);
  }, 180_000);

  it("absolute-form request targets over a real socket are judged by the route, not the text", async () => {
    const address = await app.listen({ host: "127.0.0.1", port: 0 });
    const port = Number(new URL(address).port);
    const targets = [
      "http://x/api/v1/repositories",
      "http://127.0.0.1/api/v1/detections",
      "http://127.0.0.1/%61pi/v1/repositories",
      `http://localhost/st%61tus/${jobId}`,
      `http://localhost/%65vents/${jobId}`,
      "http://localhost/m%65trics",
      "HTTP://LOCALHOST/api/v1/overview",
    ];
    for (const target of targets) {
      const raw = await new Promise<string>((resolve, reject) => {
        const s = connect(port, "127.0.0.1", () =>
          s.write(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`),
        );
        let out = "";
        s.setTimeout(3000, () => s.destroy());
        s.on("data", (d) => {
          out += d.toString();
        });
        s.on("close", () => resolve(out));
        s.on("error", reject);
      });
      const status = Number(raw.split(" ")[1]);
      expect([400, 401, 404], `${target}: ${raw.slice(0, 200)}`).toContain(status);
      expect(raw).not.toContain(MARKER);
    }
  });
});
