import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import YAML from "yaml";
import { resolveConfig } from "../config/resolve.js";
import { EXIT, UsageError } from "../errors.js";
import { detectProject, type Project } from "./init-project.js";
import { ciAdditions, detectCiWorkflow, pinsActions, workflowText } from "./init-workflow.js";
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
  const ci = detectCiWorkflow(dir, options.ciWorkflow);
  const pinned = pinsActions(dir);

  const config = configText(project);
  writeFileSync(targets[0] as string, config);
  // What init writes must be what run accepts: validate it through the real loader.
  resolveConfig({ cwd: dir, env: {}, configPath: targets[0] as string });
  mkdirSync(dirname(targets[1] as string), { recursive: true });
  writeFileSync(targets[1] as string, workflowText(project, ci, pinned));

  io.stdout.write(
    [
      `wrote ${CONFIG_FILE} (${project.framework}: ${project.command})`,
      `wrote ${WORKFLOW_FILE} (runs when the workflow ${JSON.stringify(ci.name)} fails${pinned ? "; actions pinned to commits, as this repository does" : ""})`,
      ...project.notes.map((n) => `note: ${n}`),
      "",
      "Next:",
      `  1. In ${ci.file || JSON.stringify(ci.name)}, write per-test results and upload them as an artifact:`,
      ...ciAdditions(project, ci, pinned).map((l) => `       ${l}`),
      "     (without it, the whole test command is rerun instead of only the failed tests)",
      "  2. Optional secrets: FLAKY_SLACK_WEBHOOK, FLAKY_DISCORD_WEBHOOK (Settings → Secrets and variables → Actions).",
      "  3. Commit both files and merge them to the default branch: GitHub runs workflow_run workflows only",
      "     from there. From then on, a failed CI run on a pull request gets a comment saying which tests are flaky.",
      "",
    ].join("\n"),
  );
  return EXIT.ok;
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
