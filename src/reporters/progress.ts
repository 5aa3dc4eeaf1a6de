import cliProgress from "cli-progress";
import type { EventSink, RunEvent } from "../analysis/events.js";
import type { TestsSoFar } from "../analysis/per-test.js";

export interface ProgressOptions {
  stream: NodeJS.WritableStream & { isTTY?: boolean };
  /** Bar on a terminal, plain lines elsewhere (CI logs), nothing when quiet. */
  mode: "bar" | "plain" | "none";
  /** Plain mode: at most one progress line this often. */
  intervalMs?: number;
  now?: () => number;
}

export interface Progress {
  sink: EventSink;
  stop(): void;
}

/** Live progress on stderr; stdout stays for the result. */
export function createProgress(opts: ProgressOptions): Progress {
  const now = opts.now ?? Date.now;
  const write = (line: string) => opts.stream.write(`${line}\n`);
  let startedAt = 0;
  let last: { done: number; failures: number; total: number; tests?: TestsSoFar } = {
    done: 0,
    failures: 0,
    total: 0,
  };
  let bar: cliProgress.SingleBar | undefined;
  let timer: NodeJS.Timeout | undefined;
  let lastPrinted = -1;

  const plainLine = () => {
    if (last.done === lastPrinted) return;
    lastPrinted = last.done;
    const elapsed = (now() - startedAt) / 1000;
    const eta = last.done > 0 ? (elapsed / last.done) * (last.total - last.done) : Number.NaN;
    write(
      `progress: ${last.done}/${last.total} attempts, ${findings(last)}, ${elapsed.toFixed(0)}s elapsed${
        Number.isFinite(eta) ? `, ETA ${eta.toFixed(0)}s (at most; adaptive stopping ends sooner)` : ""
      }`,
    );
  };

  const sink = (event: RunEvent) => {
    if (opts.mode === "none") return;
    switch (event.type) {
      case "phase":
        if (event.phase !== "run") write(`${event.phase}: ${event.detail}`);
        return;
      case "job-started":
        startedAt = now();
        last = { done: 0, failures: 0, total: event.total };
        write(
          `running ${event.total} attempts of \`${event.command}\` at parallelism ${event.parallelism}; job seed ${event.jobSeed} (replay with --seed ${event.jobSeed})`,
        );
        if (opts.mode === "bar") {
          bar = new cliProgress.SingleBar(
            {
              stream: opts.stream as NodeJS.WriteStream,
              format:
                "{bar} {value}/{total} attempts | {findings} | {duration_formatted} | ETA {eta_formatted}",
              hideCursor: true,
              clearOnComplete: true,
              etaBuffer: 50,
            },
            cliProgress.Presets.shades_classic,
          );
          bar.start(event.total, 0, { findings: findings(last) });
        } else {
          timer = setInterval(plainLine, opts.intervalMs ?? 5000);
          timer.unref();
        }
        return;
      case "attempt-finished":
        last = {
          done: event.done,
          failures: event.failures,
          total: event.total,
          ...(event.tests ? { tests: event.tests } : {}),
        };
        bar?.update(event.done, { findings: findings(last) });
        return;
      case "job-stopping":
        if (event.reason !== "budget") {
          bar?.stop();
          bar = undefined;
          write(`stopping: ${describeStop(event.reason)}`);
        }
        return;
      case "warning":
        write(`warning: ${event.message}`);
        return;
    }
  };

  return {
    sink,
    stop() {
      if (timer) {
        clearInterval(timer);
        plainLine();
      }
      bar?.stop();
    },
  };
}

/**
 * What the attempts found so far: per test where the framework reports tests (one broken test
 * makes every attempt fail, so failed attempts say little); failed attempts for a plain command.
 */
export function findings(last: { failures: number; tests?: TestsSoFar }): string {
  const t = last.tests;
  if (!t || t.tests === 0) return `${last.failures} failed`;
  // Not verdict words: so far is not a verdict (a test may only have timed out).
  return `${t.tests} test${t.tests === 1 ? "" : "s"}: ${t.flaky} failed some runs, ${t.failing} failed every run so far`;
}

export function describeStop(reason: string): string {
  switch (reason) {
    case "job-timeout":
      return "job timeout reached; the report covers the attempts that finished";
    case "cancelled":
      return "cancelled; the report covers the attempts that finished";
    case "errors":
      return "attempts cannot start";
    case "adaptive":
      return "verdict settled";
    default:
      return reason;
  }
}
