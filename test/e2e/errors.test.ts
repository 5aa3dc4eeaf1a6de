import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { fixture, runCli, tempDir } from "../helpers/cli.js";

let dir: { path: string; cleanup: () => void };
beforeEach(() => {
  dir = tempDir("fd-err-");
});
afterEach(() => dir.cleanup());

const node = process.execPath;
const pass = ["--", node, fixture("pass.mjs")];

async function expectError(args: string[], code: number, message: string, env: NodeJS.ProcessEnv = {}) {
  const r = await runCli(args, { cwd: dir.path, env });
  expect(r.stderr).toContain(message);
  expect(r.code).toBe(code);
  expect(r.stdout).not.toMatch(/STABLE|FLAKY|FAILING/); // no result is printed for a job that did not run
  return r;
}

describe("usage and config errors exit 2 with what, the bad value and the fix", () => {
  it("--runs out of range", () =>
    expectError(
      ["run", "--runs", "0", ...pass],
      2,
      "runs: must be an integer from 1 to 10000, got 0 (from --runs)",
    ));

  it("--runs not a number", () =>
    expectError(
      ["run", "--runs", "lots", ...pass],
      2,
      'runs: must be an integer from 1 to 10000, got "lots" (from --runs)',
    ));

  it("--parallelism and --timeout", async () => {
    const r = await expectError(
      ["run", "--parallelism", "0", "--timeout", "-3", ...pass],
      2,
      "invalid configuration (2 problems)",
    );
    expect(r.stderr).toContain("parallelism: must be an integer from 1 to 1024, got 0 (from --parallelism)");
    expect(r.stderr).toContain(
      "timeout: must be a number from 0.001 to 604800, or auto, got -3 (from --timeout)",
    );
  });

  it("--framework with a choice list", () =>
    expectError(
      ["run", "--framework", "pyest", ...pass],
      2,
      "option '--framework <name>' argument 'pyest' is invalid",
    ));

  it("an unknown flag, with a suggestion", () =>
    expectError(["run", "--rusn", "5", ...pass], 2, "unknown option '--rusn'"));

  it("an unknown key in the config file, with the nearest valid one and its line", async () => {
    writeFileSync(join(dir.path, ".flaky-detector.yml"), "runs: 5\nparalelism: 2\n");
    await expectError(
      ["run", ...pass],
      2,
      'paralelism: unknown key; did you mean "parallelism"? (in .flaky-detector.yml line 2)',
    );
  });

  it("an invalid value in the environment", () =>
    expectError(
      ["run", ...pass],
      2,
      "confidence: must be a number from 0.5 to 0.9999, got 5 (from environment variable FLAKY_DETECTOR_CONFIDENCE)",
      {
        FLAKY_DETECTOR_CONFIDENCE: "5",
      },
    ));

  it("a shell operator in test_command", async () => {
    writeFileSync(join(dir.path, ".flaky-detector.yml"), "test_command: npm ci && npm test\n");
    await expectError(["run"], 2, `shell operator "&&" is not supported`);
    await expectError(["run"], 2, "sh -c 'npm ci && npm test'");
  });

  it("no command at all", () => expectError(["run"], 2, "no test command: pass it after --"));

  it("a YAML syntax error", async () => {
    writeFileSync(join(dir.path, ".flaky-detector.yml"), "runs: [1\n");
    await expectError(["run", ...pass], 2, ".flaky-detector.yml line 2 column 1:");
  });

  it("a missing --config file", () =>
    expectError(
      ["run", "--config", "nope.yml", ...pass],
      2,
      "cannot read config file nope.yml: file not found",
    ));

  it("credentials inside a --repo URL", () =>
    expectError(
      ["run", "--repo", "https://me:secret@github.com/o/r.git", ...pass],
      2,
      "put the token in the GIT_TOKEN environment variable",
    ));

  it("an option-like --ref", () =>
    expectError(["run", "--ref", "--upload-pack=evil", ...pass], 2, "--ref: invalid ref"));

  it("--shuffle where the framework has no seeded order", () =>
    expectError(
      ["run", "--shuffle", ...pass],
      2,
      "shuffle: a plain command has no shuffle; pass a framework with --framework; remove --shuffle",
    ));

  it("--framework junit without --junit", () =>
    expectError(["run", "--framework", "junit", ...pass], 2, "framework junit needs --junit <glob>"));

  it("--test on a command without per-test results", () =>
    expectError(["run", "--test", "a::b", ...pass], 2, "--test and --from-junit need per-test results"));

  it("--from-junit with a missing file", () =>
    expectError(["run", "--from-junit", "nope.xml", ...pass], 2, "--from-junit: cannot read"));
  it("a --repo path that does not exist (a mistyped value, not the machine's fault)", () =>
    expectError(
      ["run", "--repo", "./missing-dir", ...pass],
      2,
      `--repo: no such directory: ${join(dir.path, "missing-dir")} (give an existing directory or a git URL)`,
    ));
});

describe("infrastructure errors exit 3 and are never reported as test failures", () => {
  it("a command that does not exist", () =>
    expectError(
      ["run", "--runs", "3", "--", "pyest", "-q"],
      3,
      "command not found: pyest (no executable on PATH)",
    ));

  it("a relative program path that does not exist", () =>
    expectError(["run", "--runs", "3", "--", "./run-tests.sh"], 3, "command not found: ./run-tests.sh"));

  it("a clone that fails carries git's own message", async () => {
    const r = await expectError(
      ["run", "--repo", `file://${dir.path}/not-a-repo`, ...pass],
      3,
      "cloning file://",
    );
    expect(r.stderr).toMatch(/fatal: .*(does not appear to be a git repository|not found|No such)/);
  });

  it("a failing dependency install, with the log tail", async () => {
    const project = join(dir.path, "proj");
    mkdirSync(project);
    writeFileSync(
      join(project, "package.json"),
      JSON.stringify({
        name: "p",
        version: "1.0.0",
        scripts: { preinstall: "echo INSTALL-LOG-LINE && exit 7" },
      }),
    );
    const r = await expectError(
      ["run", "--repo", project, ...pass],
      3,
      "dependency install failed: `npm install --no-audit --no-fund` exited with",
    );
    expect(r.stderr).toContain("INSTALL-LOG-LINE");
  });

  it("an install that exceeds install_timeout", async () => {
    const project = join(dir.path, "proj");
    mkdirSync(project);
    writeFileSync(
      join(project, "package.json"),
      JSON.stringify({ name: "p", version: "1.0.0", scripts: { preinstall: "sleep 30" } }),
    );
    writeFileSync(join(dir.path, ".flaky-detector.yml"), "install_timeout: 1\n");
    await expectError(["run", "--repo", project, ...pass], 3, "dependency install timed out after 1s");
  });
});

describe("attempts that cannot start", () => {
  it("exit 3 when every attempt errored (an executable whose interpreter is missing)", async () => {
    const script = join(dir.path, "run-tests");
    writeFileSync(script, "#!/nonexistent/interpreter\necho hi\n", { mode: 0o755 });
    await expectError(
      ["run", "--runs", "4", "--parallelism", "2", "--", script],
      3,
      "every attempt errored; none ran: cannot start",
    );
  });
});

describe("temporary directories", () => {
  it("are kept with --preserve-temp-dir and named", async () => {
    const project = join(dir.path, "p");
    mkdirSync(project);
    const r = await runCli(
      ["run", "--runs", "2", "--parallelism", "2", "--preserve-temp-dir", "--repo", project, "--", "true"],
      {
        cwd: dir.path,
        env: { TMPDIR: dir.path },
      },
    );
    expect(r.code).toBe(0);
    const kept = /temporary directories kept: (.*)/.exec(r.stderr)?.[1]?.split(", ") ?? [];
    // The copied source (slot 0), one slot copy, the results directory and each slot's TMPDIR.
    expect(kept).toHaveLength(5);
    for (const d of kept) expect(existsSync(d)).toBe(true);
  });

  it("are kept after an infrastructure failure when cleanup_on_failure is false, removed otherwise", async () => {
    const project = join(dir.path, "p");
    mkdirSync(project);
    writeFileSync(
      join(project, "package.json"),
      JSON.stringify({ name: "p", version: "1.0.0", scripts: { preinstall: "exit 5" } }),
    );
    const tmp = join(dir.path, "tmp");
    mkdirSync(tmp);
    await runCli(["run", "--repo", project, "--", "true"], { cwd: dir.path, env: { TMPDIR: tmp } });
    expect(readdirSync(tmp)).toEqual([]);
    writeFileSync(join(dir.path, ".flaky-detector.yml"), "cleanup_on_failure: false\n");
    const r = await runCli(["run", "--repo", project, "--", "true"], { cwd: dir.path, env: { TMPDIR: tmp } });
    expect(r.code).toBe(3);
    expect(readdirSync(tmp)).toHaveLength(1);
    expect(r.stderr).toContain("temporary directories kept");
  });
});

describe("more infrastructure errors", () => {
  it("an install tool that is not installed", async () => {
    const project = join(dir.path, "p");
    mkdirSync(project);
    writeFileSync(join(project, "package.json"), "{}");
    writeFileSync(join(project, "pnpm-lock.yaml"), "lockfileVersion: '9.0'\n");
    // A PATH with node and git but no pnpm.
    const r = await runCli(["run", "--repo", project, "--", process.execPath, "-e", "0"], {
      cwd: dir.path,
      env: { PATH: `${join(process.execPath, "..")}:/usr/bin:/bin`.replace(/:?[^:]*pnpm[^:]*/g, "") },
    });
    if (r.stderr.includes("cannot run pnpm")) {
      expect(r.code).toBe(3);
      expect(r.stderr).toContain("install pnpm, or set auto_install_dependencies: false");
    } else {
      // pnpm exists on this machine: then the frozen install of an empty project succeeds.
      expect(r.code).toBe(0);
    }
  });

  it("a logs_dir that cannot be created", async () => {
    writeFileSync(join(dir.path, "a-file"), "x");
    writeFileSync(join(dir.path, ".flaky-detector.yml"), "logs_dir: a-file/logs\n");
    await expectError(
      ["run", "--runs", "1", "--save-full-output", ...pass],
      3,
      "save_full_output: cannot create",
    );
  });
});
