import { FRAMEWORKS, SEVERITIES, type Severity } from "../config/schema.js";
import { UsageError } from "../errors.js";
import { validateWebhookUrl } from "../notify/send.js";
import { validateServerUrl } from "../remote/server-client.js";
import { INPUTS, type InputName } from "./definition.js";

/** The Action's inputs, read the way the runner passes them (INPUT_<NAME>) and checked in one go. */
export interface ActionInputs {
  command: string | null;
  runs: number | null;
  parallelism: number | null;
  framework: string | null;
  tests: string[];
  junitPath: string | null;
  junitArtifact: string;
  backend: "local" | "server" | "runpod";
  serverUrl: string | null;
  apiKey: string | null;
  endpointId: string | null;
  runpodApi: string | null;
  repositoryUrl: string | null;
  githubToken: string | null;
  comment: boolean;
  summary: boolean;
  annotations: boolean;
  slackWebhook: string | null;
  discordWebhook: string | null;
  notifyOn: Severity | null;
  failOn: Severity | null;
  config: string | null;
  dashboardUrl: string | null;
  allowForks: boolean;
}

/** The runner's variable for an input: spaces become underscores, letters upper case, hyphens stay. */
export function inputVariable(name: InputName): string {
  return `INPUT_${name.replace(/ /g, "_").toUpperCase()}`;
}

const BACKENDS = ["local", "server", "runpod"] as const;

export function readInputs(env: NodeJS.ProcessEnv): ActionInputs {
  const problems: string[] = [];
  const raw = (name: InputName): string | null => {
    const v = env[inputVariable(name)]?.trim() ?? "";
    return v === "" ? null : v;
  };
  const fix = (name: InputName) => `fix \`${name}:\` under \`with:\` of the flaky-detector step`;
  const bad = (name: InputName, value: string, expected: string) =>
    problems.push(`input ${name}: expected ${expected}, got ${JSON.stringify(value)}; ${fix(name)}`);
  const int = (name: InputName, max: number): number | null => {
    const v = raw(name);
    if (v === null) return null;
    if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > max) {
      bad(name, v, `a whole number from 1 to ${max}`);
      return null;
    }
    return Number(v);
  };
  const oneOf = <T extends string>(name: InputName, allowed: readonly T[]): T | null => {
    const v = raw(name);
    if (v === null) return null;
    const lower = v.toLowerCase();
    if (!(allowed as readonly string[]).includes(lower)) {
      bad(name, v, `one of ${allowed.join(", ")}`);
      return null;
    }
    return lower as T;
  };
  const bool = (name: InputName): boolean => {
    const v = raw(name) ?? (INPUTS[name] as { default?: string }).default ?? "false";
    // The YAML 1.2 core schema's booleans, as @actions/core's getBooleanInput accepts them.
    if (["true", "True", "TRUE"].includes(v)) return true;
    if (["false", "False", "FALSE"].includes(v)) return false;
    bad(name, v, "true or false");
    return false;
  };
  const secretUrl = (name: InputName): string | null => {
    const v = raw(name);
    if (v === null) return null;
    try {
      return validateWebhookUrl(`input ${name}`, v);
    } catch (e) {
      // The message never repeats the URL: a webhook's path is its credential.
      problems.push(`${(e as Error).message}; ${fix(name)}`);
      return null;
    }
  };
  const url = (name: InputName): string | null => {
    const v = raw(name);
    if (v === null) return null;
    try {
      const u = new URL(v);
      if (u.protocol !== "https:" && u.protocol !== "http:") throw new Error("not http");
      return v;
    } catch {
      bad(name, v, "an http(s) URL");
      return null;
    }
  };

  const backend = oneOf("backend", BACKENDS) ?? "local";
  let serverUrl = raw("server-url");
  if (serverUrl !== null) {
    try {
      serverUrl = validateServerUrl(serverUrl);
    } catch (e) {
      problems.push(
        `input server-url: ${(e as Error).message.replace(/^--url: /, "")}; ${fix("server-url")}`,
      );
      serverUrl = null;
    }
  }
  const inputs: ActionInputs = {
    command: raw("command"),
    runs: int("runs", 10000),
    parallelism: int("parallelism", 1024),
    framework: oneOf("framework", FRAMEWORKS),
    tests: (raw("tests") ?? "")
      .split("\n")
      .map((t) => t.trim())
      .filter(Boolean),
    junitPath: raw("junit-path"),
    junitArtifact: raw("junit-artifact") ?? (INPUTS["junit-artifact"].default as string),
    backend,
    serverUrl,
    apiKey: raw("api-key"),
    endpointId: raw("endpoint-id"),
    runpodApi: url("runpod-api"),
    repositoryUrl: raw("repository-url"),
    githubToken: raw("github-token"),
    comment: bool("comment"),
    summary: bool("summary"),
    annotations: bool("annotations"),
    slackWebhook: secretUrl("slack-webhook"),
    discordWebhook: secretUrl("discord-webhook"),
    notifyOn: oneOf("notify-on", SEVERITIES),
    failOn: oneOf("fail-on", SEVERITIES),
    config: raw("config"),
    dashboardUrl: url("dashboard-url"),
    allowForks: bool("allow-forks"),
  };
  if (backend === "server" && inputs.serverUrl === null && raw("server-url") === null) {
    problems.push(
      "input server-url: backend server needs the URL of `flaky-detector serve`; set `server-url:`",
    );
  }
  if (backend === "runpod" && inputs.endpointId === null) {
    problems.push("input endpoint-id: backend runpod needs the Serverless endpoint id; set `endpoint-id:`");
  }
  if (backend === "runpod" && inputs.apiKey === null) {
    problems.push(
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a GitHub Actions expression, not a JS template
      "input api-key: backend runpod needs the RunPod API key; set `api-key: ${{ secrets.RUNPOD_API_KEY }}`",
    );
  }
  if (backend === "local") {
    for (const name of ["server-url", "endpoint-id", "runpod-api", "repository-url"] as const) {
      if (raw(name) !== null)
        problems.push(
          `input ${name}: only used with backend server or runpod; remove it or set \`backend:\``,
        );
    }
  }
  if (problems.length > 0) {
    throw new UsageError(
      "E_ACTION_INPUT",
      [`${problems.length} problem(s) with the action's inputs:`, ...problems.map((p) => `  ${p}`)].join(
        "\n",
      ),
    );
  }
  return inputs;
}
