// The screen pop: who is calling, from the offer's screen_pop (acd.py ScreenPop), what they
// did in the IVR, their last interactions, and a link to the external CRM record. Every
// value is set as text; the CRM link is built from config/ui.yaml's template with each
// value URL-encoded, and only http(s) links are made.
import { h } from "./dom.js";
import { NONE, label, when } from "./format.js";

/**
 * The CRM link for a pop, or null (no template, or not an http(s) URL once filled in).
 * @param {string|null|undefined} template @param {Record<string, unknown>} values
 */
export function crmLink(template, values) {
  if (!template) return null;
  let missing = false;
  const filled = template.replace(/\{([a-z_]+)\}/g, (_, key) => {
    const value = values[key];
    if (value === null || value === undefined || value === "") missing = true;
    return encodeURIComponent(String(value ?? ""));
  });
  if (missing) return null;
  try {
    const url = new URL(filled, location.href);
    return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
  } catch {
    return null;
  }
}

/**
 * The screen pop. opts: crmTemplate, contactId, queue; onDial(number, customerId) adds a
 * call button to each phone on file (click-to-dial).
 * @param {any} pop
 * @param {{crmTemplate?: string|null, contactId?: string, queue?: string|null,
 *          onDial?: ((number: string, customerId: string|null) => void) | null}} [opts]
 */
export function screenPop(pop, opts = {}) {
  if (!pop) {
    return h("p", { class: "muted pop" },
      "No screen pop for this contact: the server no longer had its offer to send again.");
  }
  const visitor = pop.chat && typeof pop.chat === "object" ? pop.chat : null;
  if (!pop.known) {
    return h("section", { class: "pop unknown", "aria-label": visitor ? "Visitor" : "Caller" },
      h("p", { class: "customer-name" }, visitor ? String(visitor.name || "Chat visitor") : "Unknown caller"),
      visitor && visitor.question ? h("p", { class: "question" }, String(visitor.question)) : null,
      h("p", { class: "pop-message" }, String(pop.message || "")),
      ivr(pop.ivr));
  }
  const c = pop.customer || {};
  const link = crmLink(opts.crmTemplate, {
    customer_id: c.id, account_number: c.account_number, ani: pop.ani,
    contact_id: opts.contactId, queue: opts.queue,
  });
  const phones = Array.isArray(c.phones) ? c.phones.map(String) : [];
  const rows = [
    ["Tier", c.tier],
    ["Account", c.account_number],
    ["Segment", c.value_segment],
    ["Calling from", pop.ani],
  ];
  const attributes = Object.entries(c.attributes || {});
  return h("section", { class: "pop known", "aria-label": "Caller" },
    h("div", { class: "pop-head" },
      h("p", { class: "customer-name" }, String(c.name ?? "")),
      link ? h("a", { class: "crm-link", href: link, target: "_blank", rel: "noopener noreferrer" },
        "Open in CRM") : null),
    pop.matches > 1
      ? h("p", { class: "warning" }, `${pop.matches} customers share this number; showing the first.`)
      : null,
    h("dl", { class: "facts" },
      rows.map(([name, value]) => [h("dt", {}, name), h("dd", {}, value ? String(value) : NONE)]),
      h("dt", {}, "Phones on file"),
      h("dd", { class: "phones" }, phones.length ? phones.map((n) => h("span", { class: "phone" }, n,
        opts.onDial ? h("button", {
          type: "button", class: "small dial-phone", "aria-label": `Call ${n}`,
          onclick: () => opts.onDial && opts.onDial(n, c.id ? String(c.id) : null),
        }, "Call") : null)) : NONE)),
    attributes.length
      ? h("dl", { class: "facts attributes", "aria-label": "Attributes" }, attributes.map(([k, v]) => [
        h("dt", {}, label(k)), h("dd", {}, typeof v === "string" ? v : JSON.stringify(v))]))
      : null,
    ivr(pop.ivr),
    history(pop.recent || []));
}

/** What the caller did in the IVR. @param {any} data */
function ivr(data) {
  if (!data || (!(data.path || []).length && !Object.keys(data.variables || {}).length)) return null;
  const vars = Object.entries(data.variables || {});
  return h("section", { class: "ivr", "aria-label": "IVR" },
    h("p", { class: "ivr-path" }, h("strong", {}, "IVR: "),
      (data.path || []).map(String).join(" → ") || NONE),
    vars.length ? h("dl", { class: "facts" }, vars.map(([k, v]) => [
      h("dt", {}, label(k)), h("dd", {}, typeof v === "string" ? v : JSON.stringify(v))])) : null);
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
