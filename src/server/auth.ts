import { createHash, timingSafeEqual } from "node:crypto";

/**
 * Bearer API key check. Both sides are hashed first so the comparison is constant-time whatever
 * the lengths; the key itself is never logged or echoed.
 */
export function bearerMatches(header: string | undefined, apiKey: string): boolean {
  if (!header) return false;
  const m = /^Bearer\s+(.+)$/i.exec(header.trim());
  if (!m) return false;
  const given = createHash("sha256")
    .update(m[1] as string)
    .digest();
  const expected = createHash("sha256").update(apiKey).digest();
  return timingSafeEqual(given, expected);
}
