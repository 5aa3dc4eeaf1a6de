import { createHash, randomBytes } from "node:crypto";
import type { Store } from "./open.js";

/**
 * API keys for `serve`. A key is 32 random bytes, so a plain SHA-256 is enough to store it: there is
 * nothing to brute-force, and a lookup by hash needs no per-key comparison loop. The key itself is
 * returned once, by createApiKey, and never stored or logged.
 */

export const KEY_PREFIX = "fdk_";

export interface ApiKeyInfo {
  id: string;
  name: string;
  /** The first characters of the key, to recognise it in a list. */
  prefix: string;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

export function hashKey(key: string): string {
  return createHash("sha256").update(key).digest("hex");
}

export async function createApiKey(store: Store, name: string): Promise<{ key: string; info: ApiKeyInfo }> {
  const key = `${KEY_PREFIX}${randomBytes(32).toString("base64url")}`;
  const row = {
    id: randomBytes(6).toString("hex"),
    name,
    key_hash: hashKey(key),
    prefix: key.slice(0, KEY_PREFIX.length + 6),
    created_at: new Date().toISOString(),
    last_used_at: null,
    revoked_at: null,
  };
  await store.db.insertInto("api_keys").values(row).execute();
  return { key, info: toInfo(row) };
}

export async function listApiKeys(store: Store): Promise<ApiKeyInfo[]> {
  const rows = await store.db.selectFrom("api_keys").selectAll().orderBy("created_at").execute();
  return rows.map(toInfo);
}

/** Revoke by id; false when no active key has that id. */
export async function revokeApiKey(store: Store, id: string): Promise<boolean> {
  const res = await store.db
    .updateTable("api_keys")
    .set({ revoked_at: new Date().toISOString() })
    .where("id", "=", id)
    .where("revoked_at", "is", null)
    .executeTakeFirst();
  return Number(res.numUpdatedRows) === 1;
}

export async function activeKeyCount(store: Store): Promise<number> {
  const r = await store.db
    .selectFrom("api_keys")
    .select((eb) => eb.fn.countAll<string | number>().as("n"))
    .where("revoked_at", "is", null)
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

/** The id of the active key with this hash, or undefined. */
export async function findActiveKey(store: Store, keyHash: string): Promise<string | undefined> {
  const r = await store.db
    .selectFrom("api_keys")
    .select("id")
    .where("key_hash", "=", keyHash)
    .where("revoked_at", "is", null)
    .executeTakeFirst();
  return r?.id;
}

export async function touchApiKey(store: Store, id: string): Promise<void> {
  await store.db
    .updateTable("api_keys")
    .set({ last_used_at: new Date().toISOString() })
    .where("id", "=", id)
    .execute();
}

function toInfo(r: {
  id: string;
  name: string;
  prefix: string;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}): ApiKeyInfo {
  return {
    id: r.id,
    name: r.name,
    prefix: r.prefix,
    createdAt: r.created_at,
    lastUsedAt: r.last_used_at,
    revokedAt: r.revoked_at,
  };
}
