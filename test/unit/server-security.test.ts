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

async function app(extra: { corsOrigins?: string[]; bodyLimit?: number; rateLimit?: number } = {}) {
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

  it("rate-limits protected routes by the matched route, whatever the spelling", async () => {
    const a = await app({ rateLimit: 5 });
    const urls = ["/api/v1/repositories", "/%61pi/v1/repositories", "/api/v1/%72epositories", "/m%65trics"];
    const codes: number[] = [];
    for (let i = 0; i < 8; i++)
      codes.push((await a.inject({ method: "GET", url: urls[i % 4] as string })).statusCode);
    expect(codes.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
    expect(codes.slice(5)).toEqual([429, 429, 429]);
    // Public routes are not counted.
    expect((await a.inject({ method: "GET", url: "/health" })).statusCode).toBe(200);
    await a.close();
  });

  it("answers only to known hosts, and refuses state changes from other origins", async () => {
    const a = await app({ corsOrigins: ["https://ci.example.com"] });
    const post = (headers: Record<string, string>) =>
      a.inject({ method: "POST", url: "/run", headers, payload: { input: {} } });
    expect(
      (await a.inject({ method: "GET", url: "/health", headers: { host: "attacker.example" } })).statusCode,
    ).toBe(403);
    for (const host of ["127.0.0.1:8080", "localhost:8080", "[::1]:8080", "app.localhost", "10.0.0.5"]) {
      expect((await a.inject({ method: "GET", url: "/health", headers: { host } })).statusCode, host).toBe(
        200,
      );
    }
    // DNS rebinding: a page on attacker.example resolved to 127.0.0.1.
    const rebound = await post({ host: "attacker.example:8080", origin: "http://attacker.example:8080" });
    expect(rebound.statusCode).toBe(403);
    expect(rebound.json().error.code).toBe("E_HOST_NOT_ALLOWED");
    expect(rebound.json().error.message).toMatch(/--allowed-host/);
    // Another local page POSTing cross-origin.
    const cross = await post({ host: "127.0.0.1:8080", origin: "http://127.0.0.1:3000" });
    expect(cross.json().error.code).toBe("E_ORIGIN_NOT_ALLOWED");
    // Same origin, an allowed CORS origin, and no Origin at all (curl, CI) reach validation.
    const allowed: Record<string, string>[] = [
      { host: "127.0.0.1:8080", origin: "http://127.0.0.1:8080" },
      { host: "127.0.0.1:8080", origin: "https://ci.example.com" },
      { host: "127.0.0.1:8080" },
    ];
    for (const headers of allowed) {
      expect((await post(headers)).statusCode, JSON.stringify(headers)).toBe(400);
    }
    await a.close();
  });

  it("lets the operator name more hosts, or any", async () => {
    store = await openStore(":memory:");
    const named = await buildServer({
      store,
      rateLimit: 0,
      logStream: quiet,
      allowedHosts: [".example.com", "ci-box"],
    });
    for (const host of ["ci.example.com", "example.com", "ci-box:8080"]) {
      expect(
        (await named.inject({ method: "GET", url: "/health", headers: { host } })).statusCode,
        host,
      ).toBe(200);
    }
    expect(
      (await named.inject({ method: "GET", url: "/health", headers: { host: "notexample.com" } })).statusCode,
    ).toBe(403);
    await named.close();
    const any = await buildServer({ store, rateLimit: 0, logStream: quiet, allowedHosts: "any" });
    expect(
      (await any.inject({ method: "GET", url: "/health", headers: { host: "whatever.test" } })).statusCode,
    ).toBe(200);
    await any.close();
  });
});
