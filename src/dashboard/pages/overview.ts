import {
  type CatalogTest,
  type Detection,
  get,
  type Overview,
  type Repository,
  type TopTest,
  type TrendDay,
} from "../api.js";
import { severityChart, trendChart } from "../charts.js";
import { copyButton, h } from "../dom.js";
import { count, duration, pct, shortSha, when } from "../format.js";
import { detectionLink, link, testLink } from "../router.js";
import { badge, card, codeLine, notice, ownership, section, sparkline, table } from "../widgets.js";

const RANGES: Record<string, string> = {
  "7d": "Last 7 days",
  "30d": "Last 30 days",
  "90d": "Last 90 days",
  "365d": "Last year",
  all: "All time",
  custom: "Custom…",
};
const PAGE_SIZE = 25;
const DAY = 86_400_000;

/** since/until of the chosen range; "custom" takes from/to as whole UTC days (to inclusive). */
export function windowOf(p: URLSearchParams, now = Date.now()): { since?: string; until?: string } {
  const range = p.get("range") ?? "30d";
  if (range === "all") return {};
  if (range === "custom") {
    const from = p.get("from");
    const to = p.get("to");
    return {
      ...(from ? { since: new Date(`${from}T00:00:00Z`).toISOString() } : {}),
      ...(to ? { until: new Date(Date.parse(`${to}T00:00:00Z`) + DAY).toISOString() } : {}),
    };
  }
  const days = Number.parseInt(range, 10) || 30;
  return { since: new Date(now - days * DAY).toISOString() };
}

function emptyState(): HTMLElement {
  return notice(
    "No detections recorded yet",
    h(
      "p",
      {},
      "Every ",
      h("code", {}, "flaky-detector run"),
      " records its result in this history database. Run one, then reload:",
    ),
    h(
      "p",
      {},
      codeLine("flaky-detector run --runs 50 -- npm test"),
      copyButton("flaky-detector run --runs 50 -- npm test"),
    ),
    h(
      "p",
      { class: "muted" },
      "Runs and this server must use the same database: the default file, FLAKY_DETECTOR_DB, or --db on both.",
    ),
  );
}

export async function renderOverview(
  root: HTMLElement,
  p: URLSearchParams,
  go: (hash: string) => void,
): Promise<void> {
  const { repositories } = await get<{ repositories: Repository[] }>("repositories");
  if (repositories.length === 0) {
    root.append(emptyState());
    return;
  }
  const state = Object.fromEntries(p.entries());
  const update = (changes: Record<string, string | undefined>, resetPage = true) =>
    go(link("/", { ...state, ...(resetPage ? { page: undefined } : {}), ...changes }));

  // A chosen repository (the most recently active by default); "*" is every repository at once.
  const chosen = p.get("repo") ?? repositories[0]?.name ?? "*";
  const repo = chosen === "*" || !repositories.some((r) => r.name === chosen) ? "" : chosen;
  const range = p.get("range") ?? "30d";
  const win = { repository: repo || undefined, ...windowOf(p) };

  // Toolbar: repository and date range.
  const repoSelect = h(
    "select",
    {
      id: "repo",
      "aria-label": "Repository",
      onchange: (e: Event) => update({ repo: (e.target as HTMLSelectElement).value }),
    },
    h("option", { value: "*", selected: repo === "" }, `All repositories (${repositories.length})`),
    repositories.map((r) =>
      h("option", { value: r.name, selected: r.name === repo }, `${r.name} (${r.detections})`),
    ),
  );
  const rangeSelect = h(
    "select",
    {
      id: "range",
      "aria-label": "Date range",
      onchange: (e: Event) => update({ range: (e.target as HTMLSelectElement).value }),
    },
    Object.entries(RANGES).map(([k, v]) => h("option", { value: k, selected: k === range }, v)),
  );
  const custom =
    range === "custom"
      ? [
          h(
            "label",
            {},
            "From ",
            h("input", {
              type: "date",
              id: "from",
              value: p.get("from") ?? "",
              onchange: (e: Event) => update({ from: (e.target as HTMLInputElement).value }),
            }),
          ),
          h(
            "label",
            {},
            "To ",
            h("input", {
              type: "date",
              id: "to",
              value: p.get("to") ?? "",
              onchange: (e: Event) => update({ to: (e.target as HTMLInputElement).value }),
            }),
          ),
        ]
      : [];
  const repoUrl = repositories.find((r) => r.name === repo)?.url ?? null;
  const search = p.get("q") ?? "";
  root.append(
    h(
      "div",
      { class: "toolbar" },
      h("label", {}, "Repository ", repoSelect),
      repoUrl
        ? h(
            "a",
            { id: "repo-link", href: repoUrl, rel: "noopener noreferrer", target: "_blank" },
            repoHost(repoUrl),
          )
        : null,
      h("label", {}, "Range ", rangeSelect),
      custom,
      h(
        "form",
        {
          class: "inline search",
          role: "search",
          onsubmit: (e: Event) => {
            e.preventDefault();
            const input = (e.target as HTMLFormElement).elements.namedItem("q") as HTMLInputElement;
            update({ q: input.value.trim() }, false);
          },
        },
        h("input", {
          id: "search",
          name: "q",
          type: "search",
          value: search,
          placeholder: "Search tests",
          "aria-label": "Search tests by id",
        }),
        h("button", { type: "submit" }, "Search"),
      ),
    ),
  );
  if (search) root.append(await searchResults(search, repo));

  // Detections table state.
  const verdict = p.get("verdict") ?? "";
  const severity = p.get("severity") ?? "";
  const branch = p.get("branch") ?? "";
  const sort = p.get("sort") ?? "startedAt";
  const order = (p.get("order") ?? "desc") === "asc" ? "asc" : "desc";
  const page = Math.max(1, Number.parseInt(p.get("page") ?? "1", 10) || 1);

  const [ov, trend, top, list] = await Promise.all([
    get<Overview>("overview", win),
    get<{ days: TrendDay[] }>("trend", win),
    get<{ tests: TopTest[] }>("top-tests", { ...win, limit: 10 }),
    get<{ total: number; items: Detection[] }>("detections", {
      ...win,
      verdict,
      severity,
      branch,
      sort,
      order,
      limit: PAGE_SIZE,
      offset: (page - 1) * PAGE_SIZE,
    }),
  ]);

  if (ov.detections === 0) {
    root.append(
      notice(
        "No detections in this range",
        h(
          "p",
          {},
          `${repo || "These repositories"} had no detections ${RANGES[range]?.toLowerCase() ?? "in this range"}. `,
        ),
        h("p", {}, h("a", { href: link("/", { repo, range: "all" }) }, "Show all time")),
      ),
    );
    return;
  }

  // The headline counts tests, not commands: one broken test makes every detection of its suite
  // "failing", so detection-level figures would contradict the test counts next to them.
  root.append(
    h(
      "p",
      { class: "headline", id: "headline" },
      `${count(ov.flakyTests)} flaky ${plural(ov.flakyTests, "test")}, ${count(ov.brokenTests)} broken, ${count(ov.newFlakyTestsThisWeek)} new this week, ${count(ov.quarantinedTests)} quarantined`,
    ),
    h(
      "div",
      { class: "cards" },
      card("Flaky tests", count(ov.flakyTests), "failed some attempts, passed others"),
      card("Broken tests", count(ov.brokenTests), "failed every attempt of a detection"),
      card("New flaky this week", count(ov.newFlakyTestsThisWeek), "first seen flaky in the last 7 days"),
      card("Quarantined", count(ov.quarantinedTests), "covered by a quarantine entry"),
      card("Detections", count(ov.detections), `last ${when(ov.lastStartedAt)}`),
      card("Attempts run", count(ov.attempts), `${duration(ov.runtimeMs)} of detection time`),
    ),
  );

  const trendCanvas = h("canvas", {
    id: "trend-chart",
    role: "img",
    "aria-label": "Flakiness trend: flaky tests seen and detections per day",
  });
  const sevCanvas = h("canvas", {
    id: "severity-chart",
    role: "img",
    "aria-label": "Detections by severity",
  });
  root.append(
    h(
      "div",
      { class: "charts" },
      section("Flakiness trend", h("div", { class: "chart-box" }, trendCanvas)),
      section("Severity", h("div", { class: "chart-box" }, sevCanvas)),
    ),
  );
  trendChart(trendCanvas, trend.days);
  severityChart(sevCanvas, ov.bySeverity);

  root.append(
    section(
      "Most flaky tests",
      top.tests.length === 0
        ? h(
            "p",
            { class: "muted" },
            "No test failed intermittently in this range (with at least 20 attempts).",
          )
        : table<TopTest>(
            [
              {
                title: "Test",
                cell: (t) => [
                  h("a", { href: testLink(t.repository, t.testId) }, t.testId),
                  " ",
                  ...ownership(t.owner, t.quarantined),
                ],
              },
              ...(repo ? [] : [{ title: "Repository", cell: (t: TopTest) => t.repository }]),
              {
                title: "Recent",
                cell: (t) =>
                  sparkline(
                    t.recent,
                    `failure rate in its latest ${t.recent.length} detections: ${t.recent.map((r) => pct(r.rate)).join(", ")}`,
                  ),
              },
              { title: "Impact", cell: (t) => t.impact.toFixed(2), numeric: true },
              { title: "Failure rate", cell: (t) => pct(t.failureRate), numeric: true },
              {
                title: "Failed in",
                cell: (t) => `${t.failingDetections} of ${t.detections} detections`,
                numeric: true,
              },
              { title: "Attempts", cell: (t) => count(t.attempts), numeric: true },
              { title: "Last seen", cell: (t) => when(t.lastSeen) },
            ],
            top.tests,
            { label: "Most flaky tests" },
          ),
      h(
        "p",
        { class: "muted" },
        "Impact = failure rate × detections in which the test failed; runs where it failed every time (broken) are left out. Recent: its rate in its latest detections, oldest first.",
      ),
    ),
  );

  const filters = h(
    "div",
    { class: "toolbar" },
    h(
      "label",
      {},
      "Verdict ",
      h(
        "select",
        { id: "verdict", onchange: (e: Event) => update({ verdict: (e.target as HTMLSelectElement).value }) },
        ["", "flaky", "failing", "stable", "skipped", "error"].map((v) =>
          h("option", { value: v, selected: v === verdict }, v || "any"),
        ),
      ),
    ),
    h(
      "label",
      {},
      "Severity ",
      h(
        "select",
        {
          id: "severity",
          onchange: (e: Event) => update({ severity: (e.target as HTMLSelectElement).value }),
        },
        ["", "critical", "high", "medium", "low", "none"].map((v) =>
          h("option", { value: v, selected: v === severity }, v ? v.toUpperCase() : "any"),
        ),
      ),
    ),
    h(
      "form",
      {
        class: "inline",
        onsubmit: (e: Event) => {
          e.preventDefault();
          update({
            branch: (
              (e.target as HTMLFormElement).elements.namedItem("branch") as HTMLInputElement
            ).value.trim(),
          });
        },
      },
      h(
        "label",
        {},
        "Branch ",
        h("input", { id: "branch", name: "branch", value: branch, placeholder: "main" }),
      ),
      h("button", { type: "submit" }, "Filter"),
    ),
  );

  const pages = Math.max(1, Math.ceil(list.total / PAGE_SIZE));
  const pager = h(
    "nav",
    { class: "pager", "aria-label": "Pages" },
    h(
      "button",
      {
        type: "button",
        id: "prev",
        disabled: page <= 1,
        onclick: () => update({ page: String(page - 1) }, false),
      },
      "‹ Newer",
    ),
    h("span", { id: "page-info" }, `Page ${page} of ${pages} · ${count(list.total)} detections`),
    h(
      "button",
      {
        type: "button",
        id: "next",
        disabled: page >= pages,
        onclick: () => update({ page: String(page + 1) }, false),
      },
      "Older ›",
    ),
  );

  root.append(
    section(
      "Detections",
      filters,
      list.items.length === 0
        ? h("p", { class: "muted" }, "No detection matches these filters.")
        : table<Detection>(
            [
              {
                title: "Started",
                sortKey: "startedAt",
                cell: (d) => h("a", { href: detectionLink(d.id) }, when(d.startedAt)),
              },
              ...(repo ? [] : [{ title: "Repository", cell: (d: Detection) => d.repository }]),
              { title: "Command", cell: (d) => h("code", { class: "cmd", title: d.command }, d.command) },
              {
                title: "Commit",
                cell: (d) =>
                  d.links.commit
                    ? h("a", { href: d.links.commit, rel: "noopener noreferrer" }, shortSha(d.commit))
                    : shortSha(d.commit),
              },
              { title: "Verdict", cell: (d) => badge("verdict", d.verdict) },
              { title: "Severity", cell: (d) => badge("severity", d.severity) },
              { title: "Failed", cell: (d) => `${d.failedAttempts}/${d.attempts}`, numeric: true },
              { title: "Rate", sortKey: "failureRate", cell: (d) => pct(d.failureRate), numeric: true },
              {
                title: "Tests",
                cell: (d) => (d.tests.total > 0 ? `${d.tests.flaky} flaky of ${d.tests.total}` : "–"),
                numeric: true,
              },
              {
                title: "Duration",
                sortKey: "durationMs",
                cell: (d) => duration(d.durationMs),
                numeric: true,
              },
            ],
            list.items,
            {
              label: "Detections",
              sort: {
                key: sort,
                order,
                onSort: (key) =>
                  update({ sort: key, order: key === sort && order === "desc" ? "asc" : "desc" }),
              },
            },
          ),
      pager,
    ),
  );
}

function plural(n: number, word: string): string {
  return n === 1 ? word : `${word}s`;
}

/** github.com/owner/name from https://github.com/owner/name. */
function repoHost(url: string): string {
  return `${url.replace(/^https:\/\//, "")} ↗`;
}

async function searchResults(text: string, repo: string): Promise<HTMLElement> {
  const { tests } = await get<{ tests: CatalogTest[] }>("tests", { q: text, repository: repo || undefined });
  return section(
    `Tests matching “${text}” (${tests.length}${tests.length === 50 ? "+" : ""})`,
    tests.length === 0
      ? h("p", { class: "muted" }, `No test id contains “${text}”${repo ? ` in ${repo}` : ""}.`)
      : table<CatalogTest>(
          [
            { title: "Test", cell: (t) => h("a", { href: testLink(t.repository, t.id) }, t.id) },
            ...(repo ? [] : [{ title: "Repository", cell: (t: CatalogTest) => t.repository }]),
            { title: "Last verdict", cell: (t) => badge("verdict", t.lastVerdict) },
            { title: "Severity", cell: (t) => badge("severity", t.lastSeverity) },
            { title: "First flaky", cell: (t) => (t.firstFlakyAt ? when(t.firstFlakyAt) : "never") },
            { title: "Last seen", cell: (t) => when(t.lastSeen) },
            { title: "Detections", cell: (t) => count(t.detections), numeric: true },
          ],
          tests,
          { label: "Search results" },
        ),
  );
}
