/** Display formatting shared by the pages. */

export function pct(rate: number): string {
  if (rate === 0) return "0%";
  const p = rate * 100;
  return `${p < 1 ? p.toFixed(2) : p.toFixed(1)}%`;
}

export function interval(iv: [number, number]): string {
  return `${pct(iv[0])} – ${pct(iv[1])}`;
}

export function duration(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 3_600_000) return `${(ms / 60_000).toFixed(1)} min`;
  return `${(ms / 3_600_000).toFixed(1)} h`;
}

/** "2026-11-24 10:32" in UTC: the store keeps UTC and teams span time zones. */
export function when(iso: string | null | undefined): string {
  if (!iso) return "–";
  return `${iso.slice(0, 16).replace("T", " ")} UTC`;
}

export function shortId(id: string): string {
  return id.slice(0, 8);
}

export function shortSha(sha: string | null): string {
  return sha ? sha.slice(0, 10) : "–";
}

export function count(n: number): string {
  return n.toLocaleString("en-US");
}

/**
 * A test's rate in the CLI's style (reporters/format.ts rateText), from what the history keeps:
 * stable "< upper", failing "> lower", flaky "rate (low–high)", at the interval's confidence.
 */
export function rateText(verdict: string, rate: number, iv: [number, number]): string {
  if (verdict === "error") return "not run";
  if (verdict === "skipped") return "skipped";
  if (verdict === "stable") return `< ${pct(iv[1])}`;
  if (verdict === "failing") return `> ${pct(iv[0])}`;
  return `${pct(rate)} (${pct(iv[0])}–${pct(iv[1])})`;
}
