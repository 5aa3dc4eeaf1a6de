import { createParser } from "eventsource-parser";
import type { EventSink, RunEvent } from "../analysis/events.js";
import type { Report } from "../analysis/report.js";
import { InfraError, UsageError } from "../errors.js";
import { sleep } from "../util/retry.js";
import { Http } from "./http.js";

/**
 * Client of a job API shaped like RunPod Serverless (`flaky-detector serve`): submit with /run,
 * follow /events/{id} (server-sent events) for live progress, fall back to polling /status, fetch
 * the Report, and cancel the job when the caller aborts. Network errors, 5xx and 429 are retried
 * with exponential backoff (honouring Retry-After); other answers are the caller's to fix.
 */

export interface ServerJobOptions {
  /** Base URL of the server, e.g. http://127.0.0.1:8080 (no credentials in it). */
  url: string;
  apiKey?: string | undefined;
  body: { input: Record<string, unknown>; policy?: Record<string, unknown> };
  emit?: EventSink;
  signal?: AbortSignal;
  /** One line per notable thing (submitted, reconnecting, cancelled). */
  note?: (line: string) => void;
  /** Retries of one request before giving up (default 6, about a minute of backoff). */
  retries?: number;
  /** First backoff in ms (doubles each time; default 500). */
  backoffMs?: number;
}

export interface ServerJobResult {
  jobId: string;
  status: string;
  report?: Report;
  detectionId?: string;
}

interface JobStatusBody {
  id: string;
  status: string;
  output?: Report;
  error?: string;
  detectionId?: string;
}

const TERMINAL = new Set(["COMPLETED", "FAILED", "CANCELLED", "TIMED_OUT"]);

export function validateServerUrl(value: string): string {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new UsageError(
      "E_USAGE",
      `--url: expected the server's URL such as http://127.0.0.1:8080, got ${JSON.stringify(value)}`,
    );
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") {
    throw new UsageError("E_USAGE", `--url: expected http:// or https://, got ${JSON.stringify(u.protocol)}`);
  }
  if (u.username || u.password) {
    throw new UsageError(
      "E_USAGE",
      "--url: the URL contains credentials; remove them and pass the key in FLAKY_DETECTOR_API_KEY (or --api-key)",
    );
  }
  if (u.search || u.hash) {
    throw new UsageError(
      "E_USAGE",
      `--url: expected a base URL without ?query or #fragment, got ${JSON.stringify(value)}`,
    );
  }
  return u.toString().replace(/\/$/, "");
}

export async function runOnServer(opts: ServerJobOptions): Promise<ServerJobResult> {
  const base = validateServerUrl(opts.url);
  const note = opts.note ?? (() => {});
  const http = new Http(base, opts);
  const submitted = (await http.json("POST", "/run", opts.body)) as JobStatusBody;
  const id = submitted.id;
  note(`submitted job ${id} to ${base}`);

  const final = await follow(http, id, opts);
  if (opts.signal?.aborted && (!final || !TERMINAL.has(final.status))) {
    // Ctrl-C: the remote attempts must stop too, not run on for nobody.
    const cancelled = (await new Http(base, { ...opts, signal: undefined, retries: 2 })
      .json("POST", `/cancel/${id}`)
      .catch(() => undefined)) as JobStatusBody | undefined;
    note(`cancelled job ${id} on the server (${cancelled?.status ?? "no answer"})`);
    return { jobId: id, status: "CANCELLED" };
  }
  if (!final) throw new InfraError("E_SERVER", `job ${id}: lost track of it on ${base}`);
  switch (final.status) {
    case "COMPLETED":
      if (!final.output) throw new InfraError("E_SERVER", `job ${id} completed without a report`);
      return {
        jobId: id,
        status: final.status,
        report: final.output,
        ...(final.detectionId ? { detectionId: final.detectionId } : {}),
      };
    case "CANCELLED":
      return { jobId: id, status: final.status };
    case "TIMED_OUT":
      throw new InfraError(
        "E_JOB_TIMED_OUT",
        `job ${id} timed out on the server: ${final.error ?? ""}`.trim(),
      );
    default:
      throw new InfraError(
        "E_JOB_FAILED",
        `job ${id} failed on the server: ${final.error ?? "no reason given"}`,
      );
  }
}

/** Follow the job to its end: the event stream while it works, polling when it does not. */
async function follow(http: Http, id: string, opts: ServerJobOptions): Promise<JobStatusBody | undefined> {
  let streamFailures = 0;
  for (;;) {
    if (opts.signal?.aborted) return undefined;
    if (streamFailures < 3) {
      try {
        await streamUntilEnd(http, id, opts);
        streamFailures = 0;
      } catch (e) {
        if (opts.signal?.aborted) return undefined;
        streamFailures++;
        opts.note?.(`progress stream interrupted (${(e as Error).message}); reconnecting`);
      }
    } else {
      await sleep(1000, opts.signal);
    }
    if (opts.signal?.aborted) return undefined;
    const status = (await http.json("GET", `/status/${id}`)) as JobStatusBody;
    if (TERMINAL.has(status.status)) return status;
  }
}

/**
 * Read /events/{id} until its `end` event (resolves) or the connection fails (throws). The stream
 * is parsed by eventsource-parser: CRLF and CR line ends, multi-line data, comments, `id` and
 * `retry` fields as the EventSource specification has them.
 */
async function streamUntilEnd(http: Http, id: string, opts: ServerJobOptions): Promise<void> {
  const res = await http.raw("GET", `/events/${id}`, undefined, { accept: "text/event-stream" });
  if (!res.body) throw new Error("no response body");
  let ended = false;
  const parser = createParser({
    onEvent(message) {
      if (ended) return;
      if (message.event === "progress" && message.data) opts.emit?.(JSON.parse(message.data) as RunEvent);
      if (message.event === "end") ended = true;
    },
  });
  const decoder = new TextDecoder();
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    parser.feed(decoder.decode(chunk, { stream: true }));
    if (ended) return;
  }
  throw new Error("the server closed the stream");
}
