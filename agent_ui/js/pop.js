// The screen pop: who is calling, from the offer's screen_pop (acd.py ScreenPop), and
// their last interactions. Every value is set as text.
import { h } from "./dom.js";
import { NONE, label, when } from "./format.js";

/** The screen pop: who is calling and their last contacts. @param {any} pop */
export function screenPop(pop) {
  if (!pop) {
    return h("p", { class: "muted pop" },
      "No screen pop for this contact: the server no longer had its offer to send again.");
  }
  if (!pop.known) {
    return h("section", { class: "pop unknown", "aria-label": "Caller" },
      h("p", { class: "customer-name" }, "Unknown caller"),
      h("p", { class: "pop-message" }, String(pop.message || "")));
  }
  const c = pop.customer || {};
  const rows = [
    ["Tier", c.tier],
    ["Account", c.account_number],
    ["Segment", c.value_segment],
    ["Calling from", pop.ani],
    ["Phones on file", Array.isArray(c.phones) ? c.phones.join(", ") : null],
  ];
  const attributes = Object.entries(c.attributes || {});
  return h("section", { class: "pop known", "aria-label": "Caller" },
    h("p", { class: "customer-name" }, String(c.name ?? "")),
    pop.matches > 1
      ? h("p", { class: "warning" }, `${pop.matches} customers share this number; showing the first.`)
      : null,
    h("dl", { class: "facts" }, rows.map(([name, value]) => [
      h("dt", {}, name), h("dd", {}, value ? String(value) : NONE)])),
    attributes.length
      ? h("dl", { class: "facts attributes", "aria-label": "Attributes" }, attributes.map(([k, v]) => [
        h("dt", {}, label(k)), h("dd", {}, typeof v === "string" ? v : JSON.stringify(v))]))
      : null,
    history(pop.recent || []));
}

/** @param {any[]} recent */
function history(recent) {
  if (!recent.length) return h("p", { class: "muted" }, "No earlier contacts.");
  return h("table", { class: "history" },
    h("caption", {}, "Last interactions"),
    h("thead", {}, h("tr", {}, ["When", "Queue", "Agent", "Outcome", "Disposition", "Notes"]
      .map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, recent.map((r) => h("tr", {},
      h("td", {}, when(r.started_at)),
      h("td", {}, r.queue_id ?? NONE),
      h("td", {}, r.agent_id ?? NONE),
      h("td", {}, label(r.outcome)),
      h("td", { class: "disposition" }, r.disposition ?? NONE),
      h("td", { class: "notes" }, r.notes ?? "")))));
}
