import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { strToU8, zipSync } from "fflate";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "vitest";
import type { Report } from "../../src/analysis/report.js";
import { COMMENT_MARKER } from "../../src/reporters/github.js";
import { type ActionSetup, runAction } from "../helpers/action.js";
import { ROOT, tempDir } from "../helpers/cli.js";
import { git } from "../helpers/git.js";
import { type GitHubSim, startGitHubSim } from "../helpers/github-sim.js";
import { type Receiver, startReceiver } from "../helpers/webhooks.js";

/**
 * The bundled Action (dist-action/index.mjs) run as GitHub runs it, on a workflow_run event for a
 * failed CI run, against a local GitHub REST server and Slack/Discord receivers.
 */

const TOKEN = "ghs_e2eTokenValue0123456789";
const RUN_ID = 30433642;
const tmp = tempDir("fd-action-");
const origin = join(tmp.path, "origin.git");
const workspace = join(tmp.path, "workspace");
let baseSha = "";
let headSha = "";
let gh: GitHubSim;
let slack: Receiver;
let discord: Receiver;

/** Node's junit reporter output of the failed CI run: three failures, one pass. */
function ciJUnit(): string {
  const failed = (name: string, message: string) =>
    `\t<testcase name="${name}" time="0.0012" classname="test" failure="${message}">\n\t\t<failure type="testCodeFailure" message="${message}">\n[Error [ERR_TEST_FAILURE]: ${message}]\n\t\t</failure>\n\t</testcase>`;
  return [
    '<?xml version="1.0" encoding="utf-8"?>',
    "<testsuites>",
    '\t<testcase name="warms the price cache" time="0.0003" classname="test"/>',
    failed("applies a percentage discount", "discount miscalculated"),
    failed("reserves stock for the order", "stock went negative (-1): two orders reserved the last item"),
    failed("ships the parcel", "stock went negative (-1): two orders reserved the last item"),
    failed("charges the saved card", "card declined: the payment stub was removed"),
    "</testsuites>",
    "",
  ].join("\n");
}

/** A workflow_run "completed" payload shaped like GitHub's (trimmed to the fields GitHub always sends). */
function workflowRunEvent(over: { conclusion?: string; pullRequests?: boolean; headRepo?: string } = {}) {
  const repo = {
    id: 1296269,
    name: "shop",
    full_name: "acme/shop",
    private: false,
    owner: { login: "acme", type: "Organization" },
  };
  return {
    action: "completed",
    workflow_run: {
      id: RUN_ID,
      name: "CI",
      node_id: "WFR_kwLOAA",
      head_branch: "feature",
      head_sha: headSha,
      path: ".github/workflows/ci.yml",
      display_title: "Add parcel shipping",
      run_number: 562,
      event: "pull_request",
      status: "completed",
      conclusion: over.conclusion ?? "failure",
      workflow_id: 159038,
      check_suite_id: 414944374,
      url: `https://api.github.example/repos/acme/shop/actions/runs/${RUN_ID}`,
      html_url: `https://github.example/acme/shop/actions/runs/${RUN_ID}`,
      pull_requests: over.pullRequests
        ? [
            {
              number: 7,
              head: { ref: "feature", sha: headSha, repo: { name: "shop" } },
              base: { ref: "main", sha: baseSha, repo: { name: "shop" } },
            },
          ]
        : [],
      created_at: "2026-11-24T10:00:00Z",
      updated_at: "2026-11-24T10:03:00Z",
      run_attempt: 1,
      head_commit: { id: headSha, message: "Add parcel shipping" },
      repository: repo,
      head_repository: { ...repo, full_name: over.headRepo ?? "acme/shop" },
    },
    workflow: { id: 159038, name: "CI", path: ".github/workflows/ci.yml" },
    repository: repo,
    organization: { login: "acme" },
    sender: { login: "octocat", type: "User" },
  };
}

function setup(inputs: Record<string, string>, event: unknown = workflowRunEvent()): ActionSetup {
  return {
    dir: tmp.path,
    workspace,
    event,
    inputs: {
      runs: "30",
      parallelism: "2",
      "slack-webhook": slack.url,
      "discord-webhook": discord.url,
      "dashboard-url": "https://flaky.example/",
      ...inputs,
    },
    token: TOKEN,
    apiUrl: gh.url,
  };
}

/**
 * What differs between two identical runs: the report id, the commit ids, the version. Not the
 * slot's temporary path: a comment naming it would point at nothing, so it fails the snapshot.
 */
function normalize(text: string): string {
  return text
    .replaceAll(headSha, "<head-sha>")
    .replaceAll(headSha.slice(0, 7), "<head>")
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, "<report-id>")
    .replace(/flaky-detector \d+\.\d+\.\d+/g, "flaky-detector <version>")
    .replace(/"timestamp": "[^"]+"/g, '"timestamp": "<created-at>"')
    .replace(/review_by: "?\d{4}-\d{2}-\d{2}"?/g, "review_by: <review-date>")
    .replace(/(node:internal\/[\w/]+):\d+:\d+/g, "$1");
}

beforeAll(async () => {
  // The repository: main has the suite; the pull request's commit adds a test. Its head lives only
  // at refs/pull/7/head in origin, as on GitHub, so a plain clone does not have it.
  const src = join(tmp.path, "src");
  cpSync(join(ROOT, "examples/node-test"), src, { recursive: true });
  writeFileSync(
    join(src, ".flaky-detector.yml"),
    "test_command: node --test\nseed: 4242\nstop: fixed\nhistory:\n  enabled: false\n",
  );
  git(tmp.path, "init", "-q", "-b", "main", src);
  git(src, "add", "-A");
  git(src, "commit", "-qm", "base");
  baseSha = git(src, "rev-parse", "HEAD");
  const suite = join(src, "checkout.test.mjs");
  writeFileSync(
    suite,
    `${readFileSync(suite, "utf8")}test("ships the parcel", () => check(p.random)); // p = 0.30, added by the PR\n`,
  );
  git(src, "commit", "-qam", "Add parcel shipping");
  headSha = git(src, "rev-parse", "HEAD");
  git(tmp.path, "clone", "-q", "--bare", src, origin);
  git(origin, "update-ref", "refs/pull/7/head", headSha);
  git(origin, "update-ref", "refs/heads/main", baseSha);
  git(tmp.path, "clone", "-q", origin, workspace);
  expect(git(workspace, "rev-parse", "HEAD")).toBe(baseSha);

  gh = await startGitHubSim({ token: TOKEN, owner: "acme", repo: "shop", perPage: 2 });
  gh.pulls.push({ number: 7, state: "open", headSha });
  // Other people's comments come first, across two pages, so finding ours needs pagination.
  gh.comments.set(
    7,
    [1, 2, 3].map((i) => ({ id: i, body: `LGTM ${i}`, user: { login: `dev${i}`, type: "User" } })),
  );
  gh.artifacts.set(RUN_ID, [
    { id: 11, name: "coverage", zip: zipSync({ "lcov.info": strToU8("TN:\n") }) },
    {
      id: 12,
      name: "junit-results",
      zip: zipSync({
        "reports/node/junit.xml": strToU8(ciJUnit()),
        "reports/readme.txt": strToU8("not xml"),
      }),
    },
    { id: 13, name: "junit-old", zip: zipSync({ "x.xml": strToU8("<broken") }), expired: true },
  ]);
}, 60_000);

beforeEach(async () => {
  slack = await startReceiver("slack");
  discord = await startReceiver("discord");
});
afterEach(async () => {
  await Promise.all([slack.close(), discord.close()]);
});

afterAll(async () => {
  await gh?.close();
  tmp.cleanup();
});

describe("the Action on a failed CI run (workflow_run)", () => {
  test("checks out the failed commit, reruns the failed tests from the JUnit artifact, comments once, summarises and notifies", async () => {
    // The first Slack answer is a 429 with Retry-After, the first Discord answer a 503.
    await Promise.all([slack.close(), discord.close()]);
    slack = await startReceiver("slack", [
      { status: 429, headers: { "retry-after": "1" }, body: "rate_limited" },
    ]);
    discord = await startReceiver("discord", [{ status: 503 }]);
    gh.failures.push({ match: /^GET .*\/issues\/7\/comments$/, status: 502 });
    const run = await runAction(setup({}), "first");
    expect(run.code, run.stdout + run.stderr).toBe(0);

    // The code under test is the pull request's commit, fetched from refs/pull/7/head.
    expect(git(workspace, "rev-parse", "HEAD")).toBe(headSha);

    // The pull request came from the API (the payload listed none), the tests from the artifact.
    const paths = gh.requests.map((r) => `${r.method} ${r.path}`);
    expect(paths).toContain(`GET /repos/acme/shop/commits/${headSha}/pulls`);
    expect(paths).toContain(`GET /repos/acme/shop/actions/runs/${RUN_ID}/artifacts`);
    expect(paths).toContain("GET /repos/acme/shop/actions/artifacts/12/zip");
    expect(paths).not.toContain("GET /repos/acme/shop/actions/artifacts/11/zip");
    expect(paths).not.toContain("GET /repos/acme/shop/actions/artifacts/13/zip");
    const storage = gh.requests.find((r) => r.path === "/_storage/12.zip");
    expect(storage?.authorization, "the token must not follow the redirect to storage").toBeUndefined();
    // The injected 502 was retried.
    expect(paths.filter((p) => p === "GET /repos/acme/shop/issues/7/comments").length).toBeGreaterThanOrEqual(
      2,
    );

    const report = JSON.parse(readFileSync(run.outputs["report-path"] as string, "utf8")) as Report;
    expect(report.request.tests.sort()).toEqual(
      [
        "applies a percentage discount",
        "charges the saved card",
        "reserves stock for the order",
        "ships the parcel",
      ].sort(),
    );
    const byId = new Map(report.tests.map((t) => [t.id, t]));
    expect(byId.get("ships the parcel")?.verdict).toBe("flaky");
    expect(byId.get("reserves stock for the order")?.verdict).toBe("flaky");
    expect(byId.get("charges the saved card")?.verdict).toBe("failing");
    expect(byId.get("applies a percentage discount")?.verdict).toBe("stable");
    expect(report.summary.attempts).toBe(30);

    // Outputs.
    expect(run.outputs.verdict).toBe(report.summary.verdict);
    expect(run.outputs.severity).toBe(report.summary.severity);
    expect(Number(run.outputs["failure-rate"])).toBeCloseTo(report.summary.failureRate, 10);
    const flaky = JSON.parse(run.outputs["flaky-tests"] as string) as { id: string }[];
    expect(flaky.map((t) => t.id).sort()).toEqual(["reserves stock for the order", "ships the parcel"]);
    expect(run.outputs["comment-url"]).toMatch(/\/pull\/7#issuecomment-\d+$/);

    // One comment, after the three that were there.
    const comments = gh.comments.get(7) ?? [];
    expect(comments).toHaveLength(4);
    const ours = comments.filter((c) => c.body.includes(COMMENT_MARKER));
    expect(ours).toHaveLength(1);
    const body = ours[0]?.body as string;
    expect(body).toContain("ships the parcel");
    expect(body).toContain(`https://github.example/acme/shop/actions/runs/${RUN_ID}`);
    expect(body).toContain("https://flaky.example/");
    expect(body).toContain("quarantine:");
    await expect(normalize(body)).toMatchFileSnapshot("../__snapshots__/action/comment.md");

    // The job summary has the same table, without the marker.
    expect(run.summary).not.toContain(COMMENT_MARKER);
    expect(run.summary).toContain("| `ships the parcel` |");
    await expect(normalize(run.summary)).toMatchFileSnapshot("../__snapshots__/action/summary.md");

    // Slack was retried after Retry-After: 1; Discord after the 503.
    expect(slack.bodies).toHaveLength(1);
    expect(slack.times).toHaveLength(2);
    expect((slack.times[1] as number) - (slack.times[0] as number)).toBeGreaterThanOrEqual(900);
    expect(discord.bodies).toHaveLength(1);
    expect(discord.times).toHaveLength(2);
    await expect(normalize(JSON.stringify(slack.bodies[0], null, 2))).toMatchFileSnapshot(
      "../__snapshots__/action/slack.json",
    );
    await expect(normalize(JSON.stringify(discord.bodies[0], null, 2))).toMatchFileSnapshot(
      "../__snapshots__/action/discord.json",
    );

    // No secret reached a log line, the comment or the report.
    // (`::add-mask::` lines are the runner protocol that hides a secret; the runner never prints them.)
    const logs = run.stdout
      .split("\n")
      .filter((l) => !l.startsWith("::add-mask::"))
      .join("\n");
    for (const text of [logs, run.stderr, body, readFileSync(run.outputs["report-path"] as string, "utf8")]) {
      expect(text).not.toContain(TOKEN);
      expect(text).not.toContain("XXXXSECRET");
      expect(text).not.toContain("SECRETTOKEN");
    }
  });

  test("a second run updates the comment in place, with the pull request taken from the payload", async () => {
    const before = gh.requests.length;
    // Only the flaky test this time (the tests input): MEDIUM, below notify-on high.
    const run = await runAction(
      setup(
        { "notify-on": "high", tests: "reserves stock for the order" },
        workflowRunEvent({ pullRequests: true }),
      ),
      "second",
    );
    expect(run.code, run.stdout + run.stderr).toBe(0);
    const requests = gh.requests.slice(before).map((r) => `${r.method} ${r.path}`);
    expect(requests).not.toContain(`GET /repos/acme/shop/commits/${headSha}/pulls`);
    expect(requests.filter((r) => r.startsWith("PATCH /repos/acme/shop/issues/comments/"))).toHaveLength(1);
    expect(requests.filter((r) => r.startsWith("POST "))).toEqual([]);
    const comments = gh.comments.get(7) ?? [];
    expect(comments).toHaveLength(4);
    const ours = comments.filter((c) => c.body.includes(COMMENT_MARKER));
    expect(ours).toHaveLength(1);
    expect(ours[0]?.body).toContain("reserves stock for the order");
    expect(ours[0]?.body).not.toContain("ships the parcel");
    expect(run.outputs.severity).toBe("medium");
    // Below notify-on: nothing is sent.
    expect(slack.times).toEqual([]);
    expect(discord.times).toEqual([]);
    expect(run.stdout).toContain("below notify-on HIGH");
  });

  test("with no matching JUnit artifact, reruns the whole configured command", async () => {
    const run = await runAction(
      setup({
        runs: "6",
        "junit-artifact": "no-such-artifact",
        comment: "false",
        "slack-webhook": "",
        "discord-webhook": "",
      }),
      "no-junit",
    );
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toContain(
      'no JUnit results found (artifacts matching "no-such-artifact" of CI #562): rerunning the whole command',
    );
    const report = JSON.parse(readFileSync(run.outputs["report-path"] as string, "utf8")) as Report;
    expect(report.request.tests).toEqual([]);
    expect(report.request.command).toEqual(["node", "--test"]);
    expect(report.tests.length).toBeGreaterThanOrEqual(10);
  });

  test("skips quietly when the CI run did not fail, and when the code comes from a fork", async () => {
    for (const [label, event] of [
      ["success", workflowRunEvent({ conclusion: "success" })],
      ["fork", workflowRunEvent({ headRepo: "mallory/shop" })],
    ] as const) {
      const before = gh.requests.length;
      const run = await runAction(setup({}, event), label);
      expect(run.code, run.stdout + run.stderr).toBe(0);
      expect(run.outputs.verdict).toBe("skipped");
      expect(gh.requests.length).toBe(before);
      expect(existsSync(join(tmp.path, "runner-temp", "flaky-detector"))).toBe(true); // from the first test only
    }
    expect(slack.times).toEqual([]);
    expect(discord.times).toEqual([]);
  });

  test("bad inputs fail the step naming each input, before anything runs", async () => {
    const before = gh.requests.length;
    const run = await runAction(
      setup({
        runs: "lots",
        backend: "cloud",
        "fail-on": "sometimes",
        "slack-webhook": "http://hooks.slack.example/services/SECRETPATH",
      }),
      "bad",
    );
    expect(run.code).toBe(2);
    const out = run.stdout.replace(/%0A/g, "\n");
    expect(out).toContain('input runs: expected a whole number from 1 to 10000, got "lots"');
    expect(out).toContain('input backend: expected one of local, server, runpod, got "cloud"');
    expect(out).toContain(
      'input fail-on: expected one of critical, high, medium, low, none, got "sometimes"',
    );
    expect(out).toContain("input slack-webhook: webhooks must use https://");
    expect(out).not.toContain("SECRETPATH");
    expect(gh.requests.length).toBe(before);
  });
});

describe("the Action in the failing job itself", () => {
  test("reruns the failed tests of junit-path and fails the step at fail-on", async () => {
    mkdirSync(join(workspace, "reports"), { recursive: true });
    writeFileSync(join(workspace, "reports", "junit.xml"), ciJUnit());
    const event = {
      action: "synchronize",
      number: 7,
      pull_request: { number: 7, head: { sha: headSha, ref: "feature", repo: { full_name: "acme/shop" } } },
      repository: { full_name: "acme/shop" },
    };
    const run = await runAction(
      {
        ...setup(
          {
            "junit-path": "reports/*.xml",
            "fail-on": "high",
            comment: "false",
            "slack-webhook": "",
            "discord-webhook": "",
          },
          event,
        ),
        eventName: "pull_request",
      },
      "same-job",
    );
    const report = JSON.parse(readFileSync(run.outputs["report-path"] as string, "utf8")) as Report;
    expect(report.request.tests).toHaveLength(4);
    // "charges the saved card" fails every attempt: CRITICAL, at or above fail-on high.
    expect(run.code).toBe(1);
    expect(run.stdout).toContain("::error::severity CRITICAL reached fail-on HIGH");
    expect(run.summary).toContain("charges the saved card");
  });
});
