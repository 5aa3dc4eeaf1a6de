import { realpathSync } from "node:fs";
import { isAbsolute, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as z from "zod";
import { dotted, isPlainObject, type LayerOrigin, show, toProblems, valueAt } from "../config/layer.js";
import { resolveConfig } from "../config/resolve.js";
import { type Config, configLayerSchema } from "../config/schema.js";
import { ConfigError, isFlakyDetectorError } from "../errors.js";
import { type ParsedCommand, parseTestCommand } from "../runner/command-line.js";
import { parseRepoSpec, privateRepoProblem, validateRef, withoutCredentials } from "../source/repo-spec.js";
import type { Problem } from "./params.js";

/**
 * The body of POST /run and /runsync: RunPod's envelope `{input, policy}` around a job input that
 * takes the seed project's fields (repo, test_command, runs, parallelism, framework) and ours. The
 * zod schemas here are the only definition: validation, the 400 messages and the OpenAPI document
 * all come from them.
 */

/** Configuration keys a job may set; the rest are the server operator's business. */
export const JOB_CONFIG_KEYS = {
  runs: true,
  parallelism: true,
  timeout: true,
  job_timeout: true,
  kill_grace: true,
  ignore_patterns: true,
  severity_thresholds: true,
  auto_install_dependencies: true,
  event_reporters: true,
  focus: true,
  repeat: true,
  install_timeout: true,
  max_error_length: true,
  output_head_bytes: true,
  output_tail_bytes: true,
  random_seed_range: true,
  seed: true,
  shard_size: true,
  framework: true,
  stop: true,
  confidence: true,
  min_detectable_rate: true,
  shuffle: true,
  isolation: true,
  secrets: true,
} as const;

/** Keys of the config file a job may not set, with the reason given back. */
const SERVER_SETTINGS: Record<string, string> = {
  history: "the server records every job in its own database",
  notify: "notifications are configured on the server",
  quarantine: "quarantine lists belong to the repository's .flaky-detector.yml",
  save_full_output: "it writes files on the server",
  logs_dir: "it writes files on the server",
  preserve_temp_dir: "it keeps files on the server",
  cleanup_on_failure: "the server always cleans up",
  fail_on: "a job reports its severity; the client decides what fails",
  auto_trigger_on_failure: "it configures the GitHub Action",
  auto_trigger_runs: "it configures the GitHub Action",
  auto_trigger_parallelism: "it configures the GitHub Action",
  webhook: "this server does not call webhooks; poll GET /status/{id} or stream GET /stream/{id}",
};

const configPart = configLayerSchema.pick(JOB_CONFIG_KEYS).shape;

const seedSchema = z.int().min(0).max(4294967295);
const shardSchema = z.strictObject({
  jobSeed: seedSchema,
  first: z.int().min(0).max(10000),
  count: z.int().min(0).max(10000),
  followUps: z
    .strictObject({
      replay: z
        .array(z.strictObject({ id: z.string().min(1).max(4000), failingSeeds: z.array(seedSchema).max(30) }))
        .max(10000),
      confirm: z
        .array(
          z
            .strictObject({
              id: z.string().min(1).max(4000),
              attempts: z.int().min(2).max(100000),
              failures: z.int().min(1).max(100000),
            })
            .refine((t) => t.failures < t.attempts, {
              message: "failures must be fewer than attempts (only a flaky test is confirmed)",
              path: ["failures"],
            }),
        )
        .max(10000),
      shuffledSeeds: z.array(seedSchema).max(10000),
    })
    .optional(),
});

export const jobInputSchema = z
  .strictObject({
    repo: z
      .string()
      .min(1)
      .max(2000)
      .describe(
        "Repository to test: an https:// or ssh URL git can clone (no credentials in it), or a local path under one of the server's --allow-path roots.",
      ),
    ref: z.string().min(1).max(255).optional().describe("Branch, tag or commit SHA to check out."),
    test_command: z
      .union([z.string().min(1).max(10_000), z.array(z.string().max(10_000)).min(1).max(1000)])
      .describe("Command that runs the tests: a string split like a shell would (no operators), or argv."),
    tests: z
      .array(z.string().min(1).max(4000))
      .min(1)
      .max(10_000)
      .optional()
      .describe("Rerun only these test ids."),
    junit: z
      .string()
      .min(1)
      .max(1000)
      .optional()
      .describe("Glob of JUnit XML files the command writes (generic per-test results)."),
    branch: z.string().min(1).max(500).optional().describe("Branch name recorded in history."),
    pr_number: z
      .int()
      .min(1)
      .max(2_147_483_647)
      .optional()
      .describe("Pull request number recorded in history."),
    ci_run_url: z
      .url({ protocol: /^https$/ })
      .max(2000)
      .refine((u) => !/^https:\/\/[^/]*@/.test(u), {
        message: "must be an https URL without credentials (no user:password@); link the CI run without them",
      })
      .optional()
      .describe("The CI run that asked for this detection (linked from the dashboard)."),
    shard: shardSchema
      .optional()
      .describe(
        "Set by a coordinator (run --backend runpod, serve --redis): run only attempts [first, first + count) of the job seeded jobSeed, or the follow-ups, and return a shard result instead of a report.",
      ),
    ...configPart,
  })
  .describe("What to run: the seed project's fields plus flaky-detector's.");

const WEEK_MS = 7 * 24 * 3600 * 1000;

export const policySchema = z
  .strictObject({
    executionTimeout: z
      .int()
      .min(1000)
      .max(WEEK_MS)
      .optional()
      .describe("Milliseconds the job may run before it is stopped as TIMED_OUT (default 600000)."),
    ttl: z
      .int()
      .min(10_000)
      .max(WEEK_MS)
      .optional()
      .describe("Milliseconds a finished job's result is kept (default 86400000)."),
    lowPriority: z.boolean().optional().describe("Run after every job without it."),
  })
  .describe("RunPod's execution policy.");

export const runRequestSchema = z.strictObject({
  input: jobInputSchema,
  policy: policySchema.optional(),
});

export type JobInput = z.infer<typeof jobInputSchema>;
export type RunRequest = z.infer<typeof runRequestSchema>;

export const DEFAULT_EXECUTION_TIMEOUT_MS = 600_000;
export const DEFAULT_TTL_MS = 24 * 3600 * 1000;

export interface JobContext {
  /** Absolute directories a local `repo` path must lie under; empty refuses every local path. */
  allowRoots: readonly string[];
  /** The server's environment (its FLAKY_DETECTOR_* values are the jobs' defaults). */
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Accept http:// and loopback/private-network repositories (serve --allow-private-repos). */
  allowPrivateRepos?: boolean;
}

/** A validated job, ready to run. */
export interface JobPlan {
  input: JobInput;
  config: Config;
  command: ParsedCommand;
  warnings: string[];
}

/** Validate a request body; every problem found is returned, each naming its field path. */
export function validateRunRequest(
  body: unknown,
  ctx: JobContext,
): { ok: true; request: RunRequest; plan: JobPlan } | { ok: false; problems: Problem[] } {
  if (!isPlainObject(body)) {
    return {
      ok: false,
      problems: [
        {
          path: "",
          message: `the request body must be a JSON object like {"input": {"repo": …, "test_command": …}}, got ${show(body)}`,
        },
      ],
    };
  }
  const parsed = runRequestSchema.safeParse(body);
  if (!parsed.success) {
    const problems = parsed.error.issues.flatMap((i) => issueProblems(i, body));
    // The repository and ref are checked even when other fields are wrong, so one answer lists all.
    const input = isPlainObject(body.input) ? body.input : {};
    const paths = new Set(problems.map((p) => p.path));
    if (typeof input.repo === "string" && !paths.has("input.repo")) {
      problems.push(
        ...fieldProblem("input.repo", withoutCredentials(input.repo), () =>
          repoProblem(input.repo as string, ctx),
        ),
      );
    }
    if (typeof input.ref === "string" && !paths.has("input.ref")) {
      problems.push(...fieldProblem("input.ref", input.ref, () => void validateRef(input.ref as string)));
    }
    return { ok: false, problems };
  }
  const planned = planJob(parsed.data.input, ctx);
  if (!planned.ok) return planned;
  return { ok: true, request: parsed.data, plan: planned.plan };
}

/** Semantic checks past the schema: repo, ref, command, the allow-list and cross-field rules. */
export function planJob(
  input: JobInput,
  ctx: JobContext,
): { ok: true; plan: JobPlan } | { ok: false; problems: Problem[] } {
  const problems: Problem[] = [];
  // The value is echoed in the 400: never with the credentials a refused URL may carry.
  problems.push(
    ...fieldProblem("input.repo", withoutCredentials(input.repo), () => repoProblem(input.repo, ctx)),
  );
  if (input.ref !== undefined) {
    problems.push(...fieldProblem("input.ref", input.ref, () => void validateRef(input.ref as string)));
  }
  let command: ParsedCommand | undefined;
  problems.push(
    ...fieldProblem("input.test_command", input.test_command, () => {
      command = parseTestCommand(input.test_command as string | string[]);
      return undefined;
    }),
  );

  const values = Object.fromEntries(Object.entries(input).filter(([k]) => k in JOB_CONFIG_KEYS)) as Record<
    string,
    unknown
  >;
  let config: Config | undefined;
  const warnings: string[] = [];
  try {
    const resolved = resolveConfig({
      cwd: ctx.cwd,
      env: ctx.env,
      noFile: true,
      overrides: { origin: { label: "job input", where: () => "in the job input" }, values },
    });
    config = resolved.config;
    warnings.push(...resolved.warnings);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    for (const p of e.problems) {
      const top = p.path.split(".")[0] ?? "";
      // Problems of the server's own environment are not the caller's to fix.
      const mine = top in values || p.path === "";
      problems.push({
        path: mine ? `input.${p.path}` : `(server) ${p.path}`,
        message: p.message,
        ...(mine ? { value: valueAt(values, p.path.split(".")) } : {}),
      });
    }
  }
  const shard = input.shard;
  if (config && shard && shard.first + shard.count > config.runs) {
    problems.push({
      path: "input.shard",
      message: `attempts ${shard.first}..${shard.first + shard.count - 1} lie beyond the job's budget of ${config.runs} runs; set runs to the whole job's budget`,
      value: shard,
    });
  }
  if (problems.length > 0 || !config || !command) return { ok: false, problems };
  return { ok: true, plan: { input, config, command, warnings } };
}

/** Run one semantic check; its thrown error or returned message becomes the field's problem. */
function fieldProblem(path: string, value: unknown, check: () => string | undefined): Problem[] {
  try {
    const message = check();
    return message ? [{ path, message, value }] : [];
  } catch (e) {
    if (!isFlakyDetectorError(e)) throw e;
    return [{ path, message: e.message.replace(/^(--repo|--ref|test_command): /, ""), value }];
  }
}

/** Undefined when the repository is acceptable; otherwise why not. */
function repoProblem(repo: string, ctx: JobContext): string | undefined {
  const spec = parseRepoSpec(repo);
  if (!ctx.allowPrivateRepos) {
    const refused = privateRepoProblem(spec);
    if (refused) return refused;
  }
  let localPath: string | undefined;
  if (spec.kind === "path") localPath = spec.path;
  else if (spec.url.startsWith("file:")) localPath = fileURLToPath(spec.url);
  if (localPath === undefined) return undefined;
  if (!isAbsolute(localPath)) {
    return `a local path must be absolute (it is resolved on the server), got ${JSON.stringify(repo)}`;
  }
  if (ctx.allowRoots.length === 0) {
    return "local paths are refused: this server allows none (start it with --allow-path <dir> to allow paths under <dir>), or give a URL git can clone";
  }
  // Resolve symbolic links first, so a link under an allowed root cannot point outside it.
  let real: string;
  try {
    real = realpathSync(localPath);
  } catch {
    return `no such directory on the server: ${localPath}`;
  }
  if (!ctx.allowRoots.some((root) => isUnder(real, root))) {
    return `${localPath} is not under an allowed root (${ctx.allowRoots.join(", ")}); ask the operator to add one with --allow-path, or give a URL`;
  }
  return undefined;
}

function isUnder(path: string, root: string): boolean {
  const rel = relative(resolve(root), path);
  return rel === "" || (!rel.startsWith("..") && !isAbsolute(rel));
}

const BODY: LayerOrigin = { label: "request body", where: () => "in the request body" };

/** The config layer's messages, plus the reason for each server-side setting a job tried to set. */
function issueProblems(issue: z.core.$ZodIssue, body: Record<string, unknown>): Problem[] {
  const path = issue.path.filter((p): p is string | number => typeof p !== "symbol");
  const refused = issue.code === "unrecognized_keys" ? issue.keys.filter((k) => k in SERVER_SETTINGS) : [];
  const problems: Problem[] = refused.map((key) => ({
    path: dotted([...path, key]),
    message: `cannot be set by a job: ${SERVER_SETTINGS[key]}`,
  }));
  const rest =
    issue.code === "unrecognized_keys"
      ? { ...issue, keys: issue.keys.filter((k) => !refused.includes(k)) }
      : issue;
  if (rest.code === "unrecognized_keys" && rest.keys.length === 0) return problems;
  const raw = valueAt(body, path);
  const value = dotted(path) === "input.repo" && typeof raw === "string" ? withoutCredentials(raw) : raw;
  for (const p of toProblems(rest, body, BODY, runRequestSchema)) {
    // The origin's own hint ("in the request body") says nothing here; the list of valid keys does.
    const valid = p.hint?.indexOf("valid keys here") ?? -1;
    problems.push({
      path: p.path,
      message: valid >= 0 ? `${p.message}; ${p.hint?.slice(valid)}` : p.message,
      ...(rest.code !== "unrecognized_keys" && value !== undefined ? { value } : {}),
    });
  }
  return problems;
}
