import { resolveConfig } from "../config/resolve.js";
import { EXIT, UsageError } from "../errors.js";
import { createApiKey, listApiKeys, revokeApiKey } from "../store/api-keys.js";
import { openStore, type Store } from "../store/open.js";
import { historyTarget } from "./history-command.js";
import type { CliIo } from "./io.js";

/** `flaky-detector api-key create|list|revoke`: keys for `serve`, stored hashed in its database. */

async function withStore<T>(db: string | undefined, io: CliIo, fn: (store: Store) => Promise<T>): Promise<T> {
  const { config } = resolveConfig({ cwd: io.cwd, env: io.env });
  const store = await openStore(historyTarget(db, config.history.db, io.env), io.cwd);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

export async function apiKeyCreate(opts: { name: string; db?: string }, io: CliIo): Promise<number> {
  const name = opts.name.trim();
  if (name === "" || name.length > 200 || !/^[\p{L}\p{N} ._@/-]+$/u.test(name)) {
    throw new UsageError(
      "E_USAGE",
      `--name: expected a short label such as "ci" (letters, digits, space . _ @ / -), got ${JSON.stringify(opts.name)}`,
    );
  }
  const { key, info } = await withStore(opts.db, io, (store) => createApiKey(store, name));
  // The key goes to stdout alone, so `KEY=$(flaky-detector api-key create --name ci)` captures it.
  io.stdout.write(`${key}\n`);
  io.stderr.write(
    `created API key ${info.id} (${info.name}); it is shown only now, store it as a secret (the server keeps a hash)\n`,
  );
  return EXIT.ok;
}

export async function apiKeyList(opts: { db?: string; json?: boolean }, io: CliIo): Promise<number> {
  const keys = await withStore(opts.db, io, listApiKeys);
  if (opts.json) {
    io.stdout.write(`${JSON.stringify(keys, null, 2)}\n`);
    return EXIT.ok;
  }
  if (keys.length === 0) {
    io.stdout.write("no API keys (create one with `flaky-detector api-key create --name ci`)\n");
    return EXIT.ok;
  }
  for (const k of keys) {
    const state = k.revokedAt ? `revoked ${k.revokedAt}` : `last used ${k.lastUsedAt ?? "never"}`;
    io.stdout.write(`${k.id}  ${k.prefix}…  ${k.name}  created ${k.createdAt}  ${state}\n`);
  }
  return EXIT.ok;
}

export async function apiKeyRevoke(id: string, opts: { db?: string }, io: CliIo): Promise<number> {
  if (!/^[0-9a-f]{12}$/.test(id)) {
    throw new UsageError(
      "E_USAGE",
      `<id>: expected a key id of 12 hex digits (see api-key list), got ${JSON.stringify(id)}`,
    );
  }
  const done = await withStore(opts.db, io, (store) => revokeApiKey(store, id));
  if (!done) {
    throw new UsageError("E_USAGE", `<id>: no active key ${id} (see api-key list)`);
  }
  io.stdout.write(`revoked ${id}; the server refuses it within 5 seconds\n`);
  return EXIT.ok;
}
