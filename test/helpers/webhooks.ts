import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A webhook receiver for Slack (200 "ok") or Discord (204), recording every body. `script` answers
 * the first requests differently (429 with Retry-After, 5xx) to exercise retries.
 */
export interface Receiver {
  url: string;
  bodies: unknown[];
  /** Arrival times (ms since epoch) of every request, retries included. */
  times: number[];
  close(): Promise<void>;
}

export interface ScriptedAnswer {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

export async function startReceiver(
  kind: "slack" | "discord",
  script: ScriptedAnswer[] = [],
): Promise<Receiver> {
  const bodies: unknown[] = [];
  const times: number[] = [];
  const queue = [...script];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      times.push(Date.now());
      const scripted = queue.shift();
      if (scripted) {
        res.writeHead(scripted.status, scripted.headers ?? {});
        return res.end(scripted.body ?? "");
      }
      if (req.method !== "POST" || !String(req.headers["content-type"]).startsWith("application/json")) {
        res.writeHead(400);
        return res.end(
          kind === "slack" ? "invalid_payload" : '{"message": "Cannot send an empty message", "code": 50006}',
        );
      }
      bodies.push(JSON.parse(Buffer.concat(chunks).toString("utf8")));
      if (kind === "slack") {
        res.writeHead(200, { "content-type": "text/html" });
        return res.end("ok");
      }
      res.writeHead(204);
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as AddressInfo).port;
  const path = kind === "slack" ? "/services/T000/B000/XXXXSECRET" : "/api/webhooks/123/SECRETTOKEN";
  return {
    url: `http://127.0.0.1:${port}${path}`,
    bodies,
    times,
    close: () => new Promise((r) => server.close(() => r())),
  };
}
