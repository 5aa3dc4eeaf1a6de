import { createHash, timingSafeEqual } from "node:crypto";
import { activeKeyCount, findActiveKey, hashKey, touchApiKey } from "../store/api-keys.js";
import type { Store } from "../store/open.js";

/**
 * Who may call the API. Keys come from two places: one key in the server's environment
 * (FLAKY_DETECTOR_API_KEY or --api-key-file), and any number created with `flaky-detector api-key
 * create`, stored hashed in the database. With neither, the API is open and the server refuses to
 * listen beyond loopback.
 */

/** Both sides hashed first so the comparison is constant-time whatever the lengths. */
export function bearerMatches(header: string | undefined, apiKey: string): boolean {
  const token = tokenOf(header);
  if (token === undefined) return false;
  const given = createHash("sha256").update(token).digest();
  const expected = createHash("sha256").update(apiKey).digest();
  return timingSafeEqual(given, expected);
}

/** `Bearer <key>`, or the bare key as RunPod clients send it. */
export function tokenOf(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const value = header.trim();
  const m = /^Bearer\s+(\S+)$/i.exec(value);
  if (m) return m[1];
  return /^\S+$/.test(value) ? value : undefined;
}

export type AuthResult = { ok: true; keyId?: string } | { ok: false };

/** How long the "are there any stored keys" answer is reused (a new key takes effect within it). */
const KEYS_CHECK_MS = 5000;
/** last_used_at is written at most this often per key, not on every request. */
const TOUCH_MS = 60_000;

export class Authenticator {
  private storedKeys = 0;
  private checkedAt = Number.NEGATIVE_INFINITY;
  private readonly touched = new Map<string, number>();

  constructor(
    private readonly store: Store,
    private readonly envKey: string | undefined,
  ) {}

  /** Whether any key exists (environment or database). */
  async required(): Promise<boolean> {
    if (this.envKey) return true;
    if (Date.now() - this.checkedAt > KEYS_CHECK_MS) {
      this.storedKeys = await activeKeyCount(this.store);
      this.checkedAt = Date.now();
    }
    return this.storedKeys > 0;
  }

  async check(header: string | undefined): Promise<AuthResult> {
    if (!(await this.required())) return { ok: true };
    if (this.envKey && bearerMatches(header, this.envKey)) return { ok: true };
    const token = tokenOf(header);
    if (token === undefined) return { ok: false };
    const id = await findActiveKey(this.store, hashKey(token));
    if (!id) return { ok: false };
    const last = this.touched.get(id) ?? 0;
    if (Date.now() - last > TOUCH_MS) {
      this.touched.set(id, Date.now());
      await touchApiKey(this.store, id);
    }
    return { ok: true, keyId: id };
  }
}
