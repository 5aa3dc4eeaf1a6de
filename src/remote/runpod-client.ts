import { UsageError } from "../errors.js";
import type { ShardResult } from "../pipeline/shard.js";
import { sleep } from "../util/retry.js";
import {
  failureOf,
  ShardFailure,
  type ShardInput,
  type ShardRunOptions,
  type ShardTransport,
} from "./fan-out.js";
import { Http } from "./http.js";
import { isShardResult } from "./shard-result.js";

/**
 * Shards on a RunPod Serverless endpoint whose workers run `flaky-detector worker runpod`: each
 * shard is one `/run` job; `/status` is polled with backoff through IN_QUEUE and IN_PROGRESS to
 * COMPLETED, FAILED, CANCELLED or TIMED_OUT; 429 and 5xx are retried honouring Retry-After; an
 * abort (Ctrl-C, job timeout, adaptive stop) cancels the job with `/cancel`.
 *
 * fetch rather than the runpod-sdk package: its 1.1 client turns every non-200 answer into
 * `{status, statusText}` without Retry-After or the error body, and uses 3 s request timeouts,
 * while shards need backoff on 429 and the worker's error text to decide on retries.
 */

export const RUNPOD_API = "https://api.runpod.ai/v2";

export interface RunpodOptions {
  endpointId: string;
  apiKey: string;
  /** Base of the endpoint API (tests point it at a local server). */
  apiBase?: string;
  note?: (line: string) => void;
  /** First and longest wait between /status polls, in ms. */
  pollMs?: { first: number; max: number };
  backoffMs?: number;
}

interface StatusBody {
  id: string;
  status: string;
  output?: unknown;
  error?: unknown;
}

export function validateEndpointId(id: string): string {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(id)) {
    throw new UsageError(
      "E_USAGE",
      `--endpoint-id: expected the endpoint's id as shown in the RunPod console (letters, digits, - and _), got ${JSON.stringify(id)}`,
    );
  }
  return id;
}

export function validateApiBase(value: string): string {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new UsageError(
      "E_USAGE",
      `--runpod-api: expected a URL such as ${RUNPOD_API}, got ${JSON.stringify(value)}`,
    );
  }
  const loopback = ["127.0.0.1", "localhost", "[::1]"].includes(u.hostname);
  if (u.protocol !== "https:" && !(u.protocol === "http:" && loopback)) {
    throw new UsageError(
      "E_USAGE",
      `--runpod-api: the API key travels with every request, so it must be https:// (http:// only on loopback), got ${JSON.stringify(value)}`,
    );
  }
  if (u.username || u.password || u.search || u.hash) {
    throw new UsageError(
      "E_USAGE",
      `--runpod-api: expected a base URL without credentials, ?query or #fragment, got ${JSON.stringify(value)}`,
    );
  }
  return u.toString().replace(/\/$/, "");
}

export class RunpodTransport implements ShardTransport {
  readonly name: string;
  readonly retriesShards = false;
  private readonly base: string;

  constructor(private readonly opts: RunpodOptions) {
    this.base = `${validateApiBase(opts.apiBase ?? RUNPOD_API)}/${validateEndpointId(opts.endpointId)}`;
    this.name = `RunPod endpoint ${opts.endpointId}`;
  }

  private http(signal?: AbortSignal): Http {
    return new Http(this.base, {
      apiKey: this.opts.apiKey,
      auth: "bare",
      signal,
      note: this.opts.note,
      keyHint: "set RUNPOD_API_KEY (or --api-key) to a RunPod API key with access to this endpoint",
      ...(this.opts.backoffMs !== undefined ? { backoffMs: this.opts.backoffMs } : {}),
    });
  }

  async run(input: ShardInput, opts: ShardRunOptions): Promise<ShardResult> {
    const submitted = (await this.http(opts.signal).json("POST", "/run", {
      input,
      policy: { executionTimeout: opts.executionTimeoutMs },
    })) as StatusBody;
    const id = submitted.id;
    if (typeof id !== "string" || !/^[A-Za-z0-9_-]{1,128}$/.test(id)) {
      throw new ShardFailure(`${this.name} answered /run without a job id`, true);
    }
    const poll = this.opts.pollMs ?? { first: 500, max: 5000 };
    let wait = poll.first;
    try {
      for (;;) {
        await sleep(wait, opts.signal);
        if (opts.signal.aborted) break;
        const status = (await this.http(opts.signal).json("GET", `/status/${id}`)) as StatusBody;
        switch (status.status) {
          case "IN_QUEUE":
            break;
          case "IN_PROGRESS":
          case "RUNNING":
            break;
          case "COMPLETED":
            if (!isShardResult(status.output)) {
              throw new ShardFailure(
                `job ${id} completed without a shard result: is the endpoint running flaky-detector worker runpod?`,
                false,
                "E_BAD_OUTPUT",
              );
            }
            return status.output;
          case "FAILED":
            throw failureOf(`${errorText(status.error)} (RunPod job ${id})`);
          case "TIMED_OUT":
            throw new ShardFailure(
              `RunPod job ${id} ran longer than its executionTimeout (${opts.executionTimeoutMs} ms)`,
              false,
              "E_JOB_TIMED_OUT",
            );
          case "CANCELLED":
            throw new ShardFailure(`RunPod job ${id} was cancelled on the endpoint`, false, "E_CANCELLED");
          default:
            throw new ShardFailure(`RunPod job ${id}: unknown status ${JSON.stringify(status.status)}`, true);
        }
        wait = Math.min(poll.max, Math.round(wait * 1.5));
      }
    } catch (e) {
      if (!opts.signal.aborted) throw e;
    }
    // Aborted: the worker must stop too, not run on for nobody (and not be billed).
    await this.http()
      .json("POST", `/cancel/${id}`)
      .catch((e) => this.opts.note?.(`cancelling RunPod job ${id} failed: ${(e as Error).message}`));
    throw new ShardFailure(`RunPod job ${id} cancelled`, false, "E_CANCELLED");
  }
}

function errorText(error: unknown): string {
  if (typeof error === "string") return error;
  if (error && typeof error === "object") {
    const e = error as { error_message?: unknown; message?: unknown };
    if (typeof e.error_message === "string") return e.error_message;
    if (typeof e.message === "string") return e.message;
    return JSON.stringify(error);
  }
  return "no reason given";
}
