import { isIP } from "node:net";
import type { FastifyRequest } from "fastify";

/**
 * Who may reach what. Decisions are made from the route Fastify matched, never from the raw
 * request target: the router decodes `/%61pi/…` to `/api/…` and accepts absolute-form targets,
 * so any check on `req.url` can be walked around. Everything is protected except an explicit
 * allow-list of routes that hold no data.
 */

/** Routes open without a key: liveness, the API description and the dashboard's static files. */
const PUBLIC_ROUTES = new Set(["/health", "/openapi.json", "/*", "/"]);

/** Whether a request needs the API key (and counts against the rate limit). */
export function isProtected(req: FastifyRequest): boolean {
  // A CORS preflight carries no credentials by definition and returns no data.
  if (req.method === "OPTIONS") return false;
  const route = req.routeOptions.url;
  if (route === undefined) return true;
  if (req.method !== "GET" && req.method !== "HEAD") return true;
  return !PUBLIC_ROUTES.has(route);
}

/** Whether the response is the dashboard (gets the strict content security policy). */
export function isDashboardRoute(req: FastifyRequest): boolean {
  const route = req.routeOptions.url;
  return route === "/*" || route === "/";
}

/**
 * Host names the server answers to. DNS rebinding points a name the attacker controls at
 * 127.0.0.1, so a browser on this machine sends requests with `Host: attacker.example`; refusing
 * names we were not told about closes that door. IP literals cannot be rebound and are always
 * accepted, as are `localhost` and `*.localhost` (RFC 6761 keeps them on loopback).
 */
export type AllowedHosts = "any" | readonly string[];

/** `--allowed-host` values: exact names, `.example.com` for a domain and its subdomains, or `*`. */
export function parseAllowedHosts(values: readonly string[], flag: string): AllowedHosts {
  const names: string[] = [];
  for (const raw of values.flatMap((v) => v.split(","))) {
    const v = raw.trim().toLowerCase();
    if (v === "") continue;
    if (v === "*") return "any";
    if (!/^\.?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(v)) {
      throw new Error(
        `${flag}: expected a host name (ci.example.com), a domain with a leading dot (.example.com) or *, got ${JSON.stringify(raw)}`,
      );
    }
    names.push(v);
  }
  return names;
}

/** The host name of a Host header or URL authority, lower-cased, without port or brackets. */
export function hostName(authority: string): string | undefined {
  const a = authority.trim().toLowerCase();
  if (a === "") return undefined;
  if (a.startsWith("[")) {
    const end = a.indexOf("]");
    return end > 0 ? a.slice(1, end) : undefined;
  }
  const colon = a.indexOf(":");
  if (colon >= 0 && a.indexOf(":", colon + 1) >= 0) return a; // a bare IPv6 literal
  return colon >= 0 ? a.slice(0, colon) : a;
}

export function hostAllowed(name: string, allowed: AllowedHosts): boolean {
  if (allowed === "any") return true;
  if (isIP(name) !== 0) return true;
  if (name === "localhost" || name.endsWith(".localhost")) return true;
  return allowed.some((h) => (h.startsWith(".") ? name === h.slice(1) || name.endsWith(h) : name === h));
}

export type AccessRefusal = { status: 403; code: string; message: string };

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * The Host check for every request, and for state-changing ones an Origin check: a browser
 * sends Origin on cross-site POSTs, and only this server's own origin or an origin the operator
 * allowed for CORS may change anything.
 */
export function checkAccess(
  req: FastifyRequest,
  allowed: AllowedHosts,
  corsOrigins: readonly string[],
): AccessRefusal | undefined {
  const hostHeader = req.headers.host;
  // HTTP/1.0 clients may send no Host; a browser always does, so rebinding cannot omit it.
  const name = hostHeader === undefined ? undefined : hostName(hostHeader);
  if (hostHeader !== undefined && (name === undefined || !hostAllowed(name, allowed))) {
    return {
      status: 403,
      code: "E_HOST_NOT_ALLOWED",
      message: `this server does not answer to host ${JSON.stringify(hostHeader.slice(0, 200))}; the operator can allow it with serve --allowed-host <name> (or FLAKY_DETECTOR_ALLOWED_HOSTS)`,
    };
  }
  if (SAFE_METHODS.has(req.method)) return undefined;
  const origin = req.headers.origin;
  if (origin === undefined) return undefined;
  if (corsOrigins.includes(origin)) return undefined;
  let sameOrigin = false;
  try {
    const u = new URL(origin);
    sameOrigin = hostHeader !== undefined && u.host === hostHeader.toLowerCase();
  } catch {
    sameOrigin = false;
  }
  if (sameOrigin) return undefined;
  return {
    status: 403,
    code: "E_ORIGIN_NOT_ALLOWED",
    message: `requests from the web page at ${JSON.stringify(origin.slice(0, 200))} may not change anything here; the operator can allow that origin with serve --cors-origin`,
  };
}
