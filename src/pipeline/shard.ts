import { hostname } from "node:os";
import type { EventSink } from "../analysis/events.js";
import { TestAggregator } from "../analysis/per-test.js";
import type { FollowUp, Report, StopReason } from "../analysis/report.js";
import { InfraError } from "../errors.js";
import type { FrameworkAdapter } from "../frameworks/index.js";
import type { ParsedTest } from "../parsers/types.js";
import type { AttemptRecord } from "../runner/attempt.js";
import { shellLine } from "../runner/command-line.js";
import type { AcquiredSource, SourceFacts } from "../source/acquire.js";
import type { Masker } from "../util/secrets.js";
import { TempDirs } from "../util/temp-dirs.js";
import { runAttempts } from "./attempts.js";
import { type FollowUpPlan, runFollowUps } from "./follow-ups.js";
import { masked } from "./masking.js";
import { type DetectRequest, prepareRun } from "./prepare.js";
import { repeatOf, repeatRefusal } from "./repeat.js";
import { reproducer, roundTimings } from "./report-builder.js";

/**
 * A shard: one slice of a detection run by a remote worker. Attempts [first, first + count) get
 * the seeds a local run with the same job seed would give them, so merging shards reproduces a
 * local run's attempts exactly; a follow-up shard (count 0) runs seed replays and serial
 * confirmations the coordinator asked for.
 */
export interface ShardSpec {
  jobSeed: number;
  first: number;
  count: number;
  followUps?: FollowUpPlan & { shuffledSeeds: number[] };
}

/** One attempt as a shard returns it: the record plus what the framework reported. */
export type ShardAttempt = AttemptRecord & {
  shuffled: boolean;
  tests: ParsedTest[] | null;
  noResults: string | null;
};

/** A shard's output: raw attempts, merged by the coordinator before any analysis. */
export interface ShardResult {
  kind: "flaky-detector/shard-result";
  version: 1;
  first: number;
  count: number;
  jobSeed: number;
  framework: Pick<FrameworkAdapter, "name" | "results" | "repeats"> & { how: string };
  source: Pick<AcquiredSource, "repo" | "ref" | "kind"> & Pick<SourceFacts, "commit">;
  parallelism: number;
  attempts: ShardAttempt[];
  followUps: FollowUp[];
  /** For each test that failed here, the reproduce line of its first failure in this shard. */
  reproduce: Record<string, { attempt: number; line: string }>;
  stopReason: StopReason;
  timings: Report["timings"];
  warnings: string[];
  /** Why in-process repetition was refused here (a source reading TEST_SEED, …), if it was. */
  repetitionOff?: string | null;
  /** Which machine ran it (RunPod pod id, host name). */
  worker: string;
  /** What was cut to fit a transport's size limit, or null. */
  trimmed: string | null;
  /** When the shard's attempts started and ended (epoch ms on the worker's clock). */
  window: { start: number; end: number };
}

export interface ShardRequest extends Omit<DetectRequest, "fromJunit" | "ciFailures"> {
  shard: ShardSpec;
  /** Shown in the result (a RunPod pod id); the host name otherwise. */
  worker?: string;
}

export function runShard(req: ShardRequest): Promise<ShardResult> {
  return masked(req, runShardMasked);
}

async function runShardMasked(req: ShardRequest, masker: Masker): Promise<ShardResult> {
  const { config, shard } = req;
  const emit: EventSink = req.emit ?? (() => {});
  const warnings = [...(req.warnings ?? [])];
  const temp = new TempDirs(req.tempRoot);
  const started = performance.now();
  const timings = { sourceMs: 0, installMs: 0, isolationMs: 0, runMs: 0, totalMs: 0 };
  const follow = shard.followUps;
  const followUpRuns = follow ? follow.replay.reduce((n, t) => n + t.failingSeeds.length, 0) : 0;
  try {
    const prep = await prepareRun(req, {
      temp,
      emit,
      warnings,
      timings,
      attempts: Math.max(1, shard.count, followUpRuns),
      masker,
    });
    emit({
      type: "job-started",
      total: shard.count,
      parallelism: prep.parallelism,
      jobSeed: shard.jobSeed,
      command: shellLine(req.command.argv, req.command.env),
    });
    const t = performance.now();
    const windowStart = Date.now();
    const aggregator = new TestAggregator();
    // Behind the first attempts' spawns, as in detect.ts.
    setImmediate(() => void prep.source.facts());
    const main = await runAttempts(prep, {
      first: shard.first,
      count: shard.count,
      jobSeed: shard.jobSeed,
      emit,
      aggregator,
      warnings,
      jobTimeoutMs: config.job_timeout === null ? null : config.job_timeout * 1000,
      ...(req.signal ? { signal: req.signal } : {}),
      repeat: repeatOf(prep.session, []),
    });
    const records = main.pool.attempts;
    let followUps: FollowUp[] = [];
    if (follow && main.pool.stopReason === "budget") {
      followUps = await runFollowUps(prep.session, follow, {
        budget: config.runs,
        parallelism: prep.parallelism,
        jobSeed: shard.jobSeed,
        shuffledSeeds: new Set(follow.shuffledSeeds),
        signal: req.signal ?? new AbortController().signal,
        jobTimeoutMs: config.job_timeout === null ? null : config.job_timeout * 1000,
        emit,
        confidence: config.confidence,
      });
    }
    timings.runMs = performance.now() - t;

    const line = reproducer(prep.adapter, req.command, main.shuffledSeeds);
    const reproduce: ShardResult["reproduce"] = {};
    for (const tally of aggregator.list()) {
      if (tally.firstFailure)
        reproduce[tally.id] = { attempt: tally.firstFailure.attempt, line: line(tally) };
    }
    timings.totalMs = performance.now() - started;
    return {
      kind: "flaky-detector/shard-result",
      version: 1,
      first: shard.first,
      count: shard.count,
      jobSeed: shard.jobSeed,
      framework: {
        name: prep.adapter.name,
        results: prep.adapter.results,
        ...(prep.adapter.repeats ? { repeats: prep.adapter.repeats } : {}),
        how: prep.frameworkSource,
      },
      source: {
        repo: prep.source.repo,
        ref: prep.source.ref,
        commit: (await prep.source.facts()).commit,
        kind: prep.source.kind,
      },
      parallelism: prep.parallelism,
      attempts: records.map((record) => {
        const run = main.runs.get(record.index);
        return {
          ...record,
          shuffled: run?.shuffled ?? false,
          tests: run?.tests ?? null,
          noResults: run?.noResults ?? null,
        };
      }),
      followUps,
      reproduce,
      stopReason: main.pool.stopReason,
      timings: roundTimings(timings),
      warnings,
      ...(config.repeat !== "off" && !config.shuffle ? { repetitionOff: repeatRefusal(prep.session) } : {}),
      worker: req.worker ?? hostname(),
      trimmed: null,
      window: { start: windowStart, end: Date.now() },
    };
  } finally {
    await temp.removeAll();
  }
}

/**
 * Fit a shard result under a transport's size limit (RunPod keeps /run results up to 10 MB):
 * attempt output tails go first, then failure messages are shortened. Counts are never cut.
 */
export function fitShardResult(result: ShardResult, maxBytes: number): ShardResult {
  const size = (r: ShardResult) => Buffer.byteLength(JSON.stringify(r));
  if (size(result) <= maxBytes) return result;
  const steps: { what: string; apply: (r: ShardResult) => ShardResult }[] = [
    { what: "attempt output tails cut to 2 KB", apply: (r) => withOutput(r, 2048) },
    { what: "attempt output tails removed", apply: (r) => withOutput(r, 0) },
    { what: "failure messages cut to 200 characters", apply: (r) => withMessages(r, 200) },
  ];
  let current = result;
  const done: string[] = [];
  for (const step of steps) {
    current = step.apply(current);
    done.push(step.what);
    const trimmed = `${done.join("; ")} to stay under ${Math.round(maxBytes / 1e6)} MB`;
    current = {
      ...current,
      trimmed,
      warnings: [...result.warnings, `shard ${result.first}+${result.count}: ${trimmed}`],
    };
    if (size(current) <= maxBytes) return current;
  }
  throw new InfraError(
    "E_OUTPUT_TOO_LARGE",
    `the shard's results are ${size(current)} bytes even after trimming (limit ${maxBytes}); use a smaller shard_size`,
  );
}

function withOutput(r: ShardResult, keep: number): ShardResult {
  return {
    ...r,
    attempts: r.attempts.map((a) => ({ ...a, output: keep === 0 ? "" : a.output.slice(-keep) })),
  };
}

function withMessages(r: ShardResult, keep: number): ShardResult {
  return {
    ...r,
    attempts: r.attempts.map((a) => ({
      ...a,
      tests:
        a.tests?.map((t) => ({
          ...t,
          message: t.message === null ? null : t.message.slice(0, keep),
          ...(t.reruns ? { reruns: { failed: t.reruns.failed, messages: [] } } : {}),
        })) ?? null,
    })),
  };
}
