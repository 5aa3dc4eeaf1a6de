import { existsSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import type { Config } from "../config/schema.js";
import { UsageError } from "../errors.js";
import { ADAPTERS, detectFramework, type FrameworkAdapter } from "../frameworks/index.js";
import { scriptName, viaPackageScript } from "../frameworks/package-script.js";
import { parseCommandString } from "../runner/command-line.js";

export interface ResolvedFramework {
  adapter: FrameworkAdapter;
  /** How it was chosen, for the report and the console. */
  how: string;
  warnings: string[];
}

/** --framework, --junit, or detection from the command (and from package.json for `npm test`). */
export function resolveFramework(
  config: Config,
  argv: readonly string[],
  workspace: string,
  junitGlob: string | undefined,
): ResolvedFramework {
  const warnings: string[] = [];
  if (junitGlob !== undefined && config.framework !== "auto" && config.framework !== "junit") {
    throw new UsageError(
      "E_USAGE",
      `--junit reads results for the generic junit framework, but --framework is ${config.framework}; drop one of them`,
    );
  }
  if (config.framework === "junit" || junitGlob !== undefined) {
    if (junitGlob === undefined) {
      throw new UsageError(
        "E_USAGE",
        "framework junit needs --junit <glob> naming the JUnit XML files the command writes, e.g. --junit 'target/surefire-reports/*.xml'",
      );
    }
    return { adapter: ADAPTERS.junit, how: `JUnit files matching ${junitGlob}`, warnings };
  }
  if (config.framework !== "auto") {
    // A command that plainly runs another framework would get flags it refuses, and its run would
    // look like "no test ran" at best: say so before anything runs.
    const other = detectFramework(argv);
    if (other && other.name !== config.framework && config.framework !== "command") {
      throw frameworkMismatch(
        config.framework,
        `the command runs ${other.name} (${JSON.stringify(argv.join(" ").slice(0, 120))})`,
        other.name,
      );
    }
    const viaScript = config.framework === "command" ? undefined : scriptAdapter(argv, workspace);
    // `npm test` with a framework named: the framework's options reach it only through the script.
    if (viaScript?.adapter?.name === config.framework) {
      return { adapter: viaScript.adapter, how: `--framework, through ${viaScript.how}`, warnings };
    }
    if (viaScript?.adapter) {
      throw frameworkMismatch(
        config.framework,
        `${JSON.stringify(argv.join(" "))} runs package.json scripts.${viaScript.script} (${JSON.stringify(viaScript.text)}), which runs ${viaScript.adapter.name}`,
        viaScript.adapter.name,
      );
    }
    // A script we cannot read (a wrapper of the project's own) is taken at the user's word.
    return { adapter: ADAPTERS[config.framework], how: "--framework", warnings };
  }
  const direct = detectFramework(argv);
  if (direct) return { adapter: direct, how: "detected from the command", warnings };
  const viaScript = scriptAdapter(argv, workspace);
  if (viaScript?.adapter) return { adapter: viaScript.adapter, how: viaScript.how, warnings };
  if (viaScript?.text) {
    warnings.push(
      `per-test results need a framework flaky-detector can drive; scripts.${viaScript.script} is ${JSON.stringify(viaScript.text)}. ` +
        "Measuring the command as a whole; run the test tool directly (e.g. -- npx jest) or pass --framework",
    );
  }
  return { adapter: ADAPTERS.command, how: "no framework detected: the command as a whole", warnings };
}

function frameworkMismatch(named: string, what: string, actual: string): UsageError {
  return new UsageError(
    "E_FRAMEWORK_MISMATCH",
    `--framework ${named}: ${what}; pass --framework ${actual}, or leave --framework out to detect it`,
  );
}

/**
 * The package script a command runs (`npm test`, `yarn test:unit`) and the adapter that drives the
 * framework inside it; undefined for a command that runs no package script.
 */
function scriptAdapter(
  argv: readonly string[],
  workspace: string,
):
  | { script: string; text: string | undefined; adapter: FrameworkAdapter | undefined; how: string }
  | undefined {
  const script = scriptName(argv);
  if (!script) return undefined;
  const text = packageScript(workspace, script);
  let inner: string[] | undefined;
  try {
    inner = text ? parseCommandString(text, `package.json scripts.${script}`).argv : undefined;
  } catch {
    inner = undefined;
  }
  const innerAdapter = inner ? detectFramework(inner) : undefined;
  const adapter = inner && innerAdapter ? viaPackageScript(argv, inner, innerAdapter) : undefined;
  const how =
    innerAdapter?.name === "node-test"
      ? `detected from package.json scripts.${script}, run directly (${text}): node's options cannot pass through ${basename(argv[0] ?? "npm")}`
      : `detected from package.json scripts.${script}`;
  return { script, text, adapter, how };
}

function packageScript(dir: string, name: string): string | undefined {
  const file = join(dir, "package.json");
  if (!existsSync(file)) return undefined;
  try {
    const pkg = JSON.parse(readFileSync(file, "utf8")) as { scripts?: Record<string, string> };
    return pkg.scripts?.[name];
  } catch {
    return undefined;
  }
}

/** Refuse --shuffle where the framework has no seeded order, saying why. */
export function assertShuffleSupported(adapter: FrameworkAdapter, shuffle: boolean): void {
  if (shuffle && adapter.shuffleUnsupported) {
    throw new UsageError("E_SHUFFLE_UNSUPPORTED", `shuffle: ${adapter.shuffleUnsupported}; remove --shuffle`);
  }
}
