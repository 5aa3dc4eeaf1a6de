import type { Selectable } from "kysely";
import type { AttemptsTable, DetectionsTable, TestCatalogTable, TestResultsTable } from "../store/schema.js";

/**
 * Rows → the read API's JSON (camelCase, parsed JSON columns). The API is a contract documented in
 * docs/api.md; the database layout behind it can change with a migration without breaking clients.
 */

export function detectionDto(d: DetectionsTable) {
  return {
    id: d.id,
    repository: d.repository,
    command: d.command,
    framework: d.framework,
    ref: d.ref,
    commit: d.commit_sha,
    branch: d.branch,
    prNumber: d.pr_number,
    trigger: d.trigger,
    backend: d.backend,
    startedAt: d.started_at,
    durationMs: d.duration_ms,
    attempts: d.attempts,
    failedAttempts: d.failed_attempts,
    failureRate: d.failure_rate,
    interval: [d.interval_lo, d.interval_hi] as [number, number],
    severity: d.severity.toUpperCase(),
    verdict: d.verdict,
    tests: { total: d.tests_total, flaky: d.tests_flaky, failing: d.tests_failing },
    jobSeed: d.job_seed,
    stopReason: d.stop_reason,
    links: detectionLinks(d),
  };
}

/**
 * Links to where a detection came from, when its repository has a web address: the commit, the
 * pull request and the CI run. GitLab spells merge requests differently; other hosts get GitHub's
 * paths, which Gitea and Forgejo share.
 */
export function detectionLinks(d: {
  repository_url: string | null;
  commit_sha: string | null;
  pr_number: number | null;
  ci_run_url: string | null;
}) {
  const base = d.repository_url;
  const gitlab = base !== null && /^https:\/\/[^/]*gitlab/.test(base);
  return {
    repository: base,
    commit: base && d.commit_sha ? `${base}${gitlab ? "/-" : ""}/commit/${d.commit_sha}` : null,
    pullRequest:
      base && d.pr_number !== null
        ? `${base}${gitlab ? "/-/merge_requests/" : "/pull/"}${d.pr_number}`
        : null,
    ciRun: d.ci_run_url,
  };
}

function parseSeeds(text: string): string[] {
  try {
    const v: unknown = JSON.parse(text);
    return Array.isArray(v) ? v.map(String) : [];
  } catch {
    return [];
  }
}

export function testResultDto(t: TestResultsTable) {
  return {
    id: t.test_id,
    name: t.name,
    file: t.file,
    attempts: t.attempts,
    failures: t.failures,
    failureRate: t.failure_rate,
    interval: [t.interval_lo, t.interval_hi] as [number, number],
    severity: t.severity.toUpperCase(),
    verdict: t.verdict,
    failingSeeds: parseSeeds(t.failing_seeds),
    firstFailure: t.first_failure,
    reproduce: t.reproduce,
    seedDeterministic: t.seed_deterministic === null ? null : t.seed_deterministic === 1,
    owner: t.owner,
    quarantined: t.quarantined === 1,
    outcomes: t.outcomes,
  };
}

export function attemptDto(a: AttemptsTable) {
  return {
    index: a.idx,
    seed: a.seed,
    slot: a.slot,
    outcome: a.outcome,
    durationMs: a.duration_ms,
    exitCode: a.exit_code,
    outputTail: a.output_tail,
  };
}

export function catalogDto(c: Selectable<TestCatalogTable>) {
  return {
    repository: c.repository,
    id: c.test_id,
    firstSeen: c.first_seen,
    lastSeen: c.last_seen,
    lastVerdict: c.last_verdict,
    lastSeverity: c.last_severity.toUpperCase(),
    firstFlakyAt: c.first_flaky_at,
    detections: c.detections,
  };
}

/**
 * The one line that reruns a detection: the worst test's own reproduce line when there is one,
 * else the whole command with the job seed (which replays every attempt's seed).
 */
export function detectionReproduce(d: DetectionsTable, tests: TestResultsTable[]): string {
  const worst = tests.find((t) => t.failures > 0 && t.reproduce);
  if (worst?.reproduce) return worst.reproduce;
  return `flaky-detector run --seed ${d.job_seed} --runs ${d.attempts} -- ${d.command}`;
}
