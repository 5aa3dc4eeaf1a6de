import type { ParsedTest } from "./types.js";

/**
 * `cargo test`'s stable human output (the JSON format needs nightly): `test path::name ... ok`,
 * `FAILED`, `ignored`, and the `---- path::name stdout ----` sections that hold failure output.
 * Test binaries are told apart by their "Running" header so the same name in two crates stays two tests.
 */
export function parseCargoTest(text: string): ParsedTest[] {
  const out: ParsedTest[] = [];
  const byKey = new Map<string, ParsedTest>();
  let binary = "";
  const lines = text.split("\n");
  for (const raw of lines) {
    const line = raw.trimEnd();
    const running = /^\s*Running (?:unittests )?(\S+)/.exec(line);
    if (running) {
      binary = (running[1] as string).replace(/\s*\(.*$/, "");
      continue;
    }
    if (/^\s*Doc-tests /.test(line)) binary = "doctests";
    const m = /^test (.+?) \.\.\. (ok|FAILED|ignored)(?:,.*)?$/.exec(line);
    if (!m) continue;
    const name = m[1] as string;
    const status = m[2] === "ok" ? "passed" : m[2] === "FAILED" ? "failed" : "skipped";
    const test: ParsedTest = {
      id: name,
      name,
      file: binary || null,
      status,
      message: null,
      durationMs: null,
    };
    byKey.set(`${binary}\u0000${name}`, test);
    out.push(test);
  }
  // Failure output: "---- name stdout ----" up to the next section or "failures:" list.
  let current: ParsedTest | undefined;
  let buffer: string[] = [];
  const flush = () => {
    if (current) current.message = buffer.join("\n").trim() || "failed";
    current = undefined;
    buffer = [];
  };
  for (const line of lines) {
    const section = /^---- (.+?) stdout ----$/.exec(line.trim());
    if (section) {
      flush();
      current = out.find((t) => t.name === section[1] && t.status === "failed" && t.message === null);
      continue;
    }
    if (current && (/^failures:$/.test(line.trim()) || /^test result:/.test(line.trim()))) {
      flush();
      continue;
    }
    if (current) buffer.push(line);
  }
  flush();
  for (const t of out) if (t.status === "failed" && !t.message) t.message = "failed";
  return out;
}
