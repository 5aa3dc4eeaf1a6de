import * as z from "zod";
import type { ShardResult } from "../pipeline/shard.js";

/**
 * The shape a coordinator checks before merging a shard's output from the network: enough that
 * merging cannot misread it (indices, outcomes, per-test statuses), loose where the worker may be
 * a newer version with more fields.
 */
const parsedTest = z.looseObject({
  id: z.string(),
  name: z.string(),
  file: z.string().nullable(),
  status: z.enum(["passed", "failed", "skipped"]),
  message: z.string().nullable(),
});

const shardAttempt = z.looseObject({
  index: z.int().min(0),
  seed: z.number(),
  slot: z.int().min(0),
  outcome: z.enum(["passed", "failed", "timedOut", "errored", "cancelled"]),
  durationMs: z.number(),
  output: z.string(),
  shuffled: z.boolean(),
  tests: z.array(parsedTest).nullable(),
  noResults: z.string().nullable(),
});

const shardResultSchema = z.looseObject({
  kind: z.literal("flaky-detector/shard-result"),
  version: z.literal(1),
  first: z.int().min(0),
  count: z.int().min(0),
  jobSeed: z.number(),
  framework: z.looseObject({ name: z.string(), results: z.string(), how: z.string() }),
  source: z.looseObject({ repo: z.string(), kind: z.string() }),
  parallelism: z.int().min(1),
  attempts: z.array(shardAttempt),
  followUps: z.array(
    z.looseObject({ kind: z.string(), test: z.string(), seed: z.number(), result: z.string() }),
  ),
  reproduce: z.record(z.string(), z.looseObject({ attempt: z.int(), line: z.string() })),
  warnings: z.array(z.string()),
  repetitionOff: z.string().nullable().optional(),
  worker: z.string(),
  window: z.looseObject({ start: z.number(), end: z.number() }),
});

export function isShardResult(value: unknown): value is ShardResult {
  return shardResultSchema.safeParse(value).success;
}
