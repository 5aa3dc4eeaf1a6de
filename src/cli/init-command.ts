import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import YAML from "yaml";
import { ACTION_USES } from "../action/definition.js";
import { resolveConfig } from "../config/resolve.js";
import { EXIT, UsageError } from "../errors.js";
import type { CliIo } from "./io.js";

/**
 * `flaky-detector init`: the config file and a workflow that reruns what failed whenever the
 * project's CI workflow fails on a pull request — for the framework found in the directory.
 */
export interface InitOptions {
  ciWorkflow?: string;
  command?: string;
  force?: boolean;
}

interface Project {
  framework: string;
  command: string;
  /** Workflow steps that install the toolchain and dependencies (YAML, indented for steps:). */
  setup: string;
  /** How the CI workflow writes JUnit XML and uploads it, for the next-steps note. */
  junit: string;
}

const CONFIG_FILE = ".flaky-detector.yml";
const WORKFLOW_FILE = ".github/workflows/flaky-detector.yml";

export function initCommand(options: InitOptions, io: CliIo): number {
  const dir = io.cwd;
  const targets = [CONFIG_FILE, WORKFLOW_FILE].map((f) => join(dir, f));
  const existing = targets.filter((f) => existsSync(f));
  if (existing.length > 0 && !options.force) {
    throw new UsageError(
      "E_INIT_EXISTS",
      `${existing.map((f) => relative(dir, f)).join(" and ")} already exist${existing.length === 1 ? "s" : ""}; pass --force to overwrite`,
    );
  }
  const project = detectProject(dir, options.command);
  const ci = options.ciWorkflow ?? detectCiWorkflow(dir);

  const config = configText(project);
  writeFileSync(targets[0] as string, config);
  // What init writes must be what run accepts: validate it through the real loader.
  resolveConfig({ cwd: dir, env: {}, configPath: targets[0] as string });
  mkdirSync(dirname(targets[1] as string), { recursive: true });
  writeFileSync(targets[1] as string, workflowText(project, ci));

  io.stdout.write(
    [
      `wrote ${CONFIG_FILE} (${project.framework}: ${project.command})`,
      `wrote ${WORKFLOW_FILE} (runs when the workflow ${JSON.stringify(ci)} fails)`,
      "",
      "Next:",
      `  1. In ${JSON.stringify(ci)}, write JUnit XML and upload it as an artifact named junit-results:`,
      ...project.junit.split("\n").map((l) => `       ${l}`),
      "     (without it, the whole test command is rerun instead of only the failed tests)",
      "  2. Optional secrets: FLAKY_SLACK_WEBHOOK, FLAKY_DISCORD_WEBHOOK (Settings → Secrets and variables → Actions).",
      "  3. Commit both files. The next failed CI run on a pull request gets a comment saying which tests are flaky.",
      "",
    ].join("\n"),
  );
  return EXIT.ok;
}

function readJson(file: string): Record<string, unknown> | null {
  try {
    return JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
  } catch {
    return null;
  }
}

const NODE_SETUP = `      - uses: actions/setup-node@v4
        with:
          node-version: 20
          cache: npm
      - run: npm ci`;

export function detectProject(dir: string, command?: string): Project {
  const has = (f: string) => existsSync(join(dir, f));
  const pkg = has("package.json") ? readJson(join(dir, "package.json")) : null;
  if (pkg) {
    const deps = { ...(pkg.dependencies as object), ...(pkg.devDependencies as object) } as Record<
      string,
      string
    >;
    const script = String((pkg.scripts as Record<string, string> | undefined)?.test ?? "");
    const pick = (framework: string, cmd: string, junit: string): Project => ({
      framework,
      command: command ?? cmd,
      setup: NODE_SETUP,
      junit,
    });
    const upload =
      "- uses: actions/upload-artifact@v4\n  if: always()\n  with: { name: junit-results, path: reports/ }";
    if ("vitest" in deps)
      return pick(
        "vitest",
        "npx vitest run",
        `npx vitest run --reporter=default --reporter=junit --outputFile.junit=reports/junit.xml\n${upload}`,
      );
    if ("jest" in deps)
      return pick(
        "jest",
        "npx jest",
        `npx jest --ci --reporters=default --reporters=jest-junit  (JEST_JUNIT_OUTPUT_DIR=reports)\n${upload}`,
      );
    if ("mocha" in deps)
      return pick(
        "mocha",
        "npx mocha",
        `npx mocha --reporter mocha-junit-reporter --reporter-options mochaFile=reports/junit.xml\n${upload}`,
      );
    if (/node\s+--test/.test(script))
      return pick(
        "node-test",
        "node --test",
        `node --test --test-reporter=spec --test-reporter-destination=stdout --test-reporter=junit --test-reporter-destination=reports/junit.xml\n${upload}`,
      );
    if (script)
      return pick("auto", command ?? "npm test", `make npm test write JUnit XML to reports/\n${upload}`);
  }
  if (
    has("pyproject.toml") ||
    has("pytest.ini") ||
    has("setup.cfg") ||
    has("tox.ini") ||
    has("conftest.py") ||
    has("requirements.txt")
  ) {
    const req = has("requirements.txt") ? "pip install -r requirements.txt pytest" : "pip install pytest";
    return {
      framework: "pytest",
      command: command ?? "python -m pytest",
      setup: `      - uses: actions/setup-python@v5
        with:
          python-version: "3.x"
      - run: ${req}`,
      junit:
        "python -m pytest --junitxml=reports/junit.xml\n- uses: actions/upload-artifact@v4\n  if: always()\n  with: { name: junit-results, path: reports/ }",
    };
  }
  if (has("go.mod")) {
    return {
      framework: "go",
      command: command ?? "go test ./...",
      setup: `      - uses: actions/setup-go@v5
        with:
          go-version-file: go.mod`,
      junit:
        "go test -json ./... | go run gotest.tools/gotestsum@latest --junitfile reports/junit.xml --raw-command cat\n- uses: actions/upload-artifact@v4\n  if: always()\n  with: { name: junit-results, path: reports/ }",
    };
  }
  if (has("Cargo.toml")) {
    return {
      framework: "cargo",
      command: command ?? "cargo test",
      setup: "      - uses: dtolnay/rust-toolchain@stable",
      junit:
        'cargo nextest run --profile ci   (with [profile.ci.junit] path = "junit.xml")\n- uses: actions/upload-artifact@v4\n  if: always()\n  with: { name: junit-results, path: target/nextest/ci/ }',
    };
  }
  if (command)
    return { framework: "auto", command, setup: "", junit: "write JUnit XML to reports/ and upload it" };
  throw new UsageError(
    "E_INIT_FRAMEWORK",
    `cannot tell how ${dir} runs its tests (no package.json, pyproject.toml/pytest.ini, go.mod or Cargo.toml); pass --command "your test command"`,
  );
}

/** The CI workflow to watch: the one that runs on pull requests, by its `name:` (or its path when unnamed). */
export function detectCiWorkflow(dir: string): string {
  const wfDir = join(dir, ".github/workflows");
  const files = existsSync(wfDir)
    ? readdirSync(wfDir).filter((f) => /\.ya?ml$/.test(f) && f !== "flaky-detector.yml")
    : [];
  const candidates: string[] = [];
  for (const f of files.sort()) {
    let doc: { name?: unknown; on?: unknown; true?: unknown } | null = null;
    try {
      doc = YAML.parse(readFileSync(join(wfDir, f), "utf8"));
    } catch {
      continue;
    }
    const on = doc?.on ?? doc?.true;
    const events =
      typeof on === "string"
        ? [on]
        : Array.isArray(on)
          ? on
          : on && typeof on === "object"
            ? Object.keys(on)
            : [];
    if (!events.includes("pull_request") && !events.includes("push")) continue;
    candidates.push(typeof doc?.name === "string" ? doc.name : `.github/workflows/${f}`);
  }
  const preferred = candidates.filter((n) => /^(ci|tests?|build)$/i.test(n));
  if (candidates.length === 1) return candidates[0] as string;
  if (preferred.length === 1) return preferred[0] as string;
  throw new UsageError(
    "E_INIT_WORKFLOW",
    candidates.length === 0
      ? 'no CI workflow found in .github/workflows (one that runs on pull_request or push); pass --ci-workflow "<its name>"'
      : `several CI workflows: ${candidates.map((c) => JSON.stringify(c)).join(", ")}; pass --ci-workflow "<the one running your tests>"`,
  );
}

function configText(p: Project): string {
  return `# flaky-detector configuration. Reference: docs/config.md, or \`flaky-detector config schema\`.
${YAML.stringify({ test_command: p.command }).trimEnd()}
framework: ${p.framework}

# When CI fails, the GitHub Action reruns the failed tests this many times.
auto_trigger_runs: 50
auto_trigger_parallelism: 4

# Fail the flaky-detector step at or above this severity (none: report only).
fail_on: none

notify:
  # Slack and Discord messages at or above this severity (webhooks come from the workflow's secrets).
  on: medium

# Tests known to be flaky: they are still measured, but do not reach fail_on or notify until
# review_by. The pull-request comment suggests entries ready to paste.
quarantine: []
`;
}

function workflowText(p: Project, ci: string): string {
  return `# Reruns the tests that failed in ${JSON.stringify(ci)} and comments on the pull request with which of
# them are flaky. Generated by \`flaky-detector init\`.
name: flaky-detector

on:
  workflow_run:
    workflows: [${JSON.stringify(ci)}]
    types: [completed]

# The least this needs: read the code, comment on the pull request, download the run's artifacts.
permissions:
  contents: read
  pull-requests: write
  actions: read

concurrency:
  group: flaky-detector-\${{ github.event.workflow_run.head_branch }}
  cancel-in-progress: true

jobs:
  detect:
    if: github.event.workflow_run.conclusion == 'failure'
    runs-on: ubuntu-latest
    timeout-minutes: 30
    steps:
      # The failed commit, never the default branch this workflow starts on.
      - uses: actions/checkout@v4
        with:
          ref: \${{ github.event.workflow_run.head_sha }}
          persist-credentials: false
${p.setup ? `${p.setup}\n` : ""}      - uses: ${ACTION_USES}
        with:
          github-token: \${{ secrets.GITHUB_TOKEN }}
          junit-artifact: junit-results
          slack-webhook: \${{ secrets.FLAKY_SLACK_WEBHOOK }}
          discord-webhook: \${{ secrets.FLAKY_DISCORD_WEBHOOK }}
`;
}
