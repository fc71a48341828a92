// The agent page: status and reason, offers with their screen pop, accept / reject, hold,
// end, and the wrap-up with disposition and notes. Server data is only ever set as text.
import { AgentChannel } from "./channel.js";
import { byId, h, setChildren } from "./dom.js";
import { label } from "./format.js";
import { setupLogin } from "./login.js";
import { screenPop } from "./pop.js";
import { AuthError, Session } from "./session.js";

const session = new Session("agent");
const channel = new AgentChannel(() => session.token);

/** @type {{reason_codes: string[], queues: any[]}} */
let config = { reason_codes: [], queues: [] };
/** @type {{status: string, activity: string, next_status: string|null, contacts: Record<string, string>}} */
let agent = { status: "offline", activity: "offline", next_status: null, contacts: {} };

/**
 * What the page knows of each contact in the agent's hands.
 * @typedef {{id: string, state: string, queue: string|null, offer: any|null,
 *            expiresAt: number|null, card: HTMLElement|null, rendered: string, busy: boolean}} Contact
 * @type {Map<string, Contact>}
 */
const contacts = new Map();

const statusSelect = /** @type {HTMLSelectElement} */ (byId("status"));
const contactsBox = byId("contacts");
const notice = byId("notice");

// --- login and connection ------------------------------------------------------------------

setupLogin(session, {
  roles: ["agent"],
  pageName: "agent",
  onLogin: () => {
    loadConfig();
    channel.start();
  },
  onLogout: () => {
    // Leave the queues rather than wait for the server's grace period for dropped consoles
    // (with contacts in hand the server makes it the next status).
    const leaving = agent.status !== "offline"
      ? channel.command("set_status", { status: "offline" }) : Promise.resolve();
    leaving.catch(() => {}).finally(() => channel.stop());
    contacts.clear();
    renderContacts();
  },
});

async function loadConfig() {
  try {
    config = await session.get("/api/ui/config");
  } catch (exc) {
    if (exc instanceof AuthError) return expired();
    say(`Could not load the queue settings: ${exc instanceof Error ? exc.message : exc}`, true);
  }
  renderStatusOptions();
}

function expired() {
  channel.stop();
  session.logout();
  location.reload();
}

channel.addEventListener("auth", expired);

channel.addEventListener("state", (event) => {
  const { state, detail } = /** @type {CustomEvent} */ (event).detail;
  const pill = byId("connection");
  pill.textContent = state;
  pill.dataset.state = state;
  byId("connection-detail").textContent = detail || "";
  statusSelect.disabled = state !== "connected";
  for (const c of contacts.values()) setBusy(c, c.busy);
});

// --- server messages -----------------------------------------------------------------------

on("agent_state", (data) => {
  agent = {
    status: String(data.status),
    activity: String(data.activity),
    next_status: data.next_status ?? null,
    contacts: data.contacts || {},
  };
  // The engine's list of the agent's contacts is the truth: add what the page missed,
  // drop what is over.
  for (const [id, state] of Object.entries(agent.contacts)) {
    const known = contacts.get(id);
    if (known) known.state = String(state);
    else contacts.set(id, newContact(id, String(state)));
  }
  for (const id of [...contacts.keys()]) {
    if (!(id in agent.contacts)) contacts.delete(id);
  }
  renderAgent();
  renderContacts();
});

on("offer", (data, now) => {
  const id = String(data.contact_id);
  const contact = contacts.get(id) || newContact(id, "offered");
  contact.state = "offered";
  contact.queue = data.queue ?? null;
  contact.offer = data;
  // Count down on the server's clock (its time now vs the expiry), not the browser's.
  contact.expiresAt = performance.now() + Math.max(0, (data.expires_at - now) * 1000);
  contacts.set(id, contact);
  renderContacts();
  const accept = contact.card && contact.card.querySelector("button.accept");
  const typing = document.activeElement && document.activeElement.matches("input, textarea");
  if (accept instanceof HTMLButtonElement && !typing) accept.focus();
});

on("offer_rescinded", (data) => {
  contacts.delete(String(data.contact_id));
  say(`The offer of contact ${data.contact_id} was withdrawn (${label(data.reason)}).`);
  renderContacts();
});

on("contact_state", (data) => {
  const id = String(data.contact_id);
  const state = String(data.state);
  if (["done", "transferred", "offer_timed_out", "offer_rejected"].includes(state)) {
    contacts.delete(id);
    if (state === "offer_timed_out") {
      say(`You did not answer the offer of contact ${id} in time.`, true);
    } else if (state === "transferred") {
      say(`Contact ${id} was transferred.`);
    }
  } else {
    const contact = contacts.get(id) || newContact(id, state);
    contact.state = state;
    if (data.queue) contact.queue = data.queue;
    contacts.set(id, contact);
    if (state === "wrap_up" && data.detail && data.detail.ended_by === "customer") {
      say(`The caller on contact ${id} hung up; complete the wrap-up.`);
    }
  }
  renderContacts();
});

on("error", (data) => say(`Server error: ${data.message || data.code}`, true));

/** @param {string} type @param {(data: any, now: number) => void} handler */
function on(type, handler) {
  channel.addEventListener(type, (event) => {
    const { data, now } = /** @type {CustomEvent} */ (event).detail;
    handler(data || {}, Number(now) || Date.now() / 1000);
  });
}

/** @param {string} id @param {string} state @returns {Contact} */
function newContact(id, state) {
  return { id, state, queue: null, offer: null, expiresAt: null, card: null, rendered: "",
           busy: false };
}

// --- status ----------------------------------------------------------------------------------

function statusChoices() {
  const codes = config.reason_codes.filter((c) => c !== "available" && c !== "offline");
  const choices = ["available", ...codes, "offline"];
  if (!choices.includes(agent.status)) choices.splice(1, 0, agent.status);
  return choices;
}

function renderStatusOptions() {
  const names = { available: "Available", offline: "Offline (logged out)" };
  setChildren(statusSelect, statusChoices().map((code) =>
    h("option", { value: code }, names[code] || `Not ready: ${label(code)}`)));
  statusSelect.value = agent.status;
}

let statusPending = false;

statusSelect.addEventListener("change", async () => {
  const wanted = statusSelect.value;
  statusSelect.disabled = true;
  statusPending = true;
  try {
    await channel.command("set_status", { status: wanted });
  } catch (exc) {
    say(`Status not changed: ${exc instanceof Error ? exc.message : exc}`, true);
  } finally {
    statusPending = false;
    statusSelect.disabled = channel.state !== "connected";
    statusSelect.value = agent.status;
  }
});

function renderAgent() {
  if (![...statusSelect.options].some((o) => o.value === agent.status)) renderStatusOptions();
  if (!statusPending) statusSelect.value = agent.status;
  const activity = byId("activity");
  activity.textContent = label(agent.activity);
  activity.dataset.state = agent.activity;
  byId("next-status").textContent = agent.next_status
    ? `then ${label(agent.next_status)} when your contacts are done` : "";
}

// --- contacts ------------------------------------------------------------------------------

function renderContacts() {
  byId("no-contacts").hidden = contacts.size > 0;
  const cards = [];
  for (const contact of contacts.values()) {
    renderContact(contact);
    cards.push(contact.card);
  }
  // Moving a node drops its focus: touch the list only when the cards changed.
  const same = cards.length === contactsBox.children.length &&
    cards.every((card, i) => card === contactsBox.children[i]);
  if (!same) setChildren(contactsBox, cards);
}

/**
 * (Re)build a contact's card when its state changed. The card is kept while the state stays
 * the same, so what the agent is typing in the wrap-up form survives other updates.
 * @param {Contact} contact
 */
function renderContact(contact) {
  const key = `${contact.state}|${contact.offer ? 1 : 0}`;
  if (contact.card && contact.rendered === key) return;
  const offline = channel.state !== "connected";
  const pop = contact.offer ? contact.offer.screen_pop : null;
  const queue = queueConfig(contact.queue);
  const titleId = `contact-title-${cssId(contact.id)}`;
  const card = h("article", {
    class: `card contact state-${contact.state}`,
    "aria-labelledby": titleId,
    dataset: { contactId: contact.id, state: contact.state },
    role: contact.state === "offered" ? "alert" : null,
  },
  h("header", { class: "contact-head" },
    h("h2", { id: titleId }, headline(contact, queue)),
    h("span", { class: "pill", dataset: { state: contact.state } }, label(contact.state)),
    contact.state === "offered" && contact.expiresAt !== null
      ? h("span", { class: "countdown", "aria-live": "off" }, "") : null),
  screenPop(pop),
  actions(contact, queue, offline));
  contact.card = card;
  contact.rendered = key;
  tickCountdown(contact);
}

/** @param {Contact} contact @param {any} queue */
function headline(contact, queue) {
  const what = contact.offer && contact.offer.channel === "chat" ? "Chat" : "Call";
  const where = queue ? queue.name : contact.queue || "";
  const verb = contact.state === "offered" ? `Incoming ${what.toLowerCase()}` : what;
  return where ? `${verb} · ${where}` : `${verb} ${contact.id}`;
}

/** @param {string|null} queueId */
function queueConfig(queueId) {
  return config.queues.find((q) => q.id === queueId) || null;
}

/** @param {string} id */
function cssId(id) {
  return id.replace(/[^A-Za-z0-9_-]/g, "_");
}

/** @param {Contact} contact @param {any} queue @param {boolean} offline */
function actions(contact, queue, offline) {
  const disabled = offline || contact.busy;
  const button = (text, cls, command, extra = {}) => h("button", {
    type: "button", class: cls, disabled,
    onclick: () => act(contact, command, extra),
  }, text);
  switch (contact.state) {
    case "offered":
      return h("div", { class: "actions" },
        button("Accept", "accept primary", "accept"),
        button("Reject", "reject", "reject"));
    case "connected":
      return h("div", { class: "actions" },
        button("Hold", "hold", "hold"),
        button("End", "end danger", "end"));
    case "held":
      return h("div", { class: "actions" },
        button("Resume", "resume primary", "resume_contact"),
        button("End", "end danger", "end"));
    case "wrap_up":
      return wrapupForm(contact, queue, disabled);
    default:
      return null;
  }
}

/** @param {Contact} contact @param {any} queue @param {boolean} disabled */
function wrapupForm(contact, queue, disabled) {
  const base = `wrapup-${cssId(contact.id)}`;
  const wrap = queue ? queue.wrap_up : null;
  const choices = wrap ? wrap.dispositions : [];
  const required = !!(wrap && wrap.disposition_required);
  const disposition = choices.length
    ? h("select", { id: `${base}-disposition`, name: "disposition", required },
      h("option", { value: "" }, required ? "Choose…" : "(none)"),
      choices.map((d) => h("option", { value: d }, label(d))))
    : h("input", { id: `${base}-disposition`, name: "disposition", maxlength: 64, required });
  const form = h("form", { class: "wrapup", "aria-label": "Wrap-up" },
    h("p", { class: "muted" }, wrap && wrap.mode === "timed"
      ? `Wrap-up ends by itself after ${wrap.seconds} s.` : "Wrap-up: you stay unavailable until done."),
    h("label", { for: `${base}-disposition` }, required ? "Disposition (required)" : "Disposition"),
    disposition,
    h("label", { for: `${base}-notes` }, "Notes"),
    h("textarea", { id: `${base}-notes`, name: "notes", rows: 3, maxlength: 4000 }),
    h("div", { class: "actions" },
      h("button", { type: "submit", class: "done primary", disabled }, "Done")));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(/** @type {HTMLFormElement} */ (form));
    const fields = {};
    const chosen = String(data.get("disposition") || "").trim();
    const notes = String(data.get("notes") || "").trim();
    if (chosen) fields.disposition = chosen;
    if (notes) fields.notes = notes;
    act(contact, "wrapup", fields);
  });
  return form;
}

/** @param {Contact} contact @param {string} command @param {Record<string, unknown>} extra */
async function act(contact, command, extra) {
  contact.busy = true;
  setBusy(contact, true);
  try {
    await channel.command(command, { contact_id: contact.id, ...extra });
    if (command === "wrapup") say(`Contact ${contact.id} wrapped up.`);
  } catch (exc) {
    say(`${label(command)} failed: ${exc instanceof Error ? exc.message : exc}`, true);
  } finally {
    contact.busy = false;
    setBusy(contact, false);
  }
}

/** Disable a card's buttons while its command is under way (without rebuilding it). */
function setBusy(contact, busy) {
  if (!contact.card) return;
  for (const b of contact.card.querySelectorAll("button")) {
    /** @type {HTMLButtonElement} */ (b).disabled = busy || channel.state !== "connected";
  }
}

/** @param {Contact} contact */
function tickCountdown(contact) {
  const span = contact.card && contact.card.querySelector(".countdown");
  if (!span || contact.expiresAt === null) return;
  const left = Math.max(0, Math.ceil((contact.expiresAt - performance.now()) / 1000));
  span.textContent = `${left} s to answer`;
}

setInterval(() => {
  for (const contact of contacts.values()) {
    if (contact.state === "offered") tickCountdown(contact);
  }
}, 250);

/** @param {string} text @param {boolean} [bad] */
function say(text, bad = false) {
  notice.textContent = text;
  notice.dataset.kind = bad ? "error" : "info";
}

renderStatusOptions();
renderAgent();
renderContacts();
