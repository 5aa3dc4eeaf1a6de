import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { unzipSync } from "fflate";
import { InfraError } from "../errors.js";

/** Limits on what an artifact may unpack to: JUnit files are small; anything else is not ours to read. */
const MAX_FILE = 50 * 1024 * 1024;
const MAX_TOTAL = 200 * 1024 * 1024;

/**
 * The XML (and `go test -json`) files of an artifact's zip, written under `dir` with flat names (the archive's paths
 * never choose where we write: no `../`, no absolute paths). Returns the written paths.
 */
export function extractJUnit(zip: Uint8Array, artifact: string, dir: string, used = { bytes: 0 }): string[] {
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(zip, {
      // JUnit XML, and `go test -json` streams saved as .json (read as CI results too).
      filter: (f) => /\.(xml|json)$/i.test(f.name) && !f.name.endsWith("/") && f.originalSize <= MAX_FILE,
    });
  } catch (e) {
    throw new InfraError(
      "E_ARTIFACT",
      `artifact ${JSON.stringify(artifact)} is not a readable zip archive: ${(e as Error).message}`,
    );
  }
  mkdirSync(dir, { recursive: true });
  const out: string[] = [];
  for (const [name, bytes] of Object.entries(entries).sort(([a], [b]) => a.localeCompare(b))) {
    used.bytes += bytes.length;
    if (used.bytes > MAX_TOTAL) {
      throw new InfraError(
        "E_ARTIFACT",
        `artifact ${JSON.stringify(artifact)} unpacks to more than ${MAX_TOTAL / 1024 / 1024} MB of XML`,
      );
    }
    const safe = name.replace(/[^A-Za-z0-9._-]+/g, "_").slice(-120);
    const file = join(dir, `${out.length}-${safe}`);
    writeFileSync(file, bytes);
    out.push(file);
  }
  return out;
}
