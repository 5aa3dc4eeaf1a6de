import type { ParsedTest, TestStatus } from "./types.js";

/**
 * Per-test events, one JSON object per line, written while the tests run by the small reporter we
 * ship per framework (docs/design/events.md):
 *   {"event":"start","id":…,"file":…,"name"?:…,"key"?:…}
 *   {"event":"end","id":…,"outcome":"passed"|"failed"|"skipped","message":…,"durationMs":…,"name"?:…,"key"?:…}
 *     (`key`, where given, tells apart two tests that share an id: vitest's task id)
 *   {"event":"collect-error","file":…,"message":…}
 *   {"event":"repetition","attempt":…,"seed":…} … {"event":"repetition-end","attempt":…,"durationMs":…,"results"?:…}
 *     around each attempt of a process that repeats the tests in-process (docs/design/repeat.md);
 *     `results` names that repetition's own results file (jest's --json, kept apart per run)
 * Every line is flushed when written, so after a crash the file still says which test was running.
 * A torn last line (the process died mid-write) is ignored.
 */

export interface TestEvents {
  /** Tests that ended, with their outcome. */
  ended: ParsedTest[];
  /** Tests that started and never ended: the process died (or was killed) while they ran. */
  running: { id: string; name: string; file: string | null }[];
  collectErrors: { file: string; message: string }[];
  /** Every test id in the order the tests started (the order they ran in, within a worker). */
  startOrder: string[];
}

const OUTCOMES = new Set<TestStatus>(["passed", "failed", "skipped"]);

export function parseTestEvents(text: string): TestEvents {
  // Keyed by the event's `key` where the reporter gives one (vitest's task id: two tests of one
  // name are two tests, while a retried test starts again), else by the test id.
  const started = new Map<string, { id: string; file: string | null; name: string }>();
  const ended = new Map<string, ParsedTest>();
  const order = new Set<string>();
  const collectErrors: TestEvents["collectErrors"] = [];
  const startOrder: string[] = [];
  for (const line of text.split("\n")) {
    if (!line.startsWith("{")) continue;
    let e: Record<string, unknown>;
    try {
      e = JSON.parse(line) as Record<string, unknown>;
    } catch {
      continue;
    }
    const id = typeof e.id === "string" ? e.id : undefined;
    const file = typeof e.file === "string" ? e.file : null;
    // Reporters whose ids are not "file::name" (mocha's "suite > title") say the name.
    const name = typeof e.name === "string" ? e.name : (id?.split("::").pop() ?? "");
    const key = typeof e.key === "string" ? e.key : id;
    if (e.event === "start" && id && key) {
      if (!order.has(id)) {
        order.add(id);
        startOrder.push(id);
      }
      started.set(key, { id, file, name });
      ended.delete(key);
    } else if (e.event === "end" && id && key && OUTCOMES.has(e.outcome as TestStatus)) {
      ended.set(key, {
        id,
        name,
        file: started.get(key)?.file ?? file,
        status: e.outcome as TestStatus,
        message: typeof e.message === "string" ? e.message : null,
        durationMs: typeof e.durationMs === "number" ? e.durationMs : null,
      });
    } else if (e.event === "collect-error" && file !== null) {
      collectErrors.push({ file, message: typeof e.message === "string" ? e.message : "collection error" });
    }
  }
  const running = [...started].filter(([key]) => !ended.has(key)).map(([, s]) => s);
  return { ended: [...ended.values()], running, collectErrors, startOrder };
}

/** One attempt of a process that ran several (in-process repetition). */
export interface Repetition {
  attempt: number;
  seed: number;
  events: TestEvents;
  /** Its end line was written: false for the repetition the process died in. */
  finished: boolean;
  durationMs: number | null;
  /** The framework's own results file for this repetition, where the repeating script keeps one (jest). */
  results?: string;
}

/**
 * The events of a process that repeated its tests, split at the repetition lines; `before` holds
 * what came before the first (collection errors). No repetition line: the process never reached
 * its test loop (an import error, a usage error), and the caller reads it as a single attempt.
 */
export function splitRepetitions(text: string): { before: TestEvents; repetitions: Repetition[] } {
  const chunks: {
    head: Record<string, unknown> | null;
    lines: string[];
    end: Record<string, unknown> | null;
  }[] = [{ head: null, lines: [], end: null }];
  for (const line of text.split("\n")) {
    const e = line.includes('"repetition') ? repetitionLine(line) : null;
    const current = chunks.at(-1) as (typeof chunks)[number];
    if (e?.event === "repetition") chunks.push({ head: e, lines: [], end: null });
    else if (e?.event === "repetition-end") current.end = e;
    else current.lines.push(line);
  }
  const [first, ...rest] = chunks;
  return {
    before: parseTestEvents((first?.lines ?? []).join("\n")),
    repetitions: rest
      .filter((c) => typeof c.head?.attempt === "number" && typeof c.head?.seed === "number")
      .map((c) => ({
        attempt: c.head?.attempt as number,
        seed: c.head?.seed as number,
        events: parseTestEvents(c.lines.join("\n")),
        finished: c.end !== null,
        durationMs: typeof c.end?.durationMs === "number" ? c.end.durationMs : null,
        ...(typeof c.end?.results === "string" ? { results: c.end.results } : {}),
      })),
  };
}

function repetitionLine(line: string): Record<string, unknown> | null {
  try {
    const e = JSON.parse(line) as Record<string, unknown>;
    return e.event === "repetition" || e.event === "repetition-end" ? e : null;
  } catch {
    return null;
  }
}
