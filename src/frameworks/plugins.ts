import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The directory of the event reporter we ship for a framework (plugins/<name>/ at the package
 * root), found upward from this module: it sits two levels up from src/frameworks and
 * dist/frameworks, one from the Action's bundle. Undefined when the package was installed
 * without it; attempts then run without per-test events.
 */
export function pluginDir(
  framework: "pytest" | "mocha" | "node-test" | "vitest" | "jest",
): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    const candidate = join(dir, "plugins", framework);
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  return undefined;
}
