import { retry } from "@octokit/plugin-retry";
import { throttling } from "@octokit/plugin-throttling";
import { Octokit } from "@octokit/rest";
import picomatch from "picomatch";
import { InfraError } from "../errors.js";
import { COMMENT_MARKER } from "../reporters/github.js";
import { TOOL } from "../version.js";

/**
 * The GitHub REST calls the Action makes, through Octokit with the retry plugin (5xx, network) and
 * the throttling plugin (primary and secondary rate limits, honouring Retry-After).
 */

/** The REST client; the plugins add behaviour, not methods we call. */
export type GitHub = Octokit;

export interface Repo {
  owner: string;
  repo: string;
}

export function githubClient(token: string, apiUrl: string, note: (line: string) => void): GitHub {
  const Client = Octokit.plugin(retry, throttling);
  return new Client({
    auth: token,
    baseUrl: apiUrl,
    userAgent: `${TOOL.name}/${TOOL.version}`,
    log: { debug: () => {}, info: () => {}, warn: note, error: note },
    throttle: {
      onRateLimit: (retryAfter, options, _octokit, retryCount) => {
        note(`GitHub rate limit on ${options.method} ${options.url}; retrying in ${retryAfter} s`);
        return retryCount < 2;
      },
      onSecondaryRateLimit: (retryAfter, options, _octokit, retryCount) => {
        note(`GitHub secondary rate limit on ${options.method} ${options.url}; retrying in ${retryAfter} s`);
        return retryCount < 1;
      },
    },
  });
}

/** The open pull request whose head is `sha` (workflow_run payloads omit pull requests from forks). */
export async function findPullRequest(
  gh: GitHub,
  r: Repo,
  sha: string,
): Promise<{ number: number; url: string } | null> {
  const { data } = await gh.rest.repos.listPullRequestsAssociatedWithCommit({
    ...r,
    commit_sha: sha,
    per_page: 100,
  });
  const pr =
    data.find((p) => p.state === "open" && p.head.sha === sha) ?? data.find((p) => p.head.sha === sha);
  return pr ? { number: pr.number, url: pr.html_url } : null;
}

export interface CommentResult {
  id: number;
  url: string;
  action: "created" | "updated";
}

/** Create the pull request's one comment, or update it in place when the marker finds it. */
export async function upsertComment(
  gh: GitHub,
  r: Repo,
  issue: number,
  body: string,
): Promise<CommentResult> {
  for await (const page of gh.paginate.iterator(gh.rest.issues.listComments, {
    ...r,
    issue_number: issue,
    per_page: 100,
  })) {
    const ours = page.data.find((c) => c.body?.includes(COMMENT_MARKER));
    if (ours) {
      const { data } = await gh.rest.issues.updateComment({ ...r, comment_id: ours.id, body });
      return { id: data.id, url: data.html_url, action: "updated" };
    }
  }
  const { data } = await gh.rest.issues.createComment({ ...r, issue_number: issue, body });
  return { id: data.id, url: data.html_url, action: "created" };
}

export interface ArtifactFile {
  artifact: string;
  name: string;
  bytes: Uint8Array;
}

/** Artifacts of a run whose name matches `pattern` (a glob), not expired. */
export async function runArtifacts(
  gh: GitHub,
  r: Repo,
  runId: number,
  pattern: string,
): Promise<{ id: number; name: string; size: number }[]> {
  const isMatch = picomatch(pattern, { nocase: true });
  const all = await gh.paginate(gh.rest.actions.listWorkflowRunArtifacts, {
    ...r,
    run_id: runId,
    per_page: 100,
  });
  return all
    .filter((a) => !a.expired && isMatch(a.name))
    .map((a) => ({ id: a.id, name: a.name, size: a.size_in_bytes }));
}

/** One artifact's zip archive (GitHub answers with a redirect to storage; fetch follows it). */
export async function downloadArtifact(gh: GitHub, r: Repo, id: number, name: string): Promise<Uint8Array> {
  try {
    const { data } = await gh.rest.actions.downloadArtifact({ ...r, artifact_id: id, archive_format: "zip" });
    return new Uint8Array(data as ArrayBuffer);
  } catch (e) {
    throw new InfraError(
      "E_ARTIFACT",
      `cannot download artifact ${JSON.stringify(name)}: ${(e as Error).message}`,
    );
  }
}
