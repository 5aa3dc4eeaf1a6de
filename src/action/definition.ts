/**
 * The Action's inputs and outputs, defined once: action.yml is generated from this file
 * (`npm run build:action`) and the entry reads inputs by these names only.
 */

export interface InputDef {
  description: string;
  /** Default written to action.yml (GitHub substitutes expressions). */
  default?: string;
}

export const INPUTS = {
  command: {
    description:
      "Test command to rerun (e.g. `npm test`, `python -m pytest`). Default: `test_command` of the config file.",
  },
  runs: {
    description: "Attempt budget. Default: `auto_trigger_runs` of the config file (50).",
  },
  parallelism: {
    description: "Concurrent attempts. Default: `auto_trigger_parallelism` of the config file (4).",
  },
  framework: {
    description: "auto, pytest, jest, vitest, mocha, node-test, go, cargo, playwright, junit or command.",
  },
  tests: {
    description: "Test ids to rerun, one per line. Default: the failed tests of the JUnit results.",
  },
  "junit-path": {
    description:
      "Glob of JUnit XML files from the failed run on this runner (same-job use). In workflow_run mode the artifacts are downloaded instead.",
  },
  "junit-artifact": {
    description: "Name (glob) of the failed run's artifacts holding JUnit XML.",
    default: "*junit*",
  },
  backend: { description: "Where attempts run: local, server or runpod.", default: "local" },
  "server-url": { description: "backend server: the URL of `flaky-detector serve`." },
  "api-key": {
    description: "backend server: the server's API key; backend runpod: the RunPod API key. Pass a secret.",
  },
  "endpoint-id": { description: "backend runpod: the Serverless endpoint id." },
  "runpod-api": { description: "backend runpod: API base URL (default https://api.runpod.ai/v2)." },
  "repository-url": {
    description:
      "backend server or runpod: git URL the workers clone. Default: this repository on the GitHub server.",
  },
  "github-token": {
    description: "Token for the pull-request comment and artifact downloads.",
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a GitHub Actions expression, not a JS template
    default: "${{ github.token }}",
  },
  comment: { description: "Create or update the one pull-request comment.", default: "true" },
  summary: { description: "Write the job summary.", default: "true" },
  annotations: { description: "Annotate test files of flaky and failing tests.", default: "true" },
  "slack-webhook": { description: "Slack incoming-webhook URL. Pass a secret." },
  "discord-webhook": { description: "Discord webhook URL. Pass a secret." },
  "notify-on": {
    description:
      "Notify at or above this severity: critical, high, medium, low or none. Default: `notify.on` (medium).",
  },
  "fail-on": {
    description:
      "Fail this step when a test reaches this severity: critical, high, medium, low or none. Default: `fail_on` (none).",
  },
  config: { description: "Path of the config file. Default: .flaky-detector.yml when present." },
  "dashboard-url": { description: "URL of your flaky-detector dashboard, linked from the comment." },
  "allow-forks": {
    description:
      "Rerun pull requests from forks. Their code then runs with this workflow's token and secrets: leave false unless you trust every fork.",
    default: "false",
  },
} as const satisfies Record<string, InputDef>;

export type InputName = keyof typeof INPUTS;

export const OUTPUTS = {
  severity: {
    description: "Highest severity: critical, high, medium, low or none (skipped when nothing ran).",
  },
  verdict: { description: "stable, flaky, failing or error; skipped when the triggering run did not fail." },
  "failure-rate": { description: "Failure rate of the rerun command, 0..1." },
  "flaky-tests": { description: "JSON array of the flaky tests: id, failures, attempts, rate, severity." },
  "report-path": { description: "Path of the JSON report." },
  "comment-url": { description: "URL of the pull-request comment, when one was written." },
} as const satisfies Record<string, { description: string }>;

export type OutputName = keyof typeof OUTPUTS;

/** What `flaky-detector init` writes in `uses:`. */
export const ACTION_USES = "flaky-detector/flaky-detector@v0";
