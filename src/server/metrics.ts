/**
 * The few Prometheus series `serve` exposes, in the text exposition format (version 0.0.4). Counters
 * and histograms live in memory (they restart at 0 with the process, as Prometheus expects); gauges
 * of jobs by status are read from the database at scrape time, so every instance reports the queue.
 */

type Labels = Record<string, string>;

const key = (labels: Labels) =>
  Object.entries(labels)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => `${k}="${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`)
    .join(",");

class Counter {
  private readonly values = new Map<string, number>();
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}
  inc(labels: Labels = {}, by = 1): void {
    const k = key(labels);
    this.values.set(k, (this.values.get(k) ?? 0) + by);
  }
  render(): string[] {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    if (this.values.size === 0) lines.push(`${this.name} 0`);
    for (const [k, v] of this.values) lines.push(`${this.name}${k ? `{${k}}` : ""} ${v}`);
    return lines;
  }
}

class Histogram {
  private readonly counts: number[];
  private sum = 0;
  private count = 0;
  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: readonly number[],
  ) {
    this.counts = buckets.map(() => 0);
  }
  observe(value: number): void {
    this.sum += value;
    this.count++;
    this.buckets.forEach((b, i) => {
      if (value <= b) this.counts[i] = (this.counts[i] as number) + 1;
    });
  }
  /** Mean of what was observed, or undefined before the first observation. */
  mean(): number | undefined {
    return this.count === 0 ? undefined : this.sum / this.count;
  }
  render(): string[] {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    this.buckets.forEach((b, i) => {
      lines.push(`${this.name}_bucket{le="${b}"} ${this.counts[i]}`);
    });
    lines.push(`${this.name}_bucket{le="+Inf"} ${this.count}`);
    lines.push(`${this.name}_sum ${this.sum}`);
    lines.push(`${this.name}_count ${this.count}`);
    return lines;
  }
}

const SECONDS = [0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];

export class JobMetrics {
  readonly submitted = new Counter(
    "flaky_detector_jobs_submitted_total",
    "Jobs accepted by /run and /runsync.",
  );
  readonly rejected = new Counter(
    "flaky_detector_jobs_rejected_total",
    "Job submissions refused, by reason (invalid, queue_full).",
  );
  readonly finished = new Counter(
    "flaky_detector_jobs_finished_total",
    "Jobs this instance finished, by final status.",
  );
  readonly recovered = new Counter(
    "flaky_detector_jobs_recovered_total",
    "Jobs this instance took over after their runner's lease lapsed (a server died mid-job).",
  );
  readonly attempts = new Counter("flaky_detector_attempts_total", "Test attempts run, by outcome.");
  readonly execution = new Histogram(
    "flaky_detector_job_execution_seconds",
    "Time from a job's start to its end on this instance.",
    SECONDS,
  );
  readonly delay = new Histogram(
    "flaky_detector_job_queue_delay_seconds",
    "Time jobs waited in the queue before this instance started them.",
    SECONDS,
  );

  render(gauges: { jobsByStatus: Record<string, number>; running: number; concurrency: number }): string {
    const lines = [
      "# HELP flaky_detector_jobs Jobs in the database, by status.",
      "# TYPE flaky_detector_jobs gauge",
      ...Object.entries(gauges.jobsByStatus).map(
        ([status, n]) => `flaky_detector_jobs{status="${status}"} ${n}`,
      ),
      "# HELP flaky_detector_jobs_running Jobs this instance is running now.",
      "# TYPE flaky_detector_jobs_running gauge",
      `flaky_detector_jobs_running ${gauges.running}`,
      "# HELP flaky_detector_job_concurrency Jobs this instance runs at once at most.",
      "# TYPE flaky_detector_job_concurrency gauge",
      `flaky_detector_job_concurrency ${gauges.concurrency}`,
      ...this.submitted.render(),
      ...this.rejected.render(),
      ...this.finished.render(),
      ...this.recovered.render(),
      ...this.attempts.render(),
      ...this.execution.render(),
      ...this.delay.render(),
    ];
    return `${lines.join("\n")}\n`;
  }
}
