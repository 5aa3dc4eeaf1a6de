import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { basename, toolIndex } from "./types.js";

/**
 * In-process repetition for vitest (docs/design/repeat.md): our script
 * (plugins/vitest/flaky-detector-repeat.mjs) takes the place of the `vitest` command and runs the
 * project's vitest through its Node API once per attempt. These say when that cannot stand in for
 * the command, and build the command that runs it.
 */

/** Words that only start vitest, so our script can replace them with node. */
const LAUNCHERS = new Set(["npx", "pnpx", "pnpm", "yarn", "exec", "--no-install", "--yes", "-y"]);
/** Subcommands that do not run the tests once. */
const NOT_A_RUN = new Set(["watch", "dev", "bench", "list", "init"]);
/** Options under which vitest does something other than run the tests once in Node. */
const NOT_IN_NODE = [
  "--watch",
  "-w",
  "--ui",
  "--standalone",
  "--merge-reports",
  "--browser",
  "--inspect",
  "--inspect-brk",
];
/** The oldest vitest whose Node API our script uses as it does (createVitest, runTestSpecifications). */
const OLDEST_MAJOR = 3;

/** Why this vitest command cannot repeat in-process, or null. */
export function vitestRepeatRefusal(argv: readonly string[], cwd: string): string | null {
  const i = toolIndex(argv, "vitest");
  if (i === -1) return "the command does not start vitest itself";
  const before = argv.slice(0, i);
  const viaNode = basename(before[0]) === "node";
  const stranger = viaNode
    ? before.slice(1).find((w) => !w.startsWith("-"))
    : before.find((w) => !LAUNCHERS.has(w));
  if (stranger !== undefined)
    return `the command starts vitest through ${JSON.stringify(stranger)}, which running vitest's tests in-process would leave out`;
  const sub = argv[i + 1];
  if (sub !== undefined && NOT_A_RUN.has(sub)) return `\`vitest ${sub}\` does not run the tests once`;
  const option = argv
    .slice(i + 1)
    .find((w) => NOT_IN_NODE.some((o) => w === o || w.startsWith(`${o}=`) || w.startsWith(`${o}.`)));
  if (option !== undefined) return `vitest's ${option.split("=")[0]} does not run the tests once in Node`;
  let version: string;
  try {
    const manifest = createRequire(join(cwd, "package.json")).resolve("vitest/package.json");
    version = String((JSON.parse(readFileSync(manifest, "utf8")) as { version?: unknown }).version);
  } catch {
    return "the project's vitest package was not found from its directory, and our repetition script runs that one";
  }
  const major = Number.parseInt(version, 10);
  if (!(major >= OLDEST_MAJOR))
    return `vitest ${version} is older than ${OLDEST_MAJOR}.0, whose Node API our repetition script uses`;
  return null;
}

/** The command that runs `argv`'s vitest through our script (`script`), arguments unchanged. */
export function vitestRepeatArgv(argv: readonly string[], script: string): string[] {
  const i = toolIndex(argv, "vitest");
  const before = argv.slice(0, i);
  // node's own options (--max-old-space-size) stay; a launcher (npx) gives way to node.
  const node = basename(before[0]) === "node" ? before : ["node"];
  return [...node, script, ...argv.slice(i + 1)];
}
