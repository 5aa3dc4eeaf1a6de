import { TestAggregator } from "../analysis/per-test.js";
import type { FollowUp, Report, ReportAttempt, StopReason } from "../analysis/report.js";
import type { Config } from "../config/schema.js";
import { buildReport } from "../pipeline/report-builder.js";
import { foldAttempt } from "../pipeline/session.js";
import type { ShardAttempt, ShardResult } from "../pipeline/shard.js";

/**
 * Shards in, one Report out. Attempts are keyed by their index, so a shard that ran twice (a
 * retry after a worker died, a duplicate delivery) cannot count an attempt twice; they are folded
 * in index order, so the report does not depend on which worker finished first.
 */

export interface MergeInput {
  config: Config;
  command: { argv: string[]; env: Record<string, string> };
  env: NodeJS.ProcessEnv;
  jobSeed: number;
  results: readonly ShardResult[];
  requestedTests: string[];
  followUps: FollowUp[];
  stopReason: StopReason;
  /** Attempts that could run at once across workers (shards in progress × their parallelism). */
  parallelism: number;
  timings: Report["timings"];
  warnings: string[];
}

/** Every distinct attempt of the shards, by index; the first copy of an index wins. */
export function distinctAttempts(results: readonly ShardResult[]): ShardAttempt[] {
  const byIndex = new Map<number, ShardAttempt>();
  for (const r of results) {
    for (const a of r.attempts) if (!byIndex.has(a.index)) byIndex.set(a.index, a);
  }
  return [...byIndex.values()].sort((a, b) => a.index - b.index);
}

/** Fold attempts into per-test tallies, as a local run does attempt by attempt. */
export function aggregate(
  attempts: readonly ShardAttempt[],
  results: ShardResult["framework"]["results"],
): { aggregator: TestAggregator; attemptTests: Map<number, ReportAttempt["tests"]>; withoutResults: number } {
  const aggregator = new TestAggregator();
  const attemptTests = new Map<number, ReportAttempt["tests"]>();
  let withoutResults = 0;
  if (results === "none") return { aggregator, attemptTests, withoutResults };
  // A --shuffle job (some attempt shuffled) records each attempt's order, as a local run does.
  const withOrder = attempts.some((a) => a.shuffled);
  for (const a of attempts) {
    if (a.outcome === "cancelled" || a.outcome === "errored") continue;
    const run = {
      record: a,
      results: a.tests
        ? { ok: true as const, tests: a.tests }
        : { ok: false as const, reason: a.noResults ?? "no results" },
    };
    attemptTests.set(a.index, foldAttempt(aggregator, run, a.shuffled, withOrder));
    if (!a.tests) withoutResults++;
  }
  return { aggregator, attemptTests, withoutResults };
}

export function mergeShards(m: MergeInput): Report {
  const first = m.results[0];
  if (!first) throw new Error("mergeShards: no shard results");
  const attempts = distinctAttempts(m.results);
  const { aggregator, attemptTests, withoutResults } = aggregate(attempts, first.framework.results);
  const shuffledSeeds = new Set(attempts.filter((a) => a.shuffled).map((a) => a.seed));
  // The reproduce line of a test's first failure was written by the worker that saw it, in the
  // workspace where the framework was resolved.
  const lines = new Map<string, string>();
  for (const r of m.results) {
    for (const [id, { attempt, line }] of Object.entries(r.reproduce)) {
      const tally = aggregator.get(id);
      if (tally?.firstFailure?.attempt === attempt) lines.set(id, line);
    }
  }
  // Every shard ran the same sources and command, so a refusal on one is the refusal of all.
  const repetitionOff = m.results.find((r) => r.repetitionOff)?.repetitionOff;
  return buildReport({
    config: m.config,
    command: m.command,
    env: m.env,
    source: first.source,
    framework: first.framework,
    reproduce: (t) => lines.get(t.id) ?? "",
    frameworkSource: first.framework.how,
    parallelism: m.parallelism,
    jobSeed: m.jobSeed,
    attempts: attempts.map(({ shuffled: _s, tests: _t, noResults: _n, ...record }) => record),
    attemptTests,
    shuffledSeeds,
    attemptsWithoutResults: withoutResults,
    aggregator,
    requestedTests: m.requestedTests,
    followUps: m.followUps,
    stopReason: m.stopReason,
    timings: m.timings,
    warnings: m.warnings,
    ...(repetitionOff ? { repetitionOff } : {}),
  });
}
