import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { fixture, isAlive, readReport, runCli, tempDir } from "../helpers/cli.js";
import { serve } from "../helpers/serve.js";

/** Leftover processes and directories, and job fields that must stay data. */

const tmp = tempDir("fd-hardening-");
afterAll(() => tmp.cleanup());

async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Processes whose command line contains the text (Linux /proc). */
function processesWith(text: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/cmdline`, "utf8").includes(text) && isAlive(Number(name)))
        out.push(Number(name));
    } catch {
      // gone
    }
  }
  return out;
}

describe("leftovers", () => {
  test("a test that escapes the process group with setsid is killed and reported", async () => {
    const dir = join(tmp.path, "escape");
    mkdirSync(dir);
    const json = join(dir, "report.json");
    const res = await runCli(
      [
        "run",
        "--runs",
        "3",
        "--parallelism",
        "1",
        "--stop",
        "fixed",
        "--json",
        json,
        "--",
        "node",
        fixture("escapee.mjs"),
        dir,
      ],
      { cwd: dir },
    );
    expect(res.code, res.stderr).toBe(0);
    const pids = readdirSync(dir)
      .filter((f) => f.startsWith("escapee-"))
      .map((f) => Number(readFileSync(join(dir, f), "utf8")));
    expect(pids).toHaveLength(3);
    for (const pid of pids) expect(isAlive(pid), `escapee ${pid}`).toBe(false);
    const r = readReport(json);
    expect(r.attempts.map((a) => a.escapedProcesses)).toEqual([1, 1, 1]);
    expect(r.warnings.join("\n")).toMatch(
      /3 attempt\(s\) left 3 process\(es\) running outside their process group/,
    );
    expect(res.stdout + res.stderr).toMatch(/outside their process group/);
  }, 60_000);

  test("a server killed with -9 mid-job: the next one kills its orphaned attempts and removes its temp directories", async () => {
    const root = join(tmp.path, "tmpdir");
    const project = join(tmp.path, "sleepy");
    mkdirSync(root);
    mkdirSync(project);
    writeFileSync(join(project, "README"), "sleeps\n");
    const marker = `sleep-${Date.now()}`;
    const first = await serve(["--allow-path", tmp.path, "--db", join(tmp.path, "a.db")], { TMPDIR: root });
    const res = await fetch(`${first.url}/run`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        input: {
          repo: project,
          test_command: ["node", fixture("sleep.mjs"), "120000", marker],
          runs: 2,
          parallelism: 2,
        },
      }),
    });
    expect(res.status).toBe(200);
    await until(() => processesWith(marker).length === 2, 30_000, "both attempts to start");
    const left = readdirSync(root).filter((n) => n.startsWith("flaky-detector-"));
    expect(left.length).toBeGreaterThan(0);
    const gone = new Promise((r) => first.child.on("exit", r));
    first.child.kill("SIGKILL");
    await gone;
    // Nothing of the dead server cleaned up after it.
    expect(processesWith(marker)).toHaveLength(2);
    expect(readdirSync(root).filter((n) => n.startsWith("flaky-detector-")).length).toBe(left.length);

    const second = await serve(["--allow-path", tmp.path, "--db", join(tmp.path, "b.db")], { TMPDIR: root });
    try {
      await until(() => processesWith(marker).length === 0, 10_000, "the orphans to be killed");
      expect(readdirSync(root).filter((n) => n.startsWith("flaky-detector-"))).toEqual([]);
      expect(second.stderr()).toMatch(/killed 2 test process\(es\) left running/);
      expect(second.stderr()).toMatch(/removed \d+ temporary director/);
    } finally {
      await second.stop();
    }
  }, 90_000);
});

describe("job fields are data, never commands", () => {
  test("injection payloads in tests, junit, branch and ref create no file", async () => {
    const project = join(tmp.path, "inject");
    mkdirSync(project);
    writeFileSync(join(project, "README"), "tests by the junit-writer fixture\n");
    const canary = join(tmp.path, "CANARY");
    const server = await serve(["--allow-path", tmp.path, "--db", join(tmp.path, "inject.db")]);
    try {
      const payloads = [
        `$(touch ${canary})`,
        `\`touch ${canary}\``,
        `x; touch ${canary}`,
        `x && touch ${canary}`,
        `--upload-pack=touch ${canary}`,
        `-o/dev/null;touch ${canary}`,
      ];
      const base = {
        repo: project,
        test_command: ["node", fixture("junit-writer.mjs")],
        runs: 2,
        stop: "fixed",
      };
      const inputs = payloads.flatMap((p) => [
        { ...base, junit: "reports/*.xml", tests: [p] },
        { ...base, junit: p },
        { ...base, junit: "reports/*.xml", branch: p },
        { ...base, ref: p },
      ]);
      const ids: string[] = [];
      let refused = 0;
      for (const input of inputs) {
        const res = await fetch(`${server.url}/run`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ input }),
        });
        if (res.status === 200) ids.push((await res.json()).id);
        else {
          expect(res.status).toBe(400);
          refused++;
        }
      }
      expect(ids.length).toBeGreaterThan(10);
      expect(refused).toBeGreaterThan(0);
      for (const id of ids) {
        const deadline = Date.now() + 60_000;
        for (;;) {
          const s = await (await fetch(`${server.url}/status/${id}`)).json();
          if (["COMPLETED", "FAILED"].includes(s.status)) break;
          if (Date.now() > deadline) throw new Error(`job ${id} still ${s.status}`);
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      expect(existsSync(canary)).toBe(false);
    } finally {
      await server.stop();
    }
  }, 180_000);
});
