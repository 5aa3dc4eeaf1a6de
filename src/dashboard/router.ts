/**
 * Hash routes, so every view (with its filters) is a link a teammate can open, and the server
 * needs no fallback route: #/ · #/detections/<id> · #/test?repo=…&id=…
 */
export type Page = "overview" | "detection" | "test";

export interface Route {
  page: Page;
  id?: string;
  params: URLSearchParams;
}

export function parseHash(hash: string): Route {
  const raw = hash.replace(/^#/, "") || "/";
  const [path = "/", search = ""] = raw.split("?", 2);
  const params = new URLSearchParams(search);
  const m = /^\/detections\/(.+)$/.exec(path);
  if (m) return { page: "detection", id: decodeURIComponent(m[1] as string), params };
  if (path === "/test") return { page: "test", params };
  return { page: "overview", params };
}

export function link(path: string, params: Record<string, string | number | undefined | null> = {}): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params))
    if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  const s = q.toString();
  return `#${path}${s ? `?${s}` : ""}`;
}

export function detectionLink(id: string): string {
  return `#/detections/${encodeURIComponent(id)}`;
}

export function testLink(repository: string, id: string): string {
  return link("/test", { repo: repository, id });
}
