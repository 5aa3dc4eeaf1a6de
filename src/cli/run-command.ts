import { resolve } from "node:path";
import { severityAtLeast } from "../analysis/classify.js";
import { expiredQuarantines, gateSeverity, isoDay } from "../analysis/quarantine.js";
import type { Report } from "../analysis/report.js";
import { resolveConfig } from "../config/resolve.js";
import type { Config, Severity } from "../config/schema.js";
import { EXIT, UsageError } from "../errors.js";
import { detect } from "../pipeline/detect.js";
import { formatConsoleSummary } from "../reporters/console.js";
import { writeJsonReport } from "../reporters/json.js";
import { writeJUnitReport } from "../reporters/junit.js";
import { writeMarkdownReport } from "../reporters/markdown.js";
import { createProgress } from "../reporters/progress.js";
import {
  type ParsedCommand,
  parseCommandString,
  parseTestCommand,
  splitAssignments,
} from "../runner/command-line.js";
import { actionsRunUrl, pullRequestOf } from "../source/identity.js";
import type { Store } from "../store/open.js";
import type { RecordMeta } from "../store/record.js";
import { redactUrl } from "../store/target.js";
import { flagsLayer } from "./flags.js";
import { historyTarget } from "./history-command.js";
import { type CliIo, useColor } from "./io.js";

export interface RunOptions {
  repo?: string;
  ref?: string;
  config?: string;
  json?: string;
  progress?: string;
  color?: boolean;
  [flag: string]: unknown;
}

const PROGRESS_MODES = ["auto", "bar", "plain", "none"] as const;
const BACKENDS = ["local", "server", "runpod"] as const;

function backendOf(value: unknown): (typeof BACKENDS)[number] {
  const v = value ?? "local";
  if (!(BACKENDS as readonly unknown[]).includes(v)) {
    throw new UsageError(
      "E_USAGE",
      `--backend: must be one of ${BACKENDS.join(", ")}, got ${JSON.stringify(v)}`,
    );
  }
  return v as (typeof BACKENDS)[number];
}

/** `flaky-detector run`: resolve, detect, report, and turn the result into an exit code. */
export async function runCommand(
  operands: string[],
  options: RunOptions,
  given: (name: string) => boolean,
  io: CliIo,
): Promise<number> {
  const { config, warnings } = resolveConfig({
    cwd: io.cwd,
    env: io.env,
    overrides: flagsLayer(options, given),
    ...(options.config !== undefined ? { configPath: options.config } : {}),
  });
  const backend = backendOf(options.backend);
  const command = backend === "local" ? commandFrom(operands, config) : undefined;
  const mode = progressMode(options.progress, io);

  const progress = createProgress({ stream: io.stderr, mode });
  const controller = new AbortController();
  let interrupts = 0;
  const unregister = io.onInterrupt((signal) => {
    interrupts++;
    if (interrupts === 1) {
      io.stderr.write(`\n${signal}: stopping attempts and cleaning up (again to force)…\n`);
      controller.abort();
    } else {
      process.exit(EXIT.interrupted);
    }
  });

  let report: Report;
  let recordedRemotely: string | undefined;
  const wantsHistory = options.history !== false && config.history.enabled;
  const target = () => historyTarget(options.db as string | undefined, config.history.db, io.env);
  let history: Promise<OpenedHistory> | undefined;
  try {
    // Remote backends, the chat clients and the database drivers load only when used: a local
    // `--no-history` run imports none of them.
    if (backend === "server") {
      const { runOnServerBackend } = await import("../remote/backends.js");
      const remote = await runOnServerBackend(operands, options, config, io, {
        signal: controller.signal,
        emit: progress.sink,
      });
      if (!remote.report) return EXIT.interrupted;
      report = remote.report;
      recordedRemotely = remote.detectionId ?? remote.report.id;
    } else if (backend === "runpod") {
      const { runOnRunpodBackend } = await import("../remote/backends.js");
      try {
        report = await runOnRunpodBackend(operands, options, config, io, {
          signal: controller.signal,
          emit: progress.sink,
        });
      } catch (e) {
        if (!controller.signal.aborted) throw e;
        io.stderr.write("cancelled before any shard finished; the endpoint's jobs were cancelled\n");
        return EXIT.interrupted;
      }
    } else {
      // The store opens (modules, migrations) while the first attempts run, not after the last.
      const emit: typeof progress.sink = (event) => {
        if (event.type === "attempt-finished" && !history && wantsHistory) {
          history = openHistory(target(), io.cwd);
        }
        progress.sink(event);
      };
      report = await detect({
        config,
        command: command as ParsedCommand,
        source: {
          cwd: io.cwd,
          ...(options.repo !== undefined ? { repo: options.repo } : {}),
          ...(options.ref !== undefined ? { ref: options.ref } : {}),
        },
        env: io.env,
        ...(options.test ? { tests: options.test as string[] } : {}),
        ...(typeof options.fromJunit === "string" ? { fromJunit: options.fromJunit } : {}),
        ...(typeof options.junit === "string" ? { junitGlob: options.junit } : {}),
        signal: controller.signal,
        emit,
        warnings,
      });
    }
  } catch (e) {
    void history?.then((h) => h.store?.close()).catch(() => {});
    throw e;
  } finally {
    progress.stop();
    unregister();
  }

  if (recordedRemotely) {
    io.stderr.write(`recorded on the server as detection ${recordedRemotely}\n`);
  } else if (wantsHistory) {
    await recordHistory(history ?? openHistory(target(), io.cwd), report, io, backend, {
      quarantine: config.quarantine,
      today: isoDay(new Date()),
    });
  }
  io.stdout.write(
    formatConsoleSummary(report, { color: useColor(io, io.stdout) && options.color !== false }),
  );
  const outputs: [unknown, (r: Report, f: string) => void][] = [
    [options.json, writeJsonReport],
    [options.junitOut, writeJUnitReport],
    [options.markdown, writeMarkdownReport],
  ];
  for (const [target, write] of outputs) {
    if (typeof target !== "string") continue;
    const file = resolve(io.cwd, target);
    write(report, file);
    io.stderr.write(`report written to ${file}\n`);
  }
  if (report.summary.stopReason === "cancelled") return EXIT.interrupted;
  // Quarantined tests (config `quarantine`, until their review_by) are measured and shown, but
  // neither fail the run nor notify.
  const today = isoDay(new Date());
  const gate = gateSeverity(report, config.quarantine, today);
  for (const w of expiredQuarantines(report.tests, config.quarantine, today))
    io.stderr.write(`warning: ${w}\n`);
  if (gate !== report.summary.severity) {
    io.stderr.write(
      `quarantined tests excluded: severity ${gate.toUpperCase()} counts for --fail-on and notifications\n`,
    );
  }
  await notify(report, config, gate, today, io);
  if (report.summary.verdict === "error") {
    // No complete answer (a requested test never ran, or no attempt could run): never exit 0 as if
    // the tests had been measured.
    io.stderr.write(`flaky-detector: no complete answer: ${report.summary.statement}\n`);
    return EXIT.infra;
  }
  return severityAtLeast(gate, config.fail_on) ? EXIT.flaky : EXIT.ok;
}

function commandFrom(operands: string[], config: Config): ParsedCommand {
  if (operands.length === 1 && /\s/.test(operands[0] as string)) {
    // `flaky-detector run "npm test"`: one quoted string, split like test_command.
    return parseCommandString(operands[0] as string, "command");
  }
  if (operands.length > 0) return splitAssignments(operands, "command");
  const configured = config.test_command;
  if (configured === null) {
    throw new UsageError(
      "E_NO_COMMAND",
      "no test command: pass it after -- (flaky-detector run --runs 50 -- npm test) or set test_command in .flaky-detector.yml",
    );
  }
  return parseTestCommand(configured);
}

function progressMode(requested: string | undefined, io: CliIo): "bar" | "plain" | "none" {
  const value = requested ?? "auto";
  if (!(PROGRESS_MODES as readonly string[]).includes(value)) {
    throw new UsageError(
      "E_USAGE",
      `--progress: must be one of ${PROGRESS_MODES.join(", ")}, got ${JSON.stringify(value)}`,
    );
  }
  if (value === "auto") return io.stderr.isTTY && !io.env.CI ? "bar" : "plain";
  return value as "bar" | "plain" | "none";
}

/** Slack and Discord from `notify` (FLAKY_DETECTOR_NOTIFY__SLACK_WEBHOOK …): a failure only warns. */
async function notify(
  report: Report,
  config: Config,
  gate: Severity,
  today: string,
  io: CliIo,
): Promise<void> {
  const hooks: [string, string | null][] = [
    ["notify.slack_webhook", config.notify.slack_webhook],
    ["notify.discord_webhook", config.notify.discord_webhook],
  ];
  if (hooks.every(([, url]) => url === null)) return;
  const { sendNotifications, validateWebhookUrl } = await import("../notify/send.js");
  const valid = hooks.map(([field, url]) => {
    if (url === null) return null;
    try {
      return validateWebhookUrl(field, url);
    } catch (e) {
      io.stderr.write(`warning: not notifying: ${(e as Error).message}\n`);
      return null;
    }
  });
  if (valid.every((v) => v === null)) return;
  const repository = io.env.GITHUB_REPOSITORY || undefined;
  await sendNotifications(
    report,
    { today, quarantine: config.quarantine, repository },
    { on: config.notify.on, slackWebhook: valid[0] ?? null, discordWebhook: valid[1] ?? null },
    { severity: gate, note: (line) => io.stderr.write(`${line}\n`) },
  );
}

interface OpenedHistory {
  target: string;
  store?: Store;
  recordDetection?: typeof import("../store/record.js").recordDetection;
  error?: Error;
}

/** The history store, opened; a failure is kept for recordHistory to warn about, never thrown. */
async function openHistory(target: string, cwd: string): Promise<OpenedHistory> {
  try {
    const [{ openStore }, { recordDetection }] = await Promise.all([
      import("../store/open.js"),
      import("../store/record.js"),
    ]);
    return { target, store: await openStore(target, cwd), recordDetection };
  } catch (e) {
    return { target, error: e as Error };
  }
}

/** A store failure warns and never fails the detection. */
async function recordHistory(
  opening: Promise<OpenedHistory>,
  report: Report,
  io: CliIo,
  backend: "local" | "runpod" | "server",
  quarantine: Pick<RecordMeta, "quarantine" | "today">,
): Promise<void> {
  const { target, store, recordDetection, error } = await opening;
  try {
    if (error || !store || !recordDetection) throw error ?? new Error("the store did not open");
    await recordDetection(store, report, { trigger: "cli", backend, ...quarantine, ...ciContext(io.env) });
    io.stderr.write(`recorded in ${store.location}\n`);
  } catch (e) {
    io.stderr.write(
      `warning: could not record this detection in ${redactUrl(target)}: ${(e as Error).message}\n`,
    );
  } finally {
    await store?.close().catch(() => {});
  }
}

/** Where a run in GitHub Actions came from: the branch, pull request and run the dashboard links to. */
function ciContext(env: NodeJS.ProcessEnv): Pick<RecordMeta, "branch" | "prNumber" | "ciRunUrl"> {
  if (env.GITHUB_ACTIONS !== "true") return {};
  return {
    branch: env.GITHUB_HEAD_REF || env.GITHUB_REF_NAME || null,
    prNumber: pullRequestOf(env.GITHUB_REF),
    ciRunUrl: actionsRunUrl(env),
  };
}
