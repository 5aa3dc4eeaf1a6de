import { appendFileSync, existsSync, rmSync, statSync } from "node:fs";
import { dirname } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { UsageError } from "../../src/errors.js";
import { parseCommandString, shellLine, splitAssignments } from "../../src/runner/command-line.js";
import { attemptSeed } from "../../src/runner/seeds.js";
import { parseRepoSpec, validateRef } from "../../src/source/repo-spec.js";
import { headTailText, OutputCapture } from "../../src/util/output-capture.js";

describe("command strings", () => {
  it("splits like a shell, without one", () => {
    expect(parseCommandString(`pytest -k "slow and not db" tests/`)).toEqual({
      argv: ["pytest", "-k", "slow and not db", "tests/"],
      env: {},
    });
    expect(parseCommandString(`go test ./... -run 'Test.*'`).argv).toEqual([
      "go",
      "test",
      "./...",
      "-run",
      "Test.*",
    ]);
  });

  it("honours leading VAR=value assignments as environment", () => {
    expect(parseCommandString("CI=1 NODE_OPTIONS='--max-old-space-size=512' npm test")).toEqual({
      argv: ["npm", "test"],
      env: { CI: "1", NODE_OPTIONS: "--max-old-space-size=512" },
    });
  });

  it("does not expand variables (no shell)", () => {
    expect(parseCommandString("echo $HOME").argv).toEqual(["echo", "$HOME"]);
  });

  for (const [command, op] of [
    ["npm ci && npm test", "&&"],
    ["pytest | tee log", "|"],
    ["make; make test", ";"],
    ["pytest > out.txt", ">"],
    ["pytest || true", "||"],
    ["sleep 1 &", "&"],
  ] as const) {
    it(`refuses the shell operator ${op} and shows the explicit sh -c form`, () => {
      expect(() => parseCommandString(command)).toThrowError(UsageError);
      expect(() => parseCommandString(command)).toThrowError(
        `test_command: shell operator "${op}" is not supported in ${JSON.stringify(command)}; commands run without a shell. To use shell features, say so explicitly: sh -c '${command}'`,
      );
    });
  }

  it("refuses a command that is only assignments", () => {
    expect(() => splitAssignments(["A=1"], "command")).toThrowError(
      /command: no program to run after the variable assignments/,
    );
  });

  it("quotes a reproduce line so it can be pasted", () => {
    expect(shellLine(["sh", "-c", "test $X -ne 0"], { TEST_SEED: "42" })).toBe(
      "TEST_SEED=42 sh -c 'test $X -ne 0'",
    );
    expect(shellLine(["echo", "it's"])).toBe(`echo 'it'\\''s'`);
  });
});

describe("seeds", () => {
  const range = { min: 0, max: 2147483647 };
  it("are a pure function of job seed and attempt index, within the range", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.integer({ min: 0, max: 9999 }), (job, i) => {
        const s = attemptSeed(job, i, range);
        return s === attemptSeed(job, i, range) && s >= range.min && s <= range.max && Number.isInteger(s);
      }),
    );
    expect(attemptSeed(5, 3, { min: 10, max: 12 })).toBeGreaterThanOrEqual(10);
    expect(attemptSeed(5, 3, { min: 10, max: 12 })).toBeLessThanOrEqual(12);
  });

  it("differ across attempts and jobs", () => {
    const seeds = new Set(Array.from({ length: 1000 }, (_, i) => attemptSeed(42, i, range)));
    expect(seeds.size).toBe(1000);
    expect(attemptSeed(1, 0, range)).not.toBe(attemptSeed(2, 0, range));
  });

  it("spread uniformly enough that p-fixtures see their probability", () => {
    let below = 0;
    for (let i = 0; i < 10000; i++) if (attemptSeed(7, i, { min: 0, max: 999 }) < 300) below++;
    expect(below / 10000).toBeGreaterThan(0.28);
    expect(below / 10000).toBeLessThan(0.32);
  });
});

describe("OutputCapture", () => {
  // The program's side of the file: appends, as a child holding the descriptor does.
  const write = (c: OutputCapture, text: string) => appendFileSync(c.path, text, "latin1");

  it("keeps everything when it fits", () => {
    const c = new OutputCapture(10, 10, 100);
    write(c, "hello ");
    write(c, "world");
    c.trim();
    expect(headTailText(c.read())).toBe("hello world");
    c.remove();
    expect(existsSync(c.path)).toBe(false);
  });

  it("makes a new directory when its own was removed under it", () => {
    const first = new OutputCapture(10, 10, 100);
    first.remove();
    rmSync(dirname(first.path), { recursive: true, force: true });
    const c = new OutputCapture(10, 10, 100);
    expect(dirname(c.path)).not.toBe(dirname(first.path));
    write(c, "still captured");
    expect(headTailText(c.read())).toBe("still captured");
    c.remove();
  });

  it("keeps head and tail and says how much was dropped", () => {
    const c = new OutputCapture(4, 4, 100);
    for (const s of ["abcd", "efgh", "ijkl", "mnop"]) write(c, s);
    const part = c.read();
    expect(part.total).toBe(16);
    expect(headTailText(part)).toBe("abcd\n[… 8 bytes of output omitted …]\nmnop");
    c.remove();
  });

  it("empties the file past its bound and still gives the first and the last bytes", () => {
    const c = new OutputCapture(4, 6, 16);
    write(c, "HEAD-0123456789-abcdefghij");
    c.trim();
    expect(statSync(c.path).size).toBe(0);
    write(c, "xy");
    const part = c.read();
    expect(part.total).toBe(28);
    // The tail spans the trim: the end of what was dropped, then what came after.
    expect(headTailText(part)).toBe("HEAD\n[… 18 bytes of output omitted …]\nghijxy");
    c.remove();
  });

  it("gives the exact head and tail however the writes and trims interleave", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.string({ maxLength: 300 }), fc.boolean()), { maxLength: 40 }),
        fc.nat(64),
        fc.nat(64),
        (steps, h, t) => {
          const c = new OutputCapture(h, t, 4 * (h + t) + 1);
          let all = "";
          try {
            for (const [s, trim] of steps) {
              write(c, s);
              all += s;
              if (trim) c.trim();
            }
            const part = c.read();
            const kept = Buffer.concat([part.head, part.tail]).toString("latin1");
            if (part.total !== all.length) return false;
            if (part.total <= h + t) return kept === all;
            return (
              part.head.toString("latin1") === all.slice(0, h) &&
              part.tail.toString("latin1") === all.slice(-t || all.length)
            );
          } finally {
            c.remove();
          }
        },
      ),
    );
  });
});

describe("repository and ref validation", () => {
  it("accepts paths and the usual URL forms", () => {
    expect(parseRepoSpec("../other")).toEqual({ kind: "path", path: "../other" });
    expect(parseRepoSpec("https://github.com/o/r.git").kind).toBe("url");
    expect(parseRepoSpec("git@github.com:o/r.git").kind).toBe("url");
    expect(parseRepoSpec("ssh://git@example.com/o/r.git").kind).toBe("url");
    expect(parseRepoSpec("file:///srv/repo.git").kind).toBe("url");
  });

  it("refuses credentials in URLs, option-like values and unknown schemes", () => {
    expect(() => parseRepoSpec("https://user:tok@github.com/o/r")).toThrowError(/GIT_TOKEN/);
    expect(() => parseRepoSpec("-uhack")).toThrowError(/invalid repository/);
    expect(() => parseRepoSpec("ext::sh -c touch% /tmp/pwned")).not.toThrowError(/scheme/); // a path, never a URL
    expect(parseRepoSpec("ext::sh -c touch% /tmp/pwned").kind).toBe("path");
    expect(() => parseRepoSpec("ftp://example.com/r")).toThrowError(/unsupported URL scheme "ftp"/);
    expect(() => parseRepoSpec("http://example.com/r")).toThrowError(/only allowed for loopback/);
  });

  it("accepts branches, tags and SHAs; refuses option-like and revision expressions", () => {
    for (const ok of ["main", "feature/x-1", "v1.2.3", "0123abcd", "release+1"])
      expect(validateRef(ok)).toBe(ok);
    for (const bad of ["--upload-pack=x", "a..b", "HEAD@{1}", "x y", "", "a/", "x.lock"]) {
      expect(() => validateRef(bad), bad).toThrowError(/--ref: invalid ref/);
    }
  });
});

describe("output cleaning", () => {
  it("drops colour codes and replaces control characters, keeping newlines and tabs", () => {
    const text = Buffer.from("\u001b[31mFAIL\u001b[39m a\tb\n\u0000\u0007end");
    expect(headTailText({ head: text, tail: Buffer.alloc(0), total: text.length })).toBe(
      "FAIL a\tb\n\uFFFDend",
    ); // one marker per run of control characters
  });
});
