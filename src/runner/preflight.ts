import { InfraError } from "../errors.js";
import { which } from "../util/which.js";

/** Fail before spawning N attempts of a program that cannot start: one clear line, exit 3. */
export function assertRunnable(program: string, cwd: string, pathVar: string | undefined): string {
  const found = which(program, cwd, pathVar);
  if (found) return found;
  const where = program.includes("/") ? `at ${program} (relative to ${cwd})` : "on PATH";
  throw new InfraError(
    "E_COMMAND_NOT_FOUND",
    `command not found: ${program} (no executable ${where}); check the command after -- or test_command, and that its tool is installed`,
  );
}
