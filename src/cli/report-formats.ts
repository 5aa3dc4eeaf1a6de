/** What `flaky-detector report --format` renders (its own module: the option's choices load nothing else). */
export const REPORT_FORMATS = ["markdown", "json", "junit", "github", "slack", "discord"] as const;
