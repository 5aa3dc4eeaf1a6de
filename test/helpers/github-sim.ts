import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A local server implementing the GitHub REST endpoints the Action calls, as documented:
 * pull requests of a commit, issue comments (list with Link pagination, create, update), run
 * artifacts (list, download answering 302 to storage). It checks the token, enforces the
 * 65,536-character comment limit with GitHub's 422, and records every request.
 */

export interface SimComment {
  id: number;
  body: string;
  user: { login: string; type: string };
}

export interface SimRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  authorization: string | undefined;
  body: unknown;
}

export interface SimPull {
  number: number;
  state: "open" | "closed";
  headSha: string;
}

export interface GitHubSim {
  url: string;
  requests: SimRequest[];
  /** Comments by issue number. */
  comments: Map<number, SimComment[]>;
  pulls: SimPull[];
  /** Artifacts by run id. */
  artifacts: Map<number, { id: number; name: string; zip: Uint8Array; expired?: boolean }[]>;
  /** Answer the next request whose "METHOD path" matches with this status (once per entry). */
  failures: { match: RegExp; status: number; headers?: Record<string, string> }[];
  close(): Promise<void>;
}

export async function startGitHubSim(opts: {
  token: string;
  owner: string;
  repo: string;
  perPage?: number;
}): Promise<GitHubSim> {
  const prefix = `/repos/${opts.owner}/${opts.repo}`;
  let nextId = 1000;
  const sim: Omit<GitHubSim, "url" | "close"> = {
    requests: [],
    comments: new Map(),
    pulls: [],
    artifacts: new Map(),
    failures: [],
  };
  let base = "";
  // Artifact storage is another origin, as on GitHub (a signed blob URL): the client must not send
  // the GitHub token there.
  const storageRequests: SimRequest[] = [];
  const storage = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://storage");
    storageRequests.push({
      method: req.method ?? "GET",
      path: url.pathname,
      query: url.searchParams,
      authorization: req.headers.authorization,
      body: null,
    });
    sim.requests.push(storageRequests[storageRequests.length - 1] as SimRequest);
    const m = url.pathname.match(/^\/_storage\/(\d+)\.zip$/);
    const a = m ? [...sim.artifacts.values()].flat().find((x) => x.id === Number(m[1])) : undefined;
    if (!a) {
      res.writeHead(404);
      return res.end();
    }
    res.writeHead(200, { "content-type": "application/zip", "content-length": String(a.zip.length) });
    res.end(Buffer.from(a.zip));
  });
  await new Promise<void>((r) => storage.listen(0, "127.0.0.1", r));
  const storageBase = `http://127.0.0.1:${(storage.address() as AddressInfo).port}`;

  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { "content-type": "application/json; charset=utf-8", ...headers });
    res.end(JSON.stringify(body));
  };
  const commentJson = (issue: number, c: SimComment) => ({
    id: c.id,
    body: c.body,
    user: c.user,
    html_url: `https://github.example/${opts.owner}/${opts.repo}/pull/${issue}#issuecomment-${c.id}`,
    issue_url: `${base}${prefix}/issues/${issue}`,
  });

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://sim");
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString("utf8");
    let body: unknown = null;
    if (text) {
      try {
        body = JSON.parse(text);
      } catch {
        return send(res, 400, { message: "Problems parsing JSON" });
      }
    }
    const method = req.method ?? "GET";
    sim.requests.push({
      method,
      path: url.pathname,
      query: url.searchParams,
      authorization: req.headers.authorization,
      body,
    });

    if (
      req.headers.authorization !== `token ${opts.token}` &&
      req.headers.authorization !== `Bearer ${opts.token}`
    ) {
      return send(res, 401, {
        message: "Bad credentials",
        documentation_url: "https://docs.github.com/rest",
      });
    }
    const failure = sim.failures.findIndex((f) => f.match.test(`${method} ${url.pathname}`));
    if (failure >= 0) {
      const [f] = sim.failures.splice(failure, 1);
      return send(res, f?.status ?? 500, { message: "injected failure" }, f?.headers ?? {});
    }
    if (!url.pathname.startsWith(`${prefix}/`)) return send(res, 404, { message: "Not Found" });
    const path = url.pathname.slice(prefix.length);
    const pullsOf = path.match(/^\/commits\/([0-9a-f]{40})\/pulls$/);
    const commentsOf = path.match(/^\/issues\/(\d+)\/comments$/);
    const commentById = path.match(/^\/issues\/comments\/(\d+)$/);
    const artifactsOf = path.match(/^\/actions\/runs\/(\d+)\/artifacts$/);
    const zipOf = path.match(/^\/actions\/artifacts\/(\d+)\/zip$/);

    if (method === "GET" && pullsOf) {
      const sha = pullsOf[1];
      return send(
        res,
        200,
        sim.pulls
          .filter((p) => p.headSha === sha)
          .map((p) => ({
            number: p.number,
            state: p.state,
            html_url: `https://github.example/${opts.owner}/${opts.repo}/pull/${p.number}`,
            head: { sha: p.headSha, ref: "feature" },
          })),
      );
    }
    if (commentsOf) {
      const issue = Number(commentsOf[1]);
      const list = sim.comments.get(issue) ?? [];
      if (method === "GET") {
        const perPage = Math.min(Number(url.searchParams.get("per_page") ?? 30), opts.perPage ?? 100);
        const page = Number(url.searchParams.get("page") ?? 1);
        const slice = list.slice((page - 1) * perPage, page * perPage);
        const headers: Record<string, string> = {};
        if (page * perPage < list.length) {
          headers.link = `<${base}${prefix}/issues/${issue}/comments?per_page=${perPage}&page=${page + 1}>; rel="next"`;
        }
        return send(
          res,
          200,
          slice.map((c) => commentJson(issue, c)),
          headers,
        );
      }
      if (method === "POST") {
        const b = body as { body?: unknown } | null;
        if (typeof b?.body !== "string")
          return send(res, 422, { message: 'Invalid request.\n\n"body" wasn\'t supplied.' });
        if (b.body.length > 65536) {
          return send(res, 422, {
            message: "Validation Failed",
            errors: [
              {
                resource: "IssueComment",
                code: "custom",
                field: "body",
                message: "body is too long (maximum is 65536 characters)",
              },
            ],
          });
        }
        const c = { id: nextId++, body: b.body, user: { login: "github-actions[bot]", type: "Bot" } };
        sim.comments.set(issue, [...list, c]);
        return send(res, 201, commentJson(issue, c));
      }
    }
    if (method === "PATCH" && commentById) {
      const id = Number(commentById[1]);
      for (const [issue, list] of sim.comments) {
        const c = list.find((x) => x.id === id);
        if (!c) continue;
        const b = body as { body?: unknown } | null;
        if (typeof b?.body !== "string" || b.body.length > 65536)
          return send(res, 422, { message: "Validation Failed" });
        c.body = b.body;
        return send(res, 200, commentJson(issue, c));
      }
      return send(res, 404, { message: "Not Found" });
    }
    if (method === "GET" && artifactsOf) {
      const list = sim.artifacts.get(Number(artifactsOf[1])) ?? [];
      return send(res, 200, {
        total_count: list.length,
        artifacts: list.map((a) => ({
          id: a.id,
          name: a.name,
          size_in_bytes: a.zip.length,
          expired: a.expired ?? false,
          archive_download_url: `${base}${prefix}/actions/artifacts/${a.id}/zip`,
        })),
      });
    }
    if (method === "GET" && zipOf) {
      res.writeHead(302, { location: `${storageBase}/_storage/${zipOf[1]}.zip` });
      return res.end();
    }
    return send(res, 404, { message: "Not Found", documentation_url: "https://docs.github.com/rest" });
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e) => send(res, 500, { message: String(e) }));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    ...sim,
    url: base,
    close: async () => {
      await new Promise<void>((r) => server.close(() => r()));
      await new Promise<void>((r) => storage.close(() => r()));
    },
  };
}
