import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../helpers/cli.js";

/**
 * DESIGN.md's dependency direction, enforced: each layer lists the layers it may import.
 * Entry points (cli, action, server, remote) may use everything; nothing may import them.
 */
const LEAF = ["errors", "version", "util"];
const ALLOWED: Record<string, string[]> = {
  errors: [],
  version: [],
  util: ["errors"],
  config: ["errors", "util"],
  parsers: ["errors"],
  analysis: ["config", "parsers", "errors"],
  frameworks: ["config", "parsers", "errors"],
  runner: ["config", "parsers", "analysis", ...LEAF],
  workspace: ["config", "parsers", "analysis", ...LEAF],
  source: ["config", "parsers", "analysis", ...LEAF],
  store: ["config", "parsers", "analysis", ...LEAF],
  reporters: ["config", "parsers", "analysis", ...LEAF],
  pipeline: [
    "config",
    "parsers",
    "analysis",
    "frameworks",
    "runner",
    "workspace",
    "source",
    "store",
    "reporters",
    ...LEAF,
  ],
  notify: ["config", "analysis", "reporters", ...LEAF],
  cli: ["*"],
  action: ["*"],
  server: ["*"],
  remote: ["*"],
  dashboard: ["analysis"],
  index: ["*"],
};
/** Pure layers: no I/O modules at all. */
const PURE = new Set(["analysis", "parsers"]);
const IO_MODULES = /^node:(fs|child_process|net|http|https|os|process|worker_threads|dgram|cluster)(\/|$)/;

const SRC = join(ROOT, "src");

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );
}

function layerOf(file: string): string {
  const rel = relative(SRC, file);
  const first = rel.split("/")[0] as string;
  return first.replace(/\.(ts|js)$/, "");
}

function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  return [...text.matchAll(/(?:from\s+|import\s*\(\s*|import\s+)["']([^"']+)["']/g)].map(
    (m) => m[1] as string,
  );
}

describe("architecture", () => {
  const all = files(SRC);

  it("knows every layer under src/", () => {
    expect(all.length).toBeGreaterThan(20);
    for (const f of all) expect(ALLOWED, `no rule for ${relative(SRC, f)}`).toHaveProperty(layerOf(f));
  });

  it("keeps dependencies one-way", () => {
    const violations: string[] = [];
    for (const file of all) {
      const from = layerOf(file);
      for (const spec of importsOf(file)) {
        if (PURE.has(from) && IO_MODULES.test(spec))
          violations.push(`${relative(SRC, file)} (pure) imports ${spec}`);
        if (!spec.startsWith(".")) continue;
        const to = layerOf(resolve(dirname(file), spec));
        const allowed = ALLOWED[from] ?? [];
        if (to !== from && !allowed.includes("*") && !allowed.includes(to)) {
          violations.push(`${relative(SRC, file)} (${from}) imports ${spec} (${to})`);
        }
      }
    }
    expect(violations).toEqual([]);
  });

  it("keeps the dashboard a browser app that only talks to the read API", () => {
    const problems: string[] = [];
    for (const file of all.filter((f) => layerOf(f) === "dashboard")) {
      const text = readFileSync(file, "utf8");
      for (const spec of importsOf(file)) {
        if (spec.startsWith(".")) continue;
        // Chart.js is loaded by index.html from the package; only its types may be imported.
        const typeOnly = new RegExp(`import type [^;]+ from "${spec}"`).test(text);
        if (!(spec === "chart.js" && typeOnly)) problems.push(`${relative(SRC, file)} imports ${spec}`);
      }
    }
    expect(problems).toEqual([]);
  });
});
