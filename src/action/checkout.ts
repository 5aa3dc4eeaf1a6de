import { InfraError, UsageError } from "../errors.js";
import { type GitContext, git } from "../source/git.js";

/**
 * Put the workspace at the commit that failed. A workflow_run job starts on the default branch;
 * rerunning the default branch's tests would measure the wrong code, so this either reaches the
 * exact commit or stops.
 */
export async function ensureCommit(
  dir: string,
  sha: string,
  prNumber: number | null,
  ctx: GitContext,
  note: (line: string) => void,
): Promise<"already" | "checked-out"> {
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
    try {
      await git(
        ["fetch", "--quiet", "--no-tags", "--depth=1", "--", "origin", sha],
        dir,
        ctx,
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
        ctx,
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
