import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { fixture, readReport, runCli, tempDir } from "../helpers/cli.js";
import { type Served, serve } from "../helpers/serve.js";
import { type Receiver, startReceiver } from "../helpers/webhooks.js";

/**
 * A canary in every class of secret (docs/security.md), given to a test that prints its whole
 * environment and quotes the secrets in its failure messages. Locally the test sees them (tests
 * often need them) and every place we store or print masks them; on a server the test never sees
 * them. The canary must be found nowhere.
 */

const C = {
  token: "cnryTOKEN4f9a2c71",
  key: "cnryKEY9b3e11d2",
  secret: "cnrySECRET77aa01",
  password: "cnryPASS5c2d9e0",
  webhook: "cnryHOOK0e1f2a3b",
  urlPassword: "cnryURLPW6d5c4b",
  named: "cnryNAMED1a2b3c",
  command: "cnryCMD8e7f6a5",
  repo: "cnryREPO3c4d5e6",
  apiKey: "cnryAPIKEY-0123456789abcdef",
};
const CANARIES = Object.values(C);

const tmp = tempDir("fd-secrets-");
const project = join(tmp.path, "project");
let slack: Receiver;

function secretEnv(): NodeJS.ProcessEnv {
  return {
    MY_API_TOKEN: C.token,
    SERVICE_KEY: C.key,
    APP_SECRET: C.secret,
    DB_PASSWORD: C.password,
    FLAKY_DETECTOR_NOTIFY__SLACK_WEBHOOK: `${slack.url}/hooks/${C.webhook}`,
    DATABASE_URL: `postgres://app:${C.urlPassword}@db.internal/app`,
    ACME_THING: C.named,
  };
}

/** Every file below dir, read as bytes (a SQLite file and its WAL included). */
function filesUnder(dir: string): { path: string; text: string }[] {
  const out: { path: string; text: string }[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...filesUnder(p));
    else out.push({ path: p, text: readFileSync(p).toString("latin1") });
  }
  return out;
}

function expectNoCanary(where: string, text: string): void {
  for (const c of CANARIES) expect(text.includes(c), `${c} found in ${where}`).toBe(false);
}

beforeAll(async () => {
  slack = await startReceiver("slack");
  const { mkdirSync } = await import("node:fs");
  mkdirSync(project, { recursive: true });
  writeFileSync(
    join(project, ".flaky-detector.yml"),
    "secrets: [ACME_*]\nlogs_dir: logs\nnotify:\n  on: low\n",
  );
});

afterAll(async () => {
  await slack?.close();
  tmp.cleanup();
});

describe("no secret in what we store or print", () => {
  test("local run: the test sees the secrets; stdout, stderr, --json, --markdown, --junit-out, history, logs, the comment and Slack do not", async () => {
    const out = join(tmp.path, "local");
    const { mkdirSync } = await import("node:fs");
    mkdirSync(out);
    const res = await runCli(
      [
        "run",
        "--runs",
        "4",
        "--parallelism",
        "2",
        "--stop",
        "fixed",
        "--junit",
        "reports/*.xml",
        "--save-full-output",
        "--json",
        join(out, "report.json"),
        "--markdown",
        join(out, "report.md"),
        "--junit-out",
        join(out, "junit.xml"),
        "--db",
        join(out, "history.db"),
        "--progress",
        "plain",
        "--",
        `EXTRA_TOKEN=${C.command}`,
        "node",
        fixture("leak-secrets.mjs"),
      ],
      { cwd: project, env: secretEnv() },
    );
    expect(res.code, res.stderr).toBe(0);
    const comment = await runCli(["report", join(out, "report.json"), "--format", "github"]);
    expect(comment.code, comment.stderr).toBe(0);

    // Not vacuous: the test did print its environment and quote the secrets.
    const report = readReport(join(out, "report.json"));
    expect(JSON.stringify(report)).toContain("MY_API_TOKEN=***");
    expect(report.tests.find((t) => t.name === "uses the token")?.firstFailure?.message).toContain(
      "DB_PASSWORD=***",
    );
    expect(JSON.stringify(report)).toContain("EXTRA_TOKEN=***");
    expect(slack.bodies.length).toBeGreaterThan(0);
    const logs = filesUnder(join(project, "logs"));
    expect(logs.length).toBe(4);
    expect(logs[0]?.text).toContain("APP_SECRET=***");

    expectNoCanary("stdout", res.stdout);
    expectNoCanary("stderr", res.stderr);
    expectNoCanary("the rendered PR comment", comment.stdout);
    expectNoCanary("Slack", JSON.stringify(slack.bodies));
    for (const f of [...filesUnder(out), ...logs]) expectNoCanary(f.path, f.text);
  }, 60_000);

  test("a credentialed --repo URL is refused without printing the credential", async () => {
    const res = await runCli(["run", "--repo", `https://someone:${C.repo}@example.com/x.git`, "--", "true"], {
      cwd: project,
    });
    expect(res.code).toBe(2);
    expect(res.stderr).toContain("GIT_TOKEN");
    expectNoCanary("stderr", res.stderr + res.stdout);
  });

  describe("through the server", () => {
    let server: Served;
    const db = join(tmp.path, "server.db");
    beforeAll(async () => {
      server = await serve(["--allow-path", tmp.path, "--db", db, "--log-level", "info"], {
        ...secretEnv(),
        FLAKY_DETECTOR_API_KEY: C.apiKey,
        // The operator names the server's own extra secrets (a job's .flaky-detector.yml is not read).
        FLAKY_DETECTOR_SECRETS: "ACME_*",
        GIT_TOKEN: C.token,
      });
    });
    afterAll(async () => {
      await server?.stop();
    });

    const call = (path: string, body?: unknown) =>
      fetch(`${server.url}${path}`, {
        method: body === undefined ? "GET" : "POST",
        headers: { authorization: `Bearer ${C.apiKey}`, "content-type": "application/json" },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });

    test("the tested code never sees the server's secrets; /status, the read API, the database and the log hold none", async () => {
      const res = await call("/runsync?wait=60000", {
        input: {
          repo: project,
          test_command: ["node", fixture("leak-secrets.mjs")],
          junit: "reports/*.xml",
          runs: 3,
          stop: "fixed",
        },
      });
      const status = await res.text();
      expect(res.status, status).toBe(200);
      const job = JSON.parse(status);
      expect(job.status, status).toBe("COMPLETED");
      // The test printed its environment: the variables are not there at all.
      expect(status).toContain("TEST_SEED=");
      expect(status).not.toContain("MY_API_TOKEN=");
      expect(status).not.toContain("FLAKY_DETECTOR_NOTIFY__SLACK_WEBHOOK=");
      expect(status).not.toContain("FLAKY_DETECTOR_API_KEY=");
      const again = await (await call(`/status/${job.id}`)).text();
      const detection = await (await call(`/api/v1/detections/${job.detectionId}`)).text();
      expect(detection).toContain("TEST_SEED=");
      const bad = await (
        await call("/run", { input: { repo: `https://x:${C.repo}@example.com/r.git`, test_command: "true" } })
      ).text();
      expect(bad).toContain("E_BAD_REQUEST");

      expectNoCanary("/runsync", status);
      expectNoCanary("/status", again);
      expectNoCanary("/api/v1/detections/:id", detection);
      expectNoCanary("the 400", bad);
      await server.stop();
      expectNoCanary("server log", server.stderr());
      for (const f of filesUnder(tmp.path).filter((f) => f.path.startsWith(db)))
        expectNoCanary(f.path, f.text);
    }, 90_000);
  });
});
