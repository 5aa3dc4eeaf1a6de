import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { basename, toolIndex } from "./types.js";

/**
 * In-process repetition for the Node test runners whose API can run a suite again in one process
 * (docs/design/repeat.md): our script (plugins/<tool>/flaky-detector-repeat.*) takes the place of
 * the tool's command and runs the project's own copy through its API once per attempt. These say
 * when that cannot stand in for the command, and build the command that runs it.
 */
export interface NodeRepeatTool {
  /** The command's word and the package our script loads from the project. */
  tool: "vitest" | "jest";
  /** Subcommands that do not run the tests once. */
  notARun: readonly string[];
  /** Options under which the tool does something other than run the tests once in Node. */
  options: readonly { flags: readonly string[]; why: string }[];
  /** The oldest major version whose API our script uses as it does. */
  oldestMajor: number;
  /** The API our script uses (vitest: createVitest and runTestSpecifications), named in the refusal. */
  api: string;
}

export const VITEST_REPEAT: NodeRepeatTool = {
  tool: "vitest",
  notARun: ["watch", "dev", "bench", "list", "init"],
  options: [
    {
      flags: [
        "--watch",
        "-w",
        "--ui",
        "--standalone",
        "--merge-reports",
        "--browser",
        "--inspect",
        "--inspect-brk",
      ],
      why: "does not run the tests once in Node",
    },
  ],
  oldestMajor: 3,
  api: "Node API",
};

export const JEST_REPEAT: NodeRepeatTool = {
  tool: "jest",
  notARun: [],
  options: [
    {
      flags: [
        "--watch",
        "--watchAll",
        "--listTests",
        "--showConfig",
        "--init",
        "--clearCache",
        "--version",
        "-v",
        "--help",
        "-h",
      ],
      why: "does not run the tests once",
    },
    // jest exits its process when the bail threshold is reached, in the middle of a repetition.
    {
      flags: ["--bail", "-b"],
      why: "exits the process at the first failures, ending every later repetition",
    },
  ],
  oldestMajor: 29,
  api: "runCLI",
};

/** Words that only start the tool, so our script can replace them with node. */
const LAUNCHERS = new Set(["npx", "pnpx", "pnpm", "yarn", "exec", "--no-install", "--yes", "-y"]);

/** Why this command cannot repeat in-process through our script, or null. */
export function nodeRepeatRefusal(t: NodeRepeatTool, argv: readonly string[], cwd: string): string | null {
  const i = toolIndex(argv, t.tool);
  if (i === -1) return `the command does not start ${t.tool} itself`;
  const before = argv.slice(0, i);
  const viaNode = basename(before[0]) === "node";
  const stranger = viaNode
    ? before.slice(1).find((w) => !w.startsWith("-"))
    : before.find((w) => !LAUNCHERS.has(w));
  if (stranger !== undefined)
    return `the command starts ${t.tool} through ${JSON.stringify(stranger)}, which running ${t.tool}'s tests in-process would leave out`;
  const sub = argv[i + 1];
  if (sub !== undefined && t.notARun.includes(sub)) return `\`${t.tool} ${sub}\` does not run the tests once`;
  for (const { flags, why } of t.options) {
    const option = argv
      .slice(i + 1)
      .find((w) => flags.some((o) => w === o || w.startsWith(`${o}=`) || w.startsWith(`${o}.`)));
    if (option !== undefined) return `${t.tool}'s ${option.split("=")[0]} ${why}`;
  }
  let version: string;
  try {
    const manifest = createRequire(join(cwd, "package.json")).resolve(`${t.tool}/package.json`);
    version = String((JSON.parse(readFileSync(manifest, "utf8")) as { version?: unknown }).version);
  } catch {
    return `the project's ${t.tool} package was not found from its directory, and our repetition script runs that one`;
  }
  const major = Number.parseInt(version, 10);
  if (!(major >= t.oldestMajor))
    return `${t.tool} ${version} is older than ${t.oldestMajor}.0, whose ${t.api} our repetition script uses`;
  return null;
}

/** The command that runs `argv`'s tool through our script (`script`), arguments unchanged. */
export function nodeRepeatArgv(t: NodeRepeatTool, argv: readonly string[], script: string): string[] {
  const i = toolIndex(argv, t.tool);
  const before = argv.slice(0, i);
  // node's own options (--max-old-space-size) stay; a launcher (npx) gives way to node.
  const node = basename(before[0]) === "node" ? before : ["node"];
  return [...node, script, ...argv.slice(i + 1)];
}
