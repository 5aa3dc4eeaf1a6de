// The closed value sets of the configuration, apart from its zod schema: the command line's option
// choices need them, and loading zod for `--version` or `--help` would cost ~95 modules.

export const FRAMEWORKS = [
  "auto",
  "pytest",
  "jest",
  "vitest",
  "mocha",
  "node-test",
  "go",
  "cargo",
  "playwright",
  "junit",
  "command",
] as const;
export const SEVERITIES = ["critical", "high", "medium", "low", "none"] as const;
export const STOP_RULES = ["fixed", "adaptive"] as const;
export const ISOLATIONS = ["copy", "shared"] as const;
