import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import { fileURLToPath } from "node:url";
import { UsageError } from "../errors.js";

/** A repository given on the command line or in a job: a URL git clones, or a local path. */
export type RepoSpec =
  | { kind: "url"; url: string; display: string; scheme: string; host: string }
  | { kind: "path"; path: string };

const SCP_LIKE = /^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[^\s]+$/;

/** Classify and validate `--repo`; a URL never carries credentials (they would end up in logs and reports). */
export function parseRepoSpec(value: string): RepoSpec {
  if (value.trim() === "" || value.startsWith("-") || /[\0\r\n]/.test(value)) {
    throw new UsageError(
      "E_REPO_INVALID",
      `--repo: invalid repository ${JSON.stringify(value)}; give a path, an https:// URL or git@host:owner/repo.git`,
    );
  }
  if (SCP_LIKE.test(value)) {
    const host = value.slice(value.indexOf("@") + 1, value.indexOf(":"));
    return { kind: "url", url: value, display: value, scheme: "ssh", host: host.toLowerCase() };
  }
  if (!/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(value)) return { kind: "path", path: value };
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    // The value may carry credentials: say what is wrong without repeating it.
    throw new UsageError(
      "E_REPO_INVALID",
      `--repo: not a valid URL: ${JSON.stringify(withoutCredentials(value))}; give a path, an https:// URL or git@host:owner/repo.git`,
    );
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
  if (scheme === "file") {
    // Only file:///abs/path (or file://localhost/…): a host would mean a network share, and
    // encoded slashes cannot be a path on this machine.
    try {
      fileURLToPath(url);
    } catch (e) {
      throw new UsageError(
        "E_REPO_INVALID",
        `--repo: ${JSON.stringify(value)} is not a local file URL (${(e as Error).message.replace(/\.$/, "")}); give file:///absolute/path or the path itself`,
      );
    }
  }
  return { kind: "url", url: value, display: value, scheme, host: url.hostname.toLowerCase() };
}

/** Text with the user name and password of every URL in it replaced, for messages and logs. */
export function withoutCredentials(value: string): string {
  return value.replace(/\b([A-Za-z][A-Za-z0-9+.-]*:\/\/)[^/@\s]*@/g, "$1***@");
}

/**
 * Why a server should not clone this repository, or undefined. A job's repository makes the server
 * (or worker) open a connection: plain http and addresses inside this machine's networks would
 * let anyone who can submit a job probe local services. `--allow-private-repos` lifts it.
 */
export function privateRepoProblem(spec: RepoSpec): string | undefined {
  // Local paths and file URLs are governed by the server's --allow-path roots.
  if (spec.kind === "path" || spec.scheme === "file") return undefined;
  if (spec.scheme === "http") {
    return `plain http:// repositories are refused on a server (anyone on the path can change the code that runs); use https://, or start the server with --allow-private-repos`;
  }
  const host = spec.host.replace(/^\[|\]$/g, "");
  if (isPrivateHost(host)) {
    return `${host} is a loopback, private or link-local address; a server refuses those so that jobs cannot reach its internal network (start it with --allow-private-repos to allow them)`;
  }
  return undefined;
}

/**
 * The host-name half of the rule: a name that resolves to a loopback or private address is
 * refused like the address itself. (git resolves the name again when it connects; a name that
 * changes its answer in between is the DNS-rebinding case, which only --allow-private-repos off
 * and a network policy around the server close completely. docs/security.md says so.)
 */
export async function privateAddressProblem(spec: RepoSpec): Promise<string | undefined> {
  if (spec.kind === "path" || spec.scheme === "file") return undefined;
  const host = spec.host.replace(/^\[|\]$/g, "");
  if (isIP(host) !== 0) return undefined; // privateRepoProblem judged the literal already
  let addresses: { address: string }[];
  try {
    addresses = await lookup(host, { all: true });
  } catch {
    return undefined; // unresolvable: git's own clone error says so
  }
  const inside = addresses.find((a) => isPrivateHost(a.address));
  return inside
    ? `${host} resolves to ${inside.address}, a loopback or private-network address; a server refuses those so that jobs cannot reach its internal network (start it with --allow-private-repos to allow them)`
    : undefined;
}

/** Loopback, private (RFC 1918, ULA), link-local, unspecified, CGNAT and this-host names. */
export function isPrivateHost(host: string): boolean {
  const h = host.toLowerCase().replace(/\.$/, "");
  if (h === "localhost" || h.endsWith(".localhost") || h === "") return true;
  const kind = isIP(h);
  if (kind === 4) return isPrivateV4(h);
  if (kind === 6) {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h);
    if (mapped) return isPrivateV4(mapped[1] as string);
    if (/^::ffff:[0-9a-f]{1,4}:[0-9a-f]{1,4}$/.test(h)) return true;
    return h === "::" || h === "::1" || /^f[cd]/.test(h) || /^fe[89ab]/.test(h);
  }
  return false;
}

function isPrivateV4(ip: string): boolean {
  const [a = 0, b = 0] = ip.split(".").map(Number);
  return (
    a === 0 ||
    a === 10 ||
    a === 127 ||
    (a === 100 && b >= 64 && b <= 127) ||
    (a === 169 && b === 254) ||
    (a === 172 && b >= 16 && b <= 31) ||
    (a === 192 && b === 168) ||
    a >= 224
  );
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
