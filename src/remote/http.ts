import { InfraError, UsageError } from "../errors.js";
import { retrying } from "../util/retry.js";

/**
 * JSON over HTTP for the job APIs we call (our server, RunPod's endpoint API): every request is
 * retried on network errors, 5xx and 429 with exponential backoff, honouring Retry-After; other
 * answers are the caller's to fix and become a UsageError naming the problem.
 */
export interface HttpOptions {
  apiKey?: string | undefined;
  /** RunPod sends the key bare in Authorization; our server accepts both. */
  auth?: "bearer" | "bare";
  signal?: AbortSignal | undefined;
  /** Retries of one request before giving up (default 6, about a minute of backoff). */
  retries?: number;
  /** First backoff in ms (doubles each time; default 500). */
  backoffMs?: number;
  note?: ((line: string) => void) | undefined;
  /** Says how to pass the key, in the message of a 401. */
  keyHint?: string;
}

export class Http {
  constructor(
    private readonly base: string,
    private readonly opts: HttpOptions,
  ) {}

  async json(method: string, path: string, body?: unknown): Promise<unknown> {
    const res = await this.raw(method, path, body);
    return res.json();
  }

  /** One request with retries; resolves only with a 2xx response. */
  async raw(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<Response> {
    return retrying<Response>(
      {
        retries: this.opts.retries ?? 6,
        backoffMs: this.opts.backoffMs ?? 500,
        maxWaitMs: 300_000,
        signal: this.opts.signal,
        note: (detail, wait) =>
          this.opts.note?.(`${method} ${path}: ${detail}; retrying in ${Math.round(wait / 100) / 10} s`),
      },
      async () => {
        let res: Response;
        try {
          res = await fetch(`${this.base}${path}`, {
            method,
            headers: {
              ...headers,
              ...(body !== undefined ? { "content-type": "application/json" } : {}),
              ...(this.opts.apiKey
                ? {
                    authorization:
                      this.opts.auth === "bare" ? this.opts.apiKey : `Bearer ${this.opts.apiKey}`,
                  }
                : {}),
            },
            ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
            ...(this.opts.signal ? { signal: this.opts.signal } : {}),
          });
        } catch (e) {
          if (this.opts.signal?.aborted) throw e;
          return {
            retryable: true,
            retryAfterMs: null,
            detail: causeOf(e),
            giveUp: () => {
              throw new InfraError("E_SERVER_UNREACHABLE", `cannot reach ${this.base}: ${causeOf(e)}`);
            },
          };
        }
        if (res.ok) return { done: res };
        const after = Number(res.headers.get("retry-after"));
        return {
          retryable: res.status === 429 || res.status >= 500,
          retryAfterMs: Number.isFinite(after) && after > 0 ? after * 1000 : null,
          detail: `HTTP ${res.status}`,
          giveUp: async () => {
            throw await answerError(res, method, path, this.base, this.opts.keyHint);
          },
          discard: async () => {
            await res.body?.cancel();
          },
        };
      },
    );
  }
}

/** A refusal from the server, with its own message and every problem it listed. */
async function answerError(
  res: Response,
  method: string,
  path: string,
  base: string,
  keyHint = "pass the server's key in FLAKY_DETECTOR_API_KEY (or --api-key)",
): Promise<Error> {
  let message = `HTTP ${res.status}`;
  let problems: { path: string; message: string }[] = [];
  try {
    const body = (await res.json()) as { error?: { message?: string; problems?: typeof problems } };
    message = body.error?.message ?? message;
    problems = body.error?.problems ?? [];
  } catch {
    // Not our server's JSON: the status says enough.
  }
  if (res.status === 401) {
    return new UsageError("E_UNAUTHORIZED", `${base} refused the API key: ${keyHint}`);
  }
  if (res.status === 400 && problems.length > 0) {
    return new UsageError(
      "E_JOB_INPUT",
      [
        `the server refused the job (${problems.length} problem(s)):`,
        ...problems.map((p) => `  ${p.path}: ${p.message}`),
      ].join("\n"),
    );
  }
  if (res.status < 500) return new UsageError("E_SERVER_REFUSED", `${method} ${path}: ${message}`);
  return new InfraError("E_SERVER", `${method} ${path} on ${base}: ${message}`);
}

export function causeOf(e: unknown): string {
  const cause = (e as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (e as Error).message;
}
