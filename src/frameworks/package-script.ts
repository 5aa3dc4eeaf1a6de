import { basename, type FrameworkAdapter, type Listing } from "./types.js";

const RUNNERS = new Set(["npm", "pnpm", "yarn"]);
/** Adapters whose flags can simply be appended to a package script's command line. */
const APPENDABLE = new Set(["jest", "vitest", "mocha", "playwright"]);

/** The script a package-manager command runs: `npm test`, `npm run test:unit`, `yarn test`, `pnpm test`. */
export function scriptName(argv: readonly string[]): string | undefined {
  if (!RUNNERS.has(basename(argv[0]))) return undefined;
  if (argv[1] === "run" || argv[1] === "run-script") return argv[2];
  if (argv[1] === "test" || argv[1] === "t") return "test";
  return basename(argv[0]) === "npm" ? undefined : argv[1];
}

/**
 * Wrap the framework a package script runs so `npm test` gets per-test results: our flags go after
 * `--` (npm) or straight after the script name (yarn, pnpm), which the script's command receives.
 */
export function viaPackageScript(
  argv: readonly string[],
  scriptArgv: readonly string[],
  inner: FrameworkAdapter,
): FrameworkAdapter | undefined {
  const isNpm = basename(argv[0]) === "npm";
  if (inner.name === "node-test") return nodeTestDirect(scriptArgv, inner, isNpm);
  if (!APPENDABLE.has(inner.name)) return undefined;
  return {
    ...inner,
    matches: () => false,
    prepare(a, ctx, report = true) {
      const prepared = inner.prepare(scriptArgv, ctx, report);
      const suffix = prepared.argv.slice(scriptArgv.length);
      const sep = isNpm && !a.includes("--") ? ["--"] : [];
      return { argv: [...a, ...(suffix.length > 0 ? sep : []), ...suffix], env: prepared.env };
    },
    // The listing runs the script's command itself (node_modules/.bin is on PATH): `vitest list`
    // replaces a subcommand, which cannot be appended to `npm test`.
    ...(inner.list ? { list: (_a, listFile) => inner.list?.(scriptArgv, listFile) as Listing } : {}),
  };
}

/**
 * `node --test` behind a package script runs directly: node's own options (reporters, the events
 * plugin, a name pattern) must come before its test files, and npm appends what follows `--` after
 * them. The user's extra arguments (after `--` for npm, after the script name for yarn and pnpm)
 * are kept; npm's pre/post scripts do not run.
 */
function nodeTestDirect(
  scriptArgv: readonly string[],
  inner: FrameworkAdapter,
  isNpm: boolean,
): FrameworkAdapter {
  const extra = (a: readonly string[]) => {
    if (isNpm) {
      const sep = a.indexOf("--");
      return sep < 0 ? [] : a.slice(sep + 1);
    }
    const named = a[1] === "run" || a[1] === "run-script" ? 3 : 2;
    return a.slice(named);
  };
  return {
    ...inner,
    matches: () => false,
    prepare: (a, ctx, report = true) => inner.prepare([...scriptArgv, ...extra(a)], ctx, report),
    ...(inner.list
      ? { list: (a, listFile) => inner.list?.([...scriptArgv, ...extra(a)], listFile) as Listing }
      : {}),
  };
}
