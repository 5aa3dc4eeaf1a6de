import { existsSync } from "node:fs";
import { isAbsolute, join } from "node:path";
import type { FrameworkAdapter, ListedTest } from "../frameworks/index.js";
import { defaultJUnitId, type JUnitCase } from "../parsers/junit.js";
import { editDistance } from "../util/suggest.js";

/**
 * Requested tests → the ids the framework gives them. A CI run's JUnit file names tests the way its
 * reporter does (mocha xunit, mocha-junit-reporter, jest-junit, vitest junit, pytest xunit1/2,
 * gotestsum, node:test), which is rarely the way the rerunning framework selects them; matched
 * against the framework's own listing of its tests, every requested test either resolves to real
 * tests or is named as unmatched, with the closest real ones. docs/design/ci-ids.md.
 */

/** A failed testcase of a CI run's JUnit file. */
export interface CiFailure {
  case: JUnitCase;
  /** The file it came from, for messages. */
  from: string;
}

export interface Unmatched {
  /** How the request reads (the user's id, or the CI file's testcase). */
  label: string;
  /** The id we would have used without a listing (reported as not rerun). */
  id: string;
  /** Up to three listed ids that come closest. */
  closest: string[];
}

export interface SuiteError {
  label: string;
  from: string;
  what: string;
}

export interface Resolution {
  ids: string[];
  unmatched: Unmatched[];
  suiteErrors: SuiteError[];
  /** Requests that matched more than one test (a title shared by several files). */
  ambiguous: { label: string; ids: string[] }[];
}

/**
 * A failure of a CI file that is no test: a file that failed to load, a hook of a whole suite, a
 * package that did not build. Rerunning it "as a test" would select nothing.
 */
export function suiteLevelError(c: JUnitCase): string | null {
  const fileLike = (s: string | null) => s !== null && /\.[cm]?[jt]sx?$|\.py$/.test(s);
  if (c.classname === "Test suite failed to run") return `jest could not run the test file ${c.name}`;
  if (fileLike(c.name) && (c.name === c.classname || c.name === c.file || isAbsolute(c.name)))
    return `the test file ${c.name} failed outside any test${c.message ? `: ${firstLine(c.message)}` : ""}`;
  if (/"(?:before|after) (?:all|each)" hook/.test(c.name))
    return `a mocha hook failed (${c.name})${c.message ? `: ${firstLine(c.message)}` : ""}`;
  if (c.message?.startsWith("collection failure"))
    return `pytest could not collect ${c.name || c.classname || "a module"}`;
  if (/^\[(?:build|setup) failed\]$/.test(c.name)) return `go package ${c.classname ?? ""} did not build`;
  if (c.name.trim() === "") return "a testcase without a name";
  return null;
}

function firstLine(s: string): string {
  return (s.split("\n").find((l) => l.trim() !== "") ?? "").trim().slice(0, 200);
}

/** Titles joined as a reporter would: " > ", " › " and plain spaces all read as one space. */
function norm(s: string): string {
  return s
    .split(/\s+(?:>|›)\s+|\s+/)
    .filter((w) => w !== "")
    .join(" ");
}

/**
 * Resolve requests against the listing, or — without one (the framework cannot list, or listing
 * failed) — map CI testcases the adapter's way and take user ids as given.
 */
export function resolveRequested(
  adapter: FrameworkAdapter,
  listed: readonly ListedTest[] | null,
  userIds: readonly string[],
  ci: readonly CiFailure[],
  cwd?: string,
): Resolution {
  const out: Resolution = { ids: [], unmatched: [], suiteErrors: [], ambiguous: [] };
  const tests: CiFailure[] = [];
  for (const f of ci) {
    const what = suiteLevelError(f.case);
    if (what) out.suiteErrors.push({ label: f.case.name, from: f.from, what });
    else tests.push(f);
  }
  const index = listed ? new ListingIndex(adapter, listed) : null;
  for (const id of userIds) {
    if (!index || index.has(id)) {
      out.ids.push(id);
      continue;
    }
    const found = index.byTitle([norm(id)], []);
    if (found.length > 0) record(out, id, found);
    else out.unmatched.push({ label: id, id, closest: index.closest(id) });
  }
  for (const f of tests) {
    const guess = guessedId(adapter, f.case, cwd);
    if (!index) {
      out.ids.push(guess);
      continue;
    }
    const found = index.match(f.case);
    if (found.length > 0) record(out, guess, found);
    else out.unmatched.push({ label: guess, id: guess, closest: index.closest(guess) });
  }
  out.ids = [...new Set(out.ids)];
  return out;
}

function record(out: Resolution, label: string, ids: string[]): void {
  out.ids.push(...ids);
  if (ids.length > 1) out.ambiguous.push({ label, ids });
}

/** Ids of CI failures without a listing (a remote backend resolves nothing locally): suite-level errors left out. */
export function idsWithoutListing(
  failures: readonly CiFailure[],
  adapter: FrameworkAdapter | undefined,
  cwd: string,
): string[] {
  const ids = failures
    .filter((f) => suiteLevelError(f.case) === null)
    .map((f) => guessedId(adapter, f.case, cwd));
  return [...new Set(ids)];
}

/**
 * The id a CI testcase gets without a listing: the adapter's reading of its own reporter, or the
 * generic one; pytest's xunit2 (no file) finds the module its classname names under `cwd`.
 */
export function guessedId(adapter: FrameworkAdapter | undefined, c: JUnitCase, cwd?: string): string {
  if (adapter?.junitId) return adapter.junitId(c);
  if (c.file) return defaultJUnitId(c);
  const parts = (c.classname ?? "").split(".");
  for (let k = parts.length; cwd !== undefined && k > 0; k--) {
    const candidate = `${parts.slice(0, k).join("/")}.py`;
    if (existsSync(join(cwd, candidate))) return [candidate, ...parts.slice(k), c.name].join("::");
  }
  return c.classname ? `${c.classname}::${c.name}` : [...c.suites, c.name].join(" > ");
}

class ListingIndex {
  private readonly ids = new Set<string>();
  private readonly byFull = new Map<string, ListedTest[]>();
  /** pytest: "module.Class::name" as xunit classnames write it. */
  private readonly byPyKey = new Map<string, ListedTest[]>();

  constructor(
    private readonly adapter: FrameworkAdapter,
    private readonly listed: readonly ListedTest[],
  ) {
    for (const t of listed) {
      this.ids.add(t.id);
      push(this.byFull, norm(t.titles.join(" ")), t);
      if (adapter.name === "pytest" && t.file) {
        const module = t.file.replace(/\.py$/, "").split("/").join(".");
        const classes = t.titles.slice(0, -1);
        push(this.byPyKey, `${[module, ...classes].join(".")}::${t.titles.at(-1)}`, t);
      }
    }
  }

  /** A listed id, or one the framework's selector widens to listed tests. */
  has(id: string): boolean {
    if (this.ids.has(id)) return true;
    // "name [2]": the second test of that name in a run (results.ts tells same-named tests apart;
    // a listing names them alike).
    const base = / \[\d+\]$/.test(id) ? id.replace(/ \[\d+\]$/, "") : undefined;
    if (base !== undefined && this.ids.has(base)) return true;
    if (this.adapter.name === "go") {
      // A subtest: -run selects its top-level test, which the listing names.
      const top = /^(.*?\.(?:Test|Example|Fuzz)\w*)\//.exec(id)?.[1];
      return top !== undefined && this.ids.has(top);
    }
    if (this.adapter.name === "pytest") {
      // A file, a class, or a test without its parameters: pytest selects all it contains.
      return this.listed.some((t) => t.id.startsWith(`${id}::`) || t.id.startsWith(`${id}[`));
    }
    return false;
  }

  match(c: JUnitCase): string[] {
    if (this.adapter.name === "pytest") return this.pytest(c);
    if (this.adapter.name === "go") return this.go(c);
    // nextest: the name is the test's path, which --exact selects.
    if (this.adapter.name === "cargo") return this.ids.has(c.name) ? [c.name] : [];
    const suites = c.suites.filter((s) => !fileLike(s) && !ROOT_SUITES.has(s));
    const keys = [
      c.name,
      c.classname ? `${c.classname} ${c.name}` : null,
      [...suites, c.name].join(" "),
      c.classname,
    ]
      .filter((k): k is string => k !== null && k !== "")
      .map(norm)
      // Longest first: mocha xunit's name is the title alone, which a test elsewhere may share.
      .sort((a, b) => b.length - a.length);
    const files = [c.file, c.classname, ...c.suites].filter((f): f is string => fileLike(f));
    return this.byTitle(keys, files);
  }

  /** The tests whose joined titles equal the first key that matches any, in a file the case names if it names one. */
  byTitle(keys: readonly string[], files: readonly string[]): string[] {
    for (const key of keys) {
      const hits = (this.byFull.get(key) ?? []).filter(
        (t) => files.length === 0 || t.file === null || files.some((f) => sameFile(f, t.file as string)),
      );
      // A title twice in one file is one id (the framework's filter selects both alike).
      if (hits.length > 0) return [...new Set(hits.map((t) => t.id))];
    }
    return [];
  }

  private pytest(c: JUnitCase): string[] {
    // xunit1 and xunit2 alike: classname "pkg.test_mod.TestClass", name "test_x[param]".
    const key = `${c.classname ?? ""}::${c.name}`;
    const exact = this.byPyKey.get(key);
    if (exact) return exact.map((t) => t.id);
    // A classname written from another rootdir: a dotted suffix of ours, or ours of it.
    const hits: string[] = [];
    for (const [k, ts] of this.byPyKey) {
      if (k.endsWith(`.${key}`) || key.endsWith(`.${k}`)) hits.push(...ts.map((t) => t.id));
    }
    return hits;
  }

  private go(c: JUnitCase): string[] {
    // gotestsum and go-junit-report: classname (or the suite) is the import path, or (go-junit-report
    // v1) its last element; the name may carry a subtest ("TestB/sub_one"), which -run of the
    // top-level test reruns and whose own results are read.
    const [top, ...sub] = c.name.split("/");
    const pkgs = [c.classname, ...c.suites].filter((p): p is string => !!p);
    const hits = this.listed.filter(
      (t) =>
        t.titles[1] === top &&
        (pkgs.length === 0 ||
          pkgs.some(
            (p) =>
              t.titles[0] === p || (t.titles[0] ?? "").endsWith(`/${p}`) || p.endsWith(`/${t.titles[0]}`),
          )),
    );
    return hits.map((t) => [t.id, ...sub].join("/"));
  }

  /** Up to three listed ids closest to `wanted` (edit distance over a sample sharing a word with it). */
  closest(wanted: string): string[] {
    const words = new Set(
      norm(wanted)
        .toLowerCase()
        .split(/[\s:./>]+/)
        .filter((w) => w.length > 2),
    );
    const pool = this.listed
      .filter((t) =>
        t.id
          .toLowerCase()
          .split(/[\s:./>]+/)
          .some((w) => words.has(w)),
      )
      .slice(0, 2000);
    const candidates = pool.length > 0 ? pool : this.listed.slice(0, 2000);
    return candidates
      .map((t) => ({ id: t.id, d: editDistance(wanted.slice(0, 300), t.id.slice(0, 300)) }))
      .sort((a, b) => a.d - b.d)
      .slice(0, 3)
      .map((x) => x.id);
  }
}

/** Root suites reporters add that are no describe block. */
const ROOT_SUITES = new Set(["Root Suite", "Mocha Tests", "jest tests", "vitest tests"]);

function fileLike(s: string | null | undefined): boolean {
  return typeof s === "string" && /\.[cm]?[jt]sx?$|\.py$|\.go$/.test(s);
}

/** A CI runner's path (absolute, or from another directory) names our repository-relative file. */
function sameFile(ci: string, ours: string): boolean {
  const a = ci.replace(/\\/g, "/").replace(/^\.\//, "");
  return a === ours || a.endsWith(`/${ours}`) || ours.endsWith(`/${a}`);
}

function push<K, V>(map: Map<K, V[]>, key: K, v: V): void {
  const list = map.get(key);
  if (list) list.push(v);
  else map.set(key, [v]);
}
