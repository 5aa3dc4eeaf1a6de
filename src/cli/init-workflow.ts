import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import YAML from "yaml";
import { ACTION_USES } from "../action/definition.js";
import { UsageError } from "../errors.js";
import type { Project, Step } from "./init-project.js";

/**
 * The workflow `init` writes, and what it reads from the project's own CI workflow: its name, if
 * its jobs run a matrix (each job's artifact needs its own name), and whether the repository pins
 * actions to commit SHAs (then ours are pinned too).
 */

/** Release tags we write, and their commits for repositories that pin (checked against public workflows). */
export const ACTION_PINS: Record<string, { tag: string; sha: string; version: string }> = {
  "actions/checkout": { tag: "v4", sha: "11bd71901bbe5b1630ceea73d27597364c9af683", version: "v4.2.2" },
  "actions/setup-node": { tag: "v4", sha: "49933ea5288caeca8642d1e84afbd3f7d6820020", version: "v4.4.0" },
  "actions/setup-python": { tag: "v5", sha: "a26af69be951a213d495a4c3e4e4022e16d87065", version: "v5.6.0" },
  "actions/setup-go": { tag: "v5", sha: "d35c59abb061a4a6fb18e82ac0862c26744d6ab5", version: "v5.5.0" },
  "pnpm/action-setup": { tag: "v4", sha: "a7487c7e89a18df4991f7f222e4898a00d66ddda", version: "v4.1.0" },
  "actions/upload-artifact": {
    tag: "v4",
    sha: "ea165f8d65b6e75b540449e92b4886f43607fa02",
    version: "v4.6.2",
  },
};

export interface CiWorkflow {
  /** Its `name:` (what workflow_run matches), or its path when unnamed. */
  name: string;
  file: string;
  /** A job with strategy.matrix: every matrix job uploads, so artifact names must differ. */
  matrix: boolean;
}

interface WorkflowDoc {
  name?: unknown;
  on?: unknown;
  true?: unknown;
  jobs?: Record<string, { strategy?: { matrix?: unknown }; steps?: { uses?: unknown }[] }>;
}

function workflows(dir: string): { file: string; doc: WorkflowDoc }[] {
  const wfDir = join(dir, ".github/workflows");
  if (!existsSync(wfDir)) return [];
  const out: { file: string; doc: WorkflowDoc }[] = [];
  for (const f of readdirSync(wfDir)
    .filter((f) => /\.ya?ml$/.test(f) && f !== "flaky-detector.yml")
    .sort()) {
    try {
      const doc = YAML.parse(readFileSync(join(wfDir, f), "utf8")) as WorkflowDoc | null;
      if (doc && typeof doc === "object") out.push({ file: `.github/workflows/${f}`, doc });
    } catch {
      // A workflow we cannot parse is not one we can watch.
    }
  }
  return out;
}

/** Does any workflow pin an action to a full commit SHA? */
export function pinsActions(dir: string): boolean {
  return workflows(dir).some(({ doc }) =>
    Object.values(doc.jobs ?? {}).some((job) =>
      (job?.steps ?? []).some((s) => typeof s?.uses === "string" && /@[0-9a-f]{40}\b/.test(s.uses)),
    ),
  );
}

/** The CI workflow to watch: the one that runs on pull requests or pushes, by its `name:`. */
export function detectCiWorkflow(dir: string, wanted?: string): CiWorkflow {
  const candidates: CiWorkflow[] = [];
  for (const { file, doc } of workflows(dir)) {
    const on = doc.on ?? doc.true;
    const events =
      typeof on === "string"
        ? [on]
        : Array.isArray(on)
          ? on
          : on && typeof on === "object"
            ? Object.keys(on)
            : [];
    const matrix = Object.values(doc.jobs ?? {}).some((j) => j?.strategy?.matrix !== undefined);
    const name = typeof doc.name === "string" ? doc.name : file;
    if (wanted !== undefined) {
      if (name === wanted || file === wanted) return { name, file, matrix };
      continue;
    }
    if (events.includes("pull_request") || events.includes("push")) candidates.push({ name, file, matrix });
  }
  if (wanted !== undefined) return { name: wanted, file: "", matrix: false };
  const preferred = candidates.filter((c) => /^(ci|tests?|build)$/i.test(c.name));
  if (candidates.length === 1) return candidates[0] as CiWorkflow;
  if (preferred.length === 1) return preferred[0] as CiWorkflow;
  throw new UsageError(
    "E_INIT_WORKFLOW",
    candidates.length === 0
      ? 'no CI workflow found in .github/workflows (one that runs on pull_request or push); pass --ci-workflow "<its name>"'
      : `several CI workflows: ${candidates.map((c) => JSON.stringify(c.name)).join(", ")}; pass --ci-workflow "<the one running your tests>"`,
  );
}

/** `owner/action@v4`, or `owner/action@<sha>` with its version in a comment where the repository pins. */
export function usesLine(action: string, pinned: boolean): string {
  const pin = ACTION_PINS[action];
  if (!pin) return action;
  return pinned ? `${action}@${pin.sha} # ${pin.version}` : `${action}@${pin.tag}`;
}

/** Artifact names: one per matrix job (upload-artifact refuses a name twice in a run), and the glob that finds them. */
export function artifactNames(ci: CiWorkflow): { upload: string; glob: string } {
  return ci.matrix
    ? // biome-ignore lint/suspicious/noTemplateCurlyInString: a GitHub Actions expression, not ours
      { upload: "junit-${{ github.job }}-${{ strategy.job-index }}", glob: "junit-*" }
    : { upload: "junit-results", glob: "junit-results" };
}

function stepText(step: Step, pinned: boolean): string {
  if ("run" in step) return `      - run: ${step.run}${step.shell ? `\n        shell: ${step.shell}` : ""}`;
  const withLines = Object.entries(step.with ?? {}).map(
    ([k, v]) => `          ${k}: ${typeof v === "string" && /^[\d.]+x?$/.test(v) ? JSON.stringify(v) : v}`,
  );
  return [
    `      - uses: ${usesLine(step.uses, pinned)}`,
    ...(withLines.length > 0 ? ["        with:", ...withLines] : []),
  ].join("\n");
}

export function workflowText(p: Project, ci: CiWorkflow, pinned: boolean): string {
  const names = artifactNames(ci);
  const env = Object.entries(p.env ?? {}).map(([k, v]) => `          ${k}: ${JSON.stringify(v)}`);
  return `# Reruns the tests that failed in ${JSON.stringify(ci.name)} and comments on the pull request with which of
# them are flaky. Generated by \`flaky-detector init\`.
#
# GitHub starts workflow_run workflows only from the default branch: nothing runs until this file
# is merged there (a pull request that adds it does not trigger it).
name: flaky-detector

on:
  workflow_run:
    workflows: [${JSON.stringify(ci.name)}]
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
      - uses: ${usesLine("actions/checkout", pinned)}
        with:
          ref: \${{ github.event.workflow_run.head_sha }}
          persist-credentials: false
${p.setup.map((s) => `${stepText(s, pinned)}\n`).join("")}      - uses: ${ACTION_USES}${pinned ? " # pin to a release commit of flaky-detector/flaky-detector" : ""}
${env.length > 0 ? `        env:\n${env.join("\n")}\n` : ""}        with:
          github-token: \${{ secrets.GITHUB_TOKEN }}
          junit-artifact: ${JSON.stringify(names.glob)}
          slack-webhook: \${{ secrets.FLAKY_SLACK_WEBHOOK }}
          discord-webhook: \${{ secrets.FLAKY_DISCORD_WEBHOOK }}
`;
}

/** The lines a person adds to the CI workflow's test job: the reporter, and the upload step. */
export function ciAdditions(p: Project, ci: CiWorkflow, pinned: boolean): string[] {
  if (!p.resultsPath)
    return [p.junit || "no per-test results to upload: the Action reruns the whole command"];
  const names = artifactNames(ci);
  return [
    `${p.junit}`,
    "then, after the test step:",
    `- uses: ${usesLine("actions/upload-artifact", pinned)}`,
    "  if: always()",
    "  with:",
    `    name: ${names.upload}`,
    `    path: ${p.resultsPath}`,
    ...(ci.matrix
      ? [`(one artifact per matrix job; the Action reads every artifact matching ${names.glob})`]
      : []),
  ];
}
