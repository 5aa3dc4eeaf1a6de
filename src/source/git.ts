import { InfraError } from "../errors.js";
import { runTree } from "../util/process-tree.js";

export interface GitContext {
  env: NodeJS.ProcessEnv;
  /** Secret to redact from any message (the token, if one is configured). */
  secret?: string;
  signal?: AbortSignal;
  timeoutMs?: number;
}

/** Environment for git: never prompt, and send a token as a header through GIT_CONFIG_* (not argv, not the URL). */
export function gitEnv(
  base: NodeJS.ProcessEnv,
  url: string | undefined,
): { env: NodeJS.ProcessEnv; secret?: string } {
  const env: NodeJS.ProcessEnv = { ...base, GIT_TERMINAL_PROMPT: "0", GIT_ASKPASS: "", SSH_ASKPASS: "" };
  let host = "";
  try {
    host = url ? new URL(url).hostname : "";
  } catch {
    host = "";
  }
  const token = base.GIT_TOKEN || (host === "github.com" ? base.GITHUB_TOKEN : undefined);
  if (!token || !url?.startsWith("https://")) return { env };
  const basic = Buffer.from(`x-access-token:${token}`).toString("base64");
  const count = Number(env.GIT_CONFIG_COUNT ?? 0) || 0;
  env.GIT_CONFIG_COUNT = String(count + 1);
  env[`GIT_CONFIG_KEY_${count}`] = "http.extraHeader";
  env[`GIT_CONFIG_VALUE_${count}`] = `Authorization: Basic ${basic}`;
  return { env, secret: token };
}

export function redact(text: string, secret: string | undefined): string {
  if (!secret) return text;
  const basic = Buffer.from(`x-access-token:${secret}`).toString("base64");
  return text.split(secret).join("***").split(basic).join("***");
}

/** Run git with an argv array; a failure is an infrastructure error carrying git's own message. */
export async function git(
  args: readonly string[],
  cwd: string,
  ctx: GitContext,
  what: string,
): Promise<string> {
  const result = await runTree({
    argv: ["git", "-c", "protocol.ext.allow=never", ...args],
    cwd,
    env: ctx.env,
    timeoutMs: ctx.timeoutMs ?? 600_000,
    killGraceMs: 2000,
    headBytes: 64 * 1024,
    tailBytes: 64 * 1024,
    ...(ctx.signal ? { signal: ctx.signal } : {}),
  });
  const output = redact(result.output.trim(), ctx.secret);
  if (result.spawnError) {
    throw new InfraError(
      "E_GIT_MISSING",
      `${what}: cannot run git (${result.spawnError.message}); install git`,
    );
  }
  if (result.terminatedBy === "timeout")
    throw new InfraError("E_GIT_TIMEOUT", `${what}: git timed out`, { details: tail(output) });
  if (result.terminatedBy === "aborted") throw new InfraError("E_CANCELLED", `${what}: cancelled`);
  if (result.exitCode !== 0) {
    throw new InfraError(
      "E_GIT",
      `${what} failed: ${lastLine(output) || `git exited with ${result.exitCode}`}`,
      {
        details: tail(output),
      },
    );
  }
  return output;
}

function lastLine(text: string): string {
  const lines = text.split("\n").filter((l) => l.trim() !== "");
  const fatal = lines.find((l) => /^(fatal|error):/.test(l));
  return (fatal ?? lines[lines.length - 1] ?? "").trim();
}

function tail(text: string): string[] {
  return text.split("\n").slice(-20);
}
