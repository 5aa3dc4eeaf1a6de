import type { EventSink } from "../analysis/events.js";
import { confirmRuns } from "../analysis/interference.js";
import type { FollowUp, Report, StopReason } from "../analysis/report.js";
import { checkpoints } from "../analysis/stopping.js";
import type { Config } from "../config/schema.js";
import { InfraError, isFlakyDetectorError } from "../errors.js";
import { allSettled, stopRuleOf } from "../pipeline/detect.js";
import { planFollowUps } from "../pipeline/follow-ups.js";
import type { ShardResult, ShardSpec } from "../pipeline/shard.js";
import { AUTO_CEILING_S } from "../pipeline/timeout.js";
import { shellLine } from "../runner/command-line.js";
import { randomJobSeed } from "../runner/seeds.js";
import { Masker } from "../util/secrets.js";
import { aggregate, distinctAttempts, mergeShards } from "./merge.js";

/**
 * The coordinator of a fanned-out detection: split the budget into shards, hand them to a
 * transport (RunPod, a BullMQ queue, this process), fold results in as they arrive, stop the rest
 * when adaptive stopping settles every verdict, run the follow-ups as one more shard, and merge
 * everything into the Report a local run would have produced.
 */

/** A shard's job input: the detection's input plus which slice to run. */
export type ShardInput = Record<string, unknown> & { shard: ShardSpec };

export interface ShardRunOptions {
  signal: AbortSignal;
  /** Milliseconds the shard may run on its worker (RunPod's policy.executionTimeout). */
  executionTimeoutMs: number;
}

export interface ShardTransport {
  /** Named in warnings and notes: "RunPod endpoint abc123", "Redis queue at redis://…". */
  readonly name: string;
  /** Run one shard to its end; aborting the signal cancels it where it runs. */
  run(input: ShardInput, opts: ShardRunOptions): Promise<ShardResult>;
  /** Whether the transport already retries failed shards itself (BullMQ does). */
  readonly retriesShards: boolean;
}

/** A shard that did not complete; `retryable` when running it again may succeed. */
/** The code of a shard whose queue entry disappeared (a Redis restart, an eviction): run it again. */
export const SHARD_LOST = "E_SHARD_LOST";

export class ShardFailure extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly code = "E_SHARD_FAILED",
  ) {
    super(message);
  }
}

/** Codes of worker errors that may not happen again: the network, a dead worker, a slow install. */
const RETRYABLE = new Set([
  "E_INTERNAL",
  "E_GIT",
  "E_GIT_TIMEOUT",
  "E_INSTALL_FAILED",
  "E_INSTALL_TIMEOUT",
  "E_SLOT_COPY",
  "E_REPO_COPY",
  "E_WORKER_LOST",
]);

/** A worker's error text ("E_CODE: message") as a ShardFailure; no code means not ours, so retryable. */
export function failureOf(text: string): ShardFailure {
  const code = /^(E_[A-Z_]+):/.exec(text)?.[1];
  return new ShardFailure(text, code === undefined || RETRYABLE.has(code), code ?? "E_SHARD_FAILED");
}

export interface FanOutRequest {
  /** The job input every shard carries (repo, ref, test_command, tests, junit, config keys). */
  input: Record<string, unknown>;
  config: Config;
  command: { argv: string[]; env: Record<string, string> };
  transport: ShardTransport;
  env?: NodeJS.ProcessEnv;
  requestedTests?: string[];
  emit?: EventSink;
  signal?: AbortSignal;
  note?: (line: string) => void;
  /** Runs of one shard after its first failure, for transports that do not retry (default 2). */
  shardRetries?: number;
  warnings?: string[];
}

/** Attempts per shard: the configured size, else about 8 shards of at least 5 attempts. */
export function planShards(runs: number, shardSize: number | null): { first: number; count: number }[] {
  const size = shardSize ?? Math.max(5, Math.ceil(runs / 8));
  const shards: { first: number; count: number }[] = [];
  for (let first = 0; first < runs; first += size)
    shards.push({ first, count: Math.min(size, runs - first) });
  return shards;
}

/** How long a shard may run: the job's own limit, else enough for its attempts one after another. */
function executionTimeoutOf(config: Config, count: number): number {
  if (config.job_timeout !== null) return Math.ceil(config.job_timeout * 1000);
  // Under timeout: auto an attempt may take up to the ceiling.
  const perAttempt = config.timeout === "auto" ? AUTO_CEILING_S : config.timeout;
  const ms = (config.install_timeout + perAttempt * Math.max(1, count) + 120) * 1000;
  return Math.min(ms, 7 * 24 * 3600 * 1000);
}

export async function fanOut(req: FanOutRequest): Promise<Report> {
  const { config, transport } = req;
  const emit: EventSink = req.emit ?? (() => {});
  const note = req.note ?? (() => {});
  const started = performance.now();
  const jobSeed = config.seed ?? randomJobSeed();
  const plan = planShards(config.runs, config.shard_size);
  const warnings = [...(req.warnings ?? [])];
  const retries = req.shardRetries ?? 2;
  const results: ShardResult[] = [];
  const outer = new AbortController();
  let stopReason: StopReason | undefined;
  let fatal: unknown;

  const stop = (reason: StopReason) => {
    if (stopReason) return;
    stopReason = reason;
    emit({ type: "job-stopping", reason });
    outer.abort();
  };
  const onAbort = () => stop("cancelled");
  if (req.signal?.aborted) onAbort();
  req.signal?.addEventListener("abort", onAbort, { once: true });
  const jobTimer =
    config.job_timeout !== null
      ? setTimeout(() => stop("job-timeout"), config.job_timeout * 1000)
      : undefined;

  emit({ type: "phase", phase: "fan-out", detail: `${plan.length} shard(s) on ${transport.name}` });
  emit({
    type: "job-started",
    total: config.runs,
    parallelism: plan.length,
    jobSeed,
    command: shellLine(req.command.argv, req.command.env),
  });

  const looks = checkpoints(stopRuleOf(config));
  let looked = 0;
  let done = 0;
  let failures = 0;
  const seen = new Set<number>();
  const accept = (result: ShardResult) => {
    results.push(result);
    for (const a of result.attempts) {
      if (seen.has(a.index) || a.outcome === "cancelled") continue;
      seen.add(a.index);
      done++;
      if (a.outcome === "failed" || a.outcome === "timedOut") failures++;
      emit({
        type: "attempt-finished",
        index: a.index,
        slot: a.slot,
        seed: a.seed,
        outcome: a.outcome,
        durationMs: a.durationMs,
        done,
        failures,
        total: config.runs,
      });
    }
    if (config.stop !== "adaptive") return;
    // Look only when the count has passed a checkpoint not looked at yet: the per-look confidence
    // assumes no more looks than a local run would take.
    let crossed = false;
    while (looked < looks.length && done >= (looks[looked] as number)) {
      looked++;
      crossed = true;
    }
    if (!crossed || done >= config.runs) return;
    const attempts = distinctAttempts(results);
    const { aggregator } = aggregate(attempts, result.framework.results);
    if (allSettled(attempts, aggregator, result.framework, stopRuleOf(config))) {
      note(`verdicts settled after ${done} attempts; cancelling the remaining shards`);
      stop("adaptive");
    }
  };

  const runOne = async (shard: { first: number; count: number }) => {
    const input: ShardInput = {
      ...req.input,
      runs: config.runs,
      seed: jobSeed,
      shard: { jobSeed, ...shard },
    };
    for (let attempt = 0; ; attempt++) {
      if (outer.signal.aborted) return;
      try {
        const result = await transport.run(input, {
          signal: outer.signal,
          executionTimeoutMs: executionTimeoutOf(config, shard.count),
        });
        // A shard that finished after a stop still ran its attempts: they count, as finished
        // attempts of a cancelled local run do.
        accept(result);
        return;
      } catch (e) {
        if (outer.signal.aborted) return;
        // A transport that retries shards itself is only asked again for a shard it lost track of
        // (its queue entry vanished); anything else it already retried.
        const retryable =
          e instanceof ShardFailure
            ? e.retryable && (!transport.retriesShards || e.code === SHARD_LOST)
            : !isFlakyDetectorError(e) && !transport.retriesShards;
        if (retryable && attempt < retries) {
          note(
            `shard ${shard.first}-${shard.first + shard.count - 1} failed (${(e as Error).message}); running it again`,
          );
          continue;
        }
        fatal ??= e;
        stop("errors");
        return;
      }
    }
  };

  try {
    await Promise.all(plan.map(runOne));
  } finally {
    if (jobTimer) clearTimeout(jobTimer);
    req.signal?.removeEventListener("abort", onAbort);
  }
  if (fatal !== undefined) {
    if (isFlakyDetectorError(fatal)) throw fatal;
    const code = fatal instanceof ShardFailure ? fatal.code : "E_SHARD_FAILED";
    throw new InfraError(code, `a shard failed on ${transport.name}: ${(fatal as Error).message}`);
  }
  if (results.length === 0) {
    if (stopReason === "cancelled")
      throw new InfraError("E_CANCELLED", "cancelled before any shard finished");
    throw new InfraError(
      "E_NO_SHARDS",
      `no shard finished on ${transport.name} (${stopReason ?? "no reason"})`,
    );
  }
  const runMs = performance.now() - started;

  const finalReason: StopReason = stopReason ?? "budget";
  const merged = distinctAttempts(results);
  const { aggregator } = aggregate(merged, (results[0] as ShardResult).framework.results);
  let followUps: FollowUp[] = [];
  const parallelism = peakParallelism(results);
  if ((finalReason === "budget" || finalReason === "adaptive") && aggregator.size > 0) {
    const followPlan = planFollowUps(aggregator.list(), parallelism, config.confidence);
    if (followPlan.replay.length > 0 || followPlan.confirm.length > 0) {
      const shuffledSeeds = merged.filter((a) => a.shuffled).map((a) => a.seed);
      const input: ShardInput = {
        ...req.input,
        runs: config.runs,
        seed: jobSeed,
        shard: { jobSeed, first: config.runs, count: 0, followUps: { ...followPlan, shuffledSeeds } },
      };
      try {
        const extra = await transport.run(input, {
          signal: req.signal ?? new AbortController().signal,
          executionTimeoutMs: executionTimeoutOf(
            config,
            followPlan.replay.reduce((n, t) => n + t.failingSeeds.length, 0) +
              followPlan.confirm.reduce(
                (n, t) => n + confirmRuns(t.attempts, t.failures, config.confidence),
                0,
              ),
          ),
        });
        followUps = extra.followUps;
        warnings.push(...extra.warnings);
      } catch (e) {
        warnings.push(`follow-ups (seed replay, serial confirmation) did not run: ${(e as Error).message}`);
      }
    }
  }

  const workers = [...new Set(results.map((r) => r.worker))];
  warnings.push(
    `ran as ${results.length} shard(s) on ${transport.name}, ${workers.length} worker(s): ${workers.slice(0, 8).join(", ")}${workers.length > 8 ? ", …" : ""}`,
  );
  for (const r of results) for (const w of r.warnings) if (!warnings.includes(w)) warnings.push(w);
  const sum = (k: "sourceMs" | "installMs" | "isolationMs") =>
    results.reduce((n, r) => Math.max(n, r.timings[k]), 0);
  // Workers mask their own secrets; the coordinator masks its own (a report printed and stored here).
  const masker = Masker.forEnv({ ...(req.env ?? process.env), ...req.command.env }, config.secrets);
  const report = mergeShards({
    config,
    command: req.command,
    env: req.env ?? process.env,
    jobSeed,
    results,
    requestedTests: req.requestedTests ?? [],
    followUps,
    stopReason: finalReason,
    parallelism,
    timings: {
      sourceMs: sum("sourceMs"),
      installMs: sum("installMs"),
      isolationMs: sum("isolationMs"),
      runMs,
      totalMs: performance.now() - started,
    },
    warnings,
  });
  return masker.deep(report);
}

/** Attempts that ran at once at the busiest moment: overlapping shards' parallelism, summed. */
export function peakParallelism(results: readonly ShardResult[]): number {
  const edges = results.flatMap((r) => [
    { at: r.window.start, delta: r.parallelism },
    { at: r.window.end, delta: -r.parallelism },
  ]);
  // Ends before starts at the same instant: back-to-back shards on one worker do not overlap.
  edges.sort((a, b) => a.at - b.at || a.delta - b.delta);
  let now = 0;
  let peak = 1;
  for (const e of edges) {
    now += e.delta;
    peak = Math.max(peak, now);
  }
  return peak;
}
