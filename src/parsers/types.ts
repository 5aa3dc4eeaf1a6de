/** One test's result in one attempt, as a framework reported it. Parsers produce these; nothing else. */
export type TestStatus = "passed" | "failed" | "skipped";

export interface ParsedTest {
  /** Stable identity across attempts, in the framework's own spelling where it has one. */
  id: string;
  name: string;
  file: string | null;
  status: TestStatus;
  /** First line(s) of the failure, when failed. */
  message: string | null;
  durationMs: number | null;
  /** Surefire-style reruns inside one attempt: failures before the final status. */
  reruns?: { failed: number; messages: string[] };
  properties?: Record<string, string>;
  line?: number;
  /**
   * "collection": not a test but a module that could not be collected (an import error). It is a
   * finding of that module, counted over every attempt with results: absent means it imported.
   */
  kind?: "collection";
  /**
   * A failure that is the process dying while this test ran, read from the event reporter's lines
   * when no results file was written: "crashed" (a signal, an abnormal exit) or "timedOut" (killed
   * at the per-attempt timeout).
   */
  died?: "crashed" | "timedOut";
}

export class ResultParseError extends Error {
  constructor(
    readonly format: string,
    message: string,
  ) {
    super(`${format}: ${message}`);
  }
}
