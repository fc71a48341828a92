// The queue tiles, shared by the supervisor page and the read-only wallboard screen.
// A tile is rebuilt only when its queue changed; the longest wait ticks every second from
// the oldest contact's arrival on the server's clock.
import { h, setChildren } from "./dom.js";
import { NONE, duration, percent } from "./format.js";

const AGENT_STATES = [
  ["available", "Available"],
  ["on_contact", "On contact"],
  ["wrap_up", "Wrap-up"],
  ["not_ready", "Not ready"],
  ["not_responding", "Not responding"],
];

/**
 * Render (or update) the tiles in `box` for the queues named in `changed` (all when full).
 * @param {HTMLElement} box @param {import("./feed.js").WallboardFeed} feed
 * @param {{queues: string[], full: boolean}} changed
 */
export function renderTiles(box, feed, changed) {
  if (changed.full) {
    setChildren(box, [...feed.queues.values()].map((t) => tile(t, feed)));
    return;
  }
  for (const id of changed.queues) {
    const t = feed.queues.get(id);
    const old = box.querySelector(`[data-queue="${CSS.escape(id)}"]`);
    const fresh = tile(t, feed);
    if (old) old.replaceWith(fresh);
    else box.append(fresh);
  }
}

/** Tick the longest waits. @param {HTMLElement} box @param {import("./feed.js").WallboardFeed} feed */
export function tickTiles(box, feed) {
  for (const el of box.querySelectorAll(".tile")) {
    const t = feed.queues.get(/** @type {HTMLElement} */ (el).dataset.queue || "");
    const cell = el.querySelector(".longest-wait-s .value");
    if (t && cell) cell.textContent = t.oldest_at ? duration(feed.now() - t.oldest_at) : NONE;
  }
}

/** @param {any} t @param {import("./feed.js").WallboardFeed} feed */
function tile(t, feed) {
  const alerts = t.alerts || {};
  const figure = (key, name, value, extra = null) => h("div", {
    class: `figure ${key.replaceAll("_", "-")}`, dataset: { alert: alerts[key] || "ok" },
  }, h("span", { class: "name" }, name), h("span", { class: "value" }, value), extra);
  const wait = t.oldest_at ? duration(feed.now() - t.oldest_at) : NONE;
  const agents = t.agents || {};
  return h("article", {
    class: "tile", dataset: { queue: t.queue_id, level: t.level },
    "aria-label": `${t.name}: ${t.level === "ok" ? "within thresholds" : t.level}`,
  },
  h("header", { class: "tile-head" },
    h("h3", {}, t.name),
    h("span", { class: "level", dataset: { level: t.level } },
      t.level === "ok" ? "OK" : t.level.toUpperCase())),
  h("div", { class: "figures main" },
    figure("waiting", "Waiting", String(t.waiting)),
    figure("longest_wait_s", "Longest wait", wait),
    figure("service_level", "Service level", percent(t.service_level),
      h("span", { class: "sub" }, `target ${percent(t.service_level_target)}`))),
  h("p", { class: "formula" }, `SL = ${t.service_level_formula}`),
  h("div", { class: "figures" },
    figure("asa", "ASA", duration(t.asa_s)),
    figure("abandon_rate", "Abandon rate", percent(t.abandon_rate),
      h("span", { class: "sub" }, `${t.abandoned} abandoned · ${t.short_abandoned} short`)),
    figure("aht", "AHT", duration(t.aht_s)),
    figure("occupancy", "Occupancy", percent(t.occupancy)),
    figure("offered", "Offered", String(t.offered)),
    figure("answered", "Answered", String(t.answered))),
  h("ul", { class: "agent-counts", "aria-label": "Agents by state" },
    AGENT_STATES.map(([key, name]) => h("li", { dataset: { state: key } },
      h("span", { class: "count" }, String(agents[key] || 0)), h("span", {}, name)))));
}
