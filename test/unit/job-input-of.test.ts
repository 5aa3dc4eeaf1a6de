import { describe, expect, it } from "vitest";
import { defaultConfig } from "../../src/config/defaults.js";
import { jobInputOf } from "../../src/remote/backends.js";
import { jobInputSchema } from "../../src/server/job-input.js";

/** What `run --backend server` and the Action send: where the request came from, for history. */
const io = (env: NodeJS.ProcessEnv) => ({ cwd: "/tmp", env, stderr: { write: () => undefined } });
const actions = {
  GITHUB_ACTIONS: "true",
  GITHUB_REPOSITORY: "acme/shop",
  GITHUB_SERVER_URL: "https://github.com",
  GITHUB_RUN_ID: "55",
  GITHUB_REF: "refs/pull/9/merge",
  GITHUB_HEAD_REF: "fix-cart",
  GITHUB_REF_NAME: "9/merge",
};

describe("a remote job's origin", () => {
  it("in GitHub Actions: the branch, pull request and run from its variables", () => {
    const input = jobInputOf(
      "server",
      ["npm test"],
      { repo: "https://github.com/acme/shop.git" },
      defaultConfig(),
      io(actions),
    );
    expect(input).toMatchObject({
      branch: "fix-cart",
      pr_number: 9,
      ci_run_url: "https://github.com/acme/shop/actions/runs/55",
    });
    expect(jobInputSchema.safeParse(input).success).toBe(true);
  });

  it("from the Action: the failed run's, not the workflow_run job's own (which runs on main)", () => {
    const input = jobInputOf(
      "server",
      ["npm test"],
      {
        repo: "https://github.com/acme/shop.git",
        ci: { branch: "fix-cart", prNumber: 7, runUrl: "https://github.com/acme/shop/actions/runs/41" },
      },
      defaultConfig(),
      io({ ...actions, GITHUB_REF: "refs/heads/main", GITHUB_HEAD_REF: "", GITHUB_REF_NAME: "main" }),
    );
    expect(input).toMatchObject({
      branch: "fix-cart",
      pr_number: 7,
      ci_run_url: "https://github.com/acme/shop/actions/runs/41",
    });
  });

  it("outside Actions nothing; an http run address (which the server would refuse) is left out", () => {
    const local = jobInputOf(
      "server",
      ["npm test"],
      { repo: "https://github.com/acme/shop.git" },
      defaultConfig(),
      io({ GITHUB_REF_NAME: "main" }),
    );
    expect(local).not.toHaveProperty("branch");
    expect(local).not.toHaveProperty("ci_run_url");
    const ghes = jobInputOf(
      "server",
      ["npm test"],
      {
        repo: "https://ghes.example/acme/shop.git",
        ci: { branch: "b", prNumber: null, runUrl: "http://ghes.example/acme/shop/actions/runs/1" },
      },
      defaultConfig(),
      io({}),
    );
    expect(ghes).toMatchObject({ branch: "b" });
    expect(ghes).not.toHaveProperty("ci_run_url");
    expect(ghes).not.toHaveProperty("pr_number");
  });
});
