import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import YAML from "yaml";
import { ACTION_USES } from "../../src/action/definition.js";
import { ACTION_PINS } from "../../src/cli/init-workflow.js";
import { ROOT, runCli, tempDir } from "../helpers/cli.js";
import { git } from "../helpers/git.js";

/**
 * `init` on fixture repositories — no lockfile, a gitignored lockfile, pnpm, a matrix CI workflow
 * in a repository that pins actions, a Python project, a go module and a GOPATH suite: every step
 * of what it writes is checked, and the steps that can run here are run.
 */

const tmp = tempDir("fd-init-");
afterAll(() => tmp.cleanup());

type Step = { uses?: string; run?: string; with?: Record<string, unknown>; env?: Record<string, string> };

/** A repository with these files committed (and a CI workflow unless given). */
function repo(name: string, files: Record<string, string>): string {
  const dir = join(tmp.path, name);
  mkdirSync(dir, { recursive: true });
  const all = {
    ".github/workflows/ci.yml":
      "name: CI\non: [pull_request]\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n",
    ...files,
  };
  for (const [f, text] of Object.entries(all)) {
    mkdirSync(join(dir, f, ".."), { recursive: true });
    writeFileSync(join(dir, f), text);
  }
  git(dir, "init", "-q", "-b", "main");
  git(dir, "add", "-A");
  git(dir, "commit", "-qm", "init");
  return dir;
}

async function init(dir: string, args: string[] = []) {
  const r = await runCli(["init", ...args], { cwd: dir });
  expect(r.code, r.stderr).toBe(0);
  const wf = YAML.parse(readFileSync(join(dir, ".github/workflows/flaky-detector.yml"), "utf8"));
  const config = YAML.parse(readFileSync(join(dir, ".flaky-detector.yml"), "utf8")) as {
    test_command: string;
    framework: string;
  };
  const steps = wf.jobs.detect.steps as Step[];
  checkSteps(steps);
  return { r, wf, steps, config };
}

/** Every step: exactly one of uses/run; uses an action we know at a tag or a full SHA; with-keys that action takes. */
function checkSteps(steps: Step[]): void {
  const inputs: Record<string, string[]> = {
    "actions/checkout": ["ref", "persist-credentials"],
    "actions/setup-node": ["node-version", "cache"],
    "actions/setup-python": ["python-version"],
    "actions/setup-go": ["go-version-file", "go-version"],
    "pnpm/action-setup": ["version"],
    [ACTION_USES.split("@")[0] as string]: [
      "github-token",
      "junit-artifact",
      "slack-webhook",
      "discord-webhook",
    ],
  };
  for (const s of steps) {
    expect(Number(s.uses !== undefined) + Number(s.run !== undefined), JSON.stringify(s)).toBe(1);
    if (s.uses) {
      const [action, ref] = s.uses.split("@") as [string, string];
      expect(Object.keys(inputs), s.uses).toContain(action);
      if (action !== ACTION_USES.split("@")[0]) expect(ref).toMatch(/^(v\d+|[0-9a-f]{40})$/);
      for (const k of Object.keys(s.with ?? {})) expect(inputs[action], `${action} input ${k}`).toContain(k);
    }
  }
  expect(steps[0]?.uses).toMatch(/^actions\/checkout@/);
  expect(steps.at(-1)?.uses).toBe(ACTION_USES);
}

const runSteps = (steps: Step[]) => steps.filter((s) => s.run).map((s) => s.run as string);
const uses = (steps: Step[], action: string) => steps.find((s) => s.uses?.startsWith(`${action}@`));

describe("init writes workflows whose every step would run", () => {
  it("npm without a lockfile: no cache, npm install, and the test script's own command with its flags", async () => {
    const dir = repo("no-lock", {
      "package.json": JSON.stringify({
        name: "shop",
        scripts: { test: 'node -e "" && mocha --check-leaks test/' },
        devDependencies: { mocha: "^11.0.0" },
      }),
      "test/cart.test.js": 'it("adds", () => {});\n',
    });
    const { r, steps, config } = await init(dir);
    expect(config).toMatchObject({ framework: "mocha", test_command: "npx mocha --check-leaks test/" });
    expect(uses(steps, "actions/setup-node")?.with).toEqual({ "node-version": 20 });
    expect(runSteps(steps)).toEqual(["npm install --no-audit --no-fund"]);
    expect(r.stdout).toContain("--reporter xunit --reporter-option output=reports/junit.xml");
    expect(r.stdout).toContain("merge them to the default branch");
    expect(r.stdout).toContain('the test script also runs `node -e ""`: if the tests need it');
    // The steps run here: install, then the configured command through the detector.
    for (const line of runSteps(steps)) {
      const [cmd, ...args] = line.split(" ");
      expect(spawnSync(cmd as string, args, { cwd: dir, stdio: "ignore" }).status, line).toBe(0);
    }
    const run = await runCli(["run", "--runs", "2", "--no-history"], { cwd: dir });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toContain("STABLE");
  }, 180_000);

  it("a gitignored lockfile counts as none; a committed one gets the npm cache and npm ci", async () => {
    const pkg = JSON.stringify({ name: "x", scripts: { test: "vitest" }, devDependencies: { vitest: "^3" } });
    const ignored = repo("ignored-lock", { "package.json": pkg, ".gitignore": "package-lock.json\n" });
    writeFileSync(join(ignored, "package-lock.json"), "{}");
    const a = await init(ignored);
    expect(uses(a.steps, "actions/setup-node")?.with).toEqual({ "node-version": 20 });
    expect(a.r.stdout).toContain("package-lock.json is not committed");
    expect(a.config.test_command).toBe("npx vitest run");

    const locked = repo("npm-lock", { "package.json": pkg, "package-lock.json": "{}" });
    const b = await init(locked);
    expect(uses(b.steps, "actions/setup-node")?.with).toEqual({ "node-version": 20, cache: "npm" });
    expect(runSteps(b.steps)).toEqual(["npm ci"]);
  });

  it("pnpm: action-setup before setup-node, the pnpm cache, a frozen install and pnpm exec", async () => {
    const dir = repo("pnpm", {
      "package.json": JSON.stringify({
        name: "x",
        scripts: { test: "jest --ci" },
        devDependencies: { jest: "^29" },
      }),
      "pnpm-lock.yaml": "lockfileVersion: '9.0'\n",
    });
    const { steps, config, r } = await init(dir);
    const names = steps.map((s) => s.uses?.split("@")[0] ?? s.run);
    expect(names.indexOf("pnpm/action-setup")).toBeLessThan(names.indexOf("actions/setup-node"));
    expect(uses(steps, "pnpm/action-setup")?.with).toEqual({ version: 9 });
    expect(uses(steps, "actions/setup-node")?.with).toEqual({ "node-version": 20, cache: "pnpm" });
    expect(runSteps(steps)).toEqual(["pnpm install --frozen-lockfile"]);
    expect(config).toMatchObject({ framework: "jest", test_command: "pnpm exec jest --ci" });
    expect(r.stdout).toContain("npm install --save-dev jest-junit");
  });

  it("a matrix CI workflow in a repository that pins actions: one artifact name per matrix job, pinned SHAs", async () => {
    const dir = repo("matrix", {
      "package.json": JSON.stringify({
        name: "x",
        scripts: { test: "vitest run" },
        devDependencies: { vitest: "^3" },
      }),
      "package-lock.json": "{}",
      ".github/workflows/ci.yml": [
        "name: CI",
        "on: [pull_request]",
        "jobs:",
        "  test:",
        "    runs-on: ubuntu-latest",
        "    strategy:",
        "      matrix:",
        "        node: [20, 22]",
        "    steps:",
        "      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2",
        "",
      ].join("\n"),
    });
    const { steps, wf, r } = await init(dir);
    for (const s of steps.filter((s) => s.uses && s.uses !== ACTION_USES)) {
      const [action, sha] = (s.uses as string).split("@") as [string, string];
      expect(sha).toBe(ACTION_PINS[action]?.sha);
    }
    expect(readFileSync(join(dir, ".github/workflows/flaky-detector.yml"), "utf8")).toContain(
      `actions/checkout@${ACTION_PINS["actions/checkout"]?.sha} # v4.2.2`,
    );
    expect(wf.jobs.detect.steps.at(-1).with["junit-artifact"]).toBe("junit-*");
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a GitHub Actions expression
    expect(r.stdout).toContain("name: junit-${{ github.job }}-${{ strategy.job-index }}");
    expect(r.stdout).toContain(`actions/upload-artifact@${ACTION_PINS["actions/upload-artifact"]?.sha}`);
  });

  it("a Python project with requirements: setup-python, pip install with pytest, python -m pytest", async () => {
    const dir = repo("py", { "requirements.txt": "requests\n", "test_x.py": "def test_x():\n    pass\n" });
    const { steps, config, r } = await init(dir);
    expect(uses(steps, "actions/setup-python")?.with).toEqual({ "python-version": "3.x" });
    expect(runSteps(steps)).toEqual(["pip install -r requirements.txt pytest"]);
    expect(config).toMatchObject({ framework: "pytest", test_command: "python -m pytest" });
    expect(r.stdout).toContain("--junitxml=reports/junit.xml");
    const uv = repo("uv", { "pyproject.toml": "[project]\nname='x'\n", "uv.lock": "version = 1\n" });
    const u = await init(uv);
    expect(runSteps(u.steps)).toEqual(["pip install uv", "uv sync"]);
    expect(u.config.test_command).toBe("uv run pytest");
  });

  it("a go module, and a suite without go.mod (GOPATH mode): the configured command runs here", async () => {
    const mod = repo("gomod", {
      "go.mod": "module example.com/shop\n\ngo 1.19\n",
      "cart_test.go": 'package shop\nimport "testing"\nfunc TestCart(t *testing.T) {}\n',
    });
    const a = await init(mod);
    expect(uses(a.steps, "actions/setup-go")?.with).toEqual({ "go-version-file": "go.mod" });
    expect(a.r.stdout).toContain("go test -json ./... | tee reports/go-test.json");
    const run = await runCli(["run", "--runs", "2", "--no-history"], { cwd: mod });
    expect(run.code, run.stderr).toBe(0);

    const gopath = join(tmp.path, "gopath");
    cpSync(join(ROOT, "examples/go"), gopath, { recursive: true, filter: (f) => !f.endsWith("go.mod") });
    mkdirSync(join(gopath, ".github/workflows"), { recursive: true });
    writeFileSync(join(gopath, ".github/workflows/ci.yml"), "name: CI\non: push\njobs: {}\n");
    const b = await init(gopath);
    expect(uses(b.steps, "actions/setup-go")?.with).toEqual({ "go-version": "stable" });
    expect(b.steps.at(-1)?.env).toEqual({ GO111MODULE: "off" });
    const inGopath = await runCli(["run", "--runs", "2", "--no-history"], {
      cwd: gopath,
      env: { GO111MODULE: "off" },
    });
    expect(inGopath.code, inGopath.stderr).toBe(0);
  }, 180_000);
});
