import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { readReport, runCli, tempDir } from "../helpers/cli.js";
import { git } from "../helpers/git.js";

let dir: { path: string; cleanup: () => void };
beforeEach(() => {
  dir = tempDir("fd-install-cache-");
});
afterEach(() => dir.cleanup());

/**
 * A repository whose test needs an installed dependency. The dependency comes from a tarball in the
 * repository (npm ci needs no registry) and counts its own installs through its postinstall script.
 */
function makeRepo(): { url: string; origin: string; log: string } {
  const dep = join(dir.path, "dep");
  const origin = join(dir.path, "origin");
  const log = join(dir.path, "installs.log");
  mkdirSync(dep);
  mkdirSync(origin);
  writeFileSync(
    join(dep, "package.json"),
    JSON.stringify({
      name: "dep",
      version: "1.0.0",
      main: "index.js",
      scripts: { postinstall: `node -e "require('fs').appendFileSync(process.env.INSTALL_LOG, 'x')"` },
    }),
  );
  writeFileSync(join(dep, "index.js"), "module.exports = 42;\n");
  execFileSync("npm", ["pack", "--silent", "--pack-destination", origin], { cwd: dep, stdio: "ignore" });
  writeFileSync(
    join(origin, "package.json"),
    `${JSON.stringify({ name: "app", version: "1.0.0", private: true, dependencies: { dep: "file:dep-1.0.0.tgz" } }, null, 2)}\n`,
  );
  writeFileSync(join(origin, "check.js"), "process.exit(require('dep') === 42 ? 0 : 1);\n");
  writeFileSync(join(origin, ".gitignore"), "node_modules/\n");
  execFileSync("npm", ["install", "--offline", "--no-audit", "--no-fund", "--ignore-scripts"], {
    cwd: origin,
    stdio: "ignore",
  });
  git(origin, "init", "-q", "-b", "main");
  git(origin, "add", "-A");
  git(origin, "commit", "-qm", "app");
  return { url: `file://${origin}`, origin, log };
}

/** One detection of the repository's test, `runs` attempts, its report at r.json. */
const job = (url: string, runs: number, env: NodeJS.ProcessEnv) =>
  runCli(
    [
      "run",
      "--runs",
      String(runs),
      "--no-history",
      "--repo",
      url,
      "--json",
      join(dir.path, "r.json"),
      "--",
      "node",
      "check.js",
    ],
    {
      cwd: dir.path,
      env,
    },
  );

describe("install cache", () => {
  it("installs once, reuses node_modules for the same lockfile, and installs again when package.json changes", async () => {
    const { url, origin, log } = makeRepo();
    const cache = join(dir.path, "cache");
    const env = { INSTALL_LOG: log, FLAKY_DETECTOR_INSTALL_CACHE: cache };
    const report = () => readReport(join(dir.path, "r.json"));
    const installs = () => (existsSync(log) ? readFileSync(log, "utf8").length : 0);
    const run = () => job(url, 2, env);

    const first = await run();
    expect(first.code, first.stderr).toBe(0);
    expect(installs()).toBe(1);
    expect(report().summary.verdict).toBe("stable");
    const stored = report().installCache;
    expect(stored).toEqual([
      { use: "stored", step: "npm ci --no-audit --no-fund", key: expect.stringMatching(/^[0-9a-f]{64}$/) },
    ]);
    expect(readdirSync(cache)).toEqual([stored?.[0] && "key" in stored[0] ? stored[0].key : ""]);

    const second = await run();
    expect(second.code, second.stderr).toBe(0);
    // The dependency's postinstall did not run again: npm ci was not run; the test still finds it.
    expect(installs()).toBe(1);
    expect(report().summary.verdict).toBe("stable");
    expect(report().summary.passedAttempts).toBe(2);
    expect(report().installCache).toEqual([{ ...stored?.[0], use: "reused" }]);
    expect(second.stderr).toContain("node_modules from the install cache");

    // Another package.json is another key: installed, and kept beside the first.
    const manifest = JSON.parse(readFileSync(join(origin, "package.json"), "utf8"));
    writeFileSync(
      join(origin, "package.json"),
      `${JSON.stringify({ ...manifest, description: "changed" }, null, 2)}\n`,
    );
    git(origin, "commit", "-qam", "describe");
    const third = await run();
    expect(third.code, third.stderr).toBe(0);
    expect(installs()).toBe(2);
    expect(report().installCache?.[0]?.use).toBe("stored");
    expect(readdirSync(cache)).toHaveLength(2);
  }, 120_000);

  it("runs the package's own install scripts again after a restore, and is off on request", async () => {
    const { url, origin, log } = makeRepo();
    const manifest = JSON.parse(readFileSync(join(origin, "package.json"), "utf8"));
    // A build step outside node_modules the test needs, as `npm ci` runs it.
    writeFileSync(
      join(origin, "package.json"),
      `${JSON.stringify({ ...manifest, scripts: { prepare: `node -e "require('fs').writeFileSync('built.txt', '1')"` } }, null, 2)}\n`,
    );
    writeFileSync(
      join(origin, "check.js"),
      "process.exit(require('dep') === 42 && require('fs').existsSync('built.txt') ? 0 : 1);\n",
    );
    git(origin, "commit", "-qam", "prepare");
    const cache = join(dir.path, "cache");
    const report = () => readReport(join(dir.path, "r.json"));
    const run = (setting: string) => job(url, 1, { INSTALL_LOG: log, FLAKY_DETECTOR_INSTALL_CACHE: setting });
    const first = await run(cache);
    expect(first.code, first.stderr).toBe(0);
    expect(report().installCache?.[0]?.use).toBe("stored");
    const second = await run(cache);
    expect(second.code, second.stderr).toBe(0);
    expect(report().installCache?.[0]?.use).toBe("reused");
    expect(report().summary.verdict).toBe("stable");
    expect(second.stderr).toContain("npm run --ignore-scripts prepare");
    expect(readFileSync(log, "utf8")).toBe("x");

    const off = await run("off");
    expect(off.code, off.stderr).toBe(0);
    expect(report().installCache).toBeUndefined();
    expect(readFileSync(log, "utf8")).toBe("xx");
  }, 120_000);

  it("says why an install without a lockfile is not reused", async () => {
    const { url, origin, log } = makeRepo();
    git(origin, "rm", "-q", "package-lock.json");
    git(origin, "commit", "-qm", "no lock");
    const r = await job(url, 1, { INSTALL_LOG: log, FLAKY_DETECTOR_INSTALL_CACHE: join(dir.path, "cache") });
    expect(r.code, r.stderr).toBe(0);
    expect(readReport(join(dir.path, "r.json")).installCache).toEqual([
      {
        use: "not cacheable",
        step: "npm install --no-audit --no-fund",
        reason: "no lockfile, so an install may resolve other versions",
      },
    ]);
    expect(existsSync(join(dir.path, "cache"))).toBe(false);
  }, 120_000);
});
