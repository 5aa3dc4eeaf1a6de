import { existsSync, mkdirSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  CACHE_ENTRIES,
  installCacheDir,
  installKey,
  restoreInstall,
  storeInstall,
} from "../../src/workspace/install-cache.js";
import { tempDir } from "../helpers/cli.js";

let dir: { path: string; cleanup: () => void };
beforeEach(() => {
  dir = tempDir("fd-install-key-");
});
afterEach(() => dir.cleanup());

function project(files: Record<string, string>): string {
  const p = join(dir.path, `p${readdirSync(dir.path).length}`);
  mkdirSync(p);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(p, name), text);
  return p;
}

const npmCi = ["npm", "ci"];
const lock = '{"lockfileVersion":3}';

describe("installKey", () => {
  it("keys on the lockfile, package.json, .npmrc, the command and node's version", () => {
    expect(
      installKey(
        project({ "package.json": '{"scripts":{"prepare":"tsc","test":"x"}}', "package-lock.json": lock }),
        npmCi,
        "v20",
      ),
    ).toMatchObject({ scripts: ["prepare"] });
    const base = { "package.json": '{"name":"a"}', "package-lock.json": lock };
    const key = (files: Record<string, string>, argv = npmCi, node = "v20.0.0") =>
      installKey(project(files), argv, node);
    const k = key(base);
    expect(k).toEqual({ key: expect.stringMatching(/^[0-9a-f]{64}$/), scripts: [] });
    expect(key(base)).toEqual(k);
    for (const other of [
      key({ ...base, "package-lock.json": '{"lockfileVersion":2}' }),
      key({ ...base, "package.json": '{"name":"b"}' }),
      key({ ...base, ".npmrc": "legacy-peer-deps=true\n" }),
      key(base, ["npm", "install"]),
      key(base, npmCi, "v22.0.0"),
    ]) {
      expect(other).not.toEqual(k);
    }
  });

  it("says why an install cannot be reused", () => {
    expect(installKey(project({ "package.json": "{}" }), npmCi, "v20")).toEqual({
      reason: "no lockfile, so an install may resolve other versions",
    });
    expect(
      installKey(
        project({ "package.json": '{"workspaces":["packages/*"]}', "package-lock.json": lock }),
        npmCi,
        "v20",
      ),
    ).toEqual({ reason: "a workspace (monorepo) install also writes node_modules inside its packages" });
    expect(
      installKey(
        project({ "package.json": "{}", "pnpm-lock.yaml": "", "pnpm-workspace.yaml": "" }),
        npmCi,
        "v20",
      ),
    ).toEqual({ reason: "a workspace (monorepo) install also writes node_modules inside its packages" });
    expect(
      installKey(
        project({
          "package.json": '{"scripts":{"postinstall":"husky","prepare":"tsc","test":"x"}}',
          "yarn.lock": "",
        }),
        ["yarn", "install", "--frozen-lockfile"],
        "v20",
      ),
    ).toEqual({ reason: "the package's own postinstall, prepare script may write outside node_modules" });
    expect(installKey(project({ "package.json": "{", "package-lock.json": lock }), npmCi, "v20")).toEqual({
      reason: "package.json is not valid JSON",
    });
  });
});

describe("the cache directory", () => {
  it("follows XDG_CACHE_HOME, and is off or a given directory on request", () => {
    expect(installCacheDir("auto", { XDG_CACHE_HOME: "/c" })).toBe("/c/flaky-detector/installs");
    expect(installCacheDir("auto", {})).toMatch(/\/\.cache\/flaky-detector\/installs$/);
    expect(installCacheDir("off", { XDG_CACHE_HOME: "/c" })).toBeNull();
    expect(installCacheDir("/srv/cache", {})).toBe("/srv/cache");
  });
});

describe("entries", () => {
  const withModules = (name: string) => {
    const p = project({});
    mkdirSync(join(p, "node_modules", name, "bin"), { recursive: true });
    writeFileSync(join(p, "node_modules", name, "index.js"), `module.exports = "${name}";\n`);
    return p;
  };

  it("restores what was stored, and treats an entry without its marker as a miss", async () => {
    const cache = join(dir.path, "cache");
    const key = "a".repeat(64);
    expect(await storeInstall(cache, key, withModules("dep"), { step: "npm ci" })).toBe("stored");
    const target = project({});
    expect(await restoreInstall(cache, key, target)).toBe(true);
    expect(existsSync(join(target, "node_modules", "dep", "index.js"))).toBe(true);

    rmSync(join(cache, key, "flaky-detector-install.json"));
    const other = project({});
    expect(await restoreInstall(cache, key, other)).toBe(false);
    expect(existsSync(join(other, "node_modules"))).toBe(false);
    expect(await restoreInstall(cache, "b".repeat(64), other)).toBe(false);
  });

  it("links files rather than copying them, and drops an entry whose file was edited in place", async () => {
    const cache = join(dir.path, "cache");
    const key = "d".repeat(64);
    const installed = withModules("dep");
    await storeInstall(cache, key, installed, {});
    const stored = join(cache, key, "node_modules", "dep", "index.js");
    expect(statSync(stored).ino).toBe(statSync(join(installed, "node_modules", "dep", "index.js")).ino);
    const target = project({});
    expect(await restoreInstall(cache, key, target)).toBe(true);
    const restored = join(target, "node_modules", "dep", "index.js");
    expect(statSync(restored).ino).toBe(statSync(stored).ino);

    // A test rewrites a file of the workspace's node_modules: the entry shares it, and is dropped.
    writeFileSync(restored, 'module.exports = "patched by a test";\n');
    const next = project({});
    expect(await restoreInstall(cache, key, next)).toBe(false);
    expect(existsSync(join(next, "node_modules"))).toBe(false);
    expect(existsSync(join(cache, key))).toBe(false);
  });

  it("keeps the most recently used entries and drops the rest", async () => {
    const cache = join(dir.path, "cache");
    const source = withModules("dep");
    const keys = Array.from({ length: CACHE_ENTRIES }, (_, i) => i.toString(16).repeat(64));
    for (const [i, key] of keys.entries()) {
      await storeInstall(cache, key, source, {});
      // Older entries were used longer ago; the first is used again last, so it is kept.
      utimesSync(join(cache, key), new Date(1000 * (i + 1)), new Date(1000 * (i + 1)));
    }
    await restoreInstall(cache, keys[0] as string, project({}));
    await storeInstall(cache, "f".repeat(64), source, {});
    const left = readdirSync(cache).sort();
    expect(left).toHaveLength(CACHE_ENTRIES);
    expect(left).toContain(keys[0]);
    expect(left).toContain("f".repeat(64));
    expect(left).not.toContain(keys[1]);
  });

  it("stores nothing when the install left no node_modules (Yarn Plug'n'Play)", async () => {
    expect(await storeInstall(join(dir.path, "cache"), "c".repeat(64), project({}), {})).toBe(
      "the install wrote no node_modules",
    );
  });
});
