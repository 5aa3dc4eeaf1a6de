import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildServer } from "../../src/server/app.js";
import { openStore } from "../../src/store/open.js";
import { ROOT, tempDir } from "../helpers/cli.js";
import { startPostgres, type TestPostgres } from "../helpers/postgres.js";

/**
 * --max-queue under concurrent submissions: the count and the insert are one step, so exactly
 * max-queue jobs are accepted out of 200 sent at once over real HTTP, on SQLite and PostgreSQL.
 */

let pg: TestPostgres | undefined;
const tmp = tempDir("fd-queue-");
beforeAll(async () => {
  pg = await startPostgres();
}, 60_000);
afterAll(() => {
  pg?.stop();
  tmp.cleanup();
});

describe.each(["sqlite", "postgres"] as const)("--max-queue on %s", (engine) => {
  it("holds exactly under 200 concurrent submissions", async () => {
    const store = await openStore(engine === "sqlite" ? join(tmp.path, "queue.db") : (pg?.url as string));
    if (engine === "postgres") await store.db.deleteFrom("jobs").execute();
    const app = await buildServer({
      store,
      logLevel: "silent",
      rateLimit: 0,
      jobs: { concurrency: 0, maxQueue: 37, ctx: { allowRoots: [], env: {}, cwd: ROOT } },
    });
    const url = await app.listen({ host: "127.0.0.1", port: 0 });
    try {
      const body = JSON.stringify({ input: { repo: "https://example.com/r.git", test_command: "npm test" } });
      const answers = await Promise.all(
        Array.from({ length: 200 }, () =>
          fetch(`${url}/run`, { method: "POST", headers: { "content-type": "application/json" }, body }).then(
            async (r) => ({
              status: r.status,
              retryAfter: r.headers.get("retry-after"),
              body: await r.json(),
            }),
          ),
        ),
      );
      const accepted = answers.filter((a) => a.status === 200);
      const refused = answers.filter((a) => a.status === 429);
      expect(accepted).toHaveLength(37);
      expect(refused).toHaveLength(163);
      expect(refused[0]?.body.error.code).toBe("E_QUEUE_FULL");
      expect(Number(refused[0]?.retryAfter)).toBeGreaterThan(0);
      const rows = await store.db.selectFrom("jobs").select("id").where("status", "=", "IN_QUEUE").execute();
      expect(rows).toHaveLength(37);
    } finally {
      await app.close();
      await store.close();
    }
  }, 60_000);
});
