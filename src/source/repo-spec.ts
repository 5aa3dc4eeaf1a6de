import { UsageError } from "../errors.js";

/** A repository given on the command line or in a job: a URL git clones, or a local path. */
export type RepoSpec = { kind: "url"; url: string; display: string } | { kind: "path"; path: string };

const SCP_LIKE = /^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[^\s]+$/;

/** Classify and validate `--repo`; a URL never carries credentials (they would end up in logs and reports). */
export function parseRepoSpec(value: string): RepoSpec {
  if (value.trim() === "" || value.startsWith("-") || /[\0\r\n]/.test(value)) {
    throw new UsageError(
      "E_REPO_INVALID",
      `--repo: invalid repository ${JSON.stringify(value)}; give a path, an https:// URL or git@host:owner/repo.git`,
    );
  }
  if (SCP_LIKE.test(value)) return { kind: "url", url: value, display: value };
  if (!/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(value)) return { kind: "path", path: value };
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new UsageError("E_REPO_INVALID", `--repo: not a valid URL: ${JSON.stringify(value)}`);
  }
  const scheme = url.protocol.replace(/:$/, "");
  if (!["https", "ssh", "file", "http"].includes(scheme)) {
    throw new UsageError(
      "E_REPO_SCHEME",
      `--repo: unsupported URL scheme "${scheme}" in ${JSON.stringify(value)}; use https://, ssh://, git@host:path or a local path`,
    );
  }
  if (scheme === "http" && !isLoopback(url.hostname)) {
    throw new UsageError(
      "E_REPO_SCHEME",
      `--repo: plain http:// is only allowed for loopback hosts, got ${url.host}; use https://`,
    );
  }
  if (url.password || (url.username && scheme !== "ssh")) {
    throw new UsageError(
      "E_REPO_CREDENTIALS",
      "--repo: the URL contains credentials; remove them and put the token in the GIT_TOKEN environment variable (it is sent as a header, never stored)",
    );
  }
  return { kind: "url", url: value, display: value };
}

function isLoopback(host: string): boolean {
  return host === "localhost" || host === "[::1]" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** Branch, tag or commit SHA; refuses anything git could read as an option or a revision expression. */
export function validateRef(ref: string): string {
  const ok =
    /^[A-Za-z0-9._/+-]+$/.test(ref) &&
    !ref.startsWith("-") &&
    !ref.includes("..") &&
    !ref.endsWith(".lock") &&
    !ref.endsWith("/") &&
    !ref.startsWith("/");
  if (!ok) {
    throw new UsageError(
      "E_REF_INVALID",
      `--ref: invalid ref ${JSON.stringify(ref)}; give a branch, tag or commit SHA (letters, digits, . _ / + -)`,
    );
  }
  return ref;
}
