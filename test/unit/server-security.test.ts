import { Writable } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { buildServer } from "../../src/server/app.js";
import { openStore, type Store } from "../../src/store/open.js";
import { ROOT } from "../helpers/cli.js";

/** CORS (off unless asked), security headers and the body limit on the real app, in-process. */

const quiet = new Writable({
  write(_c, _e, cb) {
    cb();
  },
});
let store: Store | undefined;
afterEach(async () => store?.close());

async function app(extra: { corsOrigins?: string[]; bodyLimit?: number } = {}) {
  store = await openStore(":memory:");
  const a = await buildServer({
    store,
    rateLimit: 0,
    logStream: quiet,
    jobs: { concurrency: 0, maxQueue: 10, ctx: { allowRoots: [], env: {}, cwd: ROOT } },
    ...extra,
  });
  await a.ready();
  return a;
}

const preflight = {
  method: "OPTIONS" as const,
  url: "/run",
  headers: { origin: "https://ci.example.com", "access-control-request-method": "POST" },
};

describe("server security", () => {
  it("sends no CORS headers by default", async () => {
    const a = await app();
    const res = await a.inject({
      method: "GET",
      url: "/health",
      headers: { origin: "https://evil.example" },
    });
    expect(res.headers["access-control-allow-origin"]).toBeUndefined();
    expect((await a.inject(preflight)).headers["access-control-allow-origin"]).toBeUndefined();
    expect(res.headers["x-content-type-options"]).toBe("nosniff");
    expect(res.headers["referrer-policy"]).toBe("no-referrer");
    await a.close();
  });

  it("allows exactly the configured origins", async () => {
    const a = await app({ corsOrigins: ["https://ci.example.com"] });
    expect((await a.inject(preflight)).headers["access-control-allow-origin"]).toBe("https://ci.example.com");
    const other = await a.inject({
      ...preflight,
      headers: { ...preflight.headers, origin: "https://evil.example" },
    });
    expect(other.headers["access-control-allow-origin"]).toBeUndefined();
    await a.close();
  });

  it("refuses a body over the limit with 413 naming the setting", async () => {
    const a = await app({ bodyLimit: 2048 });
    const res = await a.inject({
      method: "POST",
      url: "/run",
      payload: { input: { repo: "https://example.com/r.git", test_command: "x".repeat(4000) } },
    });
    expect(res.statusCode).toBe(413);
    expect(res.json()).toMatchObject({ error: { code: "E_BODY_TOO_LARGE" } });
    expect(res.json().error.message).toContain("2048 bytes");
    await a.close();
  });
});
