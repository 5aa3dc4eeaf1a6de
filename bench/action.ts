// npm run bench:action — what the GitHub Action costs on top of the detection it runs. The same
// detection (examples/node-test, 4 failed tests, 40 attempts, seed fixed, parallelism 2) runs as
// `flaky-detector run` and as the bundled Action on a workflow_run event against the local GitHub
// REST server and Slack/Discord receivers of the tests (artifact download, checkout check, comment
// upsert, summary, two notifications), interleaved. Also: rendering time of the comment for reports
// of 100 / 1,000 / 10,000 tests (the truncation path). Medians of BENCH_REPS (default 5).
import { execFileSync, spawn } from "node:child_process";
import { cpSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { strToU8, zipSync } from "fflate";
import type { Report } from "../src/analysis/report.js";
import { formatComment } from "../src/reporters/github.js";
import { runAction } from "../test/helpers/action.js";
import { BIN, cleanEnv, ROOT, tempDir } from "../test/helpers/cli.js";
import { startGitHubSim } from "../test/helpers/github-sim.js";
import { report as sampleReport } from "../test/helpers/reports.js";
import { startReceiver } from "../test/helpers/webhooks.js";

const REPS = Number(process.env.BENCH_REPS ?? 5);
const RUNS = "40";
const TESTS = [
  "applies a percentage discount",
  "reserves stock for the order",
  "rounds the last cent",
  "charges the saved card",
];
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2
    ? (s[(s.length - 1) / 2] as number)
    : ((s[s.length / 2 - 1] as number) + (s[s.length / 2] as number)) / 2;
};

const tmp = tempDir("fd-bench-action-");
const ws = join(tmp.path, "ws");
cpSync(join(ROOT, "examples/node-test"), ws, { recursive: true });
writeFileSync(
  join(ws, ".flaky-detector.yml"),
  "test_command: node --test\nseed: 4242\nstop: fixed\nhistory:\n  enabled: false\n",
);
const git = (...a: string[]) =>
  execFileSync("git", a, {
    cwd: ws,
    encoding: "utf8",
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: "b",
      GIT_AUTHOR_EMAIL: "b@e",
      GIT_COMMITTER_NAME: "b",
      GIT_COMMITTER_EMAIL: "b@e",
    },
  }).trim();
git("init", "-q", "-b", "main");
git("add", "-A");
git("commit", "-qm", "bench");
const sha = git("rev-parse", "HEAD");
const xml = `<testsuites>${TESTS.map((t) => `<testcase name="${t}" classname="test"><failure message="x"/></testcase>`).join("")}</testsuites>`;

const TOKEN = "ghs_bench";
const gh = await startGitHubSim({ token: TOKEN, owner: "acme", repo: "shop" });
gh.pulls.push({ number: 1, state: "open", headSha: sha });
gh.artifacts.set(77, [{ id: 5, name: "junit-results", zip: zipSync({ "junit.xml": strToU8(xml) }) }]);
const slack = await startReceiver("slack");
const discord = await startReceiver("discord");
const event = {
  action: "completed",
  workflow_run: {
    id: 77,
    name: "CI",
    run_number: 1,
    head_sha: sha,
    head_branch: "feature",
    conclusion: "failure",
    html_url: "https://github.example/acme/shop/actions/runs/77",
    pull_requests: [],
    head_repository: { full_name: "acme/shop" },
  },
  repository: { full_name: "acme/shop" },
};

function cli(): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const args = [
      "run",
      "--runs",
      RUNS,
      "--parallelism",
      "2",
      "--no-history",
      ...TESTS.flatMap((t) => ["--test", t]),
      "--",
      "node",
      "--test",
    ];
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ws, env: cleanEnv(), stdio: "ignore" });
    child.on("error", reject);
    child.on("close", (code) =>
      code === 0 ? resolve(performance.now() - started) : reject(new Error(`cli exited ${code}`)),
    );
  });
}

async function action(i: number): Promise<number> {
  const started = performance.now();
  const r = await runAction(
    {
      dir: tmp.path,
      workspace: ws,
      event,
      inputs: {
        runs: RUNS,
        parallelism: "2",
        "slack-webhook": slack.url,
        "discord-webhook": discord.url,
        "notify-on": "low",
      },
      token: TOKEN,
      apiUrl: gh.url,
    },
    `bench-${i}`,
  );
  if (r.code !== 0) throw new Error(`action exited ${r.code}: ${r.stdout}${r.stderr}`);
  return performance.now() - started;
}

const cliMs: number[] = [];
const actionMs: number[] = [];
await cli(); // warm the file cache
for (let i = 0; i < REPS; i++) {
  cliMs.push(await cli());
  actionMs.push(await action(i));
}
const comments = gh.comments.get(1) ?? [];

const render: Record<string, number> = {};
for (const n of [100, 1000, 10000]) {
  const base = sampleReport(
    "r",
    "2026-11-24T00:00:00Z",
    Array.from({ length: n }, (_, i) => ({ id: `suite ${i} › case ${i}`, attempts: 50, failures: i % 25 })),
  );
  const rep = { ...base, request: { ...base.request, tests: [], parallelism: 2 } } as Report;
  const times: number[] = [];
  for (let i = 0; i < REPS; i++) {
    const t = performance.now();
    const body = formatComment(rep, { today: "2026-11-24" });
    times.push(performance.now() - t);
    if (body.length > 65536) throw new Error("comment over the limit");
  }
  render[String(n)] = Math.round(median(times) * 10) / 10;
}

// Start-up of the two entry points against bare node, same run: `flaky-detector --version`, and
// the bundle up to its first answer (no runner variables: it stops at once with a usage error).
function startMs(args: string[]): number {
  const t = performance.now();
  try {
    execFileSync(process.execPath, args, { stdio: "ignore", env: cleanEnv() });
  } catch {
    // the bundle exits 2 without GITHUB_* variables: that is the point
  }
  return performance.now() - t;
}
const startup = { node: [] as number[], cli: [] as number[], bundle: [] as number[] };
for (let i = 0; i < REPS * 2; i++) {
  startup.node.push(startMs(["-e", "0"]));
  startup.cli.push(startMs([BIN, "--version"]));
  startup.bundle.push(startMs([join(ROOT, "dist-action/index.mjs")]));
}

const result = {
  date: new Date().toISOString(),
  reps: REPS,
  runs: Number(RUNS),
  cliMedianMs: Math.round(median(cliMs)),
  actionMedianMs: Math.round(median(actionMs)),
  actionOverheadMs: Math.round(median(actionMs.map((a, i) => a - (cliMs[i] as number)))),
  ratio: Math.round((median(actionMs) / median(cliMs)) * 1000) / 1000,
  commentsOnThePr: comments.length,
  slackMessages: slack.bodies.length,
  discordMessages: discord.bodies.length,
  commentRenderMs: render,
  startupMedianMs: {
    bareNode: Math.round(median(startup.node)),
    cliVersion: Math.round(median(startup.cli)),
    actionBundle: Math.round(median(startup.bundle)),
  },
};
mkdirSync(join(ROOT, "bench/results"), { recursive: true });
writeFileSync(join(ROOT, "bench/results/latest-action.json"), `${JSON.stringify(result, null, 2)}\n`);
console.log(JSON.stringify(result, null, 2));
await gh.close();
await slack.close();
await discord.close();
tmp.cleanup();
