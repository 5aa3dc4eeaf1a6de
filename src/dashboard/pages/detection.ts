import { type Attempt, type Detection, get, type TestResult } from "../api.js";
import { copyButton, h } from "../dom.js";
import { count, duration, interval, pct, rateText, shortSha, when } from "../format.js";
import { link, testLink } from "../router.js";
import { badge, codeLine, ownership, section, table } from "../widgets.js";

interface Full {
  detection: Detection;
  reproduce: string;
  tests: TestResult[];
  attempts: Attempt[];
}

function facts(rows: [string, string | Node][]): HTMLElement {
  return h(
    "dl",
    { class: "facts" },
    rows.flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]),
  );
}

export async function renderDetection(root: HTMLElement, id: string): Promise<void> {
  const {
    detection: d,
    reproduce,
    tests,
    attempts,
  } = await get<Full>(`detections/${encodeURIComponent(id)}`);
  document.title = `${d.verdict} · ${d.repository} · flaky-detector`;
  root.append(
    h("p", {}, h("a", { href: link("/", { repo: d.repository }) }, `← ${d.repository}`)),
    h(
      "h1",
      { class: "title" },
      badge("verdict", d.verdict),
      " ",
      badge("severity", d.severity),
      ` ${pct(d.failureRate)} of ${count(d.attempts)} attempts failed`,
    ),
    h(
      "div",
      { class: "reproduce" },
      h("span", { class: "label" }, "Reproduce"),
      codeLine(reproduce),
      copyButton(reproduce),
    ),
    facts([
      ["Repository", external(d.links.repository, d.repository)],
      ["Command", h("code", {}, d.command)],
      [
        "Commit",
        h(
          "span",
          { id: "commit" },
          external(d.links.commit, shortSha(d.commit)),
          `${d.ref ? ` (${d.ref})` : ""}${d.branch ? ` on ${d.branch}` : ""}`,
          d.prNumber ? [", ", external(d.links.pullRequest, `PR #${d.prNumber}`)] : null,
        ),
      ],
      ...(d.links.ciRun
        ? ([["CI run", external(d.links.ciRun, d.links.ciRun.replace(/^https:\/\//, ""))]] as [
            string,
            Node,
          ][])
        : []),
      ["Started", when(d.startedAt)],
      ["Duration", duration(d.durationMs)],
      ["Failure rate", `${pct(d.failureRate)} (95% interval ${interval(d.interval)})`],
      ["Attempts", `${d.failedAttempts} failed of ${d.attempts} (stopped: ${d.stopReason})`],
      ["Framework · backend · trigger", `${d.framework} · ${d.backend} · ${d.trigger}`],
      ["Job seed", h("code", {}, d.jobSeed)],
      ["Detection id", h("code", {}, d.id)],
    ]),
  );

  if (tests.length > 0) {
    root.append(
      section(
        `Tests (${tests.length})`,
        table<TestResult>(
          [
            {
              title: "Test",
              cell: (t) => [
                h("a", { href: testLink(d.repository, t.id), title: t.file ?? undefined }, t.id),
                " ",
                ...ownership(t.owner, t.quarantined),
              ],
            },
            { title: "Verdict", cell: (t) => badge("verdict", t.verdict) },
            { title: "Severity", cell: (t) => badge("severity", t.severity) },
            { title: "Failed", cell: (t) => `${t.failures}/${t.attempts}`, numeric: true },
            {
              title: "Rate (95% CI)",
              cell: (t) => rateText(t.verdict, t.failureRate, t.interval),
              numeric: true,
            },
            {
              title: "Failing seeds",
              cell: (t) =>
                t.failingSeeds.length === 0
                  ? "–"
                  : `${t.failingSeeds.slice(0, 3).join(", ")}${t.failingSeeds.length > 3 ? ", …" : ""}${t.seedDeterministic ? " (replays)" : ""}`,
            },
            {
              title: "First failure",
              cell: (t) =>
                t.firstFailure
                  ? h(
                      "span",
                      { class: "message", title: t.firstFailure },
                      t.firstFailure.split("\n")[0] ?? "",
                    )
                  : "–",
            },
            {
              title: "Reproduce",
              cell: (t) =>
                t.reproduce
                  ? [h("code", { class: "hidden-code" }, t.reproduce), copyButton(t.reproduce)]
                  : "–",
            },
          ],
          tests,
          { label: "Tests", rowClass: (t) => `verdict-row-${t.verdict}` },
        ),
      ),
    );
  }

  const grid = outcomeGrid(tests, attempts.length);
  if (grid) root.append(grid);

  // Attempts that ended the same way (outcome, exit code, last line of output) are one row: a
  // broken test fails all 60 attempts identically, and 60 identical rows hide the one that differs.
  const groups = groupAttempts(attempts);
  const eachAttempt = h("input", { type: "checkbox", id: "each-attempt" });
  const onlyFailed = h("input", { type: "checkbox", id: "only-failed" });
  const body = h("div", {});
  const draw = () => {
    if (!eachAttempt.checked) {
      body.replaceChildren(
        table<AttemptGroup>(
          [
            { title: "Outcome", cell: (g) => badge("outcome", g.outcome) },
            { title: "Attempts", cell: (g) => count(g.attempts.length), numeric: true },
            { title: "Exit", cell: (g) => (g.exitCode === null ? "–" : g.exitCode), numeric: true },
            {
              title: "Which",
              cell: (g) =>
                `#${g.attempts
                  .slice(0, 12)
                  .map((a) => a.index)
                  .join(", #")}${g.attempts.length > 12 ? ", …" : ""}`,
            },
            {
              title: "Ends with",
              cell: (g) => h("span", { class: "message", title: g.lastLine }, g.lastLine || "(no output)"),
            },
            { title: "Output of the first", cell: (g) => outputCell(g.attempts[0] as Attempt) },
          ],
          groups,
          { label: "Attempt groups" },
        ),
      );
      return;
    }
    const shown = onlyFailed.checked ? attempts.filter((a) => a.outcome !== "passed") : attempts;
    body.replaceChildren(
      table<Attempt>(
        [
          { title: "#", cell: (a) => a.index, numeric: true },
          { title: "Outcome", cell: (a) => badge("outcome", a.outcome) },
          { title: "Seed", cell: (a) => h("code", {}, a.seed) },
          { title: "Slot", cell: (a) => a.slot, numeric: true },
          { title: "Duration", cell: (a) => duration(a.durationMs), numeric: true },
          { title: "Exit", cell: (a) => (a.exitCode === null ? "–" : a.exitCode), numeric: true },
          { title: "Output tail", cell: outputCell },
        ],
        shown,
        { label: "Attempts" },
      ),
    );
  };
  eachAttempt.addEventListener("change", () => {
    onlyFailed.disabled = !eachAttempt.checked;
    draw();
  });
  onlyFailed.disabled = true;
  onlyFailed.addEventListener("change", draw);
  draw();
  root.append(
    section(
      `Attempts (${attempts.length}, ${groups.length} distinct ${groups.length === 1 ? "ending" : "endings"})`,
      h(
        "div",
        { class: "toolbar" },
        h("label", {}, eachAttempt, " show each attempt"),
        h("label", {}, onlyFailed, " only failed or errored attempts"),
      ),
      body,
    ),
  );
}

function outputCell(a: Attempt): HTMLElement {
  return a.outputTail.trim() === ""
    ? h("span", { class: "muted" }, "(empty)")
    : h("details", {}, h("summary", {}, "show"), h("pre", { class: "output" }, a.outputTail));
}

/** A link out when the address is known, else the text. */
function external(href: string | null, text: string): Node {
  if (!href) return document.createTextNode(text);
  return h("a", { href, rel: "noopener noreferrer", target: "_blank" }, text);
}

interface AttemptGroup {
  outcome: string;
  exitCode: number | null;
  lastLine: string;
  attempts: Attempt[];
}

export function groupAttempts(attempts: Attempt[]): AttemptGroup[] {
  const groups = new Map<string, AttemptGroup>();
  for (const a of attempts) {
    // The last line that says something (not a closing brace or a row of dashes).
    const lines = a.outputTail.split("\n").filter((l) => /[A-Za-z]{2}/.test(l));
    // Durations, counts and addresses differ between otherwise identical endings.
    const lastLine = (lines.at(-1) ?? "").trim().slice(0, 300);
    const key = `${a.outcome}\0${a.exitCode}\0${lastLine.replace(/\d+(\.\d+)?/g, "N")}`;
    const g = groups.get(key);
    if (g) g.attempts.push(a);
    else groups.set(key, { outcome: a.outcome, exitCode: a.exitCode, lastLine, attempts: [a] });
  }
  return [...groups.values()].sort((x, y) => y.attempts.length - x.attempts.length);
}

const GRID_TESTS = 20;

/** Tests × attempts for the tests that failed: which attempts each failed in, side by side. */
function outcomeGrid(tests: TestResult[], attempts: number): HTMLElement | null {
  const rows = tests.filter((t) => t.outcomes).slice(0, GRID_TESTS);
  if (rows.length === 0 || attempts === 0) return null;
  const label: Record<string, string> = { F: "failed", "?": "no results", ".": "did not fail" };
  return section(
    "Tests × attempts",
    h(
      "p",
      { class: "muted" },
      "One square per attempt, in attempt order: red the test failed, grey the attempt left no per-test results (crashed or errored), light it did not fail.",
    ),
    h(
      "div",
      { class: "grid", role: "table", "aria-label": "Tests by attempts" },
      rows.map((t) =>
        h(
          "div",
          { class: "grid-row", role: "row" },
          h("div", { class: "grid-test", role: "rowheader", title: t.id }, t.id),
          h(
            "div",
            {
              class: "grid-cells",
              role: "cell",
              "aria-label": `${t.id}: failed in ${t.failures} of ${t.attempts}`,
            },
            [...(t.outcomes as string)].map((c, i) =>
              h("span", {
                class: `cell cell-${c === "F" ? "failed" : c === "?" ? "none" : "ok"}`,
                title: `attempt ${i}: ${label[c] ?? c}`,
              }),
            ),
          ),
        ),
      ),
    ),
    tests.filter((t) => t.outcomes).length > GRID_TESTS
      ? h("p", { class: "muted" }, `The first ${GRID_TESTS} tests that failed are shown.`)
      : null,
  );
}
