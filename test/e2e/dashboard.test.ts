/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// Functions passed to page.evaluate run in the browser, hence the DOM types.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openStore } from "../../src/store/open.js";
import { recordDetection } from "../../src/store/record.js";
import { launchChromium } from "../helpers/browser.js";
import { fixture, ROOT, runCli, tempDir } from "../helpers/cli.js";
import { git } from "../helpers/git.js";
import { startPostgres, type TestPostgres } from "../helpers/postgres.js";
import { report } from "../helpers/reports.js";
import { type Served, serve } from "../helpers/serve.js";

/**
 * The dashboard end to end: real detections recorded by the CLI, `flaky-detector serve`, and
 * Debian's chromium. Screenshots land in test-artifacts/screenshots/ for people to look at.
 */
const SHOTS = join(ROOT, "test-artifacts", "screenshots");
mkdirSync(SHOTS, { recursive: true });

let browser: Browser;
beforeAll(async () => {
  browser = await launchChromium();
}, 60_000);
afterAll(async () => browser?.close());

/**
 * The JUnit run happens in a checkout of acme/payments, inside GitHub Actions for pull request 7,
 * with one test quarantined: what the dashboard links and labels.
 */
const ACTIONS_ENV = {
  GITHUB_ACTIONS: "true",
  GITHUB_REPOSITORY: "acme/payments",
  GITHUB_SERVER_URL: "https://github.com",
  GITHUB_RUN_ID: "4242",
  GITHUB_REF: "refs/pull/7/merge",
  GITHUB_HEAD_REF: "fix-cart",
};

function paymentsCheckout(work: string): string {
  writeFileSync(
    join(work, ".flaky-detector.yml"),
    "quarantine:\n  - test: suite::seeded\n    owner: '@payments-team'\n    review_by: '2099-12-31'\n",
  );
  writeFileSync(join(work, ".gitignore"), "reports/\n*.db*\n");
  git(work, "init", "-q");
  git(work, "remote", "add", "origin", "https://github.com/acme/payments.git");
  git(work, "add", ".");
  git(work, "commit", "-qm", "payments");
  return git(work, "rev-parse", "HEAD");
}

/** Two real detections: the node:test example (per-test results) and a JUnit-writing tool. */
async function twoRuns(db: string, work: string): Promise<string> {
  const sha = paymentsCheckout(work);
  const node = await runCli(
    [
      "run",
      "--repo",
      join(ROOT, "examples/node-test"),
      "--runs",
      "20",
      "--stop",
      "fixed",
      "--seed",
      "11",
      "--db",
      db,
      "--progress",
      "none",
      "--",
      "node",
      "--test",
    ],
    { cwd: work },
  );
  expect(node.stderr).toContain("recorded in");
  const junit = await runCli(
    [
      "run",
      "--runs",
      "20",
      "--stop",
      "fixed",
      "--seed",
      "5",
      "--junit",
      "reports/*.xml",
      "--db",
      db,
      "--progress",
      "none",
      "--",
      process.execPath,
      fixture("junit-writer.mjs"),
    ],
    { cwd: work, env: ACTIONS_ENV },
  );
  // suite::seeded is flaky but quarantined: it does not fail the run.
  expect(junit.code).toBe(0);
  expect(junit.stderr).toContain("recorded in");
  return sha;
}

/** True when the page scrolls sideways: something is wider than the viewport. */
async function overflows(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const width = document.documentElement.clientWidth;
    if (document.documentElement.scrollWidth <= width) return [];
    return [...document.querySelectorAll("body *")]
      .filter((e) => e.getBoundingClientRect().right > width + 1 && !e.closest(".table-wrap"))
      .slice(0, 5)
      .map(
        (e) =>
          `${e.tagName.toLowerCase()}.${e.className} right=${Math.round(e.getBoundingClientRect().right)}`,
      );
  });
}

/** Screenshots at a desktop and a phone width, and no sideways scrolling at either. */
async function atBothWidths(page: Page, name: string): Promise<void> {
  for (const width of [1400, 390]) {
    await page.setViewportSize({ width, height: width === 390 ? 844 : 1000 });
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    expect(await overflows(page), `${name} at ${width} px`).toEqual([]);
    await page.screenshot({ path: join(SHOTS, `${name}-${width}.png`), fullPage: true });
  }
  await page.setViewportSize({ width: 1400, height: 1000 });
}

/** Open a page and wait until the app has rendered it; collect console errors and CSP violations. */
async function open(url: string): Promise<{ page: Page; errors: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: new URL(url).origin });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  page.on("pageerror", (e) => errors.push(String(e)));
  await page.goto(url);
  await page.waitForSelector("body[data-ready]");
  return { page, errors };
}

async function rendered(page: Page, previous: string | undefined): Promise<void> {
  await page.waitForFunction((prev) => document.body.dataset.ready !== prev, previous);
}

async function readyMark(page: Page): Promise<string | undefined> {
  return page.evaluate(() => document.body.dataset.ready);
}

/** Charts drawn by Chart.js, with how many points each dataset holds. */
async function charts(page: Page): Promise<Record<string, number[]>> {
  return page.evaluate(() => {
    const out: Record<string, number[]> = {};
    for (const canvas of document.querySelectorAll("canvas")) {
      const chart = (
        window as unknown as {
          Chart: {
            getChart(c: HTMLCanvasElement): { data: { datasets: { data: unknown[] }[] } } | undefined;
          };
        }
      ).Chart.getChart(canvas);
      if (chart && canvas.width > 0) out[canvas.id] = chart.data.datasets.map((d) => d.data.length);
    }
    return out;
  });
}

describe("dashboard on SQLite", () => {
  let dir: { path: string; cleanup: () => void };
  let served: Served;
  let sha: string;
  beforeAll(async () => {
    dir = tempDir("fd-dash-");
    const db = join(dir.path, "history.db");
    sha = await twoRuns(db, dir.path);
    served = await serve(["--db", db]);
  }, 120_000);
  afterAll(async () => {
    expect(await served?.stop()).toBe(0);
    dir?.cleanup();
  });

  it("shows both detections with charts, filters them, opens a detection and a test", async () => {
    const { page, errors } = await open(`${served.url}/#/?range=all&repo=*`);
    await atBothWidths(page, "overview");

    // The headline counts tests: the node example's broken test and its flaky ones, the JUnit
    // tool's quarantined flaky test, every flaky test new this week.
    const headline = (await page.textContent("#headline")) ?? "";
    expect(headline).toMatch(/^(\d+) flaky tests, 1 broken, \1 new this week, 1 quarantined$/);
    expect(await page.textContent("[data-metric=Detections] .card-value")).toBe("2");
    const drawn = await charts(page);
    expect(Object.keys(drawn).sort()).toEqual(["severity-chart", "trend-chart"]);
    expect(drawn["trend-chart"]).toEqual([1, 1]); // both runs today: one day, two series
    const rows = page.locator("table[aria-label=Detections] tbody tr");
    expect(await rows.count()).toBe(2);
    const seeded = page.locator("table[aria-label='Most flaky tests'] tbody tr", {
      hasText: "suite::seeded",
    });
    expect(await seeded.textContent()).toMatch(/suite::seeded quarantined.*@payments-team.*acme\/payments/);
    expect(await seeded.locator("svg.sparkline rect").count()).toBe(1);
    // The repositories are named by identity: the remote's owner/name, or the path without one.
    const repos = await page.locator("#repo option").allTextContents();
    expect(repos).toContain("acme/payments (1)");

    // Search across tests.
    let mark = await readyMark(page);
    await page.fill("#search", "SEED");
    await page.press("#search", "Enter");
    await rendered(page, mark);
    expect(page.url()).toContain("q=SEED");
    const found = await page.locator("table[aria-label='Search results'] tbody tr").allTextContents();
    expect(found).toHaveLength(1);
    expect(found[0]).toContain("suite::seeded");

    // Filter: only the flaky detection (the JUnit tool's; the node example has a broken test).
    mark = await readyMark(page);
    await page.selectOption("#verdict", "flaky");
    await rendered(page, mark);
    expect(await rows.count()).toBe(1);
    expect(await rows.first().textContent()).toContain("junit-writer.mjs");
    expect(page.url()).toContain("verdict=flaky");

    // The JUnit detection links to its commit, pull request and CI run.
    mark = await readyMark(page);
    await rows.first().locator("a").first().click();
    await rendered(page, mark);
    await page.waitForSelector("[data-page=detection]");
    const hrefs = await page.locator(".facts a").evaluateAll((as) => as.map((a) => a.getAttribute("href")));
    expect(hrefs).toEqual([
      "https://github.com/acme/payments",
      `https://github.com/acme/payments/commit/${sha}`,
      "https://github.com/acme/payments/pull/7",
      "https://github.com/acme/payments/actions/runs/4242",
    ]);
    expect(await page.textContent("#commit")).toContain("on fix-cart");
    await atBothWidths(page, "detection-links");
    await page.goBack();
    await page.waitForSelector("table[aria-label=Detections]");

    // Repository filter narrows everything, including the cards and the headline.
    mark = await readyMark(page);
    await page.selectOption("#verdict", "");
    await rendered(page, mark);
    mark = await readyMark(page);
    await page.selectOption("#repo", "acme/payments");
    await rendered(page, mark);
    expect(await page.getAttribute("#repo-link", "href")).toBe("https://github.com/acme/payments");
    expect(await page.textContent("#headline")).toBe(
      "1 flaky test, 0 broken, 1 new this week, 1 quarantined",
    );
    mark = await readyMark(page);
    await page.selectOption("#repo", join(ROOT, "examples/node-test"));
    await rendered(page, mark);
    expect(await page.textContent("[data-metric=Detections] .card-value")).toBe("1");
    expect(await rows.count()).toBe(1);

    // Sorting toggles through the column header.
    mark = await readyMark(page);
    await page.click("button[data-sort=failureRate]");
    await rendered(page, mark);
    expect(page.url()).toContain("sort=failureRate");

    // Open the detection: per-test table, the tests × attempts grid, attempts grouped by how they
    // ended, reproduce with a working copy button.
    mark = await readyMark(page);
    await rows.first().locator("a").first().click();
    await rendered(page, mark);
    await page.waitForSelector("[data-page=detection]");
    const tests = await page.locator("table[aria-label=Tests] tbody tr").allTextContents();
    expect(tests.length).toBe(9);
    expect(tests.join("\n")).toMatch(/charges the saved card.*failing.*CRITICAL.*20\/20.*> \d/);
    const broken = page.locator(".grid-row", { hasText: "charges the saved card" });
    expect(await broken.locator(".cell-failed").count()).toBe(20);
    const groups = await page.locator("table[aria-label='Attempt groups'] tbody tr").count();
    expect(groups).toBeGreaterThan(0);
    expect(groups).toBeLessThan(20);
    await page.check("#each-attempt");
    expect(await page.locator("table[aria-label=Attempts] tbody tr").count()).toBe(20);
    const reproduce = (await page.textContent(".reproduce code")) ?? "";
    expect(reproduce).toMatch(/^TEST_SEED=\d+ node .*--test-name-pattern/);
    await page.click(".reproduce button.copy");
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(reproduce);
    await page.locator("table[aria-label=Attempts] details summary").first().click();
    expect(await page.locator("table[aria-label=Attempts] pre.output").first().isVisible()).toBe(true);
    await page.uncheck("#each-attempt");
    await atBothWidths(page, "detection");

    // Open a flaky test's page: its history and when it first turned flaky.
    mark = await readyMark(page);
    await page.locator("table[aria-label=Tests] tbody tr", { hasText: "flaky" }).first().locator("a").click();
    await rendered(page, mark);
    await page.waitForSelector("[data-page=test]");
    expect(await page.textContent("#first-flaky")).toMatch(/\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC/);
    expect(await page.textContent("#ownership")).toBe("no quarantine entry");
    expect(await page.locator("table[aria-label='Test history'] tbody tr").count()).toBe(1);
    expect((await charts(page))["test-chart"]).toEqual([1, 1, 1]);
    await atBothWidths(page, "test");

    // With no choice made, the overview shows the most recently active repository (the JUnit run's).
    mark = await readyMark(page);
    await page.click("a.brand");
    await rendered(page, mark);
    expect(await page.inputValue("#repo")).toBe("acme/payments");
    expect(await page.textContent("[data-metric=Detections] .card-value")).toBe("1");

    expect(errors).toEqual([]);
    await page.context().close();
  });
});

describe("dashboard edge cases", () => {
  it("shows a helpful empty state on an empty database", async () => {
    const dir = tempDir("fd-dash-empty-");
    const served = await serve(["--db", join(dir.path, "empty.db")]);
    try {
      const { page, errors } = await open(`${served.url}/`);
      expect(await page.textContent(".notice h2")).toBe("No detections recorded yet");
      expect(await page.textContent(".notice")).toContain("flaky-detector run");
      await page.screenshot({ path: join(SHOTS, "empty.png") });
      expect(errors).toEqual([]);
      await page.context().close();
    } finally {
      await served.stop();
      dir.cleanup();
    }
  });

  it("renders hostile test names as text and asks for the API key when one is set", async () => {
    const dir = tempDir("fd-dash-xss-");
    const db = join(dir.path, "h.db");
    const store = await openStore(db);
    const hostile = `<img src=x onerror="window.__xss=1">`;
    await recordDetection(
      store,
      report(
        "x1",
        new Date().toISOString(),
        [{ id: hostile, attempts: 30, failures: 9 }],
        "/srv/<b>repo</b>",
      ),
      { trigger: "api", backend: "local" },
    );
    await store.close();
    const key = "dashboard-key-0123456789";
    const served = await serve(["--db", db], { FLAKY_DETECTOR_API_KEY: key });
    try {
      const { page } = await open(`${served.url}/`);
      expect(await page.textContent(".notice h2")).toBe("This server needs an API key");
      const mark = await readyMark(page);
      await page.fill("#api-key", key);
      await page.click(".notice button[type=submit]");
      await rendered(page, mark);
      const top = page.locator("table[aria-label='Most flaky tests'] tbody tr a").first();
      expect(await top.textContent()).toBe(hostile);
      expect(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
      expect(await page.locator("img[src=x]").count()).toBe(0);
      expect(served.stderr()).not.toContain(key);
      await page.context().close();
    } finally {
      await served.stop();
      dir.cleanup();
    }
  });
});

describe("dashboard on PostgreSQL", () => {
  let pg: TestPostgres;
  let dir: { path: string; cleanup: () => void };
  beforeAll(async () => {
    pg = await startPostgres();
    dir = tempDir("fd-dash-pg-");
  }, 60_000);
  afterAll(() => {
    pg?.stop();
    dir?.cleanup();
  });

  it("shows two detections recorded in PostgreSQL, with charts", async () => {
    await twoRuns(pg.url, dir.path);
    const served = await serve(["--db", pg.url]);
    try {
      expect(await (await fetch(`${served.url}/health`)).json()).toMatchObject({ store: "postgres" });
      const { page, errors } = await open(`${served.url}/#/?range=7d&repo=*`);
      expect(await page.textContent("[data-metric=Detections] .card-value")).toBe("2");
      expect(Object.keys(await charts(page)).sort()).toEqual(["severity-chart", "trend-chart"]);
      expect(await page.locator("table[aria-label=Detections] tbody tr").count()).toBe(2);
      await page.screenshot({ path: join(SHOTS, "overview-postgres.png"), fullPage: true });
      expect(errors).toEqual([]);
      await page.context().close();
    } finally {
      await served.stop();
    }
  }, 120_000);
});

describe("dashboard with the job API", () => {
  it("shows a detection submitted through POST /run in the seed project's input format", async () => {
    const dir = tempDir("fd-dash-job-");
    const served = await serve(["--db", join(dir.path, "h.db"), "--allow-path", join(ROOT, "examples")]);
    try {
      const res = await fetch(`${served.url}/runsync`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          input: {
            repo: join(ROOT, "examples/node-test"),
            test_command: "node --test",
            runs: 20,
            parallelism: 2,
            framework: "node-test",
          },
        }),
      });
      const job = (await res.json()) as { status: string; detectionId: string };
      expect(job.status).toBe("COMPLETED");
      const { page, errors } = await open(`${served.url}/#/detections/${job.detectionId}`);
      await page.waitForSelector("[data-page=detection]");
      expect(await page.textContent("body")).toContain("node-test · server · api");
      expect(await page.locator("table[aria-label=Tests] tbody tr").count()).toBe(9);
      await page.check("#each-attempt");
      expect(await page.locator("table[aria-label=Attempts] tbody tr").count()).toBe(20);
      await page.screenshot({ path: join(SHOTS, "detection-from-api.png"), fullPage: true });
      const overview = await open(`${served.url}/#/?range=all`);
      expect(await overview.page.textContent("[data-metric=Detections] .card-value")).toBe("1");
      expect(errors).toEqual([]);
      expect(overview.errors).toEqual([]);
      await page.context().close();
      await overview.page.context().close();
    } finally {
      await served.stop();
      dir.cleanup();
    }
  }, 120_000);
});
