import { randomUUID } from "node:crypto";
import { sql, type Transaction } from "kysely";
import type { Store } from "./open.js";
import type { Database, JobsTable } from "./schema.js";

/**
 * The durable job queue of `serve`, in the history database. Every state change is one conditional
 * UPDATE, so two server instances (or a restarted one) can never both finish a job: a runner owns a
 * job through a lease it must renew, and finishing requires still holding it.
 */

export const JOB_STATUSES = [
  "IN_QUEUE",
  "IN_PROGRESS",
  "COMPLETED",
  "FAILED",
  "CANCELLED",
  "TIMED_OUT",
] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
export const TERMINAL: readonly JobStatus[] = ["COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"];

export type JobRow = JobsTable;

export interface NewJob {
  input: unknown;
  lowPriority: boolean;
  executionTimeoutMs: number;
  ttlMs: number;
  apiKeyId: string | null;
}

const now = () => new Date().toISOString();
const later = (ms: number, from = Date.now()) => new Date(from + ms).toISOString();

export async function insertJob(store: Store, job: NewJob): Promise<JobRow> {
  const row = newRow(job);
  await store.db.insertInto("jobs").values(row).execute();
  return row;
}

/** Arbitrary constant naming the queue's advisory lock in PostgreSQL. */
const QUEUE_LOCK = 0x666c6b71;

/**
 * Insert a job only while fewer than `maxQueue` wait: the count and the insert happen under one
 * lock (SQLite's single connection holds a transaction exclusively; PostgreSQL takes an advisory
 * lock), so concurrent submissions cannot all pass the check before any is inserted.
 */
export async function insertJobIfRoom(
  store: Store,
  job: NewJob,
  maxQueue: number,
): Promise<{ row: JobRow } | { full: true; queued: number }> {
  return store.db.transaction().execute(async (trx) => {
    if (store.kind === "postgres") await sql`select pg_advisory_xact_lock(${QUEUE_LOCK})`.execute(trx);
    const r = await trx
      .selectFrom("jobs")
      .select((eb) => eb.fn.countAll<string | number>().as("n"))
      .where("status", "=", "IN_QUEUE")
      .executeTakeFirstOrThrow();
    const queued = Number(r.n);
    if (queued >= maxQueue) return { full: true as const, queued };
    const row = newRow(job);
    await trx.insertInto("jobs").values(row).execute();
    return { row };
  });
}

function newRow(job: NewJob): JobRow {
  return {
    id: randomUUID(),
    status: "IN_QUEUE",
    input: JSON.stringify(job.input),
    priority: job.lowPriority ? 1 : 0,
    execution_timeout_ms: job.executionTimeoutMs,
    ttl_ms: job.ttlMs,
    created_at: now(),
    started_at: null,
    finished_at: null,
    expires_at: null,
    lease_owner: null,
    lease_expires_at: null,
    executions: 0,
    retries: 0,
    progress: null,
    output: null,
    error: null,
    detection_id: null,
    api_key_id: job.apiKeyId,
  };
}

export async function getJob(store: Store, id: string): Promise<JobRow | undefined> {
  return store.db.selectFrom("jobs").selectAll().where("id", "=", id).executeTakeFirst();
}

/** Jobs waiting to run (the queue length that bounds /run). */
export async function queuedCount(store: Store): Promise<number> {
  const r = await store.db
    .selectFrom("jobs")
    .select((eb) => eb.fn.countAll<string | number>().as("n"))
    .where("status", "=", "IN_QUEUE")
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

export async function countsByStatus(store: Store): Promise<Record<JobStatus, number>> {
  const rows = await store.db
    .selectFrom("jobs")
    .select(["status", (eb) => eb.fn.countAll<string | number>().as("n")])
    .groupBy("status")
    .execute();
  const counts = Object.fromEntries(JOB_STATUSES.map((s) => [s, 0])) as Record<JobStatus, number>;
  for (const r of rows) counts[r.status as JobStatus] = Number(r.n);
  return counts;
}

export async function retriedCount(store: Store): Promise<number> {
  const r = await store.db
    .selectFrom("jobs")
    .select((eb) => eb.fn.sum<string | number | null>("retries").as("n"))
    .executeTakeFirstOrThrow();
  return Number(r.n ?? 0);
}

/**
 * Take the next job: the oldest queued one of the best priority, else one whose runner's lease
 * lapsed (its server died). Returns undefined when there is nothing to do.
 */
export async function claimJob(store: Store, owner: string, leaseMs: number): Promise<JobRow | undefined> {
  for (let tries = 0; tries < 5; tries++) {
    const t = now();
    const candidate = await store.db
      .selectFrom("jobs")
      .select("id")
      .where((eb) =>
        eb.or([
          eb("status", "=", "IN_QUEUE"),
          eb.and([eb("status", "=", "IN_PROGRESS"), eb("lease_expires_at", "<", t)]),
        ]),
      )
      .orderBy("priority")
      .orderBy("created_at")
      .limit(1)
      .executeTakeFirst();
    if (!candidate) return undefined;
    // The WHERE is re-checked by the UPDATE: whoever loses the race updates nothing and looks again.
    const res = await store.db
      .updateTable("jobs")
      .set((eb) => ({
        status: "IN_PROGRESS",
        lease_owner: owner,
        lease_expires_at: later(leaseMs),
        started_at: t,
        executions: eb("executions", "+", 1),
        progress: null,
      }))
      .where("id", "=", candidate.id)
      .where((eb) =>
        eb.or([
          eb("status", "=", "IN_QUEUE"),
          eb.and([eb("status", "=", "IN_PROGRESS"), eb("lease_expires_at", "<", t)]),
        ]),
      )
      .executeTakeFirst();
    if (Number(res.numUpdatedRows) === 1) return getJob(store, candidate.id);
  }
  return undefined;
}

/**
 * Renew the lease and save progress. `false` means the job is no longer this runner's (cancelled,
 * purged, or taken over after the lease lapsed): the runner must stop it and write nothing.
 */
export async function renewLease(
  store: Store,
  id: string,
  owner: string,
  leaseMs: number,
  progress?: unknown,
): Promise<boolean> {
  const res = await store.db
    .updateTable("jobs")
    .set({
      lease_expires_at: later(leaseMs),
      ...(progress !== undefined ? { progress: JSON.stringify(progress) } : {}),
    })
    .where("id", "=", id)
    .where("lease_owner", "=", owner)
    .where("status", "=", "IN_PROGRESS")
    .executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

export interface Finish {
  status: Exclude<JobStatus, "IN_QUEUE" | "IN_PROGRESS">;
  output?: unknown;
  error?: string;
  detectionId?: string;
  progress?: unknown;
}

/**
 * End a job this runner holds, optionally with more writes in the same transaction (the history
 * record of its detection). Returns false, writing nothing, when the lease is no longer held.
 */
export async function finishJob(
  store: Store,
  job: Pick<JobRow, "id" | "ttl_ms">,
  owner: string,
  finish: Finish,
  alsoInTransaction?: (trx: Transaction<Database>) => Promise<void>,
): Promise<boolean> {
  const t = Date.now();
  return store.db.transaction().execute(async (trx) => {
    const res = await trx
      .updateTable("jobs")
      .set({
        status: finish.status,
        finished_at: new Date(t).toISOString(),
        expires_at: later(job.ttl_ms, t),
        lease_owner: null,
        lease_expires_at: null,
        output: finish.output === undefined ? null : JSON.stringify(finish.output),
        error: finish.error ?? null,
        detection_id: finish.detectionId ?? null,
        ...(finish.progress !== undefined ? { progress: JSON.stringify(finish.progress) } : {}),
      })
      .where("id", "=", job.id)
      .where("lease_owner", "=", owner)
      .where("status", "=", "IN_PROGRESS")
      .executeTakeFirst();
    if (Number(res.numUpdatedRows) !== 1) return false;
    if (alsoInTransaction) await alsoInTransaction(trx);
    return true;
  });
}

/** Give a running job back to the queue (graceful shutdown): it starts again from scratch. */
export async function releaseJob(store: Store, id: string, owner: string): Promise<boolean> {
  const res = await store.db
    .updateTable("jobs")
    .set({ status: "IN_QUEUE", lease_owner: null, lease_expires_at: null, started_at: null })
    .where("id", "=", id)
    .where("lease_owner", "=", owner)
    .where("status", "=", "IN_PROGRESS")
    .executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

/** Cancel a queued or running job. Returns the job as it is afterwards (undefined: no such job). */
export async function cancelJob(store: Store, id: string): Promise<JobRow | undefined> {
  const before = await getJob(store, id);
  if (!before) return undefined;
  if (before.status === "IN_QUEUE" || before.status === "IN_PROGRESS") {
    const t = Date.now();
    await store.db
      .updateTable("jobs")
      .set({
        status: "CANCELLED",
        finished_at: new Date(t).toISOString(),
        expires_at: later(before.ttl_ms, t),
        lease_owner: null,
        lease_expires_at: null,
      })
      .where("id", "=", id)
      .where("status", "in", ["IN_QUEUE", "IN_PROGRESS"])
      .execute();
  }
  return getJob(store, id);
}

/** Re-queue a FAILED or TIMED_OUT job under the same id. */
export async function retryJob(store: Store, id: string): Promise<{ row?: JobRow; retried: boolean }> {
  const res = await store.db
    .updateTable("jobs")
    .set((eb) => ({
      status: "IN_QUEUE",
      started_at: null,
      finished_at: null,
      expires_at: null,
      output: null,
      error: null,
      progress: null,
      retries: eb("retries", "+", 1),
    }))
    .where("id", "=", id)
    .where("status", "in", ["FAILED", "TIMED_OUT"])
    .executeTakeFirst();
  const row = await getJob(store, id);
  return { ...(row ? { row } : {}), retried: Number(res.numUpdatedRows) === 1 };
}

/** Remove every queued job; running ones are untouched. */
export async function purgeQueue(store: Store): Promise<number> {
  const res = await store.db.deleteFrom("jobs").where("status", "=", "IN_QUEUE").executeTakeFirst();
  return Number(res.numDeletedRows);
}

/** Delete finished jobs whose results outlived their ttl. */
export async function expireJobs(store: Store, at = now()): Promise<number> {
  const res = await store.db
    .deleteFrom("jobs")
    .where("expires_at", "is not", null)
    .where("expires_at", "<", at)
    .executeTakeFirst();
  return Number(res.numDeletedRows);
}

/** Jobs still IN_PROGRESS that no live runner holds — what a restarted server will pick up. */
export async function lapsedJobs(store: Store, at = now()): Promise<string[]> {
  const rows = await store.db
    .selectFrom("jobs")
    .select("id")
    .where("status", "=", "IN_PROGRESS")
    .where("lease_expires_at", "<", at)
    .execute();
  return rows.map((r) => r.id);
}
