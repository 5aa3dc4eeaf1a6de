/**
 * A repository's identity for history: the same repository reached by URL, by a local path or
 * from CI must group as one, and a local path (/home/me/work/app) names nothing to a team.
 * The identity is its remote's host path: `owner/name` on github.com, `host/owner/name` elsewhere;
 * the web address is kept for links to commits, pull requests and runs.
 */
export interface RepositoryIdentity {
  /** What history groups by and the dashboard shows. */
  name: string;
  /** https://host/owner/name, never with credentials; null when the remote has no web address. */
  url: string | null;
}

const SCP_LIKE = /^(?:[A-Za-z0-9._-]+@)?([A-Za-z0-9.-]+):(?!\/\/)([^\s]+)$/;

/** The identity of a git remote URL (https, ssh, git@host:path); null for local and file remotes. */
export function identityFromRemote(remote: string): RepositoryIdentity | null {
  const value = remote.trim();
  let host: string;
  let path: string;
  const scp = SCP_LIKE.exec(value);
  if (scp && !/^[A-Za-z]:/.test(value.slice(0, 2)) && !value.includes("://")) {
    host = (scp[1] as string).toLowerCase();
    path = scp[2] as string;
  } else {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      return null;
    }
    if (!["https:", "http:", "ssh:", "git:"].includes(url.protocol) || url.hostname === "") return null;
    host = url.hostname.toLowerCase();
    path = decodeURIComponent(url.pathname);
  }
  const segments = path
    .replace(/\/+$/, "")
    .replace(/\.git$/, "")
    .split("/")
    .filter((s) => s !== "");
  if (segments.length < 2 || segments.some((s) => s === "." || s === ".." || !/^[\w.-]+$/.test(s))) {
    return null;
  }
  const ownerName = segments.join("/");
  return {
    name: host === "github.com" ? ownerName : `${host}/${ownerName}`,
    url: `https://${host}/${ownerName}`,
  };
}

/**
 * GitHub Actions names the repository it runs for (GITHUB_REPOSITORY on GITHUB_SERVER_URL): the
 * identity of a run in that checkout, and the link to the run itself.
 */
export function identityFromActions(env: NodeJS.ProcessEnv): RepositoryIdentity | null {
  const repo = env.GITHUB_REPOSITORY;
  if (!repo || !/^[\w.-]+\/[\w.-]+$/.test(repo)) return null;
  const server = actionsServer(env);
  if (server === null) return null;
  return identityFromRemote(`${server}/${repo}`);
}

/** The GitHub Actions run (and attempt) this process belongs to; null outside Actions. */
export function actionsRunUrl(env: NodeJS.ProcessEnv): string | null {
  const id = actionsIdentity(env);
  const runId = env.GITHUB_RUN_ID;
  if (!id?.url || !runId || !/^\d+$/.test(runId)) return null;
  const attempt = env.GITHUB_RUN_ATTEMPT;
  return `${id.url}/actions/runs/${runId}${attempt && /^\d+$/.test(attempt) && attempt !== "1" ? `/attempts/${attempt}` : ""}`;
}

function actionsIdentity(env: NodeJS.ProcessEnv): RepositoryIdentity | null {
  return env.GITHUB_ACTIONS === "true" ? identityFromActions(env) : null;
}

function actionsServer(env: NodeJS.ProcessEnv): string | null {
  const server = (env.GITHUB_SERVER_URL || "https://github.com").replace(/\/+$/, "");
  try {
    const u = new URL(server);
    return u.protocol === "https:" && !u.username && !u.password ? `https://${u.host}` : null;
  } catch {
    return null;
  }
}

/** The pull request number of a GitHub ref (refs/pull/123/merge); null for branches and tags. */
export function pullRequestOf(ref: string | undefined): number | null {
  const m = /^refs\/pull\/(\d+)\/(?:merge|head)$/.exec(ref ?? "");
  return m ? Number(m[1]) : null;
}
