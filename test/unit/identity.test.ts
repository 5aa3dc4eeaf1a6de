import { describe, expect, it } from "vitest";
import {
  actionsRunUrl,
  identityFromActions,
  identityFromRemote,
  pullRequestOf,
} from "../../src/source/identity.js";

describe("a repository's identity from its remote", () => {
  it.each([
    ["https://github.com/expressjs/express.git", "expressjs/express"],
    ["https://github.com/expressjs/express", "expressjs/express"],
    ["https://github.com/expressjs/express/", "expressjs/express"],
    ["git@github.com:expressjs/express.git", "expressjs/express"],
    ["ssh://git@github.com/expressjs/express.git", "expressjs/express"],
    ["ssh://git@GitHub.com:22/expressjs/express.git", "expressjs/express"],
    ["https://gitlab.com/group/sub/project.git", "gitlab.com/group/sub/project"],
    ["git@gitlab.example.org:team/app.git", "gitlab.example.org/team/app"],
  ])("%s is %s", (remote, name) => {
    expect(identityFromRemote(remote)?.name).toBe(name);
  });

  it("gives the web address without credentials or port", () => {
    expect(identityFromRemote("ssh://git@github.com:22/a/b.git")?.url).toBe("https://github.com/a/b");
    expect(identityFromRemote("git@gitlab.com:team/app.git")?.url).toBe("https://gitlab.com/team/app");
  });

  it.each([
    "/home/me/work/app",
    "file:///srv/repos/app.git",
    "../app",
    "https://github.com/onlyowner",
    "https://github.com/a/../b",
    "C:/work/app",
  ])("%s names no repository", (remote) => {
    expect(identityFromRemote(remote)).toBeNull();
  });
});

describe("GitHub Actions context", () => {
  const env = {
    GITHUB_ACTIONS: "true",
    GITHUB_REPOSITORY: "octo/app",
    GITHUB_SERVER_URL: "https://github.com",
    GITHUB_RUN_ID: "123456",
    GITHUB_RUN_ATTEMPT: "2",
  };

  it("names the repository and links the run attempt", () => {
    expect(identityFromActions(env)).toEqual({ name: "octo/app", url: "https://github.com/octo/app" });
    expect(actionsRunUrl(env)).toBe("https://github.com/octo/app/actions/runs/123456/attempts/2");
    expect(actionsRunUrl({ ...env, GITHUB_RUN_ATTEMPT: "1" })).toBe(
      "https://github.com/octo/app/actions/runs/123456",
    );
  });

  it("links nothing outside Actions or from malformed values", () => {
    expect(actionsRunUrl({ ...env, GITHUB_ACTIONS: undefined })).toBeNull();
    expect(actionsRunUrl({ ...env, GITHUB_RUN_ID: "1; rm -rf" })).toBeNull();
    expect(identityFromActions({ ...env, GITHUB_REPOSITORY: "../x" })).toBeNull();
    expect(identityFromActions({ ...env, GITHUB_SERVER_URL: "http://evil.example" })).toBeNull();
  });

  it("reads the pull request of a merge ref", () => {
    expect(pullRequestOf("refs/pull/42/merge")).toBe(42);
    expect(pullRequestOf("refs/heads/main")).toBeNull();
    expect(pullRequestOf(undefined)).toBeNull();
  });
});
