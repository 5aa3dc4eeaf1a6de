import { readFileSync } from "node:fs";
import { UsageError } from "../errors.js";

/**
 * What triggered the Action, from the runner's variables and the event payload. In `workflow_run`
 * mode the Action runs on the default branch after another workflow finished; everything about the
 * code under test (commit, branch, pull request) comes from `workflow_run`, never from GITHUB_SHA.
 */
export interface Trigger {
  mode: "workflow_run" | "same-job";
  eventName: string;
  owner: string;
  repo: string;
  serverUrl: string;
  apiUrl: string;
  headSha: string;
  headBranch: string | null;
  /** From the payload; null when the payload lists none (forks, or a push) — then ask the API. */
  prNumber: number | null;
  /** The run whose failure we investigate (workflow_run), or this run (same-job). */
  runId: number | null;
  runUrl: string | null;
  runName: string | null;
  /** workflow_run: the finished run's conclusion ("failure", "success", "cancelled", …). */
  conclusion: string | null;
  /** The code comes from another repository (a fork's pull request). */
  fromFork: boolean;
  /** This Action's own run. */
  detectionUrl: string | null;
}

type Json = Record<string, unknown>;

const SHA = /^[0-9a-f]{40}$/;

export function readTrigger(env: NodeJS.ProcessEnv): Trigger {
  const need = (name: string): string => {
    const v = env[name];
    if (!v) {
      throw new UsageError(
        "E_ACTION_ENV",
        `${name} is not set: run this as a GitHub Action step (uses: …), not as a plain script`,
      );
    }
    return v;
  };
  const repository = need("GITHUB_REPOSITORY");
  const [owner, repo] = repository.split("/");
  if (!owner || !repo)
    throw new UsageError(
      "E_ACTION_ENV",
      `GITHUB_REPOSITORY: expected owner/name, got ${JSON.stringify(repository)}`,
    );
  const eventName = need("GITHUB_EVENT_NAME");
  const eventPath = need("GITHUB_EVENT_PATH");
  let event: Json;
  try {
    event = JSON.parse(readFileSync(eventPath, "utf8")) as Json;
  } catch (e) {
    throw new UsageError(
      "E_ACTION_ENV",
      `GITHUB_EVENT_PATH: cannot read the event payload ${eventPath}: ${(e as Error).message}`,
    );
  }
  const serverUrl = (env.GITHUB_SERVER_URL || "https://github.com").replace(/\/$/, "");
  const apiUrl = (env.GITHUB_API_URL || "https://api.github.com").replace(/\/$/, "");
  const thisRun = env.GITHUB_RUN_ID
    ? `${serverUrl}/${owner}/${repo}/actions/runs/${env.GITHUB_RUN_ID}`
    : null;
  const base = { eventName, owner, repo, serverUrl, apiUrl, detectionUrl: thisRun };

  if (eventName === "workflow_run") {
    const run = event.workflow_run as Json | undefined;
    if (!run || typeof run !== "object") {
      throw new UsageError("E_ACTION_EVENT", "the workflow_run event payload has no workflow_run object");
    }
    const headSha = String(run.head_sha ?? "");
    if (!SHA.test(headSha)) {
      throw new UsageError(
        "E_ACTION_EVENT",
        `workflow_run.head_sha: expected a 40-character commit id, got ${JSON.stringify(run.head_sha)}`,
      );
    }
    const prs = Array.isArray(run.pull_requests) ? (run.pull_requests as Json[]) : [];
    // The payload lists pull requests of this repository whose head is this commit.
    const pr = prs.find((p) => (p.head as Json | undefined)?.sha === headSha) ?? prs[0];
    const headRepo = (run.head_repository as Json | undefined)?.full_name;
    const runNumber = typeof run.run_number === "number" ? ` #${run.run_number}` : "";
    return {
      ...base,
      mode: "workflow_run",
      headSha,
      headBranch: typeof run.head_branch === "string" ? run.head_branch : null,
      prNumber: typeof pr?.number === "number" ? pr.number : null,
      runId: typeof run.id === "number" ? run.id : null,
      runUrl: typeof run.html_url === "string" ? run.html_url : null,
      runName: `${typeof run.name === "string" ? run.name : "CI"}${runNumber}`,
      conclusion: typeof run.conclusion === "string" ? run.conclusion : null,
      fromFork: typeof headRepo === "string" && headRepo.toLowerCase() !== repository.toLowerCase(),
    };
  }

  // Same job (a step after the tests, `if: failure()`): the commit is the one checked out.
  const pull = event.pull_request as Json | undefined;
  const head = pull?.head as Json | undefined;
  const headSha = String(head?.sha ?? env.GITHUB_SHA ?? "");
  if (!SHA.test(headSha)) {
    throw new UsageError(
      "E_ACTION_ENV",
      `GITHUB_SHA: expected a 40-character commit id, got ${JSON.stringify(headSha)}`,
    );
  }
  const headRepo = (head?.repo as Json | undefined)?.full_name;
  return {
    ...base,
    mode: "same-job",
    headSha,
    headBranch: typeof head?.ref === "string" ? head.ref : env.GITHUB_HEAD_REF || env.GITHUB_REF_NAME || null,
    prNumber: typeof pull?.number === "number" ? pull.number : null,
    runId: env.GITHUB_RUN_ID ? Number(env.GITHUB_RUN_ID) : null,
    runUrl: thisRun,
    runName: env.GITHUB_WORKFLOW ?? "CI",
    conclusion: null,
    fromFork: typeof headRepo === "string" && headRepo.toLowerCase() !== repository.toLowerCase(),
  };
}
