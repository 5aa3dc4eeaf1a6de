import type { CatalogTest, Links } from "../api.js";
import { get } from "../api.js";
import { testChart } from "../charts.js";
import { h } from "../dom.js";
import { rateText, shortId, shortSha, when } from "../format.js";
import { detectionLink, link } from "../router.js";
import { badge, ownership, section, table } from "../widgets.js";

interface Point {
  detectionId: string;
  startedAt: string;
  attempts: number;
  failures: number;
  failureRate: number;
  interval: [number, number];
  severity: string;
  verdict: string;
  commit: string | null;
  branch: string | null;
  links: Links;
}

interface TestPage {
  /** The catalogue entry with the owner and quarantine state of its latest detection. */
  test: CatalogTest & { owner: string | null; quarantined: boolean };
  history: Point[];
  total: number;
}

export async function renderTest(root: HTMLElement, p: URLSearchParams): Promise<void> {
  const repository = p.get("repo") ?? "";
  const id = p.get("id") ?? "";
  const { test, history, total } = await get<TestPage>("test", { repository, id });
  document.title = `${id} · flaky-detector`;
  root.append(
    h("p", {}, h("a", { href: link("/", { repo: repository }) }, `← ${repository}`)),
    h("h1", { class: "title test-id" }, id),
    h(
      "dl",
      { class: "facts" },
      h("dt", {}, "Now"),
      h("dd", {}, badge("verdict", test.lastVerdict), " ", badge("severity", test.lastSeverity)),
      h("dt", {}, "Owner · quarantine"),
      h(
        "dd",
        { id: "ownership" },
        test.owner || test.quarantined ? ownership(test.owner, test.quarantined) : "no quarantine entry",
      ),
      h("dt", {}, "First turned flaky"),
      h("dd", { id: "first-flaky" }, test.firstFlakyAt ? when(test.firstFlakyAt) : "never seen flaky"),
      h("dt", {}, "First seen · last seen"),
      h("dd", {}, `${when(test.firstSeen)} · ${when(test.lastSeen)}`),
      h("dt", {}, "Detections"),
      h("dd", {}, String(test.detections)),
    ),
  );
  const canvas = h("canvas", {
    id: "test-chart",
    role: "img",
    "aria-label": `Failure rate of ${id} per detection`,
  });
  root.append(section("Failure rate per detection", h("div", { class: "chart-box" }, canvas)));
  testChart(canvas, history);
  root.append(
    section(
      history.length < total ? `History (latest ${history.length} of ${total})` : "History",
      table<Point>(
        [
          {
            title: "Detection",
            cell: (r) =>
              h(
                "a",
                { href: detectionLink(r.detectionId) },
                `${when(r.startedAt)} (${shortId(r.detectionId)})`,
              ),
          },
          {
            title: "Commit",
            cell: (r) => [
              r.links.commit
                ? h("a", { href: r.links.commit, rel: "noopener noreferrer" }, shortSha(r.commit))
                : shortSha(r.commit),
              r.branch ? ` on ${r.branch}` : "",
            ],
          },
          { title: "Verdict", cell: (r) => badge("verdict", r.verdict) },
          { title: "Severity", cell: (r) => badge("severity", r.severity) },
          { title: "Failed", cell: (r) => `${r.failures}/${r.attempts}`, numeric: true },
          {
            title: "Rate (95% CI)",
            cell: (r) => rateText(r.verdict, r.failureRate, r.interval),
            numeric: true,
          },
        ],
        [...history].reverse(),
        { label: "Test history" },
      ),
    ),
  );
}
