import { existsSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { InfraError, UsageError } from "../errors.js";
import { copyTree, REINSTALLED_DIRS } from "../util/copy-tree.js";
import type { TempDirs } from "../util/temp-dirs.js";
import { git, gitEnv } from "./git.js";
import { identityFromActions, identityFromRemote, type RepositoryIdentity } from "./identity.js";
import { parseRepoSpec, validateRef } from "./repo-spec.js";

export interface SourceRequest {
  repo?: string;
  ref?: string;
  cwd: string;
  /** The workspace will get a fresh dependency install, so dependency folders need not be copied. */
  willInstall: boolean;
}

/** What git says of the tested checkout: for the report and history, not for the attempts. */
export interface SourceFacts {
  commit: string | null;
  /** Who the repository is (owner/name from its remote), for history; null when it has no remote. */
  identity: RepositoryIdentity | null;
}

export interface AcquiredSource {
  /** Where the tests run from (before per-slot copies). */
  dir: string;
  /** True when `dir` is a temporary directory of ours (installs may write there). */
  owned: boolean;
  kind: "cwd" | "path" | "git";
  repo: string;
  ref: string | null;
  /**
   * Asked of git on the first call, which the pipeline makes once the first attempts have started:
   * nothing before the report needs them, and the two git processes of a local checkout cost
   * ~40 ms before the first attempt could start (each spawn blocks the event loop for milliseconds).
   * Later calls share the first answer. Never rejects (unknown facts are null).
   */
  facts: () => Promise<SourceFacts>;
}

export interface SourceContext {
  temp: TempDirs;
  env: NodeJS.ProcessEnv;
  signal?: AbortSignal;
}

/** Resolve where the tests come from: the current directory, a copy of a local path, or a clone at a ref. */
export async function acquireSource(req: SourceRequest, ctx: SourceContext): Promise<AcquiredSource> {
  const ref = req.ref === undefined ? undefined : validateRef(req.ref);
  if (req.repo === undefined) {
    if (ref !== undefined) {
      const cloned = await cloneAt(req.cwd, req.cwd, ref, ctx);
      return { ...cloned, facts: once(() => withIdentity(cloned.facts, localIdentity(req.cwd, ctx, true))) };
    }
    return {
      dir: req.cwd,
      owned: false,
      kind: "cwd",
      repo: req.cwd,
      ref: null,
      facts: once(() => gitFacts(req.cwd, ctx, true)),
    };
  }
  const spec = parseRepoSpec(req.repo);
  if (spec.kind === "url") return cloneAt(spec.url, spec.display, ref, ctx);
  const path = resolve(req.cwd, spec.path);
  if (!existsSync(path) || !statSync(path).isDirectory()) {
    // A mistyped value of the user's: a usage error (exit 2), like any other bad flag value.
    throw new UsageError(
      "E_REPO_NOT_FOUND",
      `--repo: no such directory: ${path} (give an existing directory or a git URL)`,
    );
  }
  if (ref !== undefined) {
    const cloned = await cloneAt(path, path, ref, ctx);
    return { ...cloned, facts: once(() => withIdentity(cloned.facts, localIdentity(path, ctx, false))) };
  }
  const dir = ctx.temp.create("source");
  try {
    await copyTree(path, dir, {
      ...(req.willInstall ? { exclude: REINSTALLED_DIRS } : {}),
      skipPaths: new Set(ctx.temp.list()),
    });
  } catch (e) {
    throw new InfraError("E_REPO_COPY", `--repo: cannot copy ${path}: ${(e as Error).message}`);
  }
  return {
    dir,
    owned: true,
    kind: "path",
    repo: path,
    ref: null,
    facts: once(() => gitFacts(path, ctx, false)),
  };
}

async function cloneAt(
  url: string,
  display: string,
  ref: string | undefined,
  ctx: SourceContext,
): Promise<AcquiredSource> {
  const dir = ctx.temp.create("clone");
  const { env, secret } = gitEnv(ctx.env, url);
  const g = { env, ...(secret ? { secret } : {}), ...(ctx.signal ? { signal: ctx.signal } : {}) };
  await git(["clone", "--quiet", "--no-checkout", "--", url, dir], dir, g, `cloning ${display}`);
  let target = "HEAD";
  if (ref !== undefined) {
    target = (await resolveRef(dir, ref, g)) ?? "";
    if (!target && /^[0-9a-f]{7,40}$/i.test(ref)) {
      // A commit that no branch reaches (a PR merge commit, a force-pushed SHA): ask for it directly.
      await git(
        ["fetch", "--quiet", "origin", "--", ref],
        dir,
        g,
        `fetching commit ${ref} from ${display}`,
      ).catch(() => undefined);
      target = (await resolveRef(dir, ref, g)) ?? "";
    }
    if (!target) {
      throw new InfraError("E_REF_NOT_FOUND", `--ref: ${ref} is not a branch, tag or commit of ${display}`);
    }
  }
  await git(
    ["checkout", "--quiet", "--detach", target],
    dir,
    g,
    `checking out ${ref ?? "the default branch"}`,
  );
  const commit = (await git(["rev-parse", "HEAD"], dir, g, "reading the commit")).trim();
  return {
    dir,
    owned: true,
    kind: "git",
    repo: display,
    ref: ref ?? null,
    facts: once(async () => ({ commit, identity: identityFromRemote(url) })),
  };
}

async function resolveRef(
  dir: string,
  ref: string,
  g: Parameters<typeof git>[2],
): Promise<string | undefined> {
  for (const candidate of [`refs/remotes/origin/${ref}`, `refs/tags/${ref}`, ref]) {
    try {
      const out = await git(
        ["rev-parse", "--verify", "--quiet", "--end-of-options", `${candidate}^{commit}`],
        dir,
        g,
        "resolving ref",
      );
      if (out.trim()) return out.trim();
    } catch {
      // Not this kind of ref.
    }
  }
  return undefined;
}

/** A local checkout's commit and identity, asked of git at once (two processes, start-up time). */
async function gitFacts(dir: string, ctx: SourceContext, isWorkingDirectory: boolean): Promise<SourceFacts> {
  const [commit, identity] = await Promise.all([
    headCommit(dir, ctx),
    localIdentity(dir, ctx, isWorkingDirectory),
  ]);
  return { commit, identity };
}

async function withIdentity(
  facts: () => Promise<SourceFacts>,
  identity: Promise<RepositoryIdentity | null>,
): Promise<SourceFacts> {
  return { commit: (await facts()).commit, identity: await identity };
}

/** `ask`, run on the first call only; every call gets that call's promise. */
function once<T>(ask: () => Promise<T>): () => Promise<T> {
  let asked: Promise<T> | undefined;
  return () => {
    asked ??= ask();
    return asked;
  };
}

async function headCommit(dir: string, ctx: SourceContext): Promise<string | null> {
  try {
    return (
      await git(["rev-parse", "HEAD"], dir, { env: gitEnv(ctx.env, undefined).env }, "reading the commit")
    ).trim();
  } catch {
    return null;
  }
}

/**
 * A local checkout's identity: in GitHub Actions the working directory is the repository the run
 * is for; elsewhere its `origin` remote names it. Best effort: no remote, no identity.
 */
async function localIdentity(
  dir: string,
  ctx: SourceContext,
  isWorkingDirectory: boolean,
): Promise<RepositoryIdentity | null> {
  if (isWorkingDirectory && ctx.env.GITHUB_ACTIONS === "true") {
    const fromActions = identityFromActions(ctx.env);
    if (fromActions) return fromActions;
  }
  try {
    const remote = await git(
      ["remote", "get-url", "origin"],
      dir,
      { env: gitEnv(ctx.env, undefined).env, timeoutMs: 10_000 },
      "reading the origin remote",
    );
    return identityFromRemote(remote);
  } catch {
    return null;
  }
}
