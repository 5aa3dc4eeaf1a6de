import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import {
  lstat,
  mkdir,
  readdir,
  readFile,
  readlink,
  rename,
  rm,
  stat,
  utimes,
  writeFile,
} from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { copyTree } from "../util/copy-tree.js";

/**
 * Reusing a JavaScript project's `node_modules` across jobs, keyed by what decides its contents.
 *
 * A worker that clones a repository per job reinstalls the same lockfile again and again; npm ci
 * re-extracts every package from its cache each time. Hard-linking the tree an identical install
 * made takes a fraction of that (a plain copy is hardly faster than npm ci: docs/install-cache.md).
 * It is only done where the tree is the install: a lockfile pins every version; the package's own
 * install scripts, which may write elsewhere, run again.
 *
 * Linked files are shared with the workspace, so a test that edits one in place would edit the
 * entry: each entry records a digest of its files' sizes and modification times, and an entry that
 * no longer matches it is dropped instead of restored.
 */

/** Entries kept; the least recently used go first. */
export const CACHE_ENTRIES = 8;
const MARKER = "flaky-detector-install.json";
/** Bumped when what an entry holds or how its key is made changes. */
const FORMAT = "1";

const LOCKFILES = ["package-lock.json", "npm-shrinkwrap.json", "pnpm-lock.yaml", "yarn.lock"];
/** Files besides the lockfile that change what an install writes. */
const KEYED_FILES = ["package.json", ".npmrc", ".yarnrc", ".yarnrc.yml", ".pnpmfile.cjs"];
/**
 * The package's own scripts `npm ci` runs after installing its dependencies, in npm's order. They
 * may write outside node_modules (a build, git hooks), so they run again after a restore.
 */
const INSTALL_SCRIPTS = [
  "preinstall",
  "install",
  "postinstall",
  "prepublish",
  "preprepare",
  "prepare",
  "postprepare",
];

/** The directory of `install_cache`: "off" → none, "auto" → $XDG_CACHE_HOME/flaky-detector/installs. */
export function installCacheDir(setting: string, env: NodeJS.ProcessEnv): string | null {
  if (setting === "off") return null;
  if (setting !== "auto") return setting;
  const base =
    env.XDG_CACHE_HOME && env.XDG_CACHE_HOME !== "" ? env.XDG_CACHE_HOME : join(homedir(), ".cache");
  return join(base, "flaky-detector", "installs");
}

/** A key, with the package's own install scripts to run after a restore; or why there is none. */
export type CacheKey = { key: string; scripts: string[] } | { reason: string };

/**
 * The key of a JavaScript install in `dir`, or why its result cannot be reused. `node` is the
 * version the tests will run under (native modules are built for it).
 */
export function installKey(dir: string, argv: readonly string[], node: string): CacheKey {
  const read = (f: string) => (existsSync(join(dir, f)) ? readFileSync(join(dir, f)) : null);
  const lockfile = LOCKFILES.find((f) => existsSync(join(dir, f)));
  if (!lockfile) return { reason: "no lockfile, so an install may resolve other versions" };
  let manifest: { workspaces?: unknown; scripts?: Record<string, unknown> };
  try {
    manifest = JSON.parse(read("package.json")?.toString("utf8") ?? "{}");
  } catch {
    return { reason: "package.json is not valid JSON" };
  }
  if (manifest.workspaces !== undefined || existsSync(join(dir, "pnpm-workspace.yaml"))) {
    return { reason: "a workspace (monorepo) install also writes node_modules inside its packages" };
  }
  const scripts = INSTALL_SCRIPTS.filter((s) => typeof manifest.scripts?.[s] === "string");
  // npm can run each alone (`npm run --ignore-scripts <name>`, no pre/post hooks) as `npm ci` did;
  // pnpm and yarn run hooks by versions and settings, so their scripts' effects are not replayed.
  if (scripts.length > 0 && argv[0] !== "npm") {
    return { reason: `the package's own ${scripts.join(", ")} script may write outside node_modules` };
  }
  const h = createHash("sha256");
  const part = (name: string, value: string | Buffer) => {
    h.update(`${name}\0${value.length}\0`);
    h.update(value);
  };
  part("format", FORMAT);
  part("argv", argv.join("\0"));
  part("node", node);
  part("platform", `${process.platform}-${process.arch}`);
  part("lockfile", lockfile);
  for (const f of [lockfile, ...KEYED_FILES]) part(f, read(f) ?? "(none)");
  return { key: h.digest("hex"), scripts };
}

/** `node --version` as the tests will see it, or null when there is no node on their PATH. */
export function nodeVersion(env: NodeJS.ProcessEnv, cwd: string): Promise<string | null> {
  return new Promise((resolve) => {
    execFile("node", ["--version"], { env, cwd, timeout: 30_000 }, (err, stdout) =>
      resolve(err ? null : stdout.trim()),
    );
  });
}

/**
 * Copy a stored install into `dir`. False on a miss, or when the entry vanished or broke mid-copy
 * (pruned by another job): the partial tree is removed and the caller installs as usual.
 */
export async function restoreInstall(cacheDir: string, key: string, dir: string): Promise<boolean> {
  const entry = join(cacheDir, key);
  if (!existsSync(join(entry, MARKER))) return false;
  const target = join(dir, "node_modules");
  try {
    const recorded = JSON.parse(await readFile(join(entry, MARKER), "utf8")) as { digest?: string };
    if (recorded.digest !== (await treeDigest(join(entry, "node_modules")))) {
      await discard(cacheDir, entry);
      return false;
    }
    await rm(target, { recursive: true, force: true });
    await copyTree(join(entry, "node_modules"), target, { hardLink: true });
    if (!existsSync(join(entry, MARKER))) throw new Error("entry removed while copying");
    const now = new Date();
    await utimes(entry, now, now).catch(() => undefined);
    return true;
  } catch {
    await rm(target, { recursive: true, force: true }).catch(() => undefined);
    return false;
  }
}

/**
 * Keep `dir`'s fresh node_modules under `key`. Written beside the cache and renamed into place, so a
 * reader sees a whole entry or none; a concurrent job that stored the same key first wins.
 * Then the least recently used entries beyond CACHE_ENTRIES are removed.
 */
export async function storeInstall(
  cacheDir: string,
  key: string,
  dir: string,
  meta: Record<string, unknown>,
): Promise<"stored" | "the install wrote no node_modules"> {
  const source = join(dir, "node_modules");
  if (!existsSync(source)) return "the install wrote no node_modules";
  await mkdir(cacheDir, { recursive: true });
  const partial = join(cacheDir, `.partial-${randomBytes(6).toString("hex")}`);
  try {
    const { files } = await copyTree(source, join(partial, "node_modules"), { hardLink: true });
    const digest = await treeDigest(join(partial, "node_modules"));
    await writeFile(
      join(partial, MARKER),
      `${JSON.stringify({ ...meta, files, digest, created: new Date().toISOString() })}\n`,
    );
    await rename(partial, join(cacheDir, key)).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== "ENOTEMPTY" && e.code !== "EEXIST") throw e;
    });
  } finally {
    await rm(partial, { recursive: true, force: true });
  }
  await pruneInstalls(cacheDir, CACHE_ENTRIES);
  return "stored";
}

/** Remove all but the `keep` most recently used entries (and partial copies older than an hour). */
export async function pruneInstalls(cacheDir: string, keep: number): Promise<void> {
  const names = await readdir(cacheDir).catch(() => [] as string[]);
  const entries: { path: string; used: number }[] = [];
  for (const name of names) {
    const path = join(cacheDir, name);
    const s = await stat(path).catch(() => null);
    if (!s?.isDirectory()) continue;
    if (name.startsWith(".partial-")) {
      if (Date.now() - s.mtimeMs > 3_600_000) await rm(path, { recursive: true, force: true });
      continue;
    }
    if (/^[0-9a-f]{64}$/.test(name)) entries.push({ path, used: s.mtimeMs });
  }
  entries.sort((a, b) => b.used - a.used);
  for (const old of entries.slice(keep)) await discard(cacheDir, old.path);
}

/**
 * Renamed first: a job copying from the entry then fails on its next lookup (and installs as usual)
 * instead of copying a tree that is being emptied under it.
 */
async function discard(cacheDir: string, entry: string): Promise<void> {
  const doomed = join(cacheDir, `.partial-${randomBytes(6).toString("hex")}`);
  const moved = await rename(entry, doomed).then(
    () => true,
    () => false,
  );
  if (moved) await rm(doomed, { recursive: true, force: true });
}

/** A digest of a tree's names, kinds, link targets, and files' sizes and modification times. */
export async function treeDigest(root: string): Promise<string> {
  const lines: string[] = [];
  const walk = async (dir: string, rel: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true });
    await Promise.all(
      entries.map(async (e) => {
        const path = join(dir, e.name);
        const name = `${rel}/${e.name}`;
        if (e.isDirectory()) {
          lines.push(`d ${name}`);
          await walk(path, name);
        } else if (e.isSymbolicLink()) lines.push(`l ${name} ${await readlink(path)}`);
        else if (e.isFile()) {
          const s = await lstat(path);
          lines.push(`f ${name} ${s.size} ${s.mtimeMs}`);
        }
      }),
    );
  };
  await walk(root, "");
  lines.sort();
  return createHash("sha256").update(lines.join("\n")).digest("hex");
}
