import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
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
      throw new UsageError(
        "E_FRAMEWORK_MISMATCH",
        `--framework ${config.framework}: the command runs ${other.name} (${JSON.stringify(argv.join(" ").slice(0, 120))}); pass --framework ${other.name}, or leave --framework out to detect it`,
      );
    }
    return { adapter: ADAPTERS[config.framework], how: "--framework", warnings };
  }
  const direct = detectFramework(argv);
  if (direct) return { adapter: direct, how: "detected from the command", warnings };
  const script = scriptName(argv);
  if (script) {
    const text = packageScript(workspace, script);
    if (text) {
      let inner: string[] | undefined;
      try {
        inner = parseCommandString(text, `package.json scripts.${script}`).argv;
      } catch {
        inner = undefined;
      }
      const innerAdapter = inner ? detectFramework(inner) : undefined;
      const wrapped = inner && innerAdapter ? viaPackageScript(argv, inner, innerAdapter) : undefined;
      if (wrapped) return { adapter: wrapped, how: `detected from package.json scripts.${script}`, warnings };
      warnings.push(
        `per-test results need a framework flaky-detector can drive; scripts.${script} is ${JSON.stringify(text)}. ` +
          "Measuring the command as a whole; run the test tool directly (e.g. -- npx jest) or pass --framework",
      );
    }
  }
  return { adapter: ADAPTERS.command, how: "no framework detected: the command as a whole", warnings };
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
