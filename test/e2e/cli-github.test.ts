import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import YAML from "yaml";
import { ACTION_USES } from "../../src/action/definition.js";
import { COMMENT_MARKER } from "../../src/reporters/github.js";
import { ROOT, runCli, tempDir } from "../helpers/cli.js";
import { startReceiver } from "../helpers/webhooks.js";

/** The command line's side of issue 7: notifications and quarantine in `run`, `report`, `init`. */

const tmp = tempDir("fd-cli-gh-");
afterAll(() => tmp.cleanup());

const tests = ["--test", "charges the saved card", "--test", "reserves stock for the order"];
const detection = [
  "run",
  "--runs",
  "30",
  "--seed",
  "4242",
  "--stop",
  "fixed",
  "--parallelism",
  "2",
  "--no-history",
];

describe("run: notifications and quarantine", () => {
  const project = join(tmp.path, "shop");
  cpSync(join(ROOT, "examples/node-test"), project, { recursive: true });

  test("a quarantined broken test no longer fails --fail-on; the rest still notifies Discord", async () => {
    writeFileSync(
      join(project, ".flaky-detector.yml"),
      'quarantine:\n  - test: "charges the saved card"\n    owner: payments\n    review_by: "2099-01-01"\n',
    );
    const discord = await startReceiver("discord");
    try {
      const r = await runCli(
        [...detection, "--fail-on", "high", "--json", "report.json", ...tests, "--", "node", "--test"],
        {
          cwd: project,
          env: { FLAKY_DETECTOR_NOTIFY__DISCORD_WEBHOOK: discord.url, FLAKY_DETECTOR_NOTIFY__ON: "low" },
        },
      );
      // Without the quarantine "charges the saved card" (30/30, CRITICAL) would exit 1.
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toContain(
        "quarantined tests excluded: severity MEDIUM counts for --fail-on and notifications",
      );
      expect(r.stderr).toContain("discord: notification sent");
      expect(discord.bodies).toHaveLength(1);
      const embed = (discord.bodies[0] as { embeds: { title: string }[] }).embeds[0];
      expect(embed?.title).toContain("1 flaky test, 1 failing");
    } finally {
      await discord.close();
    }
  });

  test("an expired quarantine entry counts again, with a warning", async () => {
    writeFileSync(
      join(project, ".flaky-detector.yml"),
      'quarantine:\n  - test: "charges*"\n    review_by: "2020-01-01"\n',
    );
    const r = await runCli([...detection, "--fail-on", "high", ...tests, "--", "node", "--test"], {
      cwd: project,
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      'quarantine entry for "charges*" expired on 2020-01-01; charges the saved card counts again',
    );
  });

  test("report renders the saved report in every format, and refuses a file that is not one", async () => {
    const github = await runCli(["report", "report.json", "--format", "github"], { cwd: project });
    expect(github.code, github.stderr).toBe(0);
    expect(github.stdout.startsWith(COMMENT_MARKER)).toBe(true);
    expect(github.stdout).toContain("| `reserves stock for the order` |");
    for (const format of ["slack", "discord", "json"]) {
      const r = await runCli(["report", "report.json", "--format", format], { cwd: project });
      expect(r.code, r.stderr).toBe(0);
      expect(() => JSON.parse(r.stdout)).not.toThrow();
    }
    const junit = await runCli(["report", "report.json", "--format", "junit", "--output", "out.xml"], {
      cwd: project,
    });
    expect(junit.code).toBe(0);
    // Surefire's schema: one <testsuite> root (validated against the XSD in ci-reporters.test.ts).
    expect(readFileSync(join(project, "out.xml"), "utf8")).toMatch(/^<\?xml[^>]*>\n<testsuite name=/);

    writeFileSync(
      join(project, "bad.json"),
      JSON.stringify({ schemaVersion: 1, id: "x", summary: { severity: "extreme" } }),
    );
    const bad = await runCli(["report", "bad.json"], { cwd: project });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("is not a flaky-detector report (schemaVersion 1)");
    expect(bad.stderr).toMatch(/summary\.severity: Invalid option/);
  });
});

describe("init", () => {
  test("writes a valid config and a workflow_run workflow for the detected framework and CI workflow", async () => {
    const dir = join(tmp.path, "init-node");
    mkdirSync(join(dir, ".github/workflows"), { recursive: true });
    writeFileSync(
      join(dir, "package.json"),
      JSON.stringify({ name: "x", devDependencies: { vitest: "^4" }, scripts: { test: "vitest" } }),
    );
    writeFileSync(join(dir, ".github/workflows/ci.yml"), "name: Tests\non:\n  pull_request:\njobs: {}\n");
    writeFileSync(join(dir, ".github/workflows/release.yml"), "name: Release\non:\n  release:\njobs: {}\n");
    const r = await runCli(["init"], { cwd: dir });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('runs when the workflow "Tests" fails');

    const wf = YAML.parse(readFileSync(join(dir, ".github/workflows/flaky-detector.yml"), "utf8"));
    expect(wf.on).toEqual({ workflow_run: { workflows: ["Tests"], types: ["completed"] } });
    expect(wf.permissions).toEqual({ contents: "read", "pull-requests": "write", actions: "read" });
    const job = wf.jobs.detect;
    expect(job.if).toBe("github.event.workflow_run.conclusion == 'failure'");
    const headSha = ["$", "{{ github.event.workflow_run.head_sha }}"].join("");
    expect(job.steps[0]).toEqual({
      uses: "actions/checkout@v4",
      with: { ref: headSha, "persist-credentials": false },
    });
    const step = job.steps.find((s: { uses?: string }) => s.uses === ACTION_USES);
    expect(step.with["junit-artifact"]).toBe("junit-results");

    const cfg = await runCli(["config", "print", "--json"], { cwd: dir });
    expect(cfg.code, cfg.stderr).toBe(0);
    expect(JSON.parse(cfg.stdout)).toMatchObject({
      framework: "vitest",
      test_command: "npx vitest run",
      quarantine: [],
    });

    const again = await runCli(["init"], { cwd: dir });
    expect(again.code).toBe(2);
    expect(again.stderr).toContain(
      ".flaky-detector.yml and .github/workflows/flaky-detector.yml already exist; pass --force to overwrite",
    );
    expect((await runCli(["init", "--force", "--ci-workflow", "Release"], { cwd: dir })).code).toBe(0);
    expect(readFileSync(join(dir, ".github/workflows/flaky-detector.yml"), "utf8")).toContain(
      'workflows: ["Release"]',
    );
  });

  test("a Python project gets pytest; a directory with no CI workflow or no tests gets an error saying what to pass", async () => {
    const py = join(tmp.path, "init-py");
    mkdirSync(py);
    writeFileSync(join(py, "pytest.ini"), "[pytest]\n");
    const none = await runCli(["init"], { cwd: py });
    expect(none.code).toBe(2);
    expect(none.stderr).toContain(
      'no CI workflow found in .github/workflows (one that runs on pull_request or push); pass --ci-workflow "<its name>"',
    );
    expect(existsSync(join(py, ".flaky-detector.yml"))).toBe(false);
    const ok = await runCli(["init", "--ci-workflow", "CI"], { cwd: py });
    expect(ok.code, ok.stderr).toBe(0);
    expect(readFileSync(join(py, ".flaky-detector.yml"), "utf8")).toContain("test_command: python -m pytest");
    expect(readFileSync(join(py, ".github/workflows/flaky-detector.yml"), "utf8")).toContain(
      "actions/setup-python@v5",
    );

    const empty = join(tmp.path, "init-empty");
    mkdirSync(empty);
    const unknown = await runCli(["init", "--ci-workflow", "CI"], { cwd: empty });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('pass --command "your test command"');
  });
});
