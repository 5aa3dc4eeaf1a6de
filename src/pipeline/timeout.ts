import type { AttemptRecord } from "../runner/attempt.js";

/**
 * The per-attempt timeout. A number in the config is used as it is. `auto` (the default) derives it
 * from the job itself, because no fixed number fits both a 0.3 s unit test and a 7-minute suite:
 *
 * - attempts run under a ceiling of 600 s until as many attempts as there are slots (the first
 *   wave) have finished;
 * - from then on, attempts get 5 × the slowest of those that completed (passed or failed), at
 *   least 60 s and at most the ceiling. Attempts already running keep the timeout they started with.
 *
 * 5× and 60 s are generous on purpose: a timeout counts as a failure, so a timeout that is too tight
 * makes a slow test look flaky, which is worse than waiting for a hang. A suite whose first
 * attempts all hit the ceiling is not measured at all (E_ALL_TIMED_OUT, with the durations seen).
 */
export const AUTO_CEILING_S = 600;
export const AUTO_FLOOR_S = 60;
export const AUTO_FACTOR = 5;

export class AttemptTimeout {
  private derivedMs: number | null = null;
  private readonly first: AttemptRecord[] = [];

  constructor(
    private readonly setting: number | "auto",
    /** How many finished attempts make the first wave (the parallelism, or fewer attempts). */
    private readonly wave: number,
  ) {}

  /** The timeout for an attempt starting now. */
  get ms(): number {
    if (this.setting !== "auto") return this.setting * 1000;
    return this.derivedMs ?? AUTO_CEILING_S * 1000;
  }

  get auto(): boolean {
    return this.setting === "auto";
  }

  /** Record a finished attempt; the first wave's durations set the derived timeout. */
  observe(record: AttemptRecord): void {
    if (this.setting !== "auto" || this.derivedMs !== null) return;
    if (record.outcome === "cancelled") return;
    this.first.push(record);
    if (this.first.length < this.wave) return;
    const slowest = this.slowestS();
    // Every first attempt timed out or errored: nothing to derive from, keep the ceiling.
    if (slowest === null) return;
    this.derivedMs = Math.min(
      AUTO_CEILING_S * 1000,
      Math.max(AUTO_FLOOR_S * 1000, AUTO_FACTOR * slowest * 1000),
    );
  }

  /** The slowest first-wave attempt, in seconds, when one completed. */
  private slowestS(): number | null {
    const completed = this.first.filter((r) => r.outcome === "passed" || r.outcome === "failed");
    return completed.length === 0 ? null : Math.max(...completed.map((r) => r.durationMs)) / 1000;
  }

  /** One sentence for the report: the value and where it came from. */
  describe(): string {
    if (this.setting !== "auto") return `${this.setting} s (set)`;
    const slowest = this.slowestS();
    if (this.derivedMs === null)
      return `${AUTO_CEILING_S} s (auto: the ceiling for the first attempts; none completed to derive from)`;
    return `${round(this.derivedMs / 1000)} s (auto: ${AUTO_FACTOR} × the slowest of the first ${this.wave} attempt(s), ${round(slowest ?? 0)} s, at least ${AUTO_FLOOR_S} s, at most ${AUTO_CEILING_S} s)`;
  }
}

function round(s: number): number {
  return s < 10 ? Math.round(s * 10) / 10 : Math.round(s);
}
