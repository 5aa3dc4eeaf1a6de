import { InfraError, UsageError } from "../errors.js";
import { type GitContext, git, gitEnv } from "../source/git.js";

/**
 * Put the workspace at the commit that failed. A workflow_run job starts on the default branch;
 * rerunning the default branch's tests would measure the wrong code, so this either reaches the
 * exact commit or stops.
 */
export interface GitAccess {
  env: NodeJS.ProcessEnv;
  /** github-token: sent (as a header, never in the URL) only to the GitHub server's own host. */
  token: string | null;
  serverUrl: string;
}

export async function ensureCommit(
  dir: string,
  sha: string,
  prNumber: number | null,
  access: GitAccess,
  note: (line: string) => void,
): Promise<"already" | "checked-out"> {
  const { GIT_TOKEN: _ignored, ...plain } = access.env;
  const ctx: GitContext = { env: gitEnv(plain, undefined).env };
  if (!/^[0-9a-f]{40}$/.test(sha))
    throw new UsageError("E_ACTION_EVENT", `head sha: expected 40 hex digits, got ${JSON.stringify(sha)}`);
  try {
    await git(["rev-parse", "--is-inside-work-tree"], dir, ctx, "checking the workspace");
  } catch {
    throw new UsageError(
      "E_ACTION_CHECKOUT",
      `the workspace ${dir} is not a git checkout: add \`- uses: actions/checkout@v4\` with \`ref: \${{ github.event.workflow_run.head_sha }}\` before the flaky-detector step`,
    );
  }
  const head = (await git(["rev-parse", "HEAD"], dir, ctx, "reading HEAD")).trim();
  if (head === sha) return "already";
  note(`the workspace is at ${head.slice(0, 7)}, not the failed commit ${sha.slice(0, 7)}: checking it out`);
  if (!(await hasCommit(dir, sha, ctx))) {
    // actions/checkout with persist-credentials: false leaves no credentials: a private repository
    // needs the token for this fetch.
    const origin = (await git(["remote", "get-url", "origin"], dir, ctx, "reading origin")).trim();
    const sameHost = hostOf(origin) !== null && hostOf(origin) === hostOf(access.serverUrl);
    const fetchEnv = gitEnv(
      { ...plain, ...(sameHost && access.token ? { GIT_TOKEN: access.token } : {}) },
      origin,
    );
    const fetchCtx: GitContext = {
      env: fetchEnv.env,
      ...(fetchEnv.secret ? { secret: fetchEnv.secret } : {}),
    };
    try {
      await git(
        ["fetch", "--quiet", "--no-tags", "--depth=1", "--", "origin", sha],
        dir,
        fetchCtx,
        `fetching ${sha.slice(0, 7)}`,
      );
    } catch (e) {
      if (prNumber === null) throw e;
      note(
        `fetching the commit by id failed (${(e as Error).message.split("\n")[0]}); trying the pull request's head`,
      );
      await git(
        ["fetch", "--quiet", "--no-tags", "--", "origin", `refs/pull/${prNumber}/head`],
        dir,
        fetchCtx,
        `fetching pull request #${prNumber}`,
      );
    }
    if (!(await hasCommit(dir, sha, ctx))) {
      throw new InfraError(
        "E_ACTION_CHECKOUT",
        `commit ${sha} is not in origin; cannot rerun the failed code`,
      );
    }
  }
  await git(["checkout", "--quiet", "--detach", sha, "--"], dir, ctx, `checking out ${sha.slice(0, 7)}`);
  const now = (await git(["rev-parse", "HEAD"], dir, ctx, "reading HEAD")).trim();
  if (now !== sha) throw new InfraError("E_ACTION_CHECKOUT", `checked out ${now}, expected ${sha}`);
  return "checked-out";
}

async function hasCommit(dir: string, sha: string, ctx: GitContext): Promise<boolean> {
  try {
    await git(["cat-file", "-e", `${sha}^{commit}`], dir, ctx, "looking for the commit");
    return true;
  } catch {
    return false;
  }
}

function hostOf(url: string): string | null {
  try {
    return new URL(url).host.toLowerCase();
  } catch {
    return null;
  }
}
