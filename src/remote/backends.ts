import type { EventSink } from "../analysis/events.js";
import type { Report } from "../analysis/report.js";
import { defaultConfig } from "../config/defaults.js";
import type { Config } from "../config/schema.js";
import { UsageError } from "../errors.js";
import { failedTestsOf } from "../pipeline/detect.js";
import { parseTestCommand } from "../runner/command-line.js";
import { JOB_CONFIG_KEYS } from "../server/job-input.js";
import { actionsRunUrl, pullRequestOf } from "../source/identity.js";
import { fanOut } from "./fan-out.js";
import { RunpodTransport } from "./runpod-client.js";
import { runOnServer, type ServerJobResult } from "./server-client.js";

/**
 * The remote backends of a detection, shared by `flaky-detector run` and the GitHub Action. Options
 * use the CLI's names (repo, url, apiKey, endpointId, runpodApi, test, fromJunit, junit); the
 * Action checks its own inputs before it gets here.
 */
export interface RemoteOptions {
  repo?: string | undefined;
  ref?: string | undefined;
  /**
   * Where the request comes from, for the server's history: the Action knows the failed run's
   * branch, pull request and URL; without this, GitHub Actions' variables say them.
   */
  ci?: { branch: string | null; prNumber: number | null; runUrl: string | null } | undefined;
  [flag: string]: unknown;
}

/** What a remote run touches: where relative paths start, the environment and a line for the user. */
export interface RemoteIo {
  cwd: string;
  env: NodeJS.ProcessEnv;
  stderr: { write(line: string): unknown };
}

/** Flags that act on this machine only and mean nothing to a server's job. */
const LOCAL_ONLY: [string, string][] = [
  ["saveFullOutput", "--save-full-output"],
  ["preserveTempDir", "--preserve-temp-dir"],
];

/**
 * `run --backend server`: the same request as a local run, sent to `flaky-detector serve`. The job
 * carries the settings that differ from the defaults (so the server's CPU count decides parallelism
 * unless it was set), the test ids of --test and --from-junit, and the CI branch.
 */
export async function runOnServerBackend(
  operands: string[],
  options: RemoteOptions,
  config: Config,
  io: RemoteIo,
  run: { signal: AbortSignal; emit: EventSink },
): Promise<ServerJobResult> {
  if (typeof options.url !== "string") {
    throw new UsageError(
      "E_USAGE",
      "--backend server needs --url (the server's address, e.g. http://127.0.0.1:8080)",
    );
  }
  const input = jobInputOf("server", operands, options, config, io);
  const policy: Record<string, unknown> = {};
  // The server stops a job at policy.executionTimeout (10 min by default): give a job that has its
  // own budget that budget plus time to clone and install.
  if (config.job_timeout !== null) {
    policy.executionTimeout = Math.min(7 * 24 * 3600 * 1000, Math.round((config.job_timeout + 600) * 1000));
  }
  const apiKey =
    typeof options.apiKey === "string" ? options.apiKey : io.env.FLAKY_DETECTOR_API_KEY || undefined;
  return runOnServer({
    url: options.url,
    apiKey,
    body: { input, ...(Object.keys(policy).length > 0 ? { policy } : {}) },
    emit: run.emit,
    signal: run.signal,
    note: (line) => io.stderr.write(`${line}\n`),
  });
}

/**
 * `run --backend runpod`: the detection fans out as shards over a RunPod Serverless endpoint whose
 * workers run `flaky-detector worker runpod`; this machine merges them into the report.
 */
export async function runOnRunpodBackend(
  operands: string[],
  options: RemoteOptions,
  config: Config,
  io: RemoteIo,
  run: { signal: AbortSignal; emit: EventSink },
): Promise<Report> {
  const endpointId =
    typeof options.endpointId === "string" ? options.endpointId : io.env.RUNPOD_ENDPOINT_ID || undefined;
  if (!endpointId) {
    throw new UsageError(
      "E_USAGE",
      "--backend runpod needs --endpoint-id (or RUNPOD_ENDPOINT_ID): the serverless endpoint running flaky-detector worker runpod",
    );
  }
  const apiKey = typeof options.apiKey === "string" ? options.apiKey : io.env.RUNPOD_API_KEY || undefined;
  if (!apiKey) {
    throw new UsageError(
      "E_USAGE",
      "--backend runpod needs a RunPod API key: set RUNPOD_API_KEY (or --api-key)",
    );
  }
  const input = jobInputOf("runpod", operands, options, config, io);
  const note = (line: string) => io.stderr.write(`${line}\n`);
  const transport = new RunpodTransport({
    endpointId,
    apiKey,
    ...(typeof options.runpodApi === "string" ? { apiBase: options.runpodApi } : {}),
    note,
  });
  const command = parseTestCommand(input.test_command as string | string[]);
  return fanOut({
    input,
    config,
    command,
    transport,
    env: io.env,
    requestedTests: (input.tests as string[] | undefined) ?? [],
    emit: run.emit,
    signal: run.signal,
    note,
  });
}

/** The job input of a remote run: the settings that differ from the defaults, and what to run. */
export function jobInputOf(
  backend: string,
  operands: string[],
  options: RemoteOptions,
  config: Config,
  io: RemoteIo,
): Record<string, unknown> {
  if (options.repo === undefined) {
    throw new UsageError(
      "E_USAGE",
      `--backend ${backend} needs --repo: a git URL the ${backend === "server" ? "server" : "workers"} can clone${backend === "server" ? ", or a path under one of its --allow-path roots" : ""}`,
    );
  }
  for (const [key, flag] of LOCAL_ONLY) {
    if (options[key]) throw new UsageError("E_USAGE", `${flag} works with --backend local only`);
  }
  const defaults = defaultConfig() as unknown as Record<string, unknown>;
  const values = config as unknown as Record<string, unknown>;
  const input: Record<string, unknown> = { repo: options.repo };
  for (const key of Object.keys(JOB_CONFIG_KEYS)) {
    if (JSON.stringify(values[key]) !== JSON.stringify(defaults[key])) input[key] = values[key];
  }
  if (options.ref !== undefined) input.ref = options.ref;
  input.test_command = commandOf(operands, config);
  const tests = [
    ...((options.test as string[] | undefined) ?? []),
    ...(typeof options.fromJunit === "string" ? failedTestsOf(options.fromJunit, io.cwd) : []),
  ];
  if (tests.length > 0) input.tests = [...new Set(tests)];
  if (typeof options.junit === "string") input.junit = options.junit;
  const ci =
    options.ci ??
    (io.env.GITHUB_ACTIONS === "true"
      ? {
          branch: io.env.GITHUB_HEAD_REF || io.env.GITHUB_REF_NAME || null,
          prNumber: pullRequestOf(io.env.GITHUB_REF),
          runUrl: actionsRunUrl(io.env),
        }
      : undefined);
  if (ci?.branch) input.branch = ci.branch;
  if (ci?.prNumber) input.pr_number = ci.prNumber;
  // The server refuses anything but https without credentials: a GHES run on http is left out.
  if (ci?.runUrl && /^https:\/\/[^@/]+\//.test(ci.runUrl)) input.ci_run_url = ci.runUrl;
  return input;
}

function commandOf(operands: string[], config: Config): string | string[] {
  if (operands.length === 1) return operands[0] as string;
  if (operands.length > 0) return operands;
  if (config.test_command === null) {
    throw new UsageError(
      "E_NO_COMMAND",
      "no test command: pass it after -- (flaky-detector run --backend server … -- npm test) or set test_command in .flaky-detector.yml",
    );
  }
  return config.test_command;
}
