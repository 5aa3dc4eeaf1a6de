import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import YAML from "yaml";
import { cleanEnv, ROOT } from "./cli.js";

/**
 * Run the bundled Action the way the GitHub runner does: `node <main>` from action.yml, inputs as
 * INPUT_<NAME> (action.yml defaults filled in, `${{ github.token }}` substituted), the event
 * payload in GITHUB_EVENT_PATH, and GITHUB_OUTPUT / GITHUB_STEP_SUMMARY files to append to.
 */
export interface ActionRun {
  code: number | null;
  stdout: string;
  stderr: string;
  outputs: Record<string, string>;
  summary: string;
}

export interface ActionSetup {
  dir: string;
  workspace: string;
  event: unknown;
  eventName?: string;
  inputs: Record<string, string>;
  token: string;
  apiUrl: string;
  extraEnv?: NodeJS.ProcessEnv;
}

const ACTION = YAML.parse(readFileSync(join(ROOT, "action.yml"), "utf8")) as {
  inputs: Record<string, { default?: string }>;
  runs: { using: string; main: string };
};

export function runAction(setup: ActionSetup, label: string): Promise<ActionRun> {
  const eventPath = join(setup.dir, `${label}-event.json`);
  const outputPath = join(setup.dir, `${label}-output`);
  const summaryPath = join(setup.dir, `${label}-summary.md`);
  writeFileSync(eventPath, JSON.stringify(setup.event, null, 2));
  writeFileSync(outputPath, "");
  writeFileSync(summaryPath, "");
  const env: NodeJS.ProcessEnv = {
    ...cleanEnv(),
    CI: "true",
    GITHUB_ACTIONS: "true",
    GITHUB_EVENT_NAME: setup.eventName ?? "workflow_run",
    GITHUB_EVENT_PATH: eventPath,
    GITHUB_OUTPUT: outputPath,
    GITHUB_STEP_SUMMARY: summaryPath,
    GITHUB_REPOSITORY: "acme/shop",
    GITHUB_SERVER_URL: "https://github.example",
    GITHUB_API_URL: setup.apiUrl,
    GITHUB_RUN_ID: "9001",
    GITHUB_WORKFLOW: "flaky-detector",
    GITHUB_SHA: "0".repeat(40),
    GITHUB_REF: "refs/heads/main",
    GITHUB_WORKSPACE: setup.workspace,
    RUNNER_TEMP: join(setup.dir, "runner-temp"),
    ...setup.extraEnv,
  };
  for (const [name, def] of Object.entries(ACTION.inputs)) {
    // The runner evaluates expressions in defaults; the only one action.yml uses is github.token.
    const value =
      setup.inputs[name] ?? def.default?.replace(/^\$\{\{ github\.token \}\}$/, setup.token) ?? "";
    env[`INPUT_${name.toUpperCase()}`] = value;
  }
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, ACTION.runs.main)], {
      cwd: setup.workspace,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) =>
      resolve({
        code,
        stdout,
        stderr,
        outputs: parseOutputs(readFileSync(outputPath, "utf8")),
        summary: readFileSync(summaryPath, "utf8"),
      }),
    );
  });
}

/** GITHUB_OUTPUT's format: `name<<DELIMITER`, value lines, `DELIMITER`. */
export function parseOutputs(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const m = lines[i]?.match(/^([^<=]+)<<(.+)$/);
    if (!m) continue;
    const [, name, delimiter] = m;
    const value: string[] = [];
    for (i++; i < lines.length && lines[i] !== delimiter; i++) value.push(lines[i] as string);
    out[name as string] = value.join("\n");
  }
  return out;
}
