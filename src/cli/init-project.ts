import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { UsageError } from "../errors.js";
import { detectFramework } from "../frameworks/index.js";
import { parseCommandString } from "../runner/command-line.js";

/**
 * What `init` learns about a project from its files: the framework, the test command as the
 * project runs it (flags and all), how a workflow installs it (package manager and lockfile), and
 * what its CI test step must add to write results the Action can rerun from.
 */

/** A workflow step (YAML object) before the flaky-detector step. */
export type Step = { uses: string; with?: Record<string, string | number> } | { run: string; shell?: string };

export interface Project {
  framework: string;
  command: string;
  /** Steps that install the toolchain and dependencies. */
  setup: Step[];
  /** Environment the flaky-detector step needs (GOPATH mode). */
  env?: Record<string, string>;
  /** What the CI test step adds to write results, or exactly what to install and add. */
  junit: string;
  /** Where those results land, for upload-artifact's path. */
  resultsPath: string;
  /** Things a person must know (a lockfile that is not committed, a reporter to install). */
  notes: string[];
}

export function detectProject(dir: string, command?: string): Project {
  const has = (f: string) => existsSync(join(dir, f));
  if (has("package.json")) return nodeProject(dir, command);
  if (
    [
      "pyproject.toml",
      "pytest.ini",
      "setup.cfg",
      "tox.ini",
      "conftest.py",
      "requirements.txt",
      "setup.py",
    ].some(has)
  )
    return pythonProject(dir, command);
  if (has("go.mod") || hasGoTests(dir)) return goProject(dir, command);
  if (has("Cargo.toml")) {
    return {
      framework: "cargo",
      command: command ?? "cargo test",
      setup: [{ run: "rustup toolchain install stable --profile minimal" }],
      junit:
        "cargo test writes no JUnit; the Action reruns the whole command (cargo-nextest's JUnit is not read yet)",
      resultsPath: "",
      notes: [],
    };
  }
  if (command) return { framework: "auto", command, setup: [], junit: "", resultsPath: "", notes: [] };
  throw new UsageError(
    "E_INIT_FRAMEWORK",
    `cannot tell how ${dir} runs its tests (no package.json, pyproject.toml/pytest.ini, go.mod or Cargo.toml); pass --command "your test command"`,
  );
}

/** A lockfile counts when the repository commits it: a gitignored one is absent on the runner. */
function committed(dir: string, file: string): boolean {
  if (!existsSync(join(dir, file))) return false;
  try {
    const out = execFileSync("git", ["ls-files", "--", file], {
      cwd: dir,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    });
    return out.trim() !== "";
  } catch {
    return true; // Not a git checkout: the file is what we have.
  }
}

interface PackageManager {
  name: "npm" | "pnpm" | "yarn";
  /** Prefix that runs a dependency's binary. */
  exec: string;
  steps: Step[];
}

const NODE_VERSION = 20;

function packageManager(dir: string, pkg: Record<string, unknown>, notes: string[]): PackageManager {
  const lock = (f: string) => committed(dir, f);
  if (lock("pnpm-lock.yaml")) {
    const pinned = typeof pkg.packageManager === "string" && pkg.packageManager.startsWith("pnpm@");
    return {
      name: "pnpm",
      exec: "pnpm exec",
      steps: [
        // action-setup reads the version from package.json's packageManager; otherwise it needs one.
        { uses: "pnpm/action-setup", ...(pinned ? {} : { with: { version: 9 } }) },
        { uses: "actions/setup-node", with: { "node-version": NODE_VERSION, cache: "pnpm" } },
        { run: "pnpm install --frozen-lockfile" },
      ],
    };
  }
  if (lock("yarn.lock")) {
    const berry = existsSync(join(dir, ".yarnrc.yml"));
    return {
      name: "yarn",
      exec: "yarn",
      steps: [
        ...(berry ? [{ run: "corepack enable" }] : []),
        { uses: "actions/setup-node", with: { "node-version": NODE_VERSION, cache: "yarn" } },
        { run: berry ? "yarn install --immutable" : "yarn install --frozen-lockfile" },
      ],
    };
  }
  if (lock("package-lock.json") || lock("npm-shrinkwrap.json")) {
    return {
      name: "npm",
      exec: "npx",
      steps: [
        { uses: "actions/setup-node", with: { "node-version": NODE_VERSION, cache: "npm" } },
        { run: "npm ci" },
      ],
    };
  }
  if (existsSync(join(dir, "package-lock.json")))
    notes.push(
      "package-lock.json is not committed (gitignored?): the workflow installs with `npm install`, without a cache",
    );
  // setup-node's cache and `npm ci` both need a committed lockfile.
  return {
    name: "npm",
    exec: "npx",
    steps: [
      { uses: "actions/setup-node", with: { "node-version": NODE_VERSION } },
      { run: "npm install --no-audit --no-fund" },
    ],
  };
}

const NODE_TOOLS = new Set(["vitest", "jest", "mocha", "playwright", "nyc", "c8"]);

function nodeProject(dir: string, command: string | undefined): Project {
  let pkg: Record<string, unknown> = {};
  try {
    pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as Record<string, unknown>;
  } catch (e) {
    throw new UsageError(
      "E_INIT_PACKAGE",
      `package.json is not valid JSON (${(e as Error).message}); fix it, or pass --command`,
    );
  }
  const notes: string[] = [];
  const pm = packageManager(dir, pkg, notes);
  const deps = { ...(pkg.dependencies as object), ...(pkg.devDependencies as object) } as Record<
    string,
    string
  >;
  const script = String((pkg.scripts as Record<string, string> | undefined)?.test ?? "");
  const found = frameworkInScript(script, pm);
  let framework = found?.framework;
  let cmd = found?.command;
  if (!framework) {
    for (const [dep, name, run] of [
      ["@playwright/test", "playwright", "playwright test"],
      ["vitest", "vitest", "vitest run"],
      ["jest", "jest", "jest"],
      ["mocha", "mocha", "mocha"],
    ] as const) {
      if (dep in deps) {
        framework = name;
        cmd = `${pm.exec} ${run}`;
        break;
      }
    }
  }
  for (const other of found?.others ?? []) {
    notes.push(
      `the test script also runs \`${other}\`: if the tests need it, add it as a \`- run:\` step before the flaky-detector step`,
    );
  }
  framework ??= "auto";
  cmd = command ?? cmd ?? `${pm.name} test`;
  return {
    framework,
    command: cmd,
    setup: pm.steps,
    ...junitFor(framework, "reports"),
    notes: [...notes, ...junitNotes(framework, deps)],
  };
}

/**
 * The framework's command inside the test script, with its own flags: `tsc && mocha --check-leaks
 * test/` gives `npx mocha --check-leaks test/`. A script that is exactly that command is run the
 * same way (our flags go to the framework, not to npm).
 */
function frameworkInScript(
  script: string,
  pm: PackageManager,
): { framework: string; command: string; others: string[] } | undefined {
  const segments = script.split(/&&|\|\||;/).map((s) => s.trim());
  for (const segment of segments) {
    let argv: string[];
    let env: Record<string, string>;
    try {
      ({ argv, env } = parseCommandString(segment, "scripts.test"));
    } catch {
      continue;
    }
    const adapter = detectFramework(argv);
    if (!adapter) continue;
    const words = argv[0] === "npx" ? argv.slice(1) : [...argv];
    // `vitest` alone watches on a terminal; the workflow runs the suite once.
    const v = words.indexOf("vitest");
    if (v !== -1 && !["run", "list", "bench"].includes(words[v + 1] ?? "")) {
      if (words[v + 1] === "watch" || words[v + 1] === "dev") words[v + 1] = "run";
      else words.splice(v + 1, 0, "run");
    }
    const local = NODE_TOOLS.has(words[0] ?? "");
    const vars = Object.entries(env).map(([k, v]) => `${k}=${v}`);
    return {
      framework: adapter.name,
      command: [...vars, ...(local ? [pm.exec] : []), ...words].join(" "),
      others: segments.filter((s) => s !== segment && s !== ""),
    };
  }
  return undefined;
}

function junitFor(framework: string, dir: string): Pick<Project, "junit" | "resultsPath"> {
  const file = `${dir}/junit.xml`;
  const add: Record<string, string> = {
    vitest: `add to the vitest command: --reporter=default --reporter=junit --outputFile.junit=${file}`,
    mocha: `add to the mocha command: --reporter xunit --reporter-option output=${file} (mocha's own xunit reporter; it replaces the console reporter)`,
    jest: `npm install --save-dev jest-junit, then add to the jest command: --reporters=default --reporters=jest-junit, with env JEST_JUNIT_OUTPUT_DIR: ${dir}`,
    "node-test": `add to the node command: --test-reporter=spec --test-reporter-destination=stdout --test-reporter=junit --test-reporter-destination=${file}`,
    pytest: `add to the pytest command: --junitxml=${file}`,
    playwright: `add to the playwright command: --reporter=list,junit, with env PLAYWRIGHT_JUNIT_OUTPUT_NAME: ${file}`,
    go: `run the tests as: mkdir -p ${dir} && go test -json ./... | tee ${dir}/go-test.json   (with shell: bash, so a failing test still fails the step)`,
  };
  return {
    junit:
      add[framework] ??
      `make the test command write JUnit XML under ${dir}/ (its framework's JUnit reporter)`,
    resultsPath: `${dir}/`,
  };
}

function junitNotes(framework: string, deps: Record<string, string>): string[] {
  return framework === "jest" && !("jest-junit" in deps)
    ? [
        "jest has no JUnit reporter of its own: install jest-junit in the project (npm install --save-dev jest-junit)",
      ]
    : [];
}

function pythonProject(dir: string, command: string | undefined): Project {
  const has = (f: string) => committed(dir, f);
  const setupPython: Step = { uses: "actions/setup-python", with: { "python-version": "3.x" } };
  const requirements = ["requirements.txt", "requirements-dev.txt", "requirements-test.txt"].filter((f) =>
    existsSync(join(dir, f)),
  );
  let setup: Step[];
  let run: string;
  if (has("uv.lock")) {
    setup = [setupPython, { run: "pip install uv" }, { run: "uv sync" }];
    run = "uv run pytest";
  } else if (has("poetry.lock")) {
    setup = [setupPython, { run: "pipx install poetry" }, { run: "poetry install" }];
    run = "poetry run pytest";
  } else if (requirements.length > 0) {
    const listed = requirements.some((f) => /^\s*pytest\b/im.test(readFileSync(join(dir, f), "utf8")));
    setup = [
      setupPython,
      { run: `pip install ${requirements.map((f) => `-r ${f}`).join(" ")}${listed ? "" : " pytest"}` },
    ];
    run = "python -m pytest";
  } else if (existsSync(join(dir, "pyproject.toml")) || existsSync(join(dir, "setup.py"))) {
    setup = [setupPython, { run: "pip install -e . pytest" }];
    run = "python -m pytest";
  } else {
    setup = [setupPython, { run: "pip install pytest" }];
    run = "python -m pytest";
  }
  return { framework: "pytest", command: command ?? run, setup, ...junitFor("pytest", "reports"), notes: [] };
}

function hasGoTests(dir: string): boolean {
  try {
    return readdirSync(dir, { recursive: true }).some((f) => String(f).endsWith("_test.go"));
  } catch {
    return false;
  }
}

function goProject(dir: string, command: string | undefined): Project {
  const modules = existsSync(join(dir, "go.mod"));
  return {
    framework: "go",
    command: command ?? "go test ./...",
    setup: [
      {
        uses: "actions/setup-go",
        with: modules ? { "go-version-file": "go.mod" } : { "go-version": "stable" },
      },
    ],
    // Without go.mod, go only builds packages in GOPATH mode.
    ...(modules ? {} : { env: { GO111MODULE: "off" } }),
    ...junitFor("go", "reports"),
    notes: modules
      ? []
      : ["no go.mod: the tests run in GOPATH mode (GO111MODULE=off), as `go test` needs without a module"],
  };
}
