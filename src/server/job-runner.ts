import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { FastifyBaseLogger } from "fastify";
import type { RunEvent } from "../analysis/events.js";
import { isFlakyDetectorError } from "../errors.js";
import { executeJob, type JobOutput } from "../remote/execute.js";
import type { ShardTransport } from "../remote/fan-out.js";
import {
  claimJob,
  expireJobs,
  finishJob,
  type JobRow,
  lapsedJobs,
  releaseJob,
  renewLease,
} from "../store/jobs.js";
import type { Store } from "../store/open.js";
import { writeDetection } from "../store/record.js";
import type { JobContext, JobInput } from "./job-input.js";
import type { JobMetrics } from "./metrics.js";

/**
 * The in-process pool that runs queued jobs. Jobs are claimed from the database with a lease the
 * runner renews while it works; a runner that dies (kill -9) stops renewing, and the next server
 * to look takes the job over from scratch. Finishing requires the lease, so a job completes once.
 */

export interface JobProgress {
  phase: string;
  done: number;
  total: number;
  failures: number;
}

export interface RunnerOptions {
  store: Store;
  /** Jobs run at once by this instance; 0 accepts jobs but leaves them to other instances. */
  concurrency: number;
  ctx: JobContext;
  log: FastifyBaseLogger;
  metrics: JobMetrics;
  /** How long a claim lasts without renewal (renewed every third of it). */
  leaseMs?: number;
  /** How often the queue is checked besides the wake-up on every submission. */
  pollMs?: number;
  tempRoot?: string;
  /** Fan detections out over this transport (serve --redis) instead of running them here. */
  fanOut?: ShardTransport;
}

type StopReason = "cancel" | "timeout" | "shutdown" | "lost";

interface Active {
  id: string;
  controller: AbortController;
  reason?: StopReason;
  progress: JobProgress;
  /** Kept apart from `recent` so a late subscriber always learns the budget and command. */
  started?: RunEvent;
  /** The most recent events, replayed to a client that subscribes late. */
  recent: RunEvent[];
  listeners: Set<(e: StreamEvent) => void>;
  done: Promise<void>;
}

export type StreamEvent = { type: "event"; event: RunEvent } | { type: "end" };

const RECENT_EVENTS = 50;

export class JobRunner {
  readonly owner = `${hostname()}-${process.pid}-${randomBytes(3).toString("hex")}`;
  private readonly active = new Map<string, Active>();
  private readonly finishedWaiters = new Map<string, Set<() => void>>();
  private readonly leaseMs: number;
  private readonly pollMs: number;
  private timers: NodeJS.Timeout[] = [];
  private pumping = false;
  private again = false;
  private stopping = false;

  constructor(private readonly opts: RunnerOptions) {
    this.leaseMs = opts.leaseMs ?? 30_000;
    this.pollMs = opts.pollMs ?? 1000;
  }

  get concurrency(): number {
    return this.opts.concurrency;
  }

  get running(): number {
    return this.active.size;
  }

  async start(): Promise<void> {
    const lapsed = await lapsedJobs(this.opts.store);
    if (lapsed.length > 0) {
      this.opts.log.warn({ jobs: lapsed }, "jobs left running by a server that stopped; re-running them");
    }
    await expireJobs(this.opts.store);
    this.timers.push(setInterval(() => this.wake(), this.pollMs));
    this.timers.push(
      setInterval(() => {
        expireJobs(this.opts.store).catch((e) => this.opts.log.error({ err: e }, "expiring jobs failed"));
      }, 60_000),
    );
    for (const t of this.timers) t.unref();
    this.wake();
  }

  /** Look for work now (called after every submission). */
  wake(): void {
    if (this.stopping || this.opts.concurrency === 0) return;
    if (this.pumping) {
      this.again = true;
      return;
    }
    this.pumping = true;
    void this.pump().finally(() => {
      this.pumping = false;
      if (this.again) {
        this.again = false;
        this.wake();
      }
    });
  }

  private async pump(): Promise<void> {
    try {
      while (!this.stopping && this.active.size < this.opts.concurrency) {
        const job = await claimJob(this.opts.store, this.owner, this.leaseMs);
        if (!job) return;
        this.launch(job);
      }
    } catch (e) {
      this.opts.log.error({ err: e }, "claiming a job failed");
    }
  }

  /** Live progress of a job this instance runs. */
  progressOf(id: string): JobProgress | undefined {
    return this.active.get(id)?.progress;
  }

  /** Follow a job this instance runs: recent events first, then live ones. Undefined if not here. */
  subscribe(id: string, listener: (e: StreamEvent) => void): (() => void) | undefined {
    const a = this.active.get(id);
    if (!a) return undefined;
    if (a.started && !a.recent.includes(a.started)) listener({ type: "event", event: a.started });
    for (const event of a.recent) listener({ type: "event", event });
    a.listeners.add(listener);
    return () => a.listeners.delete(listener);
  }

  /** Resolves when this instance is done with the job, or at once if it is not running it. */
  async settled(id: string): Promise<void> {
    await this.active.get(id)?.done;
  }

  /** Called once a job reached a terminal status here; lets /runsync return without polling. */
  onFinished(id: string, fn: () => void): () => void {
    let set = this.finishedWaiters.get(id);
    if (!set) {
      set = new Set();
      this.finishedWaiters.set(id, set);
    }
    set.add(fn);
    return () => {
      set.delete(fn);
      if (set.size === 0) this.finishedWaiters.delete(id);
    };
  }

  private notifyFinished(id: string): void {
    const set = this.finishedWaiters.get(id);
    this.finishedWaiters.delete(id);
    for (const fn of set ?? []) fn();
  }

  /** Stop a job this instance runs because it was cancelled (the database already says so). */
  cancelLocal(id: string): void {
    this.abort(id, "cancel");
  }

  private abort(id: string, reason: StopReason): void {
    const a = this.active.get(id);
    if (!a || a.reason) return;
    a.reason = reason;
    a.controller.abort();
  }

  /**
   * Graceful shutdown: claim nothing more, give running jobs `graceMs` to finish, then stop the
   * rest and put them back in the queue for the next server.
   */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    const all = () => Promise.all([...this.active.values()].map((a) => a.done));
    if (this.active.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([all(), new Promise((r) => (timer = setTimeout(r, graceMs)))]);
      clearTimeout(timer);
      for (const id of this.active.keys()) this.abort(id, "shutdown");
      await all();
    }
  }

  private launch(job: JobRow): void {
    const controller = new AbortController();
    const active: Active = {
      id: job.id,
      controller,
      progress: { phase: "queued", done: 0, total: 0, failures: 0 },
      recent: [],
      listeners: new Set(),
      done: Promise.resolve(),
    };
    this.active.set(job.id, active);
    active.done = this.execute(job, active)
      .catch((e) => this.opts.log.error({ err: e, job: job.id }, "job runner failed"))
      .finally(() => {
        this.active.delete(job.id);
        // Written to the database by now: followers re-read the status from there.
        for (const l of active.listeners) l({ type: "end" });
        this.notifyFinished(job.id);
        this.wake();
      });
  }

  private async execute(job: JobRow, active: Active): Promise<void> {
    const { store, log, metrics } = this.opts;
    const jlog = log.child({ job: job.id });
    if (job.executions > 1) {
      metrics.recovered.inc();
      jlog.warn({ execution: job.executions }, "job taken over after its previous runner stopped");
    }
    if (job.started_at)
      metrics.delay.observe((Date.parse(job.started_at) - Date.parse(job.created_at)) / 1000);
    jlog.info("job started");
    const started = performance.now();

    const heartbeat = setInterval(
      () => {
        renewLease(store, job.id, this.owner, this.leaseMs, active.progress)
          .then((held) => {
            if (!held) this.abort(job.id, "lost");
          })
          .catch((e) => jlog.error({ err: e }, "renewing the job's lease failed"));
      },
      Math.max(50, Math.floor(this.leaseMs / 3)),
    );
    const timeout = setTimeout(() => this.abort(job.id, "timeout"), job.execution_timeout_ms);

    const emit = (event: RunEvent) => {
      updateProgress(active.progress, event);
      if (event.type === "job-started") active.started = event;
      if (event.type === "attempt-finished") metrics.attempts.inc({ outcome: event.outcome });
      active.recent.push(event);
      if (active.recent.length > RECENT_EVENTS) active.recent.shift();
      for (const l of active.listeners) l({ type: "event", event });
    };

    // Stored by /run after validation, so it parses.
    const input = JSON.parse(job.input) as JobInput;
    let outcome: { output?: JobOutput; error?: unknown } = {};
    try {
      outcome.output = await executeJob(input, this.opts.ctx, {
        signal: active.controller.signal,
        emit,
        ...(this.opts.tempRoot ? { tempRoot: this.opts.tempRoot } : {}),
        ...(this.opts.fanOut ? { fanOut: this.opts.fanOut } : {}),
        note: (line) => jlog.info(line),
      });
    } catch (e) {
      outcome = { error: e };
    } finally {
      clearInterval(heartbeat);
      clearTimeout(timeout);
    }
    const seconds = (performance.now() - started) / 1000;
    const status = await this.conclude(job, input, active, outcome);
    if (status) {
      metrics.finished.inc({ status });
      metrics.execution.observe(seconds);
      jlog.info({ status, seconds: Math.round(seconds * 10) / 10 }, "job finished");
    }
  }

  /** Write the job's end; returns the status written, or undefined when nothing was (not ours any more). */
  private async conclude(
    job: JobRow,
    input: JobInput,
    active: Active,
    outcome: { output?: JobOutput; error?: unknown },
  ): Promise<string | undefined> {
    const { store } = this.opts;
    const reason = active.reason;
    if (reason === "cancel" || reason === "lost") return undefined;
    if (reason === "shutdown") {
      await releaseJob(store, job.id, this.owner);
      this.opts.log.info({ job: job.id }, "job returned to the queue for the next server");
      return undefined;
    }
    if (reason === "timeout") {
      const ok = await finishJob(store, job, this.owner, {
        status: "TIMED_OUT",
        error: `execution timeout: the job ran longer than policy.executionTimeout (${job.execution_timeout_ms} ms)`,
        progress: active.progress,
      });
      return ok ? "TIMED_OUT" : undefined;
    }
    if (outcome.output?.kind === "shard") {
      // A shard is a slice of someone else's detection: the coordinator records the merged report.
      active.progress.phase = "done";
      const ok = await finishJob(store, job, this.owner, {
        status: "COMPLETED",
        output: outcome.output.result,
        progress: active.progress,
      });
      return ok ? "COMPLETED" : undefined;
    }
    if (outcome.output) {
      const report = outcome.output.report;
      active.progress.phase = "done";
      const ok = await finishJob(
        store,
        job,
        this.owner,
        { status: "COMPLETED", output: report, detectionId: report.id, progress: active.progress },
        (trx) =>
          writeDetection(trx, report, {
            trigger: "api",
            backend: "server",
            branch: input.branch ?? null,
            prNumber: input.pr_number ?? null,
            ciRunUrl: input.ci_run_url ?? null,
          }),
      );
      return ok ? "COMPLETED" : undefined;
    }
    const ok = await finishJob(store, job, this.owner, {
      status: "FAILED",
      error: errorText(outcome.error),
      progress: active.progress,
    });
    return ok ? "FAILED" : undefined;
  }
}

/** Infrastructure and input errors keep their stable code; anything else is ours, and says so. */
function errorText(e: unknown): string {
  if (isFlakyDetectorError(e)) {
    return [`${e.code}: ${e.message}`, ...e.details].join("\n");
  }
  return `E_INTERNAL: ${(e as Error)?.message ?? String(e)}`;
}

function updateProgress(p: JobProgress, e: RunEvent): void {
  switch (e.type) {
    case "phase":
      p.phase = e.phase;
      break;
    case "job-started":
      p.phase = "run";
      p.total = e.total;
      break;
    case "attempt-finished":
      p.done = e.done;
      p.failures = e.failures;
      p.total = e.total;
      break;
    default:
  }
}
