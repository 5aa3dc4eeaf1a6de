import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { FrameworkAdapter, ListedTest } from "../frameworks/index.js";
import { runTree } from "../util/process-tree.js";
import type { Masker } from "../util/secrets.js";

export type ListResult =
  | {
      ok: true;
      tests: ListedTest[] /** The listing command exited non-zero: some tests may be missing. */;
      partial: boolean;
    }
  | { ok: false; reason: string };

export interface ListOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Where the listing may write its file. */
  dir: string;
  timeoutMs: number;
  masker: Masker;
  signal?: AbortSignal;
}

/**
 * Ask the framework for its tests without running them (pytest --collect-only, vitest list, mocha
 * --dry-run, go test -list, jest with a filter nothing matches). A listing that fails or names no
 * test is no evidence that a requested test does not exist: the caller then uses ids as given.
 */
export async function listTests(
  adapter: FrameworkAdapter,
  argv: readonly string[],
  opts: ListOptions,
): Promise<ListResult> {
  if (!adapter.list) return { ok: false, reason: `${adapter.name} has no way to list its tests` };
  const file = join(opts.dir, `listing.${adapter.extension}`);
  const listing = adapter.list(argv, file);
  const stdoutFile = join(opts.dir, "listing.stdout");
  const result = await runTree({
    argv: listing.argv,
    cwd: opts.cwd,
    env: { ...opts.env, ...listing.env },
    timeoutMs: opts.timeoutMs,
    killGraceMs: 2000,
    // The listing is read from the file written as it runs: no need to hold it in memory too.
    headBytes: 4096,
    tailBytes: 4096,
    stdoutFile,
    masker: opts.masker,
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  const command = listing.argv.join(" ").slice(0, 200);
  if (result.spawnError)
    return { ok: false, reason: `cannot run ${listing.argv[0]}: ${result.spawnError.code}` };
  if (result.terminatedBy)
    return {
      ok: false,
      reason: `\`${command}\` ${result.terminatedBy === "timeout" ? "timed out" : "was cancelled"}`,
    };
  let stdout = "";
  try {
    stdout = readFileSync(stdoutFile, "utf8");
  } catch {
    // No output at all: the file listing (if any) still counts.
  }
  let tests: ListedTest[];
  try {
    const fileText = existsSync(file) ? readFileSync(file, "utf8") : null;
    tests = listing.parse(stdout, fileText, opts.cwd);
  } catch (e) {
    return {
      ok: false,
      reason: `\`${command}\` exited with ${result.exitCode ?? result.signal}; its listing could not be read (${(e as Error).message})`,
    };
  }
  if (tests.length === 0) {
    return {
      ok: false,
      reason: `\`${command}\` exited with ${result.exitCode ?? result.signal} and named no test`,
    };
  }
  return { ok: true, tests, partial: result.exitCode !== 0 };
}
