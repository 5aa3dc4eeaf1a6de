import { parse } from "shell-quote";
import { UsageError } from "../errors.js";

export interface ParsedCommand {
  argv: string[];
  /** Leading `VAR=value` assignments, applied to the attempt's environment. */
  env: Record<string, string>;
}

const ASSIGNMENT = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s;

/**
 * Split a command string into argv like a shell would, but without running one: quotes and
 * escapes are honoured, operators are refused (they would silently become arguments otherwise).
 */
export function parseCommandString(command: string, field = "test_command"): ParsedCommand {
  const tokens = parse(command, (name) => `$${name}`);
  const argv: string[] = [];
  for (const token of tokens) {
    if (typeof token === "string") {
      argv.push(token);
      continue;
    }
    if ("op" in token) {
      const op = token.op === "glob" ? (token as { pattern: string }).pattern : token.op;
      if (token.op === "glob") {
        argv.push(op);
        continue;
      }
      throw new UsageError(
        "E_COMMAND_SHELL_OPERATOR",
        `${field}: shell operator "${op}" is not supported in ${JSON.stringify(command)}; ` +
          `commands run without a shell. To use shell features, say so explicitly: ` +
          `sh -c ${shellQuoteOne(command)}`,
      );
    }
    if ("comment" in token) break;
  }
  return splitAssignments(argv, field);
}

/** Leading NAME=value words become environment, like `CI=1 npm test` in a shell. */
export function splitAssignments(words: readonly string[], field = "command"): ParsedCommand {
  const env: Record<string, string> = {};
  let i = 0;
  for (; i < words.length; i++) {
    const m = ASSIGNMENT.exec(words[i] as string);
    if (!m) break;
    env[m[1] as string] = m[2] as string;
  }
  const argv = words.slice(i);
  if (argv.length === 0) {
    throw new UsageError(
      "E_COMMAND_EMPTY",
      `${field}: no program to run${i > 0 ? " after the variable assignments" : ""}; ` +
        "pass it after -- (flaky-detector run -- npm test) or set test_command in .flaky-detector.yml",
    );
  }
  return { argv, env };
}

/** A `test_command` as the config and job inputs allow it: one string split like a shell, or words. */
export function parseTestCommand(value: string | readonly string[], field = "test_command"): ParsedCommand {
  return typeof value === "string" ? parseCommandString(value, field) : splitAssignments(value, field);
}

/** Quote one word for display in a copy-pasteable shell line. */
export function shellQuoteOne(word: string): string {
  if (word !== "" && /^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

export function shellLine(argv: readonly string[], env: Record<string, string> = {}): string {
  const vars = Object.entries(env).map(([k, v]) => `${k}=${shellQuoteOne(v)}`);
  return [...vars, ...argv.map(shellQuoteOne)].join(" ");
}
