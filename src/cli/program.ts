import { Command, CommanderError, Option } from "commander";
import { FRAMEWORKS, ISOLATIONS, SEVERITIES, STOP_RULES } from "../config/enums.js";
import { EXIT, UsageError } from "../errors.js";
import { TOOL } from "../version.js";
import { reportError } from "./boundary.js";
import { addHistoryCommands } from "./history-command.js";
import type { InitOptions } from "./init-command.js";
import type { CliIo } from "./io.js";
import { REPORT_FORMATS } from "./report-formats.js";
import type { ServeOptions } from "./serve-command.js";
import type { WorkerOptions } from "./worker-command.js";

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/**
 * Build the commander program; commands are thin and call library functions. Each command's
 * module is imported when that command runs: `--version`, `--help` and `init` load no database
 * driver, server, queue or chat client.
 */
export function buildProgram(io: CliIo, setExit: (code: number) => void): Command {
  const program = new Command("flaky-detector")
    .description("Rerun tests many times in parallel and measure how flaky they are.")
    .version(TOOL.version, "-V, --version")
    .enablePositionalOptions()
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      outputError: () => {},
    });

  program
    .command("run")
    .description("Run a test command N times in parallel and report its failure rate")
    .argument("[command...]", "the test command (after --); default: test_command from the config file")
    .passThroughOptions()
    .option("--runs <n>", "attempt budget (1..10000)")
    .option("--parallelism <n>", "concurrent attempts (default: CPU count)")
    .option("--timeout <seconds>", "per-attempt timeout; the whole process tree is killed")
    .option("--job-timeout <seconds>", "whole-job timeout; reports what finished")
    .option("--kill-grace <seconds>", "seconds between SIGTERM and SIGKILL")
    .addOption(new Option("--framework <name>", "test framework").choices(FRAMEWORKS))
    .addOption(new Option("--stop <rule>", "stopping rule").choices(STOP_RULES))
    .option("--confidence <level>", "confidence level of the interval (0.5..0.9999)")
    .option(
      "--min-detectable-rate <rate>",
      "adaptive: a never-failing test is settled once bounded below this",
    )
    .option("--test <id>", "rerun only this test (repeatable)", (v: string, prev: string[] = []) => [
      ...prev,
      v,
    ])
    .option("--from-junit <file>", "rerun only the tests that failed in this JUnit file (a CI run's results)")
    .option("--junit <glob>", "read per-test results from the JUnit files the command writes (any tool)")
    .option("--shuffle", "framework-native seeded random order per attempt")
    .addOption(new Option("--isolation <mode>", "working directory per parallel slot").choices(ISOLATIONS))
    .option("--seed <n>", "job seed: replays a previous job's attempt seeds")
    .addOption(new Option("--fail-on <severity>", "exit 1 at or above this severity").choices(SEVERITIES))
    .option("--repo <url|path>", "repository to test: a path (copied) or a git URL (cloned)")
    .option("--backend <name>", "where attempts run: local | server | runpod", "local")
    .option("--url <url>", "with --backend server: the server's address")
    .option(
      "--api-key <key>",
      "the server's or RunPod's API key (better: FLAKY_DETECTOR_API_KEY or RUNPOD_API_KEY)",
    )
    .option("--endpoint-id <id>", "with --backend runpod: the serverless endpoint (or RUNPOD_ENDPOINT_ID)")
    .option(
      "--runpod-api <url>",
      "with --backend runpod: the endpoint API's base URL",
      "https://api.runpod.ai/v2",
    )
    .option("--shard-size <n>", "remote backends: attempts per shard (default: about 8 shards)")
    .option("--ref <ref>", "branch, tag or commit SHA to check out")
    .option("--config <file>", "config file (default: .flaky-detector.yml in the current directory)")
    .option("--json <file>", "write the JSON report here")
    .option("--db <path|url>", "history database: a SQLite path or postgres:// URL")
    .option("--no-history", "do not record this detection")
    .option("--junit-out <file>", "write per-test results as JUnit XML (Surefire flaky schema)")
    .option("--markdown <file>", "write a markdown summary")
    .option("--no-install", "do not install dependencies in the workspace")
    .option("--no-events", "run without our per-test event reporters (pytest plugin, mocha hook)")
    .option("--no-focus", "keep running the whole command after tests settle (adaptive stopping)")
    .option(
      "--repeat <auto|off|n>",
      "attempts per process where the framework repeats in-process (pytest); off: one process each",
    )
    .option("--preserve-temp-dir", "keep the temporary workspace and slot copies")
    .option("--save-full-output", "write every attempt's full output under logs_dir")
    .option("--progress <mode>", "auto | bar | plain | none", "auto")
    .option("--no-color", "plain output")
    .action(async (operands: string[], options: Record<string, unknown>, cmd: Command) => {
      const given = (name: string) => cmd.getOptionValueSource(name) === "cli";
      const { runCommand } = await import("./run-command.js");
      setExit(await runCommand(operands, options, given, io));
    });

  addHistoryCommands(program, io, setExit);

  program
    .command("serve")
    .description("Job API (RunPod-shaped), read API and dashboard over the history database")
    .option("--host <address>", "address to listen on (beyond loopback only with an API key)", "127.0.0.1")
    .option("--port <n>", "port (0 picks a free one)", "8080")
    .option("--db <path|url>", "history and job database: a SQLite path or postgres:// URL")
    .option("--api-key-file <file>", "require this bearer key (or set FLAKY_DETECTOR_API_KEY)")
    .option(
      "--allow-path <dir>",
      "local repo paths jobs may use must lie under this (repeatable)",
      collect,
      [],
    )
    .option("--concurrency <n>", "jobs run at once (0 = only queue them)", undefined)
    .option("--max-queue <n>", "queued jobs at most; beyond it /run answers 429", "100")
    .option("--body-limit <bytes>", "largest request body", String(1024 * 1024))
    .option("--cors-origin <origin>", "allow this browser origin (repeatable; default: no CORS)", collect, [])
    .option(
      "--allowed-host <name>",
      "answer to this Host besides IP addresses, localhost and this machine's name (repeatable; .example.com for a domain; * for any, behind a proxy that checks Host)",
      collect,
      [],
    )
    .option("--shutdown-grace <seconds>", "time running jobs get to finish on shutdown", "30")
    .option("--job-lease <seconds>", "a dead server's running jobs are taken over after this", "30")
    .option("--rate-limit <n>", "API requests per minute per client (0 = off)", "600")
    .option("--log-level <level>", "fatal | error | warn | info | debug | silent", "info")
    .option("--redis <url>", "fan detections out as shards on this Redis (or FLAKY_DETECTOR_REDIS_URL)")
    .option(
      "--allow-private-repos",
      "accept http:// repositories and ones on loopback or private-network addresses (refused by default)",
    )
    // Loaded on use: the server (Fastify) and the queue (BullMQ) would add ~0.3 s to every `run`.
    .action(async (options: ServeOptions) => {
      const { serveCommand } = await import("./serve-command.js");
      setExit(await serveCommand(options, io));
    });

  program
    .command("worker")
    .description("Run shards from a RunPod endpoint or a Redis queue")
    .argument("<kind>", "runpod | redis")
    .option("--redis <url>", "redis: the queue's Redis (or FLAKY_DETECTOR_REDIS_URL)")
    .option("--concurrency <n>", "shards run at once by this worker", "1")
    .option("--lock-duration <seconds>", "redis: a dead worker's shard moves on after this", "30")
    .option(
      "--allow-path <dir>",
      "local repo paths shards may use must lie under this (repeatable)",
      collect,
      [],
    )
    .option("--host <address>", "runpod local test mode: address to listen on", "127.0.0.1")
    .option("--port <n>", "runpod local test mode: port", "8000")
    .option("--db <path|url>", "runpod local test mode: job database")
    .option("--log-level <level>", "runpod local test mode: server log level", "info")
    .option(
      "--allow-private-repos",
      "accept http:// repositories and ones on loopback or private-network addresses (refused by default)",
    )
    .action(async (kind: string, options: WorkerOptions) => {
      const { workerCommand } = await import("./worker-command.js");
      setExit(await workerCommand(kind, options, io));
    });

  const apiKey = program.command("api-key").description("API keys of `serve` (stored hashed)");
  apiKey
    .command("create")
    .description("Create a key and print it once")
    .requiredOption("--name <name>", "who or what uses it (e.g. ci)")
    .option("--db <path|url>", "the server's database")
    .action(async (options: { name: string; db?: string }) =>
      setExit(await (await import("./api-key-command.js")).apiKeyCreate(options, io)),
    );
  apiKey
    .command("list")
    .description("List keys (ids, names, prefixes; never the keys)")
    .option("--db <path|url>", "the server's database")
    .option("--json", "print JSON")
    .action(async (options: { db?: string; json?: boolean }) =>
      setExit(await (await import("./api-key-command.js")).apiKeyList(options, io)),
    );
  apiKey
    .command("revoke")
    .description("Revoke a key by id")
    .argument("<id>", "the key's id (from list)")
    .option("--db <path|url>", "the server's database")
    .action(async (id: string, options: { db?: string }) =>
      setExit(await (await import("./api-key-command.js")).apiKeyRevoke(id, options, io)),
    );

  const config = program.command("config").description("Check and show configuration");
  config
    .command("validate")
    .description("Validate .flaky-detector.yml and FLAKY_DETECTOR_* variables")
    .option("--config <file>", "config file")
    .action(async (options: { config?: string }) =>
      setExit((await import("./config-command.js")).configValidate(options, io)),
    );
  config
    .command("print")
    .description("Print the resolved configuration (defaults < file < environment)")
    .option("--config <file>", "config file")
    .option("--json", "print JSON instead of YAML")
    .action(async (options: { config?: string; json?: boolean }) =>
      setExit((await import("./config-command.js")).configPrint(options, io)),
    );
  config
    .command("schema")
    .description("Print the JSON Schema of .flaky-detector.yml")
    .action(async () => setExit((await import("./config-command.js")).configSchema(io)));

  program
    .command("report")
    .description(
      "Render a saved report (run --json) as markdown, JSON, JUnit, a GitHub comment, or a Slack or Discord body",
    )
    .argument("<report.json>", "the report file")
    .addOption(new Option("--format <format>", "output format").choices(REPORT_FORMATS).default("markdown"))
    .option("--output <file>", "write to this file instead of stdout")
    .option("--config <file>", "config file (for quarantine entries)")
    .action(async (file: string, options: { format?: string; output?: string; config?: string }) =>
      setExit((await import("./report-command.js")).reportCommand(file, options, io)),
    );

  program
    .command("init")
    .description("Write .flaky-detector.yml and a GitHub workflow that reruns what fails in CI")
    .option("--ci-workflow <name>", "name of the CI workflow to watch (default: found in .github/workflows)")
    .option("--command <command>", "test command (default: detected from the project)")
    .option("--force", "overwrite existing files")
    .action(async (options: InitOptions) =>
      setExit((await import("./init-command.js")).initCommand(options, io)),
    );

  return program;
}

/** Run the CLI; returns the exit code. The only error boundary of the command line. */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  let code: number = EXIT.ok;
  const program = buildProgram(io, (c) => {
    code = c;
  });
  try {
    await program.parseAsync(argv as string[], { from: "node" });
    return code;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (
        error.code === "commander.helpDisplayed" ||
        error.code === "commander.version" ||
        error.exitCode === 0
      ) {
        return EXIT.ok;
      }
      if (error.code === "commander.help" || error.code === "commander.executeSubCommandAsync")
        return EXIT.usage;
      return reportError(
        new UsageError("E_USAGE", `${error.message.replace(/^error: /, "")} (see flaky-detector --help)`),
        io,
      );
    }
    return reportError(error, io);
  }
}
