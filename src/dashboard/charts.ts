import type { Chart as ChartClass, ChartConfiguration } from "chart.js";
import type { TrendDay } from "./api.js";

/** Chart.js is loaded by index.html from the package's own copy (vendor/chart.umd.min.js). */
declare global {
  interface Window {
    Chart: typeof ChartClass;
  }
}

export const SEVERITY_ORDER = ["CRITICAL", "HIGH", "MEDIUM", "LOW", "NONE"] as const;
export const SEVERITY_COLOURS: Record<string, string> = {
  CRITICAL: "#b3261e",
  HIGH: "#e8710a",
  MEDIUM: "#f2b600",
  LOW: "#4a90d9",
  NONE: "#3c9d5d",
};

const live = new Set<ChartClass>();

/** Charts hold canvases and listeners: a page re-render destroys the previous page's charts. */
export function destroyCharts(): void {
  for (const c of live) c.destroy();
  live.clear();
}

function make(canvas: HTMLCanvasElement, config: ChartConfiguration): ChartClass {
  const chart = new window.Chart(canvas, config);
  live.add(chart);
  return chart;
}

const percentAxis = {
  beginAtZero: true,
  ticks: { callback: (v: string | number) => `${Number(v).toFixed(0)}%` },
  title: { display: true, text: "failure rate" },
};

/**
 * Flaky tests seen per day (line) over detections per day (bars). No command-level failure rate:
 * a suite with one broken test fails every attempt, so its rate says 100% whatever else happens.
 */
export function trendChart(canvas: HTMLCanvasElement, days: TrendDay[]): void {
  make(canvas, {
    type: "bar",
    data: {
      labels: days.map((d) => d.day),
      datasets: [
        {
          type: "bar",
          label: "detections",
          data: days.map((d) => d.detections),
          backgroundColor: "rgba(74, 144, 217, 0.35)",
          yAxisID: "count",
        },
        {
          type: "line",
          label: "flaky tests seen",
          data: days.map((d) => d.flakyTests ?? 0),
          borderColor: "#e8710a",
          backgroundColor: "#e8710a",
          yAxisID: "count",
          tension: 0.2,
          pointRadius: days.length > 60 ? 0 : 3,
        },
      ],
    },
    options: {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      interaction: { mode: "index", intersect: false },
      scales: {
        count: {
          beginAtZero: true,
          position: "left",
          ticks: { precision: 0 },
          title: { display: true, text: "detections · flaky tests" },
        },
      },
      plugins: {
        tooltip: { callbacks: { label: (ctx) => `${ctx.parsed.y} ${ctx.dataset.label}` } },
      },
    },
  });
}

/** Detections by severity, in severity order with fixed colours. */
export function severityChart(canvas: HTMLCanvasElement, bySeverity: Record<string, number>): void {
  make(canvas, {
    type: "bar",
    data: {
      labels: [...SEVERITY_ORDER],
      datasets: [
        {
          label: "detections",
          data: SEVERITY_ORDER.map((s) => bySeverity[s] ?? 0),
          backgroundColor: SEVERITY_ORDER.map((s) => SEVERITY_COLOURS[s] as string),
        },
      ],
    },
    options: {
      indexAxis: "y",
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      plugins: { legend: { display: false } },
      scales: { x: { beginAtZero: true, ticks: { precision: 0 } } },
    },
  });
}

/** One test over time: its rate per detection with the confidence interval as a band. */
export function testChart(
  canvas: HTMLCanvasElement,
  points: { startedAt: string; failureRate: number; interval: [number, number] }[],
): void {
  const labels = points.map((p) => p.startedAt.slice(0, 16).replace("T", " "));
  make(canvas, {
    type: "line",
    data: {
      labels,
      datasets: [
        {
          label: "interval high",
          data: points.map((p) => p.interval[1] * 100),
          borderWidth: 0,
          pointRadius: 0,
          backgroundColor: "rgba(179, 38, 30, 0.12)",
          fill: "+1",
        },
        {
          label: "interval low",
          data: points.map((p) => p.interval[0] * 100),
          borderWidth: 0,
          pointRadius: 0,
          fill: false,
        },
        {
          label: "failure rate",
          data: points.map((p) => p.failureRate * 100),
          borderColor: "#b3261e",
          backgroundColor: "#b3261e",
          pointRadius: 3,
          fill: false,
        },
      ],
    },
    options: {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      scales: { y: { ...percentAxis, max: 100 } },
      plugins: {
        legend: { labels: { filter: (item) => item.text === "failure rate" } },
      },
    },
  });
}
