import type { TestResult } from "../analysis/report.js";
import { pct } from "../analysis/summarize.js";

export const SEVERITY_EMOJI = { critical: "🔴", high: "🟠", medium: "🟡", low: "🔵", none: "🟢" } as const;

/** Shared wording of per-test results, so console, markdown and JUnit say the same thing. */
export function rateText(t: TestResult, confidence: number): string {
  const conf = `${Math.round(confidence * 100)}%`;
  if (t.verdict === "error") return "not run";
  if (t.verdict === "skipped") return "skipped";
  if (t.verdict === "stable") return `< ${pct(t.bound?.value ?? 1)} (${conf})`;
  if (t.verdict === "failing") return `> ${pct(t.bound?.value ?? 0)} (${conf})`;
  return `${pct(t.failureRate)} (${pct(t.interval[0])}–${pct(t.interval[1])})`;
}

export function notes(t: TestResult): string[] {
  const out: string[] = [];
  if (t.cause) out.push(`cause: ${t.cause.kind} — ${t.cause.evidence}`);
  if (t.severitySpan)
    out.push(
      `severity ${t.severitySpan[0].toUpperCase()} to ${t.severitySpan[1].toUpperCase()}: its interval (${pct(t.interval[0])}–${pct(t.interval[1])}) spans a severity edge; more runs would tell which`,
    );
  // An order-dependent test's seed decides only which tests ran before it: its cause line says more.
  if (t.seedDeterministic === true && t.cause?.kind !== "order-dependent")
    out.push(`seed-deterministic: reproduce with TEST_SEED=${t.firstFailure?.seed}`);
  // An order-dependent failure is not reproducible by seed alone either, but its cause is known.
  if (t.seedDeterministic === false && !t.orderDependent)
    out.push(
      `not decided by the seed (timing, concurrency or unseeded randomness): its failing seed passed on replay; fails about ${pct(t.failureRate)} of runs, so the reproduce line repeats it`,
    );
  // The cause line names the polluter; the order note stays only for what it adds.
  if (t.polluters && t.polluters.ids.length > 0) {
    if (t.cause?.kind !== "order-dependent") {
      const names = t.polluters.ids.slice(0, 3).join(", ");
      const more = t.polluters.ids.length > 3 ? ` and ${t.polluters.ids.length - 3} more` : "";
      out.push(`order-dependent: fails after ${names}${more}; passes alone`);
    }
    out.push("the reproduce line runs the polluter, then this test");
  } else if (t.stateSetters && t.stateSetters.ids.length > 0) {
    out.push("the reproduce line runs this test alone, without the test it relies on");
  } else if (t.orderDependent && t.polluters?.unresolved) {
    out.push(`order-dependent, no polluter isolated: ${t.polluters.unresolved}`);
  } else if (t.orderDependent && t.stateSetters?.unresolved) {
    out.push(`order-dependent, no state-setter isolated: ${t.stateSetters.unresolved}`);
  } else if (t.orderDependent && t.cause?.kind !== "order-dependent") {
    out.push("order-dependent: fails only in shuffled orders");
  }
  if (t.repetitionDependent) {
    const d = t.repetitionDependent;
    out.push(
      `fails only after an earlier run in the same process (${d.laterFailures} of ${d.laterRuns} repetitions, 0 of ${d.firstRuns} first in a process): it keeps state between runs; counted from the ${d.firstRuns} fresh-process attempts alone (--repeat off measures it one process per attempt)`,
    );
  }
  if (t.resourceSensitive === true && t.cause?.kind !== "interference")
    out.push("resource-sensitive: failures vanished at parallelism 1");
  if (t.timeouts > 0 && t.timeouts === t.failures) out.push("every failure was a timeout");
  if (t.crashes > 0)
    out.push(
      `${t.crashes === t.failures ? "every failure was" : `${t.crashes} of the failures were`} the process dying while it ran (crashed)`,
    );
  if (t.verdict !== "skipped" && t.skipped > 0) out.push(`skipped in ${t.skipped} attempt(s), not counted`);
  if (t.notRun > 0)
    out.push(`did not run in ${t.notRun} attempt(s) (ended before it, or not selected), not counted`);
  if (t.innerReruns > 0) out.push(`${t.innerReruns} failure(s) retried inside attempts before passing`);
  return out;
}

export function firstLine(message: string): string {
  return (
    message
      .split("\n")
      .find((l) => l.trim() !== "")
      ?.trim() ?? ""
  );
}
