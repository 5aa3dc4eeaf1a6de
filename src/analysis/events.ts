import type { TestsSoFar } from "./per-test.js";
import type { AttemptOutcome, StopReason } from "./report.js";

/**
 * What a running job tells its observers (progress bars, the server's event stream). A closed union,
 * so every observer handles every event; pure data, so reporters never see runner internals.
 */
export type RunEvent =
  | {
      type: "phase";
      phase:
        | "source"
        | "install"
        | "isolation"
        | "framework"
        | "list"
        | "fan-out"
        | "run"
        | "seed-replay"
        | "serial-confirmation"
        | "polluter-search";
      detail: string;
    }
  | { type: "job-started"; total: number; parallelism: number; jobSeed: number; command: string }
  | {
      type: "attempt-finished";
      index: number;
      slot: number;
      seed: number;
      outcome: AttemptOutcome;
      durationMs: number;
      done: number;
      failures: number;
      total: number;
      /** Per-test counts so far, where the framework reports tests. */
      tests?: TestsSoFar;
    }
  | { type: "job-stopping"; reason: StopReason }
  | { type: "warning"; message: string };

export type EventSink = (event: RunEvent) => void;
