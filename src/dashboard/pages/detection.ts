import { type Attempt, type Detection, get, type TestResult } from "../api.js";
import { copyButton, h } from "../dom.js";
import { count, duration, interval, pct, shortSha, when } from "../format.js";
import { link, testLink } from "../router.js";
import { badge, codeLine, section, table } from "../widgets.js";

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
      ["Repository", d.repository],
      ["Command", h("code", {}, d.command)],
      [
        "Commit",
        `${shortSha(d.commit)}${d.ref ? ` (${d.ref})` : ""}${d.branch ? ` on ${d.branch}` : ""}${d.prNumber ? `, PR #${d.prNumber}` : ""}`,
      ],
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
              cell: (t) => h("a", { href: testLink(d.repository, t.id), title: t.file ?? undefined }, t.id),
            },
            { title: "Verdict", cell: (t) => badge("verdict", t.verdict) },
            { title: "Severity", cell: (t) => badge("severity", t.severity) },
            { title: "Failed", cell: (t) => `${t.failures}/${t.attempts}`, numeric: true },
            { title: "Rate", cell: (t) => pct(t.failureRate), numeric: true },
            { title: "95% interval", cell: (t) => interval(t.interval), numeric: true },
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

  const onlyFailed = h("input", { type: "checkbox", id: "only-failed" });
  const body = h("div", {});
  const draw = () => {
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
          {
            title: "Output tail",
            cell: (a) =>
              a.outputTail.trim() === ""
                ? h("span", { class: "muted" }, "(empty)")
                : h("details", {}, h("summary", {}, "show"), h("pre", { class: "output" }, a.outputTail)),
          },
        ],
        shown,
        { label: "Attempts" },
      ),
    );
  };
  onlyFailed.addEventListener("change", draw);
  draw();
  root.append(
    section(
      `Attempts (${attempts.length})`,
      h("label", {}, onlyFailed, " only failed or errored attempts"),
      body,
    ),
  );
}
