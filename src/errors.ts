/**
 * Typed errors with stable codes. Only an entry point's error boundary turns them into exit codes,
 * so library code throws and never calls process.exit.
 */

export const EXIT = {
  ok: 0,
  flaky: 1,
  usage: 2,
  infra: 3,
  internal: 4,
  interrupted: 130,
} as const;

export type ErrorKind = "usage" | "config" | "infra" | "internal";

export abstract class FlakyDetectorError extends Error {
  abstract readonly kind: ErrorKind;
  abstract readonly exitCode: number;
  /** Stable machine-readable code, e.g. `E_CONFIG_UNKNOWN_KEY`. */
  readonly code: string;
  /** Extra lines shown under the message (for example an install log tail). */
  readonly details: string[];

  constructor(code: string, message: string, options: { details?: string[]; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details ?? [];
    this.name = new.target.name;
  }
}

/** The user asked for something impossible on the command line. Exit 2. */
export class UsageError extends FlakyDetectorError {
  readonly kind = "usage" as const;
  readonly exitCode = EXIT.usage;
}

/** A configuration value (file, environment, flag or job input) is invalid. Exit 2. */
export class ConfigError extends FlakyDetectorError {
  readonly kind = "config" as const;
  readonly exitCode = EXIT.usage;
  readonly problems: ConfigProblem[];
  constructor(problems: ConfigProblem[], code = "E_CONFIG") {
    const head =
      problems.length === 1
        ? "invalid configuration:"
        : `invalid configuration (${problems.length} problems):`;
    super(code, [head, ...problems.map((p) => `  ${formatProblem(p)}`)].join("\n"));
    this.problems = problems;
  }
}

/** Clone, checkout, install, spawn or every attempt errored: never a test failure. Exit 3. */
export class InfraError extends FlakyDetectorError {
  readonly kind = "infra" as const;
  readonly exitCode = EXIT.infra;
}

/** A bug in flaky-detector itself. Exit 4. */
export class InternalError extends FlakyDetectorError {
  readonly kind = "internal" as const;
  readonly exitCode = EXIT.internal;
}

export interface ConfigProblem {
  /** Dot path of the offending key, e.g. `severity_thresholds.high`. */
  path: string;
  /** What is wrong, including the bad value. */
  message: string;
  /** Where the value came from and how to fix it. */
  hint?: string;
}

export function formatProblem(p: ConfigProblem): string {
  const where = p.path === "" ? "" : `${p.path}: `;
  return `${where}${p.message}${p.hint ? ` (${p.hint})` : ""}`;
}

export function isFlakyDetectorError(e: unknown): e is FlakyDetectorError {
  return e instanceof FlakyDetectorError;
}
