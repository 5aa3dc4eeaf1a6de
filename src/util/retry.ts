/**
 * One retry loop for every request we repeat (our job API and RunPod's, Slack and Discord
 * webhooks): exponential backoff from `backoffMs`, a server's Retry-After preferred when it sends
 * one (capped at `maxWaitMs`), at most `retries` retries, stopped by the signal.
 */
export interface RetryOptions {
  /** Retries after the first try. */
  retries: number;
  /** First wait when the answer names none, in ms; doubles each time. */
  backoffMs: number;
  /** Longest wait accepted from a Retry-After, in ms. */
  maxWaitMs: number;
  signal?: AbortSignal | undefined;
  /** Told before each wait: what went wrong and how long we wait. */
  note?: ((detail: string, waitMs: number) => void) | undefined;
}

/** What one try gave: a result, or a failure that may be retried. */
export type TryResult<T> =
  | { done: T }
  | {
      retryable: boolean;
      /** The wait the other side asked for (Retry-After), if any. */
      retryAfterMs: number | null;
      detail: string;
      /** The result (or throw) when this failure is the last one. */
      giveUp: () => T | Promise<T>;
      /** Release what the try holds (a response body) before waiting to retry. */
      discard?: () => Promise<void>;
    };

export async function retrying<T>(
  opts: RetryOptions,
  attempt: (n: number) => Promise<TryResult<T>>,
): Promise<T> {
  let delay = opts.backoffMs;
  for (let n = 0; ; n++) {
    const r = await attempt(n);
    if ("done" in r) return r.done;
    if (!r.retryable || n >= opts.retries || opts.signal?.aborted) return r.giveUp();
    const wait = Math.min(r.retryAfterMs ?? delay, opts.maxWaitMs);
    opts.note?.(r.detail, wait);
    await r.discard?.();
    await sleep(wait, opts.signal);
    delay *= 2;
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
  });
}
