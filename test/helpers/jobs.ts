import { expect } from "vitest";

/** Talking to a running `serve` as any HTTP client would. */

export interface Answer {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

export async function call(
  url: string,
  path: string,
  opts: { method?: string; body?: unknown; key?: string; authorization?: string } = {},
): Promise<Answer> {
  const res = await fetch(`${url}${path}`, {
    method: opts.method ?? (opts.body === undefined ? "GET" : "POST"),
    headers: {
      ...(opts.body !== undefined ? { "content-type": "application/json" } : {}),
      ...(opts.key ? { authorization: `Bearer ${opts.key}` } : {}),
      ...(opts.authorization ? { authorization: opts.authorization } : {}),
    },
    ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
  });
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    body = { text };
  }
  return { status: res.status, headers: res.headers, body };
}

/** Submit with /run and return the job id (the answer must be RunPod's {id, status: IN_QUEUE}). */
export async function submit(
  url: string,
  input: Record<string, unknown>,
  extra: Record<string, unknown> = {},
  key?: string,
): Promise<string> {
  const a = await call(url, "/run", { body: { input, ...extra }, ...(key ? { key } : {}) });
  expect(a.status, JSON.stringify(a.body)).toBe(200);
  expect(a.body.status).toBe("IN_QUEUE");
  return a.body.id as string;
}

/** Poll /status until the job reaches one of `statuses`. */
export async function waitStatus(
  url: string,
  id: string,
  statuses: string[],
  opts: { key?: string; timeoutMs?: number; until?: (b: Record<string, unknown>) => boolean } = {},
): Promise<Record<string, unknown>> {
  const deadline = Date.now() + (opts.timeoutMs ?? 60_000);
  let last: Answer | undefined;
  while (Date.now() < deadline) {
    last = await call(url, `/status/${id}`, opts.key ? { key: opts.key } : {});
    if (statuses.includes(last.body.status as string) && (!opts.until || opts.until(last.body)))
      return last.body;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(
    `job ${id} did not reach ${statuses.join("/")}: last ${JSON.stringify(last?.body).slice(0, 500)}`,
  );
}

/** Wait until a condition holds (processes dying, files appearing), polling. */
export async function eventually(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  expect(check()).toBe(true);
}
