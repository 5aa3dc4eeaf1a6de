import type { ParsedTest } from "./types.js";

/**
 * `cargo test`'s stable human output (the JSON format needs nightly): `test path::name ... ok`,
 * `FAILED`, `ignored`, and the `---- path::name stdout ----` sections that hold failure output.
 * Test binaries are told apart by their "Running" header (cargo writes it to stderr, which is
 * therefore read with the results) so the same name in two crates stays two tests.
 */
export function parseCargoTest(
  text: string,
  opts: { oneThread: boolean } = { oneThread: false },
): ParsedTest[] {
  const out: ParsedTest[] = [];
  let section: Section | null = null;
  const close = () => {
    if (section) out.push(...diedIn(section, opts.oneThread));
    section = null;
  };
  const lines = text.split("\n");
  for (const raw of lines) {
    const line = raw.trimEnd();
    const running = /^\s*Running (?:unittests )?(\S+)/.exec(line);
    if (running || /^\s*Doc-tests /.test(line)) {
      close();
      section = {
        binary: running ? (running[1] as string).replace(/\s*\(.*$/, "") : "doctests",
        declared: 0,
        ended: new Set(),
        started: null,
        finished: false,
        exit: null,
      };
      continue;
    }
    section ??= { binary: "", declared: 0, ended: new Set(), started: null, finished: false, exit: null };
    const declared = /^running (\d+) tests?$/.exec(line);
    if (declared) section.declared = Number(declared[1]);
    if (/^test result: /.test(line)) section.finished = true;
    const exit =
      /process didn't exit successfully: .*\((signal: \d+, (SIG[A-Z0-9]+)[^)]*|exit status: \d+)\)\s*$/.exec(
        line,
      );
    if (exit)
      section.exit = exit[2]
        ? `was killed by ${exit[2]}`
        : `exited with ${exit[1]?.replace("exit status: ", "")}`;
    // One test thread: libtest prints "test name ... " when the test starts and its result when it
    // ends; if it never ends, whatever comes next (cargo's error, the test's own prints) follows.
    const start = /^test (.+?) \.\.\.(?: (?!(?:ok|FAILED|ignored)(?:,|$))|$)/.exec(line);
    if (start) section.started = start[1] as string;
    const m = /^test (.+?) \.\.\. (ok|FAILED|ignored)(?:,.*)?$/.exec(line);
    if (!m) continue;
    const name = m[1] as string;
    const status = m[2] === "ok" ? "passed" : m[2] === "FAILED" ? "failed" : "skipped";
    section.ended.add(name);
    out.push({ id: name, name, file: section.binary || null, status, message: null, durationMs: null });
  }
  close();
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
      current = out.find(
        (t) => t.name === section[1] && t.status === "failed" && t.message === null && t.died === undefined,
      );
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

/** One test binary's part of the output, from its "Running" header to the next. */
interface Section {
  binary: string;
  declared: number;
  ended: Set<string>;
  /** The last test libtest announced (one test thread only). */
  started: string | null;
  /** Its "test result:" line was printed: the binary ran to the end. */
  finished: boolean;
  /** How the binary died, from cargo's "process didn't exit successfully" line. */
  exit: string | null;
}

/**
 * A binary that announced tests and never printed its "test result:" line died (a signal, an
 * abort, process::exit). With one test thread (the adapter says so from the command), the test it
 * announced and never ended crashed.
 * Otherwise libtest (which prints a test only when it ends) cannot say which of the unfinished
 * tests was running: the crash is a finding of the binary, counted over all attempts, and its
 * unfinished tests did not run there.
 */
function diedIn(s: Section, oneThread: boolean): ParsedTest[] {
  if (s.finished || s.declared === 0) return [];
  const how = s.exit ?? "died";
  // With several threads libtest writes a test's name when it ends, then its result: a process
  // killed between the two leaves a name that had ended, while another test crashed it.
  if (oneThread && s.started !== null && !s.ended.has(s.started)) {
    return [
      {
        id: s.started,
        name: s.started,
        file: s.binary || null,
        status: "failed",
        message: `crashed: the test binary ${how} while this test ran`,
        durationMs: null,
        died: "crashed",
      },
    ];
  }
  const binary = s.binary || "test binary";
  const unfinished = s.declared - s.ended.size;
  return [
    {
      id: binary,
      name: `test binary ${binary}`,
      file: s.binary || null,
      status: "failed",
      message: `crashed: the test binary for ${binary} ${how} with ${unfinished} of its ${s.declared} tests unfinished (libtest names a test only when it ends; with --test-threads=1 it names the one running)`,
      durationMs: null,
      kind: "collection",
      died: "crashed",
    },
  ];
}
