import { appendFileSync, existsSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { isAbsolute, join, relative, resolve, sep } from "node:path";
import * as core from "@actions/core";
import { severityAtLeast } from "../analysis/classify.js";
import { expiredQuarantines, gateSeverity, isoDay } from "../analysis/quarantine.js";
import type { Report } from "../analysis/report.js";
import type { RawLayer } from "../config/layer.js";
import { resolveConfig } from "../config/resolve.js";
import type { Config } from "../config/schema.js";
import { EXIT, InfraError, isFlakyDetectorError, UsageError } from "../errors.js";
import { sendNotifications } from "../notify/send.js";
import { ciFailuresIn, detect } from "../pipeline/detect.js";
import { resolveFramework } from "../pipeline/framework.js";
import { type CiFailure, idsWithoutListing } from "../pipeline/resolve-tests.js";
import { globFiles } from "../pipeline/results.js";
import { runOnRunpodBackend, runOnServerBackend } from "../remote/backends.js";
import { annotationsOf, formatComment, formatSummary, type RunContext } from "../reporters/github.js";
import { writeJsonReport } from "../reporters/json.js";
import { createProgress } from "../reporters/progress.js";
import { type ParsedCommand, parseCommandString, parseTestCommand } from "../runner/command-line.js";
import { readResultFile } from "../util/read-limited.js";
import { extractJUnit } from "./artifacts.js";
import { ensureCommit } from "./checkout.js";
import type { OutputName } from "./definition.js";
import { readTrigger, type Trigger } from "./event.js";
import {
  downloadArtifact,
  findPullRequest,
  type GitHub,
  githubClient,
  runArtifacts,
  upsertComment,
} from "./github.js";
import { type ActionInputs, readInputs } from "./inputs.js";

/** GitHub shows at most 10 annotations of each level per step; the rest would be dropped silently. */
const ANNOTATIONS_PER_LEVEL = 10;

const setOutput = (name: OutputName, value: string) => core.setOutput(name, value);

/**
 * The Action: find what failed and where, rerun it, and tell people — PR comment, job summary,
 * annotations, Slack, Discord. Returns the process exit code.
 */
export async function runAction(env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const controller = new AbortController();
  const stop = () => controller.abort();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  try {
    return await act(env, controller.signal);
  } catch (e) {
    // The one error boundary: a bad input or config, an infrastructure failure (never reported as a
    // test result) or a bug, each with its own exit code.
    if (isFlakyDetectorError(e)) {
      const text = [e.message, ...e.details.map((l) => `  │ ${l}`)].join("\n");
      core.setFailed(
        e.kind === "infra" ? `infrastructure error, not a test result (${e.code}): ${text}` : text,
      );
      return e.exitCode;
    }
    core.setFailed(`internal error (a bug in flaky-detector): ${(e as Error)?.stack ?? String(e)}`);
    return EXIT.internal;
  } finally {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
  }
}

async function act(env: NodeJS.ProcessEnv, signal: AbortSignal): Promise<number> {
  const inputs = readInputs(env);
  for (const secret of [inputs.githubToken, inputs.apiKey, inputs.slackWebhook, inputs.discordWebhook]) {
    if (secret) core.setSecret(secret);
  }
  const trigger = readTrigger(env);
  const workspace = resolve(env.GITHUB_WORKSPACE || process.cwd());
  const note = (line: string) => core.info(line);

  if (trigger.mode === "workflow_run" && trigger.conclusion !== "failure") {
    core.info(
      `${trigger.runName} concluded ${trigger.conclusion ?? "without a conclusion"}: nothing failed, nothing to rerun`,
    );
    return skipped();
  }
  if (trigger.fromFork && !inputs.allowForks) {
    core.notice(
      "this pull request comes from a fork: its code would run with this workflow's token and secrets, so it is not rerun (set allow-forks: true to accept that)",
    );
    return skipped();
  }

  const gh = inputs.githubToken
    ? githubClient(inputs.githubToken, trigger.apiUrl, (l) => core.warning(l))
    : null;
  const repo = { owner: trigger.owner, repo: trigger.repo };
  if (trigger.mode === "workflow_run" && inputs.backend === "local") {
    await ensureCommit(
      workspace,
      trigger.headSha,
      trigger.prNumber,
      { env, token: inputs.githubToken, serverUrl: trigger.serverUrl },
      note,
    );
  }

  const { config, warnings } = resolveConfig({
    cwd: workspace,
    env,
    overrides: inputsLayer(inputs),
    ...(inputs.config ? { configPath: inputs.config } : {}),
  });
  if (trigger.mode === "workflow_run" && !config.auto_trigger_on_failure) {
    core.info("auto_trigger_on_failure is false in the config file: not rerunning");
    return skipped();
  }
  config.runs = inputs.runs ?? config.auto_trigger_runs;
  config.parallelism = inputs.parallelism ?? config.auto_trigger_parallelism;
  const today = isoDay(new Date());

  let prNumber = trigger.prNumber;
  if (prNumber === null && gh) {
    const pr = await findPullRequest(gh, repo, trigger.headSha).catch((e: Error) => {
      core.warning(`could not look up the pull request of ${trigger.headSha.slice(0, 7)}: ${e.message}`);
      return null;
    });
    prNumber = pr?.number ?? null;
  }
  const ctx: RunContext = {
    repository: `${trigger.owner}/${trigger.repo}`,
    prNumber: prNumber ?? undefined,
    prUrl:
      prNumber !== null
        ? `${trigger.serverUrl}/${trigger.owner}/${trigger.repo}/pull/${prNumber}`
        : undefined,
    runUrl: trigger.runUrl ?? undefined,
    runName: trigger.runName ?? undefined,
    detectionUrl: trigger.mode === "workflow_run" ? (trigger.detectionUrl ?? undefined) : undefined,
    sha: trigger.headSha,
    dashboardUrl: inputs.dashboardUrl ?? undefined,
    quarantine: config.quarantine,
    today,
  };

  const command = commandOf(inputs, config);
  const tests = await testsToRerun(inputs, trigger, workspace, gh, env, signal);
  const report = await detectOn(
    inputs,
    trigger,
    config,
    command,
    tests,
    workspace,
    env,
    signal,
    warnings,
    prNumber,
  );
  for (const w of new Set([...warnings, ...report.warnings])) core.warning(w);

  const reportPath = join(env.RUNNER_TEMP || tmpdir(), "flaky-detector", `report-${report.id}.json`);
  writeJsonReport(report, reportPath);
  setOutput("report-path", reportPath);
  const gate = gateSeverity(report, config.quarantine, today);
  for (const w of expiredQuarantines(report.tests, config.quarantine, today)) core.warning(w);
  setOutput("severity", gate);
  setOutput("verdict", report.summary.verdict);
  setOutput("failure-rate", String(report.summary.failureRate));
  setOutput(
    "flaky-tests",
    JSON.stringify(
      report.tests
        .filter((t) => t.verdict === "flaky")
        .map((t) => ({
          id: t.id,
          failures: t.failures,
          attempts: t.attempts,
          failureRate: t.failureRate,
          severity: t.severity,
        })),
    ),
  );

  if (inputs.comment) await comment(gh, repo, prNumber, report, ctx);
  if (inputs.summary && env.GITHUB_STEP_SUMMARY)
    appendFileSync(env.GITHUB_STEP_SUMMARY, formatSummary(report, ctx));
  if (inputs.annotations) annotate(report, workspace);
  await sendNotifications(
    report,
    ctx,
    {
      on: config.notify.on,
      slackWebhook: inputs.slackWebhook ?? config.notify.slack_webhook,
      discordWebhook: inputs.discordWebhook ?? config.notify.discord_webhook,
    },
    {
      severity: gate,
      note: (l) => (l.startsWith("warning: ") ? core.warning(l.slice(9)) : core.info(l)),
      signal,
    },
  );

  if (report.summary.stopReason === "cancelled") {
    core.setFailed("cancelled");
    return EXIT.interrupted;
  }
  if (severityAtLeast(gate, config.fail_on)) {
    core.setFailed(`severity ${gate.toUpperCase()} reached fail-on ${config.fail_on.toUpperCase()}`);
    return EXIT.flaky;
  }
  if (report.summary.verdict === "error") {
    // The comment says what could not be rerun; the step must not pass as if it had been measured.
    core.setFailed(`no complete answer: ${report.summary.statement}`);
    return EXIT.infra;
  }
  return EXIT.ok;
}

function skipped(): number {
  setOutput("verdict", "skipped");
  setOutput("severity", "skipped");
  return EXIT.ok;
}

/** Inputs that are config keys, as the highest-precedence layer (so the config's checks apply). */
function inputsLayer(inputs: ActionInputs): RawLayer {
  const values: Record<string, unknown> = {};
  const names: Record<string, string> = {};
  const set = (key: string, value: unknown, input: string) => {
    if (value === null) return;
    values[key] = value;
    names[key] = input;
  };
  set("framework", inputs.framework, "framework");
  set("fail_on", inputs.failOn, "fail-on");
  if (inputs.notifyOn !== null) {
    values.notify = { on: inputs.notifyOn };
    names.notify = "notify-on";
  }
  return {
    values,
    origin: {
      label: "action inputs",
      where: (path) => `from input ${names[String(path[0])] ?? String(path[0])}`,
    },
  };
}

function commandOf(inputs: ActionInputs, config: Config): ParsedCommand {
  if (inputs.command !== null) return parseCommandString(inputs.command, "input command");
  if (config.test_command === null) {
    throw new UsageError(
      "E_NO_COMMAND",
      "input command: no test command; set `command:` (e.g. `npm test`) or test_command in .flaky-detector.yml",
    );
  }
  return parseTestCommand(config.test_command);
}

/** What to rerun: the tests input, or the failures of the JUnit files on disk or of the failed run's artifacts. */
interface Rerun {
  tests: string[];
  ciFailures: CiFailure[];
}

/** The tests that failed in CI: the tests input, the JUnit files on disk, or the failed run's artifacts. */
async function testsToRerun(
  inputs: ActionInputs,
  trigger: Trigger,
  workspace: string,
  gh: GitHub | null,
  env: NodeJS.ProcessEnv,
  signal: AbortSignal,
): Promise<Rerun> {
  const none: Rerun = { tests: [], ciFailures: [] };
  if (inputs.tests.length > 0) return { tests: inputs.tests, ciFailures: [] };
  let files: string[] = [];
  let from = "";
  if (inputs.junitPath !== null) {
    files = globFiles(workspace, inputs.junitPath);
    from = `files matching ${inputs.junitPath}`;
  } else if (trigger.mode === "workflow_run" && trigger.runId !== null) {
    if (!gh) {
      core.warning(
        "no github-token: cannot download the failed run's JUnit artifacts; rerunning the whole command",
      );
      return none;
    }
    const repo = { owner: trigger.owner, repo: trigger.repo };
    const artifacts = await runArtifacts(gh, repo, trigger.runId, inputs.junitArtifact);
    from = `artifacts matching ${JSON.stringify(inputs.junitArtifact)} of ${trigger.runName}`;
    const dir = join(env.RUNNER_TEMP || tmpdir(), "flaky-detector", `junit-${trigger.runId}`);
    mkdirSync(dir, { recursive: true });
    const used = { bytes: 0 };
    for (const a of artifacts) {
      if (signal.aborted) break;
      const zip = await downloadArtifact(gh, repo, a.id, a.name);
      files.push(...extractJUnit(zip, a.name, join(dir, String(a.id)), used));
    }
    core.info(
      `downloaded ${artifacts.length} artifact(s) with ${files.length} result file(s) (JUnit XML, go test -json)`,
    );
  }
  if (files.length === 0) {
    if (from) core.info(`no JUnit results found (${from}): rerunning the whole command`);
    return none;
  }
  const failures: CiFailure[] = [];
  for (const f of files) {
    let text: string;
    try {
      text = readResultFile(f);
    } catch (e) {
      core.warning(`JUnit results: skipped ${(e as Error).message}`);
      continue;
    }
    try {
      failures.push(...ciFailuresIn(text, f, "JUnit results"));
    } catch (e) {
      // One unreadable file (another tool's JSON, a truncated XML) does not hide the others.
      core.warning(`JUnit results: skipped ${(e as Error).message}`);
    }
  }
  if (failures.length === 0) {
    core.info(`the JUnit results (${from}) list no failed test: rerunning the whole command`);
    return none;
  }
  core.info(`rerunning the ${failures.length} failure(s) of ${from}`);
  return { tests: [], ciFailures: failures };
}

async function detectOn(
  inputs: ActionInputs,
  trigger: Trigger,
  config: Config,
  command: ParsedCommand,
  rerun: Rerun,
  workspace: string,
  env: NodeJS.ProcessEnv,
  signal: AbortSignal,
  warnings: string[],
  prNumber: number | null,
): Promise<Report> {
  const { tests, ciFailures } = rerun;
  const progress = createProgress({ stream: process.stdout, mode: "plain" });
  try {
    if (inputs.backend === "local") {
      return await detect({
        config,
        command,
        source: { cwd: workspace },
        env,
        ...(tests.length > 0 ? { tests } : {}),
        ...(ciFailures.length > 0 ? { ciFailures } : {}),
        signal,
        emit: progress.sink,
        warnings,
      });
    }
    const options = {
      repo: inputs.repositoryUrl ?? `${trigger.serverUrl}/${trigger.owner}/${trigger.repo}.git`,
      ref: trigger.headSha,
      url: inputs.serverUrl ?? undefined,
      apiKey: inputs.apiKey ?? undefined,
      endpointId: inputs.endpointId ?? undefined,
      runpodApi: inputs.runpodApi ?? undefined,
      // The server's history records the failed run's branch, pull request and URL, not this
      // workflow's (a workflow_run job runs on the default branch).
      ci: { branch: trigger.headBranch, prNumber, runUrl: trigger.runUrl },
      ...(tests.length > 0 || ciFailures.length > 0
        ? { test: [...tests, ...remoteIds(config, command, workspace, ciFailures)] }
        : {}),
    };
    // The command as written (the input, else test_command from the config): re-joining the parsed
    // argv with spaces would lose its quoting.
    const operands = inputs.command !== null ? [inputs.command] : [];
    const io = { cwd: workspace, env, stderr: { write: (l: string) => core.info(l.replace(/\n$/, "")) } };
    const run = { signal, emit: progress.sink };
    if (inputs.backend === "server") {
      const remote = await runOnServerBackend(operands, options, config, io, run);
      if (!remote.report) throw new InfraError("E_CANCELLED", "the server job ended without a report");
      return remote.report;
    }
    return await runOnRunpodBackend(operands, options, config, io, run);
  } finally {
    progress.stop();
  }
}

/**
 * A remote backend gets ids, not CI testcases: the adapter's reading of them (the listing that
 * resolves them is local; docs/design/ci-ids.md).
 */
function remoteIds(
  config: Config,
  command: ParsedCommand,
  workspace: string,
  failures: readonly CiFailure[],
): string[] {
  let adapter: ReturnType<typeof resolveFramework>["adapter"] | undefined;
  try {
    adapter = resolveFramework(config, command.argv, workspace, undefined).adapter;
  } catch {
    adapter = undefined;
  }
  return idsWithoutListing(failures, adapter, workspace);
}

async function comment(
  gh: GitHub | null,
  repo: { owner: string; repo: string },
  prNumber: number | null,
  report: Report,
  ctx: RunContext,
) {
  if (prNumber === null) {
    core.info("no pull request for this commit: no comment (the job summary has the results)");
    return;
  }
  if (!gh) {
    core.warning("no github-token: cannot comment on the pull request");
    return;
  }
  try {
    const result = await upsertComment(gh, repo, prNumber, formatComment(report, ctx));
    setOutput("comment-url", result.url);
    core.info(`pull request #${prNumber}: comment ${result.action} (${result.url})`);
  } catch (e) {
    const status = (e as { status?: number }).status;
    const hint = status === 403 || status === 404 ? " (does the workflow grant `pull-requests: write`?)" : "";
    core.warning(`could not write the pull-request comment: ${(e as Error).message}${hint}`);
  }
}

function annotate(report: Report, workspace: string): void {
  const count = { warning: 0, error: 0 };
  for (const a of annotationsOf(report)) {
    const file = repoPath(a.file, workspace);
    if (file === null || count[a.level] >= ANNOTATIONS_PER_LEVEL) continue;
    count[a.level]++;
    const props = { title: a.title, file, ...(a.line !== undefined ? { startLine: a.line } : {}) };
    if (a.level === "error") core.error(a.message, props);
    else core.warning(a.message, props);
  }
}

/**
 * A test file as a path in the repository. Frameworks report paths relative to where they ran or
 * absolute inside a temporary slot copy: keep the longest tail that exists in the workspace.
 */
function repoPath(file: string, workspace: string): string | null {
  if (!isAbsolute(file)) return existsSync(join(workspace, file)) ? file.split(sep).join("/") : null;
  const inside = relative(workspace, file);
  if (!inside.startsWith("..") && existsSync(file)) return inside.split(sep).join("/");
  const parts = file.split(sep).filter(Boolean);
  for (let i = 0; i < parts.length; i++) {
    const tail = parts.slice(i).join("/");
    if (existsSync(join(workspace, tail))) return tail;
  }
  return null;
}
