import { type Child, h } from "./dom.js";

/** Pieces every page uses: badges, tables, cards, notices. */

export function badge(kind: "verdict" | "severity" | "outcome", value: string): HTMLSpanElement {
  return h("span", { class: `badge ${kind}-${value.toLowerCase()}` }, value);
}

export interface Column<T> {
  title: string;
  cell: (row: T) => Child | Child[];
  /** Right-align numbers. */
  numeric?: boolean;
  /** Sort key sent to the API when the header is clicked. */
  sortKey?: string;
}

export function table<T>(
  columns: Column<T>[],
  rows: T[],
  opts: {
    label: string;
    sort?: { key: string; order: "asc" | "desc"; onSort: (key: string) => void };
    rowClass?: (row: T) => string | undefined;
  },
): HTMLElement {
  const head = columns.map((c) => {
    const cls = c.numeric ? "num" : undefined;
    if (!c.sortKey || !opts.sort) return h("th", { class: cls, scope: "col" }, c.title);
    const active = opts.sort.key === c.sortKey;
    const arrow = active ? (opts.sort.order === "asc" ? " ▲" : " ▼") : "";
    const key = c.sortKey;
    const sort = opts.sort;
    return h(
      "th",
      {
        class: cls,
        scope: "col",
        "aria-sort": active ? (sort.order === "asc" ? "ascending" : "descending") : "none",
      },
      h(
        "button",
        { type: "button", class: "sort", "data-sort": key, onclick: () => sort.onSort(key) },
        c.title + arrow,
      ),
    );
  });
  // Wide tables scroll inside their own box: the page itself never scrolls sideways (390 px phones).
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      { "aria-label": opts.label },
      h("thead", {}, h("tr", {}, head)),
      h(
        "tbody",
        {},
        rows.map((r) =>
          h(
            "tr",
            { class: opts.rowClass?.(r) },
            columns.map((c) => h("td", { class: c.numeric ? "num" : undefined }, c.cell(r))),
          ),
        ),
      ),
    ),
  );
}

export function card(label: string, value: string, note?: string): HTMLElement {
  return h(
    "div",
    { class: "card", "data-metric": label },
    h("div", { class: "card-value" }, value),
    h("div", { class: "card-label" }, label),
    note ? h("div", { class: "card-note" }, note) : null,
  );
}

export function section(title: string, ...children: (Child | Child[])[]): HTMLElement {
  return h("section", { "aria-label": title }, h("h2", {}, title), ...children);
}

export function notice(title: string, ...body: (Child | Child[])[]): HTMLElement {
  return h("div", { class: "notice", role: "status" }, h("h2", {}, title), ...body);
}

export function codeLine(text: string): HTMLElement {
  return h("code", { class: "shell" }, text);
}

const SVG = "http://www.w3.org/2000/svg";

/**
 * A test's failure rate over its latest detections, oldest left: one bar per detection, red where
 * it failed every attempt (broken there), amber where it flaked, a grey tick where it passed.
 */
export function sparkline(points: { rate: number; verdict: string }[], label: string): SVGSVGElement {
  const w = 4;
  const gap = 1;
  const height = 18;
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("class", "sparkline");
  svg.setAttribute("width", String(Math.max(1, points.length) * (w + gap)));
  svg.setAttribute("height", String(height));
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", label);
  points.forEach((p, i) => {
    const bar = document.createElementNS(SVG, "rect");
    const barHeight = Math.max(1.5, p.rate * height);
    bar.setAttribute("x", String(i * (w + gap)));
    bar.setAttribute("y", String(height - barHeight));
    bar.setAttribute("width", String(w));
    bar.setAttribute("height", String(barHeight));
    bar.setAttribute(
      "class",
      `spark-${p.verdict === "failing" ? "failing" : p.rate > 0 ? "flaky" : "stable"}`,
    );
    svg.appendChild(bar);
  });
  return svg;
}

/** Quarantine and ownership, as the config recorded them with the detection. */
export function ownership(owner: string | null, quarantined: boolean): (HTMLElement | string)[] {
  return [
    ...(quarantined
      ? [h("span", { class: "badge quarantined", title: "covered by a quarantine entry" }, "quarantined")]
      : []),
    ...(owner ? [h("span", { class: "owner" }, owner)] : []),
  ];
}
