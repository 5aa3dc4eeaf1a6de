import { readdirSync, readFileSync } from "node:fs";
import { join, relative, sep } from "node:path";

/** Directories whose Go files are not built into the packages a test run compiles. */
const SKIPPED = new Set([".git", "node_modules", "testdata", "vendor"]);
/** Past this many Go files, stop looking and assume a reader exists (never repeat unseen). */
const MAX_FILES = 20_000;

/**
 * Why `go test -count=K` must not repeat attempts here, or null: the first Go source under `root`
 * that names one of `variables` as a string literal (`os.Getenv("TEST_SEED")`), or a tree too big
 * to read whole (past `maxFiles`, never repeat unseen). One `go test` process keeps
 * its environment for every repetition of `-count=K`, so a package that reads the attempt's seed
 * would see the first attempt's seed K times, and K identical draws are one observation, not K.
 * Reading the sources (not a run's test log) decides before any attempt, and a seed read through a
 * variable name built at run time, or in a module outside the repository, goes unseen: said in
 * docs/design/repeat.md.
 */
export function goSeedRefusal(
  root: string,
  variables: readonly string[],
  maxFiles = MAX_FILES,
): string | null {
  const literal = new RegExp(`"(${variables.map((v) => v.replace(/\W/g, "")).join("|")})"`);
  let seen = 0;
  const stack = [root];
  while (stack.length > 0) {
    const dir = stack.pop() as string;
    let entries: import("node:fs").Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const e of entries) {
      const path = join(dir, e.name);
      if (e.isDirectory()) {
        if (!SKIPPED.has(e.name) && !e.name.startsWith(".")) stack.push(path);
        continue;
      }
      if (!e.isFile() || !e.name.endsWith(".go")) continue;
      if (++seen > maxFiles)
        return `the working directory holds more than ${maxFiles} Go files, too many to read for a seed variable first`;
      let text: string;
      try {
        text = readFileSync(path, "utf8");
      } catch {
        continue;
      }
      const m = literal.exec(text);
      if (m) {
        const file = relative(root, path).split(sep).join("/");
        return `${file} reads ${m[1]}, and one go test process cannot change it between repetitions`;
      }
    }
  }
  return null;
}
