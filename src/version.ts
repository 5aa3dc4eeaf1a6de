import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * Name and version from our own package.json, read once. It is found upward from this module:
 * src/ and dist/ sit one level below the package root, the CLI's bundled chunks (dist/cli/) two.
 */
function readPackage(): { name: string; version: string } {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    const candidate = join(dir, "package.json");
    if (existsSync(candidate)) {
      const pkg = JSON.parse(readFileSync(candidate, "utf8")) as { name: string; version: string };
      if (pkg.name === "flaky-detector") return { name: pkg.name, version: pkg.version };
    }
    dir = dirname(dir);
  }
  throw new Error(`flaky-detector: cannot find its package.json above ${fileURLToPath(import.meta.url)}`);
}

export const TOOL = readPackage();
