import type { EventSink } from "../analysis/events.js";
import { isFlakyDetectorError } from "../errors.js";
import type { Masker } from "../util/secrets.js";
import { type DetectRequest, requestMasker } from "./prepare.js";

/**
 * Runs a pipeline entry (detect, runShard) with its request's secrets masked in everything that
 * leaves it: progress events, the result, and the message of an error it throws (an install
 * log tail can print a token). Captured output and log files are masked where they are written.
 */
export async function masked<R extends DetectRequest, T>(
  req: R,
  run: (req: R, masker: Masker) => Promise<T>,
): Promise<T> {
  const masker = requestMasker(req);
  if (!masker.active) return run(req, masker);
  const inner: EventSink | undefined = req.emit;
  const emit: EventSink = (event) => inner?.(masker.deep(event));
  try {
    return masker.deep(await run({ ...req, emit }, masker));
  } catch (e) {
    throw maskError(e, masker);
  }
}

/** The same error with secrets masked in its message and details. */
export function maskError(e: unknown, masker: Masker): unknown {
  if (!masker.active || !(e instanceof Error)) return e;
  e.message = masker.text(e.message);
  if (e.stack) e.stack = masker.text(e.stack);
  if (isFlakyDetectorError(e)) {
    const details = e.details.map((d) => masker.text(d));
    e.details.splice(0, e.details.length, ...details);
  }
  return e;
}
