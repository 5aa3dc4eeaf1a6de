import type { Report } from "../analysis/report.js";
import { isFlakyDetectorError, UsageError } from "../errors.js";
import { fitShardResult } from "../pipeline/shard.js";
import { type JobContext, validateRunRequest } from "../server/job-input.js";
import { sleep } from "../util/retry.js";
import { executeJob, type JobOutput } from "./execute.js";
import { causeOf } from "./http.js";

/**
 * `flaky-detector worker runpod`: the RunPod Serverless worker protocol (RunPod ships no JS worker
 * SDK). Take a job from RUNPOD_WEBHOOK_GET_JOB, heartbeat RUNPOD_WEBHOOK_PING while it runs, and
 * post `{output}` or `{error}` to RUNPOD_WEBHOOK_POST_OUTPUT, with the bare RUNPOD_AI_API_KEY in
 * Authorization. One job at a time, like the official SDK's default.
 */

/** RunPod keeps /run results up to 10 MB (20 MB for /runsync); stay under the smaller with room. */
export const RUNPOD_OUTPUT_LIMIT = 9_500_000;

export interface RunpodWorkerEnv {
  getJob: string;
  postOutput: string;
  ping: string | undefined;
  podId: string;
  apiKey: string;
  pingMs: number;
}

/** The worker's RunPod settings, or undefined when they are absent (local test mode). */
export function runpodEnv(env: NodeJS.ProcessEnv): RunpodWorkerEnv | undefined {
  const getJob = env.RUNPOD_WEBHOOK_GET_JOB;
  if (!getJob) return undefined;
  const missing = ["RUNPOD_WEBHOOK_POST_OUTPUT", "RUNPOD_POD_ID", "RUNPOD_AI_API_KEY"].filter((n) => !env[n]);
  if (missing.length > 0) {
    throw new UsageError(
      "E_USAGE",
      `worker runpod: RUNPOD_WEBHOOK_GET_JOB is set but ${missing.join(", ")} ${missing.length === 1 ? "is" : "are"} not; RunPod sets them all in its workers`,
    );
  }
  for (const name of ["RUNPOD_WEBHOOK_GET_JOB", "RUNPOD_WEBHOOK_POST_OUTPUT", "RUNPOD_WEBHOOK_PING"]) {
    const value = env[name];
    if (value === undefined) continue;
    try {
      const u = new URL(value.replaceAll("$ID", "x").replaceAll("$RUNPOD_POD_ID", "x"));
      if (u.protocol !== "https:" && u.protocol !== "http:") throw new Error("scheme");
    } catch {
      throw new UsageError(
        "E_USAGE",
        `worker runpod: ${name} must be an http(s) URL, got ${JSON.stringify(value)}`,
      );
    }
  }
  const pingMs = env.RUNPOD_PING_INTERVAL === undefined ? 10_000 : Number(env.RUNPOD_PING_INTERVAL);
  if (!Number.isInteger(pingMs) || pingMs < 100 || pingMs > 600_000) {
    throw new UsageError(
      "E_USAGE",
      `worker runpod: RUNPOD_PING_INTERVAL must be milliseconds between 100 and 600000, got ${JSON.stringify(env.RUNPOD_PING_INTERVAL)}`,
    );
  }
  return {
    getJob,
    postOutput: env.RUNPOD_WEBHOOK_POST_OUTPUT as string,
    ping: env.RUNPOD_WEBHOOK_PING,
    podId: env.RUNPOD_POD_ID as string,
    apiKey: env.RUNPOD_AI_API_KEY as string,
    pingMs,
  };
}

export interface RunpodWorkerOptions {
  rp: RunpodWorkerEnv;
  ctx: JobContext;
  signal: AbortSignal;
  log: (line: string) => void;
  tempRoot?: string;
  /** Stop after this many jobs (tests; RunPod's refresh_worker). */
  maxJobs?: number;
  /** Wait after "no job" before asking again. */
  idleMs?: number;
}

interface TakenJob {
  id: string;
  input: unknown;
}

/** Take, run and answer jobs until the signal aborts (SIGTERM from RunPod when it scales down). */
export async function runRunpodWorker(opts: RunpodWorkerOptions): Promise<void> {
  const { rp, log } = opts;
  const idle = opts.idleMs ?? 1000;
  let backoff = idle;
  let handled = 0;
  log(`worker ${rp.podId} asks ${redactUrl(rp.getJob)} for jobs`);
  while (!opts.signal.aborted && (opts.maxJobs === undefined || handled < opts.maxJobs)) {
    let job: TakenJob | undefined;
    try {
      job = await takeJob(rp, opts.signal);
    } catch (e) {
      if (opts.signal.aborted) break;
      const retryAfter = (e as { retryAfterMs?: number }).retryAfterMs;
      backoff = Math.min(60_000, retryAfter ?? backoff * 2);
      log(
        `taking a job failed (${(e as Error).message}); asking again in ${Math.round(backoff / 100) / 10} s`,
      );
      await sleep(backoff, opts.signal);
      continue;
    }
    backoff = idle;
    if (!job) {
      await sleep(idle, opts.signal);
      continue;
    }
    handled++;
    await handleJob(job, opts);
  }
}

async function handleJob(job: TakenJob, opts: RunpodWorkerOptions): Promise<void> {
  const { rp, log } = opts;
  log(`job ${job.id} started`);
  const started = performance.now();
  const ping = rp.ping ? setInterval(() => void sendPing(rp, job.id).catch(() => {}), rp.pingMs) : undefined;
  if (rp.ping) void sendPing(rp, job.id).catch(() => {});
  // Not the worker's signal: on SIGTERM the running job finishes and posts its result (RunPod
  // gives a worker time to); RunPod itself enforces the job's executionTimeout.
  const unstoppable = new AbortController().signal;
  let body: { output: unknown } | { error: string };
  try {
    const checked = validateRunRequest({ input: job.input }, opts.ctx);
    if (!checked.ok) {
      body = {
        error: `E_JOB_INPUT: ${checked.problems.map((p) => `${p.path}: ${p.message}`).join("; ")}`,
      };
    } else {
      const out = await executeJob(checked.request.input, opts.ctx, {
        signal: unstoppable,
        emit: () => {},
        worker: rp.podId,
        ...(opts.tempRoot ? { tempRoot: opts.tempRoot } : {}),
      });
      body = { output: fitOutput(out) };
    }
  } catch (e) {
    body = {
      error: isFlakyDetectorError(e)
        ? [`${e.code}: ${e.message}`, ...e.details].join("\n")
        : `E_INTERNAL: ${(e as Error).message}`,
    };
  } finally {
    if (ping) clearInterval(ping);
  }
  await postOutput(rp, job.id, body, log);
  const seconds = Math.round((performance.now() - started) / 100) / 10;
  log(
    `job ${job.id} ${"error" in body ? `failed: ${body.error.split("\n")[0]}` : "completed"} in ${seconds} s`,
  );
}

/** Keep a result under RunPod's size limit; a report loses attempt output tails first. */
function fitOutput(out: JobOutput): unknown {
  if (out.kind === "shard") return fitShardResult(out.result, RUNPOD_OUTPUT_LIMIT);
  return fitReport(out.report, RUNPOD_OUTPUT_LIMIT);
}

export function fitReport(report: Report, maxBytes: number): Report {
  if (Buffer.byteLength(JSON.stringify(report)) <= maxBytes) return report;
  const trimmed: Report = {
    ...report,
    attempts: report.attempts.map((a) => ({ ...a, outputTail: "" })),
    warnings: [
      ...report.warnings,
      `attempt output tails removed to stay under RunPod's ${Math.round(maxBytes / 1e6)} MB result limit`,
    ],
  };
  return trimmed;
}

/** Ask for a job; the worker runs one at a time, so it never has one in progress when asking. */
async function takeJob(rp: RunpodWorkerEnv, signal: AbortSignal): Promise<TakenJob | undefined> {
  const url = withQuery(rp.getJob.replaceAll("$ID", encodeURIComponent(rp.podId)), {
    job_in_progress: "0",
  });
  let res: Response;
  try {
    res = await fetch(url, { headers: { authorization: rp.apiKey }, signal });
  } catch (e) {
    throw new Error(causeOf(e));
  }
  if (res.status === 204) return undefined;
  if (res.status === 429) {
    await res.body?.cancel();
    const after = Number(res.headers.get("retry-after"));
    throw Object.assign(new Error("HTTP 429 (too many requests)"), {
      ...(Number.isFinite(after) && after > 0 ? { retryAfterMs: after * 1000 } : {}),
    });
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw new Error(`HTTP ${res.status}`);
  }
  const text = await res.text();
  if (text.trim() === "") return undefined;
  const body = JSON.parse(text) as Partial<TakenJob>;
  if (typeof body.id !== "string" || body.id === "") throw new Error("the job has no id");
  return { id: body.id, input: body.input };
}

async function sendPing(rp: RunpodWorkerEnv, jobId: string): Promise<void> {
  const url = withQuery(
    (rp.ping as string)
      .replaceAll("$RUNPOD_POD_ID", encodeURIComponent(rp.podId))
      .replaceAll("$ID", encodeURIComponent(rp.podId)),
    {
      job_id: jobId,
    },
  );
  const res = await fetch(url, { headers: { authorization: rp.apiKey }, signal: AbortSignal.timeout(5000) });
  await res.body?.cancel();
}

/** Post the result; retried with backoff, because losing it loses the whole job's work. */
async function postOutput(
  rp: RunpodWorkerEnv,
  jobId: string,
  body: unknown,
  log: (line: string) => void,
): Promise<void> {
  const url = withQuery(
    rp.postOutput
      .replaceAll("$RUNPOD_POD_ID", encodeURIComponent(rp.podId))
      .replaceAll("$ID", encodeURIComponent(jobId)),
    { isStream: "false" },
  );
  const payload = JSON.stringify(body);
  let delay = 500;
  for (let attempt = 1; ; attempt++) {
    try {
      const res = await fetch(url, {
        method: "POST",
        headers: { authorization: rp.apiKey, "content-type": "application/json" },
        body: payload,
        signal: AbortSignal.timeout(60_000),
      });
      await res.body?.cancel();
      if (res.ok) return;
      if (res.status < 500 && res.status !== 429) {
        log(`job ${jobId}: RunPod refused the result (HTTP ${res.status}); giving up`);
        return;
      }
      throw new Error(`HTTP ${res.status}`);
    } catch (e) {
      if (attempt >= 5) {
        log(`job ${jobId}: posting the result failed ${attempt} times (${causeOf(e)}); giving up`);
        return;
      }
      log(`job ${jobId}: posting the result failed (${causeOf(e)}); retrying in ${delay / 1000} s`);
      await sleep(delay);
      delay *= 2;
    }
  }
}

/** Append query parameters to a URL that may already have some (RunPod's webhooks do). */
function withQuery(url: string, params: Record<string, string>): string {
  const u = new URL(url);
  for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
  return u.toString();
}

function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return "(invalid URL)";
  }
}
