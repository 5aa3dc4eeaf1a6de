import { accessSync, constants, statSync } from "node:fs";
import { delimiter, isAbsolute, join, resolve } from "node:path";

/** Resolve a program name like execvp would: a path containing "/" relative to cwd, else a PATH search. */
export function which(program: string, cwd: string, pathVar: string | undefined): string | undefined {
  const candidates = program.includes("/")
    ? [isAbsolute(program) ? program : resolve(cwd, program)]
    : (pathVar ?? "")
        .split(delimiter)
        .filter(Boolean)
        .map((dir) => join(isAbsolute(dir) ? dir : resolve(cwd, dir), program));
  for (const c of candidates) {
    try {
      if (!statSync(c).isFile()) continue;
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      // Not here; keep looking.
    }
  }
  return undefined;
}
