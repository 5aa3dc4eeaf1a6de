/** Public library API (re-exports only). */

export { severityOf, type Verdict, verdictOf } from "./analysis/classify.js";
export type { EventSink, RunEvent } from "./analysis/events.js";
export { wilsonInterval, zeroFailureUpperBound } from "./analysis/intervals.js";
export type { Report, ReportAttempt, Summary, TestResult } from "./analysis/report.js";
export { defaultConfig } from "./config/defaults.js";
export { configJsonSchema } from "./config/json-schema.js";
export { type ResolvedConfig, type ResolveOptions, resolveConfig } from "./config/resolve.js";
export type { Config, Framework, Severity } from "./config/schema.js";
export { ConfigError, EXIT, FlakyDetectorError, InfraError, InternalError, UsageError } from "./errors.js";
export { type DetectRequest, detect } from "./pipeline/detect.js";
export { parseCommandString } from "./runner/command-line.js";
