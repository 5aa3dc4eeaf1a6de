import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { readReport, runCli, tempDir } from "../helpers/cli.js";

let dir: { path: string; cleanup: () => void };
beforeEach(() => {
  dir = tempDir("fd-src-");
});
afterEach(() => dir.cleanup());

const json = () => join(dir.path, "report.json");
const git = (cwd: string, ...args: string[]) =>
  execFileSync("git", args, {
    cwd,
    encoding: "utf8",
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: "t",
      GIT_AUTHOR_EMAIL: "t@t",
      GIT_COMMITTER_NAME: "t",
      GIT_COMMITTER_EMAIL: "t@t",
    },
  }).trim();

/** A repository whose test passes or fails depending on which commit is checked out. */
function makeRepo(): { repo: string; commits: Record<string, string> } {
  const repo = join(dir.path, "origin");
  mkdirSync(repo);
  git(repo, "init", "-q", "-b", "main");
  git(repo, "config", "uploadpack.allowAnySHA1InWant", "true");
  const commit = (code: number, msg: string) => {
    writeFileSync(join(repo, "check.mjs"), `console.log(${JSON.stringify(msg)}); process.exit(${code});\n`);
    git(repo, "add", "-A");
    git(repo, "commit", "-qm", msg);
    return git(repo, "rev-parse", "HEAD");
  };
  const first = commit(0, "v1 passes");
  git(repo, "tag", "v1");
  git(repo, "checkout", "-q", "-b", "broken");
  const broken = commit(1, "broken fails");
  git(repo, "checkout", "-q", "main");
  // A commit no branch or tag reaches (like a PR merge commit): only fetchable by SHA.
  git(repo, "checkout", "-q", "--detach");
  const orphan = commit(3, "orphan");
  git(repo, "checkout", "-q", "main");
  return { repo, commits: { first, broken, orphan } };
}

const check = ["--", process.execPath, "check.mjs"];

describe("sources", () => {
  it("clones a URL at a branch, a tag and an unreachable SHA, recording the commit", async () => {
    const { repo, commits } = makeRepo();
    const url = `file://${repo}`;
    const atBranch = await runCli(
      ["run", "--runs", "2", "--repo", url, "--ref", "broken", "--json", json(), ...check],
      { cwd: dir.path },
    );
    expect(atBranch.stdout).toContain("broken fails");
    expect(readReport(json()).source).toEqual({
      repo: url,
      ref: "broken",
      commit: commits.broken,
      kind: "git",
    });

    await runCli(["run", "--runs", "2", "--repo", url, "--ref", "v1", "--json", json(), ...check], {
      cwd: dir.path,
    });
    expect(readReport(json())).toMatchObject({
      source: { commit: commits.first },
      summary: { verdict: "stable" },
    });

    await runCli(
      ["run", "--runs", "2", "--repo", url, "--ref", commits.orphan as string, "--json", json(), ...check],
      { cwd: dir.path },
    );
    expect(readReport(json())).toMatchObject({
      source: { commit: commits.orphan },
      attempts: [{ exitCode: 3 }, { exitCode: 3 }],
    });

    const head = await runCli(["run", "--runs", "1", "--repo", url, "--json", json(), ...check], {
      cwd: dir.path,
    });
    expect(head.code).toBe(0);
    expect(readReport(json()).source.commit).toBe(commits.first);
  });

  it("says an unknown ref is an infrastructure error", async () => {
    const { repo } = makeRepo();
    const r = await runCli(["run", "--repo", `file://${repo}`, "--ref", "no-such-branch", ...check], {
      cwd: dir.path,
    });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`--ref: no-such-branch is not a branch, tag or commit of file://${repo}`);
  });

  it("checks out --ref of the current repository when no --repo is given", async () => {
    const { repo, commits } = makeRepo();
    await runCli(["run", "--runs", "1", "--ref", "broken", "--json", json(), ...check], { cwd: repo });
    expect(readReport(json()).source.commit).toBe(commits.broken);
    expect(git(repo, "rev-parse", "HEAD")).toBe(commits.first); // the user's checkout is untouched
  });

  it("copies a local --repo path, leaving the original untouched, and records its commit", async () => {
    const { repo, commits } = makeRepo();
    await runCli(
      [
        "run",
        "--runs",
        "4",
        "--parallelism",
        "2",
        "--repo",
        repo,
        "--json",
        json(),
        "--",
        "sh",
        "-c",
        "echo x > written.txt",
      ],
      {
        cwd: dir.path,
      },
    );
    expect(readReport(json()).source).toEqual({ repo, ref: null, commit: commits.first, kind: "path" });
    expect(existsSync(join(repo, "written.txt"))).toBe(false);
  });
});

describe("workspace installs", () => {
  it("installs Python requirements into a virtual environment inside the workspace", async () => {
    const project = join(dir.path, "py");
    mkdirSync(project);
    writeFileSync(join(project, "requirements.txt"), "# no third-party packages needed\n");
    writeFileSync(
      join(project, "check_env.py"),
      [
        "import os, sys",
        "assert sys.prefix.endswith('.flaky-venv'), sys.prefix",
        "assert os.environ['VIRTUAL_ENV'] == sys.prefix",
        "print('venv ok', sys.prefix)",
      ].join("\n"),
    );
    const r = await runCli(
      ["run", "--runs", "2", "--repo", project, "--json", json(), "--", "python", "check_env.py"],
      { cwd: dir.path },
    );
    expect(r.stderr).toContain("install: python3 -m venv --system-site-packages .flaky-venv");
    expect(r.code).toBe(0);
    expect(readReport(json()).summary.verdict).toBe("stable");
    expect(existsSync(join(project, ".flaky-venv"))).toBe(false); // never into the user's tree
  });

  it("runs npm install in a copied workspace and puts node_modules/.bin on PATH", async () => {
    const project = join(dir.path, "js");
    mkdirSync(join(project, "tool"), { recursive: true });
    writeFileSync(
      join(project, "tool", "package.json"),
      JSON.stringify({ name: "tool", version: "1.0.0", bin: { "my-tool": "cli.js" } }),
    );
    writeFileSync(join(project, "tool", "cli.js"), "#!/usr/bin/env node\nconsole.log('my-tool ran');\n");
    writeFileSync(
      join(project, "package.json"),
      JSON.stringify({ name: "js", version: "1.0.0", devDependencies: { tool: "file:./tool" } }),
    );
    const r = await runCli(
      ["run", "--runs", "2", "--parallelism", "2", "--repo", project, "--json", json(), "--", "my-tool"],
      { cwd: dir.path },
    );
    expect(r.stderr).toContain("install: npm install --no-audit --no-fund");
    expect(r.code).toBe(0);
    const report = readReport(json());
    expect(report.summary.verdict).toBe("stable");
    expect(report.attempts[0]?.outputTail).toContain("my-tool ran");
    expect(existsSync(join(project, "node_modules"))).toBe(false);
  });

  it("skips installs with --no-install", async () => {
    const project = join(dir.path, "js");
    mkdirSync(project);
    writeFileSync(
      join(project, "package.json"),
      JSON.stringify({ name: "p", version: "1.0.0", scripts: { preinstall: "exit 9" } }),
    );
    const r = await runCli(["run", "--runs", "1", "--no-install", "--repo", project, "--", "true"], {
      cwd: dir.path,
    });
    expect(r.code).toBe(0);
    expect(r.stderr).not.toContain("install:");
  });
});

describe("config commands", () => {
  it("validate, print and schema", async () => {
    writeFileSync(
      join(dir.path, ".flaky-detector.yml"),
      "runs: 12\nnotify:\n  slack_webhook: https://hooks.example/secret-path\n",
    );
    const ok = await runCli(["config", "validate"], { cwd: dir.path });
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain(".flaky-detector.yml is valid");
    const printed = await runCli(["config", "print", "--json"], {
      cwd: dir.path,
      env: { FLAKY_DETECTOR_PARALLELISM: "3" },
    });
    const config = JSON.parse(printed.stdout);
    expect(config).toMatchObject({ runs: 12, parallelism: 3, notify: { slack_webhook: "(set)" } });
    expect(printed.stdout).not.toContain("secret-path");
    const schema = await runCli(["config", "schema"], { cwd: dir.path });
    expect(schema.stdout).toBe(readFileSync(join(__dirname, "../__snapshots__/config-schema.json"), "utf8"));
    writeFileSync(join(dir.path, ".flaky-detector.yml"), "runs: 0\n");
    const bad = await runCli(["config", "validate"], { cwd: dir.path });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain(
      "runs: must be an integer from 1 to 10000, got 0 (in .flaky-detector.yml line 1)",
    );
  });
});
