import { stripVTControlCharacters } from "node:util";

// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]+/g;

/**
 * Output kept in reports is read in JSON, markdown, PR comments and terminals: colour codes would
 * show as junk and a NUL costs six bytes once JSON-escaped, so colour codes go and each run of control characters becomes one
 * marker; newlines and tabs stay.
 */
export function cleanText(text: string): string {
  // Node's own escape-sequence stripper (colours, cursor moves, OSC hyperlinks and titles).
  const cleaned = stripVTControlCharacters(text).replace(CONTROL, "\uFFFD");
  // V8 may keep a replace() result with many matches as a rope of tiny pieces (measured: ~330 KB of
  // heap for a 10 KB string of NULs). Attempt records live for the whole job, so flatten it once.
  return cleaned === text ? text : Buffer.from(cleaned, "utf8").toString("utf8");
}
