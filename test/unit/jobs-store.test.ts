import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  activeKeyCount,
  createApiKey,
  findActiveKey,
  hashKey,
  revokeApiKey,
} from "../../src/store/api-keys.js";
import {
  cancelJob,
  claimJob,
  countsByStatus,
  expireJobs,
  finishJob,
  getJob,
  insertJob,
  purgeQueue,
  releaseJob,
  renewLease,
  retryJob,
} from "../../src/store/jobs.js";
import { openStore, type Store } from "../../src/store/open.js";
import { writeDetection } from "../../src/store/record.js";
import { startPostgres, type TestPostgres } from "../helpers/postgres.js";
import { report } from "../helpers/reports.js";

let pgServer: TestPostgres | undefined;
beforeAll(async () => {
  pgServer = await startPostgres();
}, 60_000);
afterAll(() => pgServer?.stop());

const job = {
  input: { repo: "https://example.com/r.git" },
  lowPriority: false,
  executionTimeoutMs: 600_000,
  ttlMs: 60_000,
  apiKeyId: null,
};

for (const engine of ["sqlite", "postgres"] as const) {
  describe(`job queue on ${engine}`, () => {
    let store: Store;
    beforeEach(async () => {
      await store?.close();
      if (engine === "sqlite") store = await openStore(":memory:");
      else {
        store = await openStore(pgServer?.url as string);
        for (const t of [
          "jobs",
          "api_keys",
          "attempts",
          "test_results",
          "test_catalog",
          "detections",
        ] as const)
          await store.db.deleteFrom(t).execute();
      }
    });
    afterAll(async () => store?.close());

    it("claims in priority then age order, one runner per job", async () => {
      const low = await insertJob(store, { ...job, lowPriority: true });
      const first = await insertJob(store, job);
      const second = await insertJob(store, job);
      const claims = await Promise.all([
        claimJob(store, "a", 30_000),
        claimJob(store, "b", 30_000),
        claimJob(store, "c", 30_000),
        claimJob(store, "d", 30_000),
      ]);
      const ids = claims.map((c) => c?.id).filter(Boolean);
      expect(new Set(ids).size).toBe(3);
      expect(claims.filter((c) => c === undefined)).toHaveLength(1);
      const order = [first.id, second.id, low.id];
      expect([...ids].sort((x, y) => order.indexOf(x as string) - order.indexOf(y as string))).toEqual(order);
      expect(claims.every((c) => c === undefined || (c.status === "IN_PROGRESS" && c.executions === 1))).toBe(
        true,
      );
    });

    it("finishes only while holding the lease; a lapsed lease is taken over and the old runner writes nothing", async () => {
      const j = await insertJob(store, job);
      const mine = await claimJob(store, "old", 1);
      expect(mine?.id).toBe(j.id);
      await new Promise((r) => setTimeout(r, 10));
      const taken = await claimJob(store, "new", 30_000);
      expect(taken).toMatchObject({ id: j.id, lease_owner: "new", executions: 2 });
      expect(await renewLease(store, j.id, "old", 30_000)).toBe(false);
      const r = report("det-1", "2026-11-01T00:00:00.000Z", [{ id: "t", attempts: 10, failures: 2 }]);
      const lateWrite = await finishJob(store, j, "old", { status: "COMPLETED", output: r }, (trx) =>
        writeDetection(trx, r, { trigger: "api", backend: "server" }),
      );
      expect(lateWrite).toBe(false);
      expect(await store.db.selectFrom("detections").selectAll().execute()).toHaveLength(0);
      const done = await finishJob(
        store,
        j,
        "new",
        { status: "COMPLETED", output: r, detectionId: r.id },
        (trx) => writeDetection(trx, r, { trigger: "api", backend: "server" }),
      );
      expect(done).toBe(true);
      const row = await getJob(store, j.id);
      expect(row).toMatchObject({ status: "COMPLETED", detection_id: "det-1", lease_owner: null });
      expect(JSON.parse(row?.output as string).id).toBe("det-1");
      expect(await store.db.selectFrom("detections").select("trigger").execute()).toEqual([
        { trigger: "api" },
      ]);
      // Finishing twice is impossible.
      expect(await finishJob(store, j, "new", { status: "FAILED", error: "x" })).toBe(false);
    });

    it("a failing history write rolls the job's completion back", async () => {
      const j = await insertJob(store, job);
      await claimJob(store, "me", 30_000);
      await expect(
        finishJob(store, j, "me", { status: "COMPLETED" }, async () => {
          throw new Error("disk full");
        }),
      ).rejects.toThrow("disk full");
      expect((await getJob(store, j.id))?.status).toBe("IN_PROGRESS");
    });

    it("cancels, retries only FAILED/TIMED_OUT, releases, purges and expires", async () => {
      const queued = await insertJob(store, job);
      expect((await cancelJob(store, queued.id))?.status).toBe("CANCELLED");
      expect((await retryJob(store, queued.id)).retried).toBe(false);
      expect(await cancelJob(store, "nope")).toBeUndefined();

      const j = await insertJob(store, job);
      await claimJob(store, "me", 30_000);
      expect(await finishJob(store, j, "me", { status: "FAILED", error: "E_CLONE: no" })).toBe(true);
      const retried = await retryJob(store, j.id);
      expect(retried.retried).toBe(true);
      expect(retried.row).toMatchObject({ status: "IN_QUEUE", retries: 1, error: null });

      const running = await claimJob(store, "me", 30_000);
      expect(running?.id).toBe(j.id);
      expect(await releaseJob(store, j.id, "someone-else")).toBe(false);
      expect(await releaseJob(store, j.id, "me")).toBe(true);
      expect((await getJob(store, j.id))?.status).toBe("IN_QUEUE");

      expect(await purgeQueue(store)).toBe(1);
      expect(await countsByStatus(store)).toMatchObject({ IN_QUEUE: 0, CANCELLED: 1 });
      const cancelledRow = await getJob(store, queued.id);
      expect(cancelledRow?.expires_at).not.toBeNull();
      expect(await expireJobs(store, new Date(Date.now() + 59_000).toISOString())).toBe(0);
      expect(await expireJobs(store, new Date(Date.now() + 61_000).toISOString())).toBe(1);
      expect(await getJob(store, queued.id)).toBeUndefined();
    });

    it("stores API keys as hashes and finds only active ones", async () => {
      const { key, info } = await createApiKey(store, "ci");
      expect(JSON.stringify(await store.db.selectFrom("api_keys").selectAll().execute())).not.toContain(key);
      expect(await findActiveKey(store, hashKey(key))).toBe(info.id);
      expect(await findActiveKey(store, hashKey(`${key}x`))).toBeUndefined();
      expect(await activeKeyCount(store)).toBe(1);
      expect(await revokeApiKey(store, info.id)).toBe(true);
      expect(await revokeApiKey(store, info.id)).toBe(false);
      expect(await findActiveKey(store, hashKey(key))).toBeUndefined();
      expect(await activeKeyCount(store)).toBe(0);
    });
  });
}
