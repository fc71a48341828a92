// Small SVG charts built with DOM calls (no library, no markup strings): a line or bars
// over time with a y range, axis labels and an optional target line.

const SVG = "http://www.w3.org/2000/svg";

/** @param {string} tag @param {Record<string, string|number>} attrs */
function svg(tag, attrs = {}) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

/**
 * @param {{points: [number, number][], kind: "line"|"bars", yMax: number, label: string,
 *          format: (v: number) => string, target?: number|null, from: number, to: number}} opts
 *   points: [time (s), value]; from/to: the time span shown
 * @returns {SVGSVGElement}
 */
export function timeChart({ points, kind, yMax, label, format, target = null, from, to }) {
  const W = 420;
  const H = 120;
  const L = 40;
  const B = 18;
  const root = /** @type {SVGSVGElement} */ (svg("svg", {
    viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "aria-label": label }));
  const title = svg("title");
  title.textContent = label;
  root.append(title);
  const span = Math.max(1, to - from);
  const x = (t) => L + ((t - from) / span) * (W - L - 6);
  const y = (v) => H - B - (Math.min(v, yMax) / yMax) * (H - B - 8);
  for (const v of [0, yMax / 2, yMax]) {
    root.append(svg("line", { x1: L, x2: W - 6, y1: y(v), y2: y(v), class: "grid-line" }));
    const t = svg("text", { x: L - 4, y: y(v) + 4, class: "axis", "text-anchor": "end" });
    t.textContent = format(v);
    root.append(t);
  }
  for (const at of [from, (from + to) / 2, to]) {
    const t = svg("text", { x: x(at), y: H - 4, class: "axis", "text-anchor": "middle" });
    t.textContent = new Date(at * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    root.append(t);
  }
  if (target !== null) {
    root.append(svg("line", { x1: L, x2: W - 6, y1: y(target), y2: y(target), class: "target-line" }));
  }
  if (kind === "bars") {
    const width = Math.max(2, ((W - L - 6) / Math.max(1, span / 900)) - 2);
    for (const [t, v] of points) {
      root.append(svg("rect", { x: x(t), y: y(v), width, height: Math.max(0, H - B - y(v)),
                               class: target !== null && v < target ? "bar below" : "bar" }));
    }
  } else if (points.length) {
    root.append(svg("polyline", { points: points.map(([t, v]) => `${x(t)},${y(v)}`).join(" "),
                                  class: "series" }));
  }
  return root;
}
