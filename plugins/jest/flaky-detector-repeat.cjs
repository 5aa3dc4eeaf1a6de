/**
 * flaky-detector's in-process repetition for jest (docs/design/repeat.md). jest has no repeat of
 * its own (jest.retryTimes retries a failed test until it passes), so this script takes the place
 * of the `jest` command: it loads the project's own jest and calls its runCLI once per [attempt,
 * seed] pair of FLAKY_DETECTOR_REPEAT, in this one process. Before each run the seed variables and
 * ATTEMPT take the attempt's values (each run starts its own workers, which inherit them; in band,
 * each test file's environment copies them), and a `repetition` line goes to
 * FLAKY_DETECTOR_EVENTS; after it, a `repetition-end` line naming that run's --json results file,
 * kept apart from the next run's. The tests' own start and end lines come from our reporter
 * (flaky-detector-reporter.cjs), given on the command line as usual.
 *
 * A run that leaves nothing to repeat is not a repetition: no test found (jest exits the process
 * there), or a configuration under which jest exits at the first failures (bail) or keeps watching.
 * Then the script runs jest once, as the command would, and its attempt is read like any other.
 *
 *   node flaky-detector-repeat.cjs <the arguments that followed `jest`>
 */
"use strict";
const { appendFileSync, renameSync, statSync, truncateSync } = require("node:fs");
const { createRequire } = require("node:module");
const { dirname, join, resolve } = require("node:path");

const SEED_VARIABLES = ["TEST_SEED", "GO_TEST_SEED", "JEST_SEED", "VITE_TEST_SEED", "MOCHA_SEED"];
const EVENTS = process.env.FLAKY_DETECTOR_EVENTS;

function emit(event) {
  // Synchronous, like the reporter's lines, so the order in the file is the order things happened.
  if (EVENTS) appendFileSync(EVENTS, `${JSON.stringify(event)}\n`);
}

function sizeOf(file) {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

/** The project's jest: runCLI, jest's own argument parsing and its configuration reader. */
function jestOf(root) {
  const manifest = createRequire(join(root, "package.json")).resolve("jest/package.json");
  const fromJest = createRequire(manifest);
  const cliManifest = fromJest.resolve("jest-cli/package.json");
  const cli = fromJest("jest-cli");
  // jest 30 exports buildArgv; jest 29 defines it in the module its `run` comes from.
  const buildArgv = cli.buildArgv ?? require(join(dirname(cliManifest), "build", "run.js")).buildArgv;
  const fromCli = createRequire(cliManifest);
  return {
    runCLI: fromJest("jest").runCLI ?? fromCli("@jest/core").runCLI,
    readConfigs: fromCli("jest-config").readConfigs,
    buildArgv,
  };
}

/** A fresh copy per run: runCLI may write to the options it is given. */
const copy = (argv) => JSON.parse(JSON.stringify(argv));

async function main() {
  const pairs = JSON.parse(process.env.FLAKY_DETECTOR_REPEAT ?? "[]");
  const jest = jestOf(process.cwd());
  const argv = await jest.buildArgv(process.argv.slice(2));
  // As jest's own command does (getProjectListFromCLIArgs).
  const projects = argv.projects?.length ? [...argv.projects] : [process.cwd()];
  const { globalConfig } = await jest.readConfigs(copy(argv), projects);
  const once = globalConfig.bail > 0 || globalConfig.watch || globalConfig.watchAll;
  if (once) {
    console.error(
      `flaky-detector: jest's configuration sets ${globalConfig.bail > 0 ? `bail: ${globalConfig.bail}` : "watch"}, which ends a run at its first failures or never ends it: this process runs one attempt, not several`,
    );
    const { results, globalConfig: config } = await jest.runCLI(copy(argv), projects);
    process.exit(results.success ? 0 : config.testFailureExitCode);
  }

  // Should jest exit the process itself during a run (it does at a bail), a repetition that wrote
  // nothing but its own line is taken back, so the attempt is read like one of `jest` itself.
  let taken = null;
  const exit = process.exit.bind(process);
  process.exit = (code) => {
    if (taken && sizeOf(EVENTS) === taken.after) truncateSync(EVENTS, taken.before);
    exit(code);
  };

  let failed = false;
  let exitCode = 1;
  for (const [attempt, seed] of pairs) {
    for (const name of SEED_VARIABLES) process.env[name] = String(seed);
    process.env.ATTEMPT = String(attempt);
    const before = sizeOf(EVENTS);
    emit({ event: "repetition", attempt, seed });
    taken = { before, after: sizeOf(EVENTS) };
    const started = Date.now();
    const { results, globalConfig: config } = await jest.runCLI(copy(argv), projects);
    if (results.numTotalTestSuites === 0 && EVENTS) {
      // No test file: jest has already scheduled its exit (after its output drains); this run is
      // read as the whole attempt, without its repetition line.
      truncateSync(EVENTS, before);
      process.exit(results.success ? 0 : 1);
    }
    taken = null;
    failed = !results.success;
    exitCode = config.testFailureExitCode;
    // Each run writes its --json file over the last one's: this repetition's is kept apart.
    let kept;
    if (config.json && config.outputFile) {
      kept = `${resolve(config.outputFile)}.${attempt}`;
      try {
        renameSync(resolve(config.outputFile), kept);
      } catch {
        kept = undefined;
      }
    }
    emit({
      event: "repetition-end",
      attempt,
      durationMs: Date.now() - started,
      ...(kept ? { results: kept } : {}),
    });
  }
  // The exit status is the last repetition's, the one the process ended in.
  process.exit(failed ? exitCode : 0);
}

main().catch((e) => {
  // As jest's own command prints it (a configuration error reads the same either way).
  console.error(e?.stack ?? String(e));
  process.exit(1);
});
