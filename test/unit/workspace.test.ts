import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { gitEnv, redact } from "../../src/source/git.js";
import { detectInstallSteps } from "../../src/workspace/install.js";
import { tempDir } from "../helpers/cli.js";

let dir: { path: string; cleanup: () => void };
beforeEach(() => {
  dir = tempDir("fd-ws-");
});
afterEach(() => dir.cleanup());

const files = (...names: string[]) => {
  for (const n of names) writeFileSync(join(dir.path, n), n.endsWith(".json") ? "{}" : "");
};
const argvs = () => detectInstallSteps(dir.path).map((s) => s.argv.join(" "));

describe("detectInstallSteps", () => {
  it("picks the JavaScript package manager from the lockfile", () => {
    files("package.json");
    expect(argvs()).toEqual(["npm install --no-audit --no-fund"]);
    files("package-lock.json");
    expect(argvs()).toEqual(["npm ci --no-audit --no-fund"]);
    files("yarn.lock");
    expect(argvs()).toEqual(["yarn install --frozen-lockfile"]);
    files(".yarnrc.yml");
    expect(argvs()).toEqual(["yarn install --immutable"]);
    files("pnpm-lock.yaml");
    expect(argvs()).toEqual(["pnpm install --frozen-lockfile"]);
  });

  it("installs Python dependencies into a venv inside the workspace", () => {
    files("pyproject.toml");
    expect(argvs()).toEqual([
      "python3 -m venv --system-site-packages .flaky-venv",
      ".flaky-venv/bin/python -m pip install --disable-pip-version-check --quiet -e .",
    ]);
    files("requirements.txt", "requirements-dev.txt");
    expect(argvs()[1]).toBe(
      ".flaky-venv/bin/python -m pip install --disable-pip-version-check --quiet -r requirements.txt -r requirements-dev.txt",
    );
  });

  it("downloads Go modules and fetches Cargo crates; nothing for a bare directory", () => {
    expect(argvs()).toEqual([]);
    files("go.mod", "Cargo.toml");
    expect(argvs()).toEqual(["go mod download", "cargo fetch"]);
  });
});

describe("git credentials", () => {
  it("sends a token as a header through GIT_CONFIG_* for https, never for other schemes", () => {
    const { env, secret } = gitEnv({ GIT_TOKEN: "tok123", PATH: "/bin" }, "https://git.example.com/o/r.git");
    expect(secret).toBe("tok123");
    expect(env.GIT_CONFIG_COUNT).toBe("1");
    expect(env.GIT_CONFIG_KEY_0).toBe("http.extraHeader");
    expect(env.GIT_CONFIG_VALUE_0).toBe(
      `Authorization: Basic ${Buffer.from("x-access-token:tok123").toString("base64")}`,
    );
    expect(env.GIT_TERMINAL_PROMPT).toBe("0");
    expect(
      gitEnv({ GIT_TOKEN: "tok123" }, "ssh://git@example.com/o/r.git").env.GIT_CONFIG_COUNT,
    ).toBeUndefined();
  });

  it("uses GITHUB_TOKEN only for github.com", () => {
    expect(gitEnv({ GITHUB_TOKEN: "gh" }, "https://github.com/o/r.git").secret).toBe("gh");
    expect(gitEnv({ GITHUB_TOKEN: "gh" }, "https://evil.example/o/r.git").secret).toBeUndefined();
  });

  it("appends to a user's own GIT_CONFIG_* entries", () => {
    const { env } = gitEnv(
      { GIT_TOKEN: "t", GIT_CONFIG_COUNT: "1", GIT_CONFIG_KEY_0: "a.b", GIT_CONFIG_VALUE_0: "c" },
      "https://x.example/r",
    );
    expect(env.GIT_CONFIG_COUNT).toBe("2");
    expect(env.GIT_CONFIG_KEY_0).toBe("a.b");
    expect(env.GIT_CONFIG_KEY_1).toBe("http.extraHeader");
  });

  it("redacts the token and its encoded form from messages", () => {
    const basic = Buffer.from("x-access-token:s3cr3t").toString("base64");
    expect(redact(`fatal: s3cr3t and ${basic}`, "s3cr3t")).toBe("fatal: *** and ***");
  });
});
