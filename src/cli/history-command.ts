import type { Command } from "commander";
import { pct } from "../analysis/summarize.js";
import { EXIT, UsageError } from "../errors.js";
import type { Store } from "../store/open.js";
import { defaultDbPath, isPostgresUrl } from "../store/target.js";
import type { CliIo } from "./io.js";

/** Where history lives: --db, else FLAKY_DETECTOR_DB / history.db in config, else the documented default. */
export function historyTarget(
  flag: string | undefined,
  configured: string | null,
  env: NodeJS.ProcessEnv,
): string {
  const target = flag ?? configured ?? defaultDbPath(env);
  if (isPostgresUrl(target)) {
    try {
      new URL(target);
    } catch {
      throw new UsageError(
        "E_DB_URL",
        `--db: not a valid postgres:// URL: ${JSON.stringify(target.replace(/:[^:@/]*@/, ":***@"))}`,
      );
    }
  }
  return target;
}

const DURATION = /^(\d+)(h|d|w)$/;

/** "90d" → the ISO instant that long ago. */
export function olderThan(value: string, now = Date.now()): string {
  const m = DURATION.exec(value.trim());
  if (!m)
    throw new UsageError(
      "E_USAGE",
      `--older-than: expected a duration like 90d, 12h or 2w, got ${JSON.stringify(value)}`,
    );
  const hours = Number(m[1]) * (m[2] === "h" ? 1 : m[2] === "d" ? 24 : 24 * 7);
  return new Date(now - hours * 3600_000).toISOString();
}

interface Common {
  db?: string;
  json?: boolean;
  repo?: string;
  since?: string;
}

type Queries = typeof import("../store/queries.js");

/** The store and its queries, loaded here: registering these commands loads no database driver. */
async function withStore<T>(opts: Common, io: CliIo, fn: (s: Store, q: Queries) => Promise<T>): Promise<T> {
  const [{ resolveConfig }, { openStore }, q] = await Promise.all([
    import("../config/resolve.js"),
    import("../store/open.js"),
    import("../store/queries.js"),
  ]);
  const { config } = resolveConfig({ cwd: io.cwd, env: io.env });
  const store = await openStore(historyTarget(opts.db, config.history.db, io.env), io.cwd);
  try {
    return await fn(store, q);
  } finally {
    await store.close();
  }
}

function since(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (DURATION.test(value)) return olderThan(value);
  if (!Number.isNaN(Date.parse(value))) return new Date(value).toISOString();
  throw new UsageError(
    "E_USAGE",
    `--since: expected a date (2026-11-01) or a duration (30d), got ${JSON.stringify(value)}`,
  );
}

function positiveInt(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 100_000)
    throw new UsageError("E_USAGE", `${name}: expected a whole number, got ${JSON.stringify(value)}`);
  return n;
}

function table(rows: string[][]): string {
  const widths = (rows[0] ?? []).map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  return `${rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] as number))).join("  ")).join("\n")}\n`;
}

export function addHistoryCommands(program: Command, io: CliIo, setExit: (code: number) => void): void {
  const history = program.command("history").description("Query recorded detections (SQLite or PostgreSQL)");
  const common = (c: Command) =>
    c
      .option("--db <path|url>", "history database (default: ~/.local/share/flaky-detector/history.db)")
      .option("--repo <name>", "only this repository (as recorded: a path or URL)")
      .option("--json", "print JSON");
  const out = (opts: Common, data: unknown, text: () => string) => {
    io.stdout.write(opts.json ? `${JSON.stringify(data, null, 2)}\n` : text());
    setExit(EXIT.ok);
  };

  common(history.command("list").description("Recent detections"))
    .option("--since <date|duration>", "only detections since then (2026-11-01, 30d)")
    .option("--verdict <verdict>", "stable | flaky | failing | error")
    .option("--severity <severity>", "critical | high | medium | low | none")
    .option("--limit <n>", "rows (default 20)")
    .option("--offset <n>", "skip rows")
    .action(
      async (opts: Common & { verdict?: string; severity?: string; limit?: string; offset?: string }) => {
        const res = await withStore(opts, io, (s, q) =>
          q.listDetections(s, {
            ...(opts.repo ? { repository: opts.repo } : {}),
            ...(opts.verdict ? { verdict: opts.verdict } : {}),
            ...(opts.severity ? { severity: opts.severity } : {}),
            ...(opts.since ? { since: since(opts.since) as string } : {}),
            limit: positiveInt(opts.limit, "--limit", 20),
            offset: positiveInt(opts.offset, "--offset", 0),
          }),
        );
        out(opts, res, () =>
          res.rows.length === 0
            ? "no detections recorded yet: run `flaky-detector run …` first\n"
            : `${table([
                ["STARTED", "ID", "VERDICT", "SEVERITY", "FAILED", "TESTS", "REPOSITORY"],
                ...res.rows.map((r) => [
                  r.started_at.slice(0, 19).replace("T", " "),
                  r.id.slice(0, 8),
                  r.verdict,
                  r.severity.toUpperCase(),
                  `${r.failed_attempts}/${r.attempts}`,
                  r.tests_total > 0 ? `${r.tests_flaky} flaky of ${r.tests_total}` : "-",
                  r.repository,
                ]),
              ])}${res.rows.length} of ${res.total}\n`,
        );
      },
    );

  common(
    history
      .command("show")
      .description("One detection in full")
      .argument("<id>", "detection id (or a unique prefix shown by list)"),
  ).action(async (id: string, opts: Common) => {
    const res = await withStore(opts, io, async (s, q) => {
      let found = await q.getDetection(s, id);
      if (!found && /^[0-9a-f-]{4,}$/i.test(id)) {
        const matches = (await q.listDetections(s, { limit: 500 })).rows.filter((r) => r.id.startsWith(id));
        if (matches.length === 1) found = await q.getDetection(s, (matches[0] as { id: string }).id);
      }
      return found;
    });
    if (!res)
      throw new UsageError(
        "E_NOT_FOUND",
        `history show: no detection ${JSON.stringify(id)}; see flaky-detector history list`,
      );
    out(opts, res, () => {
      const d = res.detection;
      const lines = [
        `${d.id}  ${d.verdict.toUpperCase()}  severity ${d.severity.toUpperCase()}  ${d.started_at}`,
        `${d.repository} @ ${d.commit_sha ?? "?"}: ${d.command}`,
        `${d.failed_attempts}/${d.attempts} attempts failed (${pct(d.failure_rate)}), ${d.duration_ms} ms, job seed ${d.job_seed}`,
        "",
      ];
      if (res.tests.length > 0) {
        lines.push(
          table([
            ["SEVERITY", "VERDICT", "FAILED", "RATE", "TEST"],
            ...res.tests.map((t) => [
              t.severity.toUpperCase(),
              t.verdict,
              `${t.failures}/${t.attempts}`,
              pct(t.failure_rate),
              t.test_id,
            ]),
          ]),
        );
      }
      return `${lines.join("\n")}\n`;
    });
  });

  common(history.command("trend").description("Flakiness per day for a repository or one test"))
    .option("--test <id>", "one test")
    .option("--since <date|duration>", "from (default 30d)")
    .action(async (opts: Common & { test?: string }) => {
      const rows = await withStore(opts, io, (s, q) =>
        q.trend(s, {
          ...(opts.repo ? { repository: opts.repo } : {}),
          ...(opts.test ? { testId: opts.test } : {}),
          since: since(opts.since ?? "30d") as string,
        }),
      );
      out(opts, rows, () =>
        rows.length === 0
          ? "no detections in this window\n"
          : table([
              ["DAY", "DETECTIONS", "FAILURE RATE"],
              ...rows.map((r) => [r.day, String(r.detections), pct(r.failureRate)]),
            ]),
      );
    });

  common(
    history
      .command("top")
      .description("Most flaky tests, ranked by impact (rate × detections that saw it fail)"),
  )
    .option("--since <date|duration>", "from (default 90d)")
    .option("--min-attempts <n>", "minimum sample (default 20)")
    .option("--limit <n>", "rows (default 20)")
    .action(async (opts: Common & { minAttempts?: string; limit?: string }) => {
      const rows = await withStore(opts, io, (s, q) =>
        q.topFlaky(s, {
          ...(opts.repo ? { repository: opts.repo } : {}),
          since: since(opts.since ?? "90d") as string,
          minAttempts: positiveInt(opts.minAttempts, "--min-attempts", 20),
          limit: positiveInt(opts.limit, "--limit", 20),
        }),
      );
      out(opts, rows, () =>
        rows.length === 0
          ? "no flaky tests in this window\n"
          : table([
              ["IMPACT", "RATE", "FAILED IN", "TEST"],
              ...rows.map((r) => [
                r.impact.toFixed(2),
                pct(r.failureRate),
                `${r.failingDetections}/${r.detections} detections`,
                r.testId,
              ]),
            ]),
      );
    });

  common(history.command("stats").description("Detections by severity"))
    .option("--since <date|duration>", "from")
    .action(async (opts: Common) => {
      const res = await withStore(opts, io, (s, q) =>
        q.statsBySeverity(s, {
          ...(opts.repo ? { repository: opts.repo } : {}),
          ...(opts.since ? { since: since(opts.since) as string } : {}),
        }),
      );
      out(opts, res, () =>
        table([
          ["SEVERITY", "DETECTIONS"],
          ...Object.entries(res).map(([k, v]) => [k.toUpperCase(), String(v)]),
        ]),
      );
    });

  common(
    history
      .command("test")
      .description("One test's history, with when it first turned flaky")
      .argument("<test-id>", "test id as reported"),
  ).action(async (testId: string, opts: Common) => {
    if (!opts.repo)
      throw new UsageError(
        "E_USAGE",
        "history test: --repo is required (test ids are per repository; see history list)",
      );
    const res = await withStore(opts, io, (s, q) => q.testTimeline(s, opts.repo as string, testId));
    out(opts, res, () =>
      res.results.length === 0
        ? `no history for ${testId} in ${opts.repo}\n`
        : `${testId}: first seen ${res.catalog?.first_seen}, first flaky ${res.catalog?.first_flaky_at ?? "never"}\n` +
          table([
            ["STARTED", "VERDICT", "FAILED", "RATE"],
            ...res.results.map((r) => [
              r.started_at,
              r.verdict,
              `${r.failures}/${r.attempts}`,
              pct(r.failure_rate),
            ]),
          ]),
    );
  });

  history
    .command("prune")
    .description("Delete detections older than a duration")
    .requiredOption("--older-than <duration>", "e.g. 90d, 12h, 2w")
    .option("--db <path|url>", "history database")
    .action(async (opts: { olderThan: string; db?: string }) => {
      const before = olderThan(opts.olderThan);
      const n = await withStore(opts, io, (s, q) => q.prune(s, before));
      io.stdout.write(`deleted ${n} detection(s) started before ${before}\n`);
      setExit(EXIT.ok);
    });
}
