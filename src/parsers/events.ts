import type { ParsedTest, TestStatus } from "./types.js";

/**
 * Per-test events, one JSON object per line, written while the tests run by the small reporter we
 * ship per framework (docs/design/events.md):
 *   {"event":"start","id":…,"file":…,"name"?:…}
 *   {"event":"end","id":…,"outcome":"passed"|"failed"|"skipped","message":…,"durationMs":…,"name"?:…}
 *   {"event":"collect-error","file":…,"message":…}
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
  const started = new Map<string, { file: string | null; name: string }>();
  const ended = new Map<string, ParsedTest>();
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
    if (e.event === "start" && id) {
      if (!started.has(id)) startOrder.push(id);
      started.set(id, { file, name });
      ended.delete(id);
    } else if (e.event === "end" && id && OUTCOMES.has(e.outcome as TestStatus)) {
      ended.set(id, {
        id,
        name,
        file: started.get(id)?.file ?? file,
        status: e.outcome as TestStatus,
        message: typeof e.message === "string" ? e.message : null,
        durationMs: typeof e.durationMs === "number" ? e.durationMs : null,
      });
    } else if (e.event === "collect-error" && file !== null) {
      collectErrors.push({ file, message: typeof e.message === "string" ? e.message : "collection error" });
    }
  }
  const running = [...started].filter(([id]) => !ended.has(id)).map(([id, s]) => ({ id, ...s }));
  return { ended: [...ended.values()], running, collectErrors, startOrder };
}
