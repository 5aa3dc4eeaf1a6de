import { existsSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { runAttempt } from "../../src/runner/attempt.js";
import { holdTree, type RunTreeResult, runTree } from "../../src/util/process-tree.js";
import { Masker } from "../../src/util/secrets.js";
import { fixture, isAlive, tempDir } from "../helpers/cli.js";

let dir: { path: string; cleanup: () => void };
beforeEach(() => {
  dir = tempDir("fd-proc-");
});
afterEach(() => dir.cleanup());

const base = { cwd: process.cwd(), env: process.env, killGraceMs: 300, headBytes: 1024, tailBytes: 1024 };
const node = (script: string, ...args: string[]) => [process.execPath, fixture(script), ...args];

async function waitDead(pids: number[], ms = 3000): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (pids.every((p) => !isAlive(p))) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

function pidsIn(d: string, prefix: string): number[] {
  return readdirSync(d)
    .filter((f) => f.startsWith(prefix))
    .map((f) => Number(readFileSync(join(d, f), "utf8")));
}

describe("runTree", () => {
  it("reports the exit code and interleaved output", async () => {
    const r = await runTree({ ...base, argv: node("fail.mjs") });
    expect(r.exitCode).toBe(1);
    expect(r.signal).toBeNull();
    expect(r.output).toContain("AssertionError");
  });

  it("kills a hung program at the timeout and says so", async () => {
    const r = await runTree({ ...base, argv: node("hang.mjs", dir.path), timeoutMs: 300 });
    expect(r.terminatedBy).toBe("timeout");
    expect(r.signal).toBe("SIGTERM");
    expect(await waitDead(pidsIn(dir.path, "hang-"))).toBe(true);
  });

  it("kills the whole tree, including a grandchild that ignores SIGTERM", async () => {
    const r = await runTree({ ...base, argv: node("grandchild.mjs", dir.path), timeoutMs: 500 });
    expect(r.terminatedBy).toBe("timeout");
    expect(r.signal).toBe("SIGKILL"); // the child ignored SIGTERM too, so the grace period ran out
    const grandchildren = pidsIn(dir.path, "grandchild-");
    expect(grandchildren).toHaveLength(1);
    expect(await waitDead(grandchildren)).toBe(true);
  });

  it("records death by signal as such", async () => {
    const r = await runTree({ ...base, argv: node("signal.mjs") });
    expect(r.exitCode).toBeNull();
    expect(r.signal).toBe("SIGKILL");
    expect(r.terminatedBy).toBeUndefined();
  });

  it("reports a program that cannot start as a spawn error, not an exit code", async () => {
    const r = await runTree({ ...base, argv: ["/nonexistent/definitely-not-here"] });
    expect(r.spawnError?.code).toBe("ENOENT");
    expect(r.exitCode).toBeNull();
  });

  it("stops on abort", async () => {
    const controller = new AbortController();
    const pending = runTree({ ...base, argv: node("hang.mjs", dir.path), signal: controller.signal });
    setTimeout(() => controller.abort(), 200);
    const r = await pending;
    expect(r.terminatedBy).toBe("aborted");
  });

  it("keeps memory bounded on 10 MB of output, head and tail intact", async () => {
    const r = await runTree({ ...base, argv: node("chatty.mjs", "10"), headBytes: 100, tailBytes: 100 });
    expect(r.exitCode).toBe(0);
    expect(r.outputBytes).toBe(10 * 1024 * 1024 + "START-OF-OUTPUT\n".length + "END-OF-OUTPUT\n".length);
    expect(r.output.startsWith("START-OF-OUTPUT")).toBe(true);
    expect(r.output.trimEnd().endsWith("END-OF-OUTPUT")).toBe(true);
    expect(r.output.length).toBeLessThan(400);
    expect(r.output).toContain(`bytes of output omitted`);
  });

  it("keeps stdout and stderr in the order they were written, and leaves no output file behind", async () => {
    const script = [
      'process.stdout.write("1 out\\n");',
      'process.stderr.write("2 err\\n");',
      'process.stdout.write("3 out\\n");',
      'process.stderr.write("4 err\\n");',
    ].join("");
    const r = await runTree({ ...base, argv: [process.execPath, "-e", script] });
    expect(r.output).toBe("1 out\n2 err\n3 out\n4 err\n");
    // The capture files live in one owned directory per process (swept after a kill -9): empty now.
    const dirs = readdirSync(tmpdir()).filter(
      (f) => f.startsWith("flaky-detector-output-") && !f.endsWith(".owner"),
    );
    const mine = dirs
      .map((d) => join(tmpdir(), d))
      .filter(
        (d) => existsSync(`${d}.owner`) && readFileSync(`${d}.owner`, "utf8").startsWith(`${process.pid} `),
      );
    expect(mine).toHaveLength(1);
    expect(readdirSync(mine[0] as string)).toEqual([]);
  });

  it("trims a program printing without end to its head and latest tail while it runs", async () => {
    // ~40 MB in 250 ms steps: past the 8 MB bound several times, so the file is emptied as it goes.
    const script = [
      'const block = "x".repeat(1023) + "\\n";',
      "const mb = block.repeat(1024);",
      'process.stdout.write("FIRST LINE\\n");',
      "let n = 0;",
      "const t = setInterval(() => {",
      "  for (let i = 0; i < 4; i++) process.stdout.write(mb);",
      '  if (++n === 10) { clearInterval(t); process.stdout.write("LAST LINE\\n"); }',
      "}, 100);",
    ].join("\n");
    const r = await runTree({
      ...base,
      argv: [process.execPath, "-e", script],
      headBytes: 64,
      tailBytes: 64,
    });
    expect(r.exitCode).toBe(0);
    expect(r.output.startsWith("FIRST LINE")).toBe(true);
    expect(r.output.trimEnd().endsWith("LAST LINE")).toBe(true);
    // Bytes written between a trim's read and its truncation are lost, never invented.
    expect(r.outputBytes).toBeLessThanOrEqual(40 * 1024 * 1024 + 21);
    expect(r.outputBytes).toBeGreaterThan(30 * 1024 * 1024);
  });

  it("does not wait for a background process that keeps the output open", async () => {
    const started = Date.now();
    const r = await runTree({
      ...base,
      argv: ["sh", "-c", "(sleep 30; echo late) & echo early"],
      killGraceMs: 200,
    });
    expect(r.exitCode).toBe(0);
    expect(r.output).toContain("early");
    expect(r.output).not.toContain("late");
    // Not a timing assertion on speed: the sleeper holds the descriptor for 30 s and was killed.
    expect(Date.now() - started).toBeLessThan(25_000);
  });

  it("kills a process that left the group with setsid, and reports it", async () => {
    const r = await runTree({ ...base, argv: node("escapee.mjs", dir.path) });
    expect(r.exitCode).toBe(0);
    const [pid] = pidsIn(dir.path, "escapee-");
    expect(pid).toBeGreaterThan(0);
    expect(r.escaped).toEqual([pid]);
    expect(await waitDead([pid as number])).toBe(true);
  });

  it("still finds an escapee while other runs are going (their leaders are skipped, not their children)", async () => {
    // Another run in its own group, alive throughout: its leader and its child sit in the window.
    const other = runTree({ ...base, argv: node("grandchild.mjs", dir.path), timeoutMs: 3000 });
    const r = await runTree({ ...base, argv: node("escapee.mjs", dir.path) });
    const [pid] = pidsIn(dir.path, "escapee-");
    expect(r.escaped).toEqual([pid]);
    expect(await waitDead([pid as number])).toBe(true);
    const o = await other;
    expect(o.terminatedBy).toBe("timeout");
    expect(o.escaped).toEqual([]);
    expect(await waitDead(pidsIn(dir.path, "grandchild-"))).toBe(true);
  });

  it("looks for escapees only among pids given out since the run started, wrapped or not", async () => {
    const { spawnSync } = await import("node:child_process");
    const { inWindow, pidsSince } = await import("../../src/util/escapees.js");
    const later = spawnSync("true").pid as number;
    const since = pidsSince(process.pid);
    if (since === null) throw new Error("/proc/loadavg unreadable");
    if (later > process.pid) {
      expect(inWindow(since, later)).toBe(true);
      // An older process cannot carry a mark given to a later one.
      const afterLater = pidsSince(later);
      if (afterLater === null) throw new Error("/proc/loadavg unreadable");
      expect(inWindow(afterLater, process.pid)).toBe(false);
    }
    // A counter that wrapped past the first pid: the pids after it, and the low ones given out since.
    const wrapped = pidsSince(Number.MAX_SAFE_INTEGER);
    if (wrapped === null) throw new Error("/proc/loadavg unreadable");
    expect(inWindow(wrapped, later)).toBe(true);
    expect(inWindow(wrapped, Number.MAX_SAFE_INTEGER)).toBe(true);
  });

  it("finds a marked process by probing a small pid window and by listing /proc for a large one", async () => {
    const { spawn } = await import("node:child_process");
    const { readdirSync } = await import("node:fs");
    const { findMarked, MARK_VARIABLE } = await import("../../src/util/escapees.js");
    const mark = `probe-${process.pid}-${Date.now()}`;
    // A multithreaded process: its threads' ids follow its pid, and each answers at /proc/<tid>.
    const child = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], {
      env: { ...process.env, [MARK_VARIABLE]: mark },
      stdio: "ignore",
    });
    try {
      const pid = child.pid as number;
      const threads = () => readdirSync(`/proc/${pid}/task`).length;
      for (let i = 0; i < 100 && threads() < 2; i++) await new Promise((r) => setTimeout(r, 20));
      expect(threads()).toBeGreaterThan(1);
      // Pids from the child's own on: a window of a few pids, probed one by one.
      expect(findMarked(mark, pid - 1)).toEqual([pid]);
      // From pid 2 on: far past the probe limit, so /proc is listed.
      expect(findMarked(mark, 2)).toEqual([pid]);
      expect(findMarked("another-mark", 2)).toEqual([]);
      // The leaders of other runs still going are ours, each with a mark of its own: not read.
      expect(findMarked(mark, pid - 1, new Set([pid]))).toEqual([]);
      expect(findMarked(mark, 2, new Set([pid]))).toEqual([]);
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("reports no escapee when everything stayed in the group", async () => {
    const r = await runTree({ ...base, argv: node("grandchild.mjs", dir.path), timeoutMs: 500 });
    expect(r.terminatedBy).toBe("timeout");
    expect(r.escaped).toEqual([]);
    expect(await waitDead(pidsIn(dir.path, "grandchild-"))).toBe(true);
  });

  it("masks secrets in the captured output and the log file, across chunks and the head/tail cut", async () => {
    const secret = "s3cr3t-canary-value-0123456789";
    const log = join(dir.path, "full.log");
    const r = await runTree({
      ...base,
      argv: node("secret-output.mjs", secret),
      logFile: log,
      masker: new Masker([secret]),
    });
    expect(r.exitCode).toBe(0);
    expect(r.output).not.toContain(secret.slice(0, 8));
    expect(r.output).not.toContain(secret.slice(-8));
    expect(r.output).toContain("***");
    const full = readFileSync(log, "utf8");
    expect(full).not.toContain(secret);
    expect(full.split("***").length - 1).toBe(3);
  });

  it("writes the full output to a log file when asked", async () => {
    const logFile = join(dir.path, "a.log");
    const r = await runTree({
      ...base,
      argv: node("chatty.mjs", "2"),
      headBytes: 10,
      tailBytes: 10,
      logFile,
    });
    expect(readFileSync(logFile).length).toBe(r.outputBytes);
  });
});

describe("holdTree (a process started ahead of its turn)", () => {
  const wrote = (name: string) => join(dir.path, name);
  // Writes a file when it runs: before its release, nothing of the program may have run.
  const touch = (name: string) => [
    process.execPath,
    "-e",
    `require("fs").writeFileSync(${JSON.stringify(wrote(name))}, process.env.PWD ?? "")`,
  ];

  it("runs nothing until released, then runs the argv as given and reports its exit", async () => {
    const held = holdTree({ ...base, argv: touch("ran") });
    expect(held).toBeDefined();
    await new Promise((r) => setTimeout(r, 300));
    expect(existsSync(wrote("ran"))).toBe(false);
    const r = await (held?.release(undefined, undefined) as Promise<RunTreeResult>);
    expect(r.exitCode).toBe(0);
    expect(r.spawnError).toBeUndefined();
    expect(readFileSync(wrote("ran"), "utf8")).toBe(process.env.PWD ?? "");
  });

  it("passes arguments through untouched by the shell", async () => {
    const args = ["$HOME", "`id`", "a b", "'\"", "*", ""];
    const held = holdTree({
      ...base,
      argv: [process.execPath, "-e", "process.stdout.write(JSON.stringify(process.argv.slice(1)))", ...args],
    });
    const r = await (held?.release(undefined, undefined) as Promise<RunTreeResult>);
    expect(JSON.parse(r.output)).toEqual(args);
  });

  it("times the program from its release, and times it out from there", async () => {
    const held = holdTree({ ...base, argv: node("hang.mjs", dir.path) });
    await new Promise((r) => setTimeout(r, 400));
    const r = await (held?.release(300, undefined) as Promise<RunTreeResult>);
    expect(r.terminatedBy).toBe("timeout");
    expect(r.durationMs).toBeLessThan(400 + 300 + 1000);
    expect(r.durationMs).toBeGreaterThanOrEqual(250);
    expect(await waitDead(pidsIn(dir.path, "hang-"))).toBe(true);
  });

  it("reports death by signal as the program's own, not the shell's", async () => {
    const held = holdTree({ ...base, argv: node("signal.mjs") });
    const r = await (held?.release(undefined, undefined) as Promise<RunTreeResult>);
    expect(r.exitCode).toBeNull();
    expect(r.signal).toBe("SIGKILL");
  });

  it("dropped, the program never runs and its process is gone", async () => {
    const held = holdTree({ ...base, argv: touch("never") });
    const pid = held?.pid as number;
    expect(isAlive(pid)).toBe(true);
    held?.drop();
    expect(await waitDead([pid])).toBe(true);
    await new Promise((r) => setTimeout(r, 200));
    expect(existsSync(wrote("never"))).toBe(false);
  });

  it("a held process killed before its turn is not reported as the program's result", async () => {
    const held = holdTree({ ...base, argv: touch("killed") });
    const pid = held?.pid as number;
    expect(isAlive(pid)).toBe(true);
    process.kill(pid, "SIGKILL");
    await waitDead([pid]);
    await new Promise((r) => setTimeout(r, 100));
    expect(held?.release(undefined, undefined)).toBeUndefined();
    held?.drop();
  });

  it("is not used where it would change what happens: a program that does not resolve, or fed input", () => {
    expect(holdTree({ ...base, argv: ["definitely-not-a-program-here"] })).toBeUndefined();
    expect(holdTree({ ...base, argv: ["/nonexistent/definitely-not-here"] })).toBeUndefined();
    expect(holdTree({ ...base, argv: [process.execPath, "-e", "0"], stdin: "x" })).toBeUndefined();
  });
});

describe("runAttempt", () => {
  it("gives every attempt the seed variables, ATTEMPT, FLAKY_SLOT and the command's own variables", async () => {
    const a = await runAttempt({
      index: 7,
      seed: 4242,
      slot: 1,
      argv: node("env-dump.mjs", dir.path),
      cwd: dir.path,
      baseEnv: { PATH: process.env.PATH },
      commandEnv: { EXTRA: "yes" },
      timeoutMs: 10_000,
      killGraceMs: 300,
      headBytes: 100,
      tailBytes: 100,
    });
    expect(a.outcome).toBe("passed");
    const env = JSON.parse(readFileSync(join(dir.path, "attempt-7.json"), "utf8"));
    expect(env).toEqual({
      TEST_SEED: "4242",
      GO_TEST_SEED: "4242",
      JEST_SEED: "4242",
      VITE_TEST_SEED: "4242",
      MOCHA_SEED: "4242",
      ATTEMPT: "7",
      FLAKY_SLOT: "1",
      PYTHONHASHSEED: "4242",
      EXTRA: "yes",
      cwd: dir.path,
    });
  });

  it("maps a timeout to outcome timedOut and a spawn failure to errored", async () => {
    const common = {
      index: 0,
      seed: 1,
      slot: 0,
      cwd: dir.path,
      baseEnv: process.env,
      commandEnv: {},
      killGraceMs: 200,
      headBytes: 100,
      tailBytes: 100,
    };
    const t = await runAttempt({ ...common, argv: node("hang.mjs"), timeoutMs: 200 });
    expect(t).toMatchObject({ outcome: "timedOut", timedOut: true });
    const e = await runAttempt({ ...common, argv: ["./no-such-program"], timeoutMs: 1000 });
    expect(e.outcome).toBe("errored");
    expect(e.error).toMatch(/cannot start \.\/no-such-program: spawn \.\/no-such-program ENOENT/);
  });
});
