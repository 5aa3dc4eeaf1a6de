import type { EventSink } from "../analysis/events.js";
import type { Report } from "../analysis/report.js";
import { UsageError } from "../errors.js";
import { detect } from "../pipeline/detect.js";
import { runShard, type ShardResult } from "../pipeline/shard.js";
import { type JobContext, type JobInput, planJob } from "../server/job-input.js";
import { parseRepoSpec, privateAddressProblem } from "../source/repo-spec.js";
import { fanOut, type ShardTransport } from "./fan-out.js";

/**
 * One job input, run wherever it landed (the server's pool, a RunPod worker, a Redis worker): a
 * shard input runs its slice and returns a shard result; a whole detection runs here, or fans out
 * over a transport when the server has one (serve --redis).
 */

/** Variables of the server or worker that jobs' tests must never see (clone tokens stay usable for git). */
export const SERVER_SECRETS = [
  "FLAKY_DETECTOR_API_KEY",
  "FLAKY_DETECTOR_DB",
  "FLAKY_DETECTOR_REDIS_URL",
  "REDIS_PASSWORD",
  "GIT_TOKEN",
  "GITHUB_TOKEN",
  "RUNPOD_API_KEY",
  "RUNPOD_AI_API_KEY",
];

export type JobOutput = { kind: "report"; report: Report } | { kind: "shard"; result: ShardResult };

export interface ExecuteOptions {
  signal: AbortSignal;
  emit: EventSink;
  tempRoot?: string;
  /** Named in shard results (RunPod pod id); the host name otherwise. */
  worker?: string;
  /** Fan whole detections out over this transport instead of running them here. */
  fanOut?: ShardTransport;
  note?: (line: string) => void;
}

export async function executeJob(input: JobInput, ctx: JobContext, opts: ExecuteOptions): Promise<JobOutput> {
  // Checked again at run time: the allow-list may have changed since the job was accepted, and a
  // queue's messages are input like any other.
  const planned = planJob(input, ctx);
  if (!planned.ok) {
    throw new UsageError(
      "E_JOB_INPUT",
      `the job input is not valid: ${planned.problems.map((p) => `${p.path}: ${p.message}`).join("; ")}`,
    );
  }
  if (!ctx.allowPrivateRepos) {
    const refused = await privateAddressProblem(parseRepoSpec(input.repo));
    if (refused) throw new UsageError("E_JOB_INPUT", `the job input is not valid: input.repo: ${refused}`);
  }
  const { config, command, warnings } = planned.plan;
  const common = {
    config,
    command,
    source: { cwd: ctx.cwd, repo: input.repo, ...(input.ref !== undefined ? { ref: input.ref } : {}) },
    env: ctx.env,
    hideFromTests: SERVER_SECRETS,
    hideSecrets: true,
    ...(input.tests ? { tests: input.tests } : {}),
    ...(input.junit ? { junitGlob: input.junit } : {}),
    signal: opts.signal,
    emit: opts.emit,
    warnings,
    ...(opts.tempRoot ? { tempRoot: opts.tempRoot } : {}),
  };
  if (input.shard) {
    const { shard } = input;
    const result = await runShard({
      ...common,
      shard: {
        jobSeed: shard.jobSeed,
        first: shard.first,
        count: shard.count,
        ...(shard.followUps ? { followUps: shard.followUps } : {}),
      },
      ...(opts.worker ? { worker: opts.worker } : {}),
    });
    return { kind: "shard", result };
  }
  if (opts.fanOut) {
    const report = await fanOut({
      input: { ...input },
      config,
      command,
      transport: opts.fanOut,
      env: ctx.env,
      requestedTests: input.tests ?? [],
      emit: opts.emit,
      signal: opts.signal,
      warnings,
      ...(opts.note ? { note: opts.note } : {}),
    });
    return { kind: "report", report };
  }
  return { kind: "report", report: await detect(common) };
}
