import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { strToU8, zipSync } from "fflate";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { Report } from "../../src/analysis/report.js";
import { runAction } from "../helpers/action.js";
import { pythonWithPytest, ROOT, tempDir } from "../helpers/cli.js";
import { git } from "../helpers/git.js";
import { type GitHubSim, startGitHubSim } from "../helpers/github-sim.js";

/**
 * The bundled Action on workflow_run events of failed CI runs whose JUnit artifacts were written
 * by the real reporters of four frameworks (mocha xunit, vitest junit, jest-junit, pytest
 * --junitxml), with the CI runner's absolute paths: each reruns exactly the test that failed.
 */

const TOKEN = "ghs_reportersToken0123456789";
const RUNNER = "/home/runner/work/shop/shop";
const tmp = tempDir("fd-action-reporters-");
const workspace = join(tmp.path, "workspace");
let headSha = "";
let gh: GitHubSim;

function workflowRunEvent(runId: number) {
  const repo = {
    id: 1,
    name: "shop",
    full_name: "acme/shop",
    private: false,
    owner: { login: "acme", type: "Organization" },
  };
  return {
    action: "completed",
    workflow_run: {
      id: runId,
      name: "CI",
      head_branch: "feature",
      head_sha: headSha,
      path: ".github/workflows/ci.yml",
      run_number: runId % 1000,
      event: "pull_request",
      status: "completed",
      conclusion: "failure",
      html_url: `https://github.example/acme/shop/actions/runs/${runId}`,
      pull_requests: [],
      head_commit: { id: headSha, message: "change" },
      repository: repo,
      head_repository: repo,
    },
    repository: repo,
    sender: { login: "octocat", type: "User" },
  };
}

beforeAll(async () => {
  const src = join(tmp.path, "src");
  cpSync(join(ROOT, "test/fixtures/projects/reporters"), src, {
    recursive: true,
    filter: (p) => !p.includes("node_modules"),
  });
  mkdirSync(join(src, "pytests"));
  writeFileSync(
    join(src, "pytests/test_orders.py"),
    'import os\n\nclass TestCart:\n    def test_total(self):\n        assert not os.environ.get("CI_RUN")\n\ndef test_free():\n    pass\n',
  );
  writeFileSync(join(src, ".gitignore"), "node_modules/\nreports/\n");
  writeFileSync(join(src, ".flaky-detector.yml"), "stop: fixed\nhistory:\n  enabled: false\n");
  git(tmp.path, "init", "-q", "-b", "main", src);
  git(src, "add", "-A");
  git(src, "commit", "-qm", "suite");
  headSha = git(src, "rev-parse", "HEAD");
  git(tmp.path, "clone", "-q", src, workspace);
  // The workflow's install step, before the Action runs.
  execFileSync("npm", ["ci", "--no-audit", "--no-fund", "--silent"], { cwd: workspace, stdio: "ignore" });
  gh = await startGitHubSim({ token: TOKEN, owner: "acme", repo: "shop" });
}, 300_000);

afterAll(async () => {
  await gh?.close();
  tmp.cleanup();
});

/** Run the CI job's test step with its reporter (CI_RUN=1 fails one test), as the runner would have. */
function ciArtifact(argv: string[], file: string, env: NodeJS.ProcessEnv = {}): Uint8Array {
  rmSync(join(workspace, "reports"), { recursive: true, force: true });
  mkdirSync(join(workspace, "reports"));
  spawnSync(argv[0] as string, argv.slice(1), {
    cwd: workspace,
    env: { ...process.env, ...env, CI_RUN: "1" },
  });
  const xml = readFileSync(join(workspace, file), "utf8").split(workspace).join(RUNNER);
  rmSync(join(workspace, "reports"), { recursive: true, force: true });
  return zipSync({ [file]: strToU8(xml) });
}

const CASES: { name: string; artifact: () => Uint8Array; command: string; expected: string }[] = [
  {
    name: "mocha xunit",
    artifact: () =>
      ciArtifact(
        ["npx", "mocha", "--reporter", "xunit", "--reporter-option", "output=reports/mocha.xml", "test/"],
        "reports/mocha.xml",
      ),
    command: "npx mocha test/",
    expected: "cart totals > adds tax",
  },
  {
    name: "vitest junit",
    artifact: () =>
      ciArtifact(
        ["npx", "vitest", "run", "v", "--reporter=junit", "--outputFile=reports/vitest.xml"],
        "reports/vitest.xml",
      ),
    command: "npx vitest run v",
    expected: "v/cart.spec.js > cart > totals > adds tax",
  },
  {
    name: "jest-junit",
    artifact: () =>
      ciArtifact(["npx", "jest", "--reporters=default", "--reporters=jest-junit"], "reports/junit.xml", {
        JEST_JUNIT_OUTPUT_DIR: "reports",
      }),
    command: "npx jest",
    expected: "src/cart.spec.js > cart > totals > adds tax",
  },
  {
    name: "pytest --junitxml",
    artifact: () =>
      ciArtifact(
        [pythonWithPytest(), "-m", "pytest", "--junitxml=reports/pytest.xml", "pytests"],
        "reports/pytest.xml",
      ),
    command: `${pythonWithPytest()} -m pytest pytests`,
    expected: "pytests/test_orders.py::TestCart::test_total",
  },
];

describe("the Action reruns exactly what failed, from each reporter's artifact", () => {
  CASES.forEach((c, i) => {
    test(c.name, async () => {
      const runId = 5000 + i;
      gh.artifacts.set(runId, [{ id: 100 + i, name: `junit-${i}`, zip: c.artifact() }]);
      const run = await runAction(
        {
          dir: tmp.path,
          workspace,
          event: workflowRunEvent(runId),
          inputs: { command: c.command, runs: "3", parallelism: "2", "junit-artifact": `junit-${i}` },
          token: TOKEN,
          apiUrl: gh.url,
        },
        `reporter-${i}`,
      );
      expect(run.code, run.stdout + run.stderr).toBe(0);
      const report = JSON.parse(readFileSync(run.outputs["report-path"] as string, "utf8")) as Report;
      expect(report.request.tests).toEqual([c.expected]);
      expect(report.tests.map((t) => [t.id, t.attempts, t.verdict])).toEqual([[c.expected, 3, "stable"]]);
      expect(run.outputs.verdict).toBe("stable");
    }, 180_000);
  });
});
