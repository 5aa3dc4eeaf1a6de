import type { EventSink } from "../analysis/events.js";
import { UsageError } from "../errors.js";
import type { FrameworkAdapter } from "../frameworks/index.js";
import type { Masker } from "../util/secrets.js";
import { listTests } from "./list-tests.js";
import { type CiFailure, type Resolution, resolveRequested, type Unmatched } from "./resolve-tests.js";

/** Longest a listing may take before we give up on checking ids (and use them as given). */
const LIST_TIMEOUT_MS = 300_000;

export interface RequestedTests {
  /** Ids to select in every attempt. */
  ids: string[];
  /** CI failures that matched no test of the suite: reported as not rerun (verdict error). */
  notFound: string[];
}

export interface RequestOptions {
  adapter: FrameworkAdapter;
  argv: readonly string[];
  userIds: readonly string[];
  ci: readonly CiFailure[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Creates the directory the listing writes to (only when there is something to check). */
  makeDir: () => string;
  masker: Masker;
  emit: EventSink;
  warnings: string[];
  signal?: AbortSignal;
}

/**
 * --test and --from-junit (and the Action's CI artifacts), checked against the suite before any
 * attempt: ids the framework does not know are an error naming the closest real ones, never a run
 * in which nothing matches and everything "passed".
 */
export async function requestedTests(o: RequestOptions): Promise<RequestedTests> {
  if (o.userIds.length === 0 && o.ci.length === 0) return { ids: [], notFound: [] };
  let listed: Parameters<typeof resolveRequested>[1] = null;
  let partial = false;
  if (o.adapter.list) {
    o.emit({
      type: "phase",
      phase: "list",
      detail: `listing ${o.adapter.name}'s tests to check the requested ids`,
    });
    const r = await listTests(o.adapter, o.argv, {
      cwd: o.cwd,
      env: o.env,
      dir: o.makeDir(),
      timeoutMs: LIST_TIMEOUT_MS,
      masker: o.masker,
      ...(o.signal ? { signal: o.signal } : {}),
    });
    if (r.ok) {
      listed = r.tests;
      partial = r.partial;
    } else {
      o.warnings.push(
        `could not check the requested tests against the suite (${r.reason}); using their ids as given`,
      );
    }
  }
  const res = resolveRequested(o.adapter, listed, o.userIds, o.ci, o.cwd);
  // jest-junit writes a file that did not run twice (an error and a failure): say it once.
  const suiteLines = res.suiteErrors.map(
    (e) => `${e.from}: ${e.what}; not a test, so not rerun (rerun its file or package to investigate)`,
  );
  o.warnings.push(...new Set(suiteLines));
  for (const a of res.ambiguous) {
    o.warnings.push(
      `${JSON.stringify(a.label)} matches ${a.ids.length} tests (${a.ids
        .slice(0, 3)
        .map((id) => JSON.stringify(id))
        .join(", ")}); rerunning all of them`,
    );
  }
  // A listing that failed part-way (a module that does not import) may miss real tests.
  const unmatched = partial ? [] : res.unmatched;
  if (partial) {
    for (const u of res.unmatched) {
      o.warnings.push(
        `${JSON.stringify(u.label)} is not in the suite's listing, which ended with an error; using ${JSON.stringify(u.id)} as given`,
      );
      res.ids.push(u.id);
    }
  }
  const userMisses = unmatched.filter((u) => o.userIds.includes(u.label));
  if (userMisses.length > 0) throw unknownTests(o.adapter, userMisses, "--test");
  if (res.ids.length === 0) throw nothingToRerun(o.adapter, res, unmatched);
  for (const u of unmatched) o.warnings.push(`${describe(u)}; it is reported as not rerun`);
  return { ids: res.ids, notFound: unmatched.map((u) => u.id) };
}

function describe(u: Unmatched): string {
  const near = u.closest.length > 0 ? `; closest: ${u.closest.map((c) => JSON.stringify(c)).join(", ")}` : "";
  return `${JSON.stringify(u.label)} matches no test of the suite${near}`;
}

function unknownTests(adapter: FrameworkAdapter, misses: readonly Unmatched[], field: string): UsageError {
  return new UsageError(
    "E_UNKNOWN_TEST",
    `${field}: ${misses.length === 1 ? "a requested test is" : `${misses.length} requested tests are`} not in the suite (as ${adapter.name} lists it)`,
    {
      details: [
        ...misses.slice(0, 10).map(describe),
        `ids look like ${JSON.stringify(misses[0]?.closest[0] ?? "file::name")}`,
      ],
    },
  );
}

function nothingToRerun(
  adapter: FrameworkAdapter,
  res: Resolution,
  unmatched: readonly Unmatched[],
): UsageError {
  const details = [
    ...new Set(res.suiteErrors.map((e) => `${e.from}: ${e.what} (not a test)`)),
    ...unmatched.slice(0, 10).map(describe),
  ];
  const why =
    unmatched.length === 0
      ? "the CI file's failures are all outside any test (a file that did not load, a suite hook, a package that did not build), which cannot be rerun as tests; rerun the file or package named below"
      : `none of the CI file's failed tests is in the suite as ${adapter.name} lists it; check that the command runs the suite CI ran`;
  return new UsageError("E_FROM_JUNIT", `nothing to rerun: ${why}`, { details });
}
