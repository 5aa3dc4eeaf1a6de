/** The read API client. The dashboard talks to nothing else. */

const KEY_STORAGE = "flaky-detector-api-key";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export function setApiKey(key: string): void {
  sessionStorage.setItem(KEY_STORAGE, key);
}

export type Params = Record<string, string | number | undefined | null>;

export function query(params: Params): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params))
    if (v !== undefined && v !== null && v !== "") q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : "";
}

export async function get<T>(path: string, params: Params = {}): Promise<T> {
  const key = sessionStorage.getItem(KEY_STORAGE);
  const res = await fetch(`/api/v1/${path}${query(params)}`, {
    headers: key ? { authorization: `Bearer ${key}` } : {},
  });
  const body = (await res.json().catch(() => ({}))) as { error?: { message?: string } };
  if (!res.ok) throw new ApiError(res.status, body.error?.message ?? `${res.status} ${res.statusText}`);
  return body as T;
}

export interface Detection {
  id: string;
  repository: string;
  command: string;
  framework: string;
  ref: string | null;
  commit: string | null;
  branch: string | null;
  prNumber: number | null;
  trigger: string;
  backend: string;
  startedAt: string;
  durationMs: number;
  attempts: number;
  failedAttempts: number;
  failureRate: number;
  interval: [number, number];
  severity: string;
  verdict: string;
  tests: { total: number; flaky: number; failing: number };
  jobSeed: string;
  stopReason: string;
  links: Links;
}

export interface Links {
  repository: string | null;
  commit: string | null;
  pullRequest: string | null;
  ciRun: string | null;
}

export interface TestResult {
  id: string;
  name: string;
  file: string | null;
  attempts: number;
  failures: number;
  failureRate: number;
  interval: [number, number];
  severity: string;
  verdict: string;
  failingSeeds: string[];
  firstFailure: string | null;
  reproduce: string | null;
  seedDeterministic: boolean | null;
  owner: string | null;
  quarantined: boolean;
  /** One character per attempt: F failed, ? no results, . otherwise; null for tests that never failed. */
  outcomes: string | null;
}

export interface Attempt {
  index: number;
  seed: string;
  slot: number;
  outcome: string;
  durationMs: number;
  exitCode: number | null;
  outputTail: string;
}

export interface Overview {
  detections: number;
  attempts: number;
  failedAttempts: number;
  flakyDetections: number;
  failingDetections: number;
  stableDetections: number;
  meanFailureRate: number;
  runtimeMs: number;
  flakyTests: number;
  brokenTests: number;
  quarantinedTests: number;
  newFlakyTestsThisWeek: number;
  lastStartedAt: string | null;
  bySeverity: Record<string, number>;
}

export interface TrendDay {
  day: string;
  detections: number;
  failureRate: number;
  flakyTests?: number;
}

export interface TopTest {
  testId: string;
  repository: string;
  owner: string | null;
  quarantined: boolean;
  recent: { rate: number; verdict: string }[];
  detections: number;
  failingDetections: number;
  attempts: number;
  failures: number;
  failureRate: number;
  impact: number;
  lastSeen: string;
}

export interface Repository {
  name: string;
  url: string | null;
  detections: number;
  lastStartedAt: string;
}

export interface CatalogTest {
  repository: string;
  id: string;
  firstSeen: string;
  lastSeen: string;
  lastVerdict: string;
  lastSeverity: string;
  firstFlakyAt: string | null;
  detections: number;
}
