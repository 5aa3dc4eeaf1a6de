import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, existsSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, tempDir } from "../helpers/cli.js";

/**
 * The package as a user installs it: `npm pack` from the sources (its prepack builds dist/), the
 * tarball installed into an empty prefix from the npm registry, and the installed bin run on a
 * small project — with the SQLite native module working, then made unloadable.
 */

let dir: { path: string; cleanup: () => void };
let prefix: string;
let bin: string;
let project: string;

const SKIP = new Set(["node_modules", ".git", "dist", "dist-action", "test-artifacts", "results"]);

beforeAll(() => {
  dir = tempDir("fd-package-");
  const src = join(dir.path, "src");
  // The sources as a clone has them; dependencies borrowed so the prepack build can run.
  cpSync(ROOT, src, {
    recursive: true,
    filter: (p) =>
      !relative(ROOT, p)
        .split("/")
        .some((part) => SKIP.has(part)),
  });
  symlinkSync(join(ROOT, "node_modules"), join(src, "node_modules"));
  const packed = execFileSync("npm", ["pack", "--json", "--pack-destination", dir.path], {
    cwd: src,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
  const tarball = join(dir.path, (JSON.parse(packed) as { filename: string }[])[0]?.filename ?? "");
  prefix = join(dir.path, "prefix");
  // --engine-strict: an installer on the oldest Node we declare gets no package that refuses it.
  execFileSync(
    "npm",
    ["install", "--prefix", prefix, "--no-audit", "--no-fund", "--no-save", "--engine-strict", tarball],
    { stdio: "ignore" },
  );
  bin = join(prefix, "node_modules/.bin/flaky-detector");
  project = join(dir.path, "project");
  cpSync(join(ROOT, "examples/node-test"), project, { recursive: true });
}, 900_000);
afterAll(() => dir.cleanup());

function cli(args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawnSync(bin, args, {
    cwd: project,
    encoding: "utf8",
    env: { ...process.env, XDG_DATA_HOME: join(dir.path, "data"), NO_COLOR: "1", ...env },
  });
}

describe("the packed package, installed into an empty prefix", () => {
  it("ships its built bin and the event plugins", () => {
    const pkg = join(prefix, "node_modules/flaky-detector");
    expect(existsSync(join(pkg, "dist/cli/bin.js"))).toBe(true);
    expect(readdirSync(join(pkg, "plugins")).sort()).toEqual([
      "jest",
      "mocha",
      "node-test",
      "pytest",
      "shared",
      "vitest",
    ]);
    expect(cli(["--version"]).stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it("installs nothing that declares a newer Node than our engines field", () => {
    // What installers get is not what this repository's lockfile and overrides pin: read the
    // engines of every package the install actually placed.
    const semver = createRequire(import.meta.url)("semver") as {
      minVersion(range: string): { version: string } | null;
      satisfies(version: string, range: string): boolean;
    };
    const ours = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
      engines: { node: string };
    };
    const floor = semver.minVersion(ours.engines.node)?.version as string;
    const refusing: string[] = [];
    const walk = (modules: string) => {
      if (!existsSync(modules)) return;
      for (const name of readdirSync(modules)) {
        if (name.startsWith(".")) continue;
        if (name.startsWith("@")) {
          for (const scoped of readdirSync(join(modules, name))) visit(join(modules, name, scoped));
        } else visit(join(modules, name));
      }
    };
    const visit = (dir: string) => {
      const file = join(dir, "package.json");
      if (!existsSync(file)) return;
      const pkg = JSON.parse(readFileSync(file, "utf8")) as {
        name: string;
        version: string;
        engines?: { node?: string };
      };
      const range = pkg.engines?.node;
      if (range && !semver.satisfies(floor, range))
        refusing.push(`${pkg.name}@${pkg.version} wants node ${range}`);
      walk(join(dir, "node_modules"));
    };
    walk(join(prefix, "node_modules"));
    expect(readdirSync(join(prefix, "node_modules")).length).toBeGreaterThan(50);
    expect(refusing, `our engines say node ${ours.engines.node}`).toEqual([]);
  });

  it("runs a detection and records it in SQLite", () => {
    const r = cli(["run", "--runs", "3", "--stop", "fixed", "--", "node", "--test"]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/VERDICT/);
    expect(r.stderr).toMatch(/recorded in .*history\.db/);
    const h = cli(["history", "list", "--json"]);
    expect(h.status, h.stderr).toBe(0);
  }, 300_000);

  it("without a loadable SQLite module: run --no-history works, history says how to enable it", () => {
    // A native module built for another Node, or a failed compile: present but unloadable.
    const native = join(prefix, "node_modules/better-sqlite3/build/Release/better_sqlite3.node");
    if (existsSync(join(prefix, "node_modules/better-sqlite3"))) writeFileSync(native, "not a shared object");
    const r = cli(["run", "--runs", "3", "--stop", "fixed", "--no-history", "--", "node", "--test"]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/VERDICT/);
    expect(r.stderr).not.toMatch(/better-sqlite3/);
    // History on: the detection still completes, with a warning saying how to get history back.
    const withHistory = cli(["run", "--runs", "3", "--stop", "fixed", "--", "node", "--test"]);
    expect(withHistory.status, withHistory.stderr).toBe(0);
    expect(withHistory.stderr).toMatch(/could not record this detection.*better-sqlite3/s);
    const h = cli(["history", "list"]);
    expect(h.status, h.stderr).toBe(3);
    expect(h.stderr).toMatch(/npm install better-sqlite3/);
    expect(h.stderr).toMatch(/postgres:\/\//);
    expect(h.stderr).toMatch(/--no-history/);
  }, 300_000);
});
