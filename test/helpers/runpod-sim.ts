import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";

/**
 * A local stand-in for RunPod Serverless, implementing the documented endpoint API a client calls
 * (/v2/{endpoint}/run, /status/{id}, /cancel/{id}) and the worker webhooks a worker container
 * calls (job-take, job-done, ping), with their auth rules. It records every request, can answer
 * 429 a given number of times, and fails a job whose worker stops sending heartbeats.
 */

export interface SimJob {
  id: string;
  input: unknown;
  policy: { executionTimeout?: number } | undefined;
  status: "IN_QUEUE" | "IN_PROGRESS" | "COMPLETED" | "FAILED" | "CANCELLED" | "TIMED_OUT";
  output?: unknown;
  error?: string;
  worker?: string;
  lastPing?: number;
  createdAt: number;
  startedAt?: number;
  finishedAt?: number;
}

export interface SimRequest {
  at: number;
  method: string;
  path: string;
  query: Record<string, string>;
  authorization: string | undefined;
  status: number;
}

export interface RunpodSim {
  /** Base of the endpoint API, for --runpod-api. */
  api: string;
  endpointId: string;
  /** Worker environment variables RunPod would set for a pod with this id. */
  workerEnv(podId: string, pingMs?: number): NodeJS.ProcessEnv;
  jobs: Map<string, SimJob>;
  requests: SimRequest[];
  /** Answer the next n requests to a route ("run", "status", "job-take") with 429. */
  throttle(route: "run" | "status" | "job-take", n: number, retryAfterSeconds?: number): void;
  /** Queue a job directly (as the RunPod console would). */
  enqueue(input: unknown): string;
  /** Jobs whose output posts were received after they had ended (cancelled, failed). */
  latePosts: string[];
  close(): Promise<void>;
}

export const CLIENT_KEY = "rp_client_key_for_tests";
export const WORKER_KEY = "rp_worker_key_for_tests";

export async function startRunpodSim(opts: { pingTimeoutMs?: number } = {}): Promise<RunpodSim> {
  const endpointId = "ep-test1";
  const jobs = new Map<string, SimJob>();
  const queue: string[] = [];
  const requests: SimRequest[] = [];
  const latePosts: string[] = [];
  const throttles: Record<string, { n: number; after: number }> = {};
  const pingTimeout = opts.pingTimeoutMs ?? 1500;

  const body = (req: IncomingMessage): Promise<string> =>
    new Promise((resolve) => {
      let s = "";
      req.on("data", (d: Buffer) => {
        s += d.toString();
      });
      req.on("end", () => resolve(s));
    });

  const statusBody = (j: SimJob) => ({
    id: j.id,
    status: j.status,
    delayTime: (j.startedAt ?? Date.now()) - j.createdAt,
    ...(j.startedAt ? { executionTime: (j.finishedAt ?? Date.now()) - j.startedAt } : {}),
    ...(j.output !== undefined ? { output: j.output } : {}),
    ...(j.error !== undefined ? { error: j.error } : {}),
  });

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://x");
    const auth = req.headers.authorization;
    const record: SimRequest = {
      at: Date.now(),
      method: req.method ?? "",
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      authorization: auth,
      status: 0,
    };
    requests.push(record);
    const send = (status: number, payload?: unknown, headers: Record<string, string> = {}) => {
      record.status = status;
      res.writeHead(status, {
        ...(payload !== undefined ? { "content-type": "application/json" } : {}),
        ...headers,
      });
      res.end(payload === undefined ? undefined : JSON.stringify(payload));
    };
    const throttled = (route: string) => {
      const t = throttles[route];
      if (t && t.n > 0) {
        t.n--;
        send(429, { error: "rate limited" }, { "retry-after": String(t.after) });
        return true;
      }
      return false;
    };
    const parts = url.pathname.split("/").filter(Boolean);

    // Endpoint API: /v2/{endpoint}/{run|status|cancel}[/{id}]
    if (parts[0] === "v2") {
      if (parts[1] !== endpointId) return send(404, { error: "endpoint not found" });
      if (auth !== CLIENT_KEY && auth !== `Bearer ${CLIENT_KEY}`) return send(401, { error: "unauthorized" });
      const action = parts[2];
      if (action === "run" && req.method === "POST") {
        if (throttled("run")) return;
        const text = await body(req);
        if (text.length > 10 * 1024 * 1024) return send(413, { error: "payload too large" });
        const parsed = JSON.parse(text) as { input?: unknown; policy?: SimJob["policy"] };
        if (parsed.input === undefined) return send(400, { error: "input is required" });
        const id = `${randomUUID()}-u1`;
        jobs.set(id, {
          id,
          input: parsed.input,
          policy: parsed.policy,
          status: "IN_QUEUE",
          createdAt: Date.now(),
        });
        queue.push(id);
        return send(200, { id, status: "IN_QUEUE" });
      }
      const job = jobs.get(parts[3] ?? "");
      if (action === "status" && req.method === "GET") {
        if (throttled("status")) return;
        return job ? send(200, statusBody(job)) : send(404, { error: "job not found" });
      }
      if (action === "cancel" && req.method === "POST") {
        if (!job) return send(404, { error: "job not found" });
        if (job.status === "IN_QUEUE" || job.status === "IN_PROGRESS") {
          job.status = "CANCELLED";
          job.finishedAt = Date.now();
          const at = queue.indexOf(job.id);
          if (at !== -1) queue.splice(at, 1);
        }
        return send(200, { id: job.id, status: job.status });
      }
      return send(404, { error: "no such route" });
    }

    // Worker webhooks: the bare worker key.
    if (auth !== WORKER_KEY) return send(401, { error: "unauthorized" });
    if (parts[0] === "job-take" && req.method === "GET") {
      if (throttled("job-take")) return;
      const id = queue.shift();
      if (!id) return send(204);
      const job = jobs.get(id) as SimJob;
      job.status = "IN_PROGRESS";
      job.worker = parts[1];
      job.startedAt = Date.now();
      job.lastPing = Date.now();
      return send(200, { id: job.id, input: job.input });
    }
    if (parts[0] === "ping" && req.method === "GET") {
      for (const id of (url.searchParams.get("job_id") ?? "").split(",")) {
        const job = jobs.get(id);
        if (job && job.worker === parts[1]) job.lastPing = Date.now();
      }
      return send(200, {});
    }
    if (parts[0] === "job-done" && req.method === "POST") {
      const job = jobs.get(parts[2] ?? "");
      const parsed = JSON.parse(await body(req)) as { output?: unknown; error?: string };
      if (!job) return send(404, { error: "job not found" });
      if (job.status !== "IN_PROGRESS" || job.worker !== parts[1]) {
        latePosts.push(job.id);
        return send(200, {});
      }
      job.finishedAt = Date.now();
      if (parsed.error !== undefined) {
        job.status = "FAILED";
        job.error = parsed.error;
      } else {
        job.status = "COMPLETED";
        job.output = parsed.output;
      }
      return send(200, {});
    }
    return send(404, { error: "no such route" });
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e) => {
      res.writeHead(500);
      res.end(String(e));
    });
  });
  // The platform's side of heartbeats and execution timeouts.
  const watchdog = setInterval(() => {
    const now = Date.now();
    for (const job of jobs.values()) {
      if (job.status !== "IN_PROGRESS") continue;
      if (now - (job.lastPing ?? now) > pingTimeout) {
        job.status = "FAILED";
        job.error = `E_WORKER_LOST: worker ${job.worker} stopped sending heartbeats`;
        job.finishedAt = now;
      } else if (job.policy?.executionTimeout && now - (job.startedAt ?? now) > job.policy.executionTimeout) {
        job.status = "TIMED_OUT";
        job.finishedAt = now;
      }
    }
  }, 100);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return {
    api: `${base}/v2`,
    endpointId,
    jobs,
    requests,
    latePosts,
    workerEnv: (podId, pingMs = 200) => ({
      RUNPOD_WEBHOOK_GET_JOB: `${base}/job-take/$ID?gpu=none`,
      RUNPOD_WEBHOOK_POST_OUTPUT: `${base}/job-done/$RUNPOD_POD_ID/$ID`,
      RUNPOD_WEBHOOK_PING: `${base}/ping/$RUNPOD_POD_ID`,
      RUNPOD_POD_ID: podId,
      RUNPOD_AI_API_KEY: WORKER_KEY,
      RUNPOD_PING_INTERVAL: String(pingMs),
    }),
    throttle: (route, n, retryAfterSeconds = 1) => {
      throttles[route] = { n, after: retryAfterSeconds };
    },
    enqueue: (input) => {
      const id = `${randomUUID()}-u1`;
      jobs.set(id, { id, input, policy: undefined, status: "IN_QUEUE", createdAt: Date.now() });
      queue.push(id);
      return id;
    },
    close: async () => {
      clearInterval(watchdog);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
