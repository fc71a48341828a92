// The agent console: status (chosen) and activity (derived) with timers, offers with their
// screen pop, ring, title badge and notification, accept / reject, hold, transfer, end,
// chats side by side, click-to-dial, the wrap-up with disposition, notes and timer, and
// keyboard shortcuts (shortcuts.js). Server data is only ever set as text.
import { badge, notify, ring } from "./alerts.js";
import { AgentChannel } from "./channel.js";
import { byId, h, setChildren } from "./dom.js";
import { NONE, duration, label } from "./format.js";
import { setupLogin } from "./login.js";
import { screenPop } from "./pop.js";
import { AuthError, Session } from "./session.js";
import { SHORTCUTS, actionFor } from "./shortcuts.js";

const session = new Session("agent");
const channel = new AgentChannel(() => session.freshToken());

/** @type {{reason_codes: string[], queues: any[], crm_url_template?: string|null,
 *            canned_replies?: string[]}} */
let config = { reason_codes: [], queues: [] };
/** @type {{status: string, activity: string, next_status: string|null, contacts: Record<string, string>,
 *          status_since: number|null, activity_since: number|null}} */
let agent = { status: "offline", activity: "offline", next_status: null, contacts: {},
              status_since: null, activity_since: null };
/** server time minus browser time, seconds (timers run on the server's clock) */
let offset = 0;
const serverNow = () => Date.now() / 1000 + offset;

/**
 * What the page knows of each contact in the agent's hands.
 * @typedef {{id: string, state: string, queue: string|null, channel: string|null, offer: any|null,
 *            expiresAt: number|null, enqueuedAt: number|null, since: number, card: HTMLElement|null,
 *            rendered: string, busy: boolean, lines: Map<number, any>, unread: number,
 *            visitorTyping: boolean, transcript: HTMLElement|null,
 *            consult: {state: string, from_agent: string, to_agent: string}|null}} Contact
 * @type {Map<string, Contact>}
 */
const contacts = new Map();
/** calls on which the agent's microphone is muted (agent_state.muted: the server's word) */
let muted = new Set();
/** offers already announced (ring, notification): a replayed offer does not ring again */
const announced = new Set();

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
    previews.clear();
    renderContacts();
    renderPreviews();
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
  for (const c of contacts.values()) c.rendered = "";
  renderContacts();
}

function expired() {
  channel.stop();
  session.forget();
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
  /** @type {HTMLButtonElement} */ (byId("dial-button")).disabled = state !== "connected";
  if (state === "connected") byId("other-tab").hidden = true;
  for (const c of contacts.values()) setBusy(c, c.busy);
});

channel.addEventListener("other_tab", (event) => {
  const { code } = /** @type {CustomEvent} */ (event).detail;
  byId("other-tab-text").textContent = code === 4001
    ? "Your console is already open in another tab or window, so this one is not connected."
    : "Your console was opened in another tab or window; this one let go.";
  byId("other-tab").hidden = false;
});

byId("take-over").addEventListener("click", () => {
  channel.takeover = true;
  channel.start();
});

// --- server messages -----------------------------------------------------------------------

on("agent_state", (data) => {
  agent = {
    status: String(data.status),
    activity: String(data.activity),
    next_status: data.next_status ?? null,
    contacts: data.contacts || {},
    status_since: data.status_since ?? null,
    activity_since: data.activity_since ?? null,
  };
  // The engine's list of the agent's contacts is the truth: add what the page missed,
  // drop what is over.
  for (const [id, state] of Object.entries(agent.contacts)) {
    const known = contacts.get(id);
    if (known) {
      // A dialled call's slot is "connected" from the start; the page shows "dialing"
      // until dial_result says the callee answered.
      if (known.state === "dialing" && state === "connected") continue;
      if (known.state !== String(state)) known.since = serverNow();
      known.state = String(state);
    } else contacts.set(id, newContact(id, String(state)));
  }
  for (const id of [...contacts.keys()]) {
    if (!(id in agent.contacts)) contacts.delete(id);
  }
  muted = new Set(Array.isArray(data.muted) ? data.muted.map(String) : []);
  renderAgent();
  renderContacts();
  renderMuted();
});

on("offer", (data, now) => {
  const id = String(data.contact_id);
  const contact = contacts.get(id) || newContact(id, "offered");
  contact.state = "offered";
  contact.queue = data.queue ?? null;
  contact.channel = data.channel ?? null;
  contact.offer = data;
  contact.enqueuedAt = data.enqueued_at ?? null;
  // Count down on the server's clock (its time now vs the expiry), not the browser's.
  contact.expiresAt = performance.now() + Math.max(0, (data.expires_at - now) * 1000);
  contacts.set(id, contact);
  renderContacts();
  const accept = contact.card && contact.card.querySelector("button.accept");
  const typing = document.activeElement && document.activeElement.matches("input, textarea");
  if (accept instanceof HTMLButtonElement && !typing) accept.focus();
  if (!announced.has(id) && contact.expiresAt > performance.now()) {
    announced.add(id);
    // noted on the card: whether the tone could play (not before the first gesture)
    if (contact.card) contact.card.dataset.rang = String(ring());
    const pop = data.screen_pop || {};
    const who = pop.known && pop.customer ? String(pop.customer.name) : String(pop.ani || "Unknown caller");
    notify(`Incoming ${data.channel === "chat" ? "chat" : "call"}`, `${who} · ${queueName(contact.queue)}`, id);
  }
});

on("offer_rescinded", (data) => {
  contacts.delete(String(data.contact_id));
  say(`The offer of contact ${data.contact_id} was withdrawn (${label(data.reason)}).`);
  renderContacts();
});

on("contact_state", (data) => {
  const id = String(data.contact_id);
  const state = String(data.state);
  if (state === "transferred") {
    // The agent's part may go on (a wrap-up): agent_state says whether it stays.
    say(`Contact ${id} was transferred.`);
  } else if (["done", "offer_timed_out", "offer_rejected"].includes(state)) {
    contacts.delete(id);
    if (state === "offer_timed_out") {
      say(`You did not answer the offer of contact ${id} in time.`, true);
    } else if (state === "offer_rejected") {
      say(`You rejected contact ${id}.`);
    }
  } else {
    const contact = contacts.get(id) || newContact(id, state);
    if (contact.state !== state) contact.since = serverNow();
    contact.state = state;
    if (data.queue) contact.queue = data.queue;
    contacts.set(id, contact);
    if (state === "wrap_up" && data.detail && data.detail.ended_by === "customer") {
      say(`The ${contact.channel === "chat" ? "visitor" : "caller"} on contact ${id} hung up; complete the wrap-up.`);
    }
  }
  renderContacts();
});

// A consult: another agent asks this one to talk about its caller (consult.py).
on("consult_offer", (data, now) => {
  const id = String(data.contact_id);
  const contact = contacts.get(id) || newContact(id, "consult_offered");
  contact.state = "consult_offered";
  contact.queue = data.queue ?? null;
  contact.channel = "voice";
  contact.offer = data;
  contact.consult = { state: "offered", from_agent: String(data.from_agent), to_agent: "" };
  contact.expiresAt = performance.now() + Math.max(0, (data.expires_at - now) * 1000);
  contacts.set(id, contact);
  renderContacts();
  const accept = contact.card && contact.card.querySelector("button.consult-accept");
  const typing = document.activeElement && document.activeElement.matches("input, textarea");
  if (accept instanceof HTMLButtonElement && !typing) accept.focus();
  if (!announced.has(`consult:${id}`) && contact.expiresAt > performance.now()) {
    announced.add(`consult:${id}`);
    if (contact.card) contact.card.dataset.rang = String(ring());
    notify("Consult request", `${data.from_agent} · ${queueName(contact.queue)}`, `consult-${id}`);
  }
});

const CONSULT_NEWS = {
  offered: (c) => `Asking ${c.to_agent} for a consult; your caller is on hold.`,
  consulting: (c) => `${c.to_agent} answered the consult.`,
  rejected: (c) => `${c.to_agent} declined the consult; your caller is still on hold.`,
  timed_out: (c) => `${c.to_agent} did not answer the consult; your caller is still on hold.`,
  cancelled: () => "The consult was cancelled.",
  completed: (c) => `The caller was handed to ${c.to_agent}.`,
  conference: () => "Conference: the caller and both agents are on the line.",
  left: (c) => `${c.remaining} keeps the caller.`,
  caller_left: () => "The caller hung up; complete the wrap-up.",
  dropped: () => "The consult ended.",
};

on("consult_state", (data) => {
  const contact = contacts.get(String(data.contact_id));
  const info = { state: String(data.state), from_agent: String(data.from_agent),
                 to_agent: String(data.to_agent), remaining: data.remaining };
  const open = ["offered", "consulting", "conference"].includes(info.state);
  // the consult's screen pop stays on the card: after a completed consult it is the caller's
  if (contact) contact.consult = open ? info : null;
  const news = CONSULT_NEWS[info.state];
  if (news) say(news(info), info.state === "rejected" || info.state === "timed_out");
  renderContacts();
});

on("dial_result", (data) => {
  const contact = contacts.get(String(data.contact_id));
  if (data.result === "answered") {
    if (contact && contact.state === "dialing") {
      contact.state = "connected";
      contact.since = serverNow();
      renderContacts();
    }
    say(`${data.number || "The callee"} answered.`);
  } else {
    say(`The call to ${data.number || "the number"} ended: ${label(data.result)}.`, true);
  }
});

on("chat.message", (data) => {
  const contact = contacts.get(String(data.contact_id));
  if (!contact) return;
  contact.channel = "chat";
  if (contact.lines.has(data.line)) return; // replayed
  contact.lines.set(data.line, data);
  const focused = contact.card && contact.card.contains(document.activeElement);
  if (data.sender === "visitor" && !data.history && (!focused || document.hidden)) {
    contact.unread += 1;
    notify("New chat message", String(data.text).slice(0, 80), `chat-${contact.id}`);
  }
  appendLine(contact, data);
  renderUnread(contact);
});

on("chat.typing", (data) => {
  const contact = contacts.get(String(data.contact_id));
  if (!contact) return;
  contact.visitorTyping = !!data.typing;
  const el = contact.card && contact.card.querySelector(".typing");
  if (el) el.textContent = contact.visitorTyping ? "The visitor is typing…" : "";
});

on("error", (data) => say(`Server error: ${data.message || data.code}`, true));

/** @param {string} type @param {(data: any, now: number) => void} handler */
function on(type, handler) {
  channel.addEventListener(type, (event) => {
    const { data, now, ts } = /** @type {CustomEvent} */ (event).detail;
    // a live message's ts is the server's time now: keep the clock offset fresh
    if (Number(ts) && Number(ts) === Number(now)) offset = Number(ts) - Date.now() / 1000;
    handler(data || {}, Number(now) || Date.now() / 1000);
  });
}

/** @param {string} id @param {string} state @returns {Contact} */
function newContact(id, state) {
  return { id, state, queue: null, channel: null, offer: null, expiresAt: null, enqueuedAt: null,
           since: serverNow(), card: null, rendered: "", busy: false, lines: new Map(), unread: 0,
           visitorTyping: false, transcript: null, consult: null };
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

/** @param {string} wanted */
async function setStatus(wanted) {
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
}

statusSelect.addEventListener("change", () => setStatus(statusSelect.value));
byId("back-available").addEventListener("click", () => setStatus("available"));

function renderAgent() {
  if (![...statusSelect.options].some((o) => o.value === agent.status)) renderStatusOptions();
  if (!statusPending) statusSelect.value = agent.status;
  const activity = byId("activity");
  activity.textContent = label(agent.activity);
  activity.dataset.state = agent.activity;
  byId("next-status").textContent = agent.next_status
    ? `then ${label(agent.next_status)} when your contacts are done` : "";
  byId("not-responding").hidden = agent.activity !== "not_responding";
  tickTimers();
}

function tickTimers() {
  const now = serverNow();
  byId("status-timer").textContent = agent.status_since && agent.status !== "offline"
    ? duration(now - agent.status_since) : "";
  byId("activity-timer").textContent = agent.activity_since && agent.activity !== "offline"
    ? duration(now - agent.activity_since) : "";
}

// --- contacts ------------------------------------------------------------------------------

function renderContacts() {
  byId("no-contacts").hidden = contacts.size > 0 || previews.size > 0;
  const cards = [];
  for (const contact of contacts.values()) {
    renderContact(contact);
    cards.push(contact.card);
  }
  // Moving a node drops its focus: touch the list only when the cards changed.
  const same = cards.length === contactsBox.children.length &&
    cards.every((card, i) => card === contactsBox.children[i]);
  if (!same) setChildren(contactsBox, cards);
  contactsBox.dataset.count = String(contacts.size);
  updateBadge();
}

function updateBadge() {
  let count = 0;
  for (const c of contacts.values()) {
    count += (c.state === "offered" || c.state === "consult_offered" ? 1 : 0) + c.unread;
  }
  badge(count);
}

/**
 * (Re)build a contact's card when its state changed. The card is kept while the state stays
 * the same, so what the agent is typing (wrap-up, chat) survives other updates.
 * @param {Contact} contact
 */
function renderContact(contact) {
  const key = `${contact.state}|${contact.offer ? 1 : 0}|${contact.channel}|` +
    `${contact.consult ? contact.consult.state : ""}`;
  if (contact.card && contact.rendered === key) return;
  const offline = channel.state !== "connected";
  const pop = contact.offer ? contact.offer.screen_pop : null;
  const queue = queueConfig(contact.queue);
  const titleId = `contact-title-${cssId(contact.id)}`;
  const chat = contact.channel === "chat";
  const card = h("article", {
    class: `card contact state-${contact.state}${chat ? " chat" : ""}`,
    "aria-labelledby": titleId,
    dataset: { contactId: contact.id, state: contact.state },
    role: contact.state === "offered" || contact.state === "consult_offered" ? "alert" : null,
  },
  h("header", { class: "contact-head" },
    h("h2", { id: titleId }, headline(contact, queue)),
    h("span", { class: "pill", dataset: { state: contact.state } }, label(contact.state)),
    contact.state === "offered" && contact.enqueuedAt
      ? h("span", { class: "waited muted" }, `waited ${duration(serverNow() - contact.enqueuedAt)}`) : null,
    ["offered", "consult_offered"].includes(contact.state) && contact.expiresAt !== null
      ? h("span", { class: "countdown", "aria-live": "off" }, "") : null,
    !["offered", "consult_offered"].includes(contact.state) ? h("span", { class: "timer contact-timer", "aria-label": "Time in this state" }, "") : null,
    chat ? h("span", { class: "unread", hidden: contact.unread === 0 }, String(contact.unread)) : null),
  h("div", { class: "contact-body" },
    screenPop(pop, { crmTemplate: config.crm_url_template, contactId: contact.id, queue: contact.queue,
                     onDial: contact.state === "offered" ? null : dial }),
    chat && contact.state !== "offered" ? chatPane(contact, offline) : null),
  actions(contact, queue, offline));
  if (chat) {
    card.addEventListener("focusin", () => {
      contact.unread = 0;
      renderUnread(contact);
    });
  }
  contact.card = card;
  contact.rendered = key;
  tickCountdown(contact);
  tickContact(contact);
}

/** @param {Contact} contact @param {any} queue */
function headline(contact, queue) {
  const what = contact.channel === "chat" ? "Chat" : "Call";
  const where = queue ? queue.name : contact.queue || "";
  const pop = contact.offer ? contact.offer.screen_pop : null;
  const who = pop ? (pop.known && pop.customer ? String(pop.customer.name) : String(pop.ani || "")) : "";
  if (contact.state === "consult_offered" || contact.state === "consulting") {
    const from = contact.consult ? contact.consult.from_agent : "";
    return `Consult${from ? ` from ${from}` : ""}${where ? ` · ${where}` : ""}`;
  }
  const verb = contact.state === "offered" ? `Incoming ${what.toLowerCase()}`
    : contact.state === "dialing" ? "Calling" : what;
  const head = where ? `${verb} · ${where}` : `${verb} ${contact.id}`;
  if (contact.state === "consult_hold" && contact.consult) return `${head} · consulting ${contact.consult.to_agent}`;
  if (contact.state === "conferenced" && contact.consult) {
    const other = contact.consult.from_agent === (session.user ? session.user.user_id : "") ? contact.consult.to_agent : contact.consult.from_agent;
    return `${head} · conference with ${other}`;
  }
  return who && contact.state === "offered" ? `${head} · ${who}` : head;
}

/** @param {string|null} queueId */
function queueConfig(queueId) {
  return config.queues.find((q) => q.id === queueId) || null;
}

/** @param {string|null} queueId */
function queueName(queueId) {
  const q = queueConfig(queueId);
  return q ? q.name : queueId || NONE;
}

/** @param {string} id */
function cssId(id) {
  return id.replace(/[^A-Za-z0-9_-]/g, "_");
}

/** @param {Contact} contact @param {any} queue @param {boolean} offline */
function actions(contact, queue, offline) {
  const disabled = offline || contact.busy;
  const button = (text, cls, command, extra = {}, keys = null) => h("button", {
    type: "button", class: cls, disabled, "aria-keyshortcuts": keys,
    onclick: () => act(contact, command, extra),
  }, text);
  switch (contact.state) {
    case "offered":
      return h("div", { class: "actions" },
        button("Accept", "accept primary", "accept", {}, "Alt+A"),
        button("Reject", "reject", "reject", {}, "Alt+R"));
    case "dialing":
      return h("div", { class: "actions" }, button("Hang up", "end danger", "end", {}, "Alt+E"));
    case "connected":
    case "held":
      return h("div", { class: "actions-col" },
        h("div", { class: "actions" },
          contact.channel === "chat" ? null : contact.state === "connected"
            ? button("Hold", "hold", "hold", {}, "Alt+H")
            : button("Resume", "resume primary", "resume_contact", {}, "Alt+H"),
          contact.channel === "chat" ? null : muteButton(contact, disabled),
          button("End", "end danger", "end", {}, "Alt+E")),
        contact.channel !== "chat" && contact.state === "connected"
          ? keypad(contact, disabled) : null,
        transferForm(contact, disabled));
    case "wrap_up":
      return wrapupForm(contact, queue, disabled);
    case "consult_hold": {
      // The caller waits; complete and conference once the other agent has answered.
      const answered = contact.consult !== null && contact.consult.state === "consulting";
      const ready = (b) => { if (!answered) b.disabled = true; return b; };
      return h("div", { class: "actions consult-actions" },
        ready(button("Complete transfer", "consult-complete primary", "consult_complete", {}, "Alt+T")),
        ready(button("Conference", "conference", "conference", {}, "Alt+F")),
        button("Cancel consult", "consult-cancel", "consult_cancel", {}, "Alt+X"));
    }
    case "consult_offered":
      return h("div", { class: "actions" },
        button("Accept consult", "consult-accept primary", "consult_accept", {}, "Alt+A"),
        button("Decline", "consult-reject", "consult_reject", {}, "Alt+R"));
    case "consulting":
      return h("div", { class: "actions" },
        button("Hang up consult", "consult-reject danger", "consult_reject", {}, "Alt+E"));
    case "conferenced":
      return h("div", { class: "actions" },
        button("Leave conference", "leave-conference danger", "leave_conference", {}, "Alt+L"));
    default:
      return null;
  }
}

/** The Mute toggle of a call; its state is agent_state's (renderMuted). @param {Contact} contact @param {boolean} disabled */
function muteButton(contact, disabled) {
  const on = muted.has(contact.id);
  return h("button", {
    type: "button", class: "mute", disabled, "aria-pressed": String(on), "aria-keyshortcuts": "Alt+M",
    onclick: () => act(contact, "mute", { muted: !muted.has(contact.id) }),
  }, on ? "Unmute" : "Mute");
}

function renderMuted() {
  for (const contact of contacts.values()) {
    const b = contact.card && contact.card.querySelector("button.mute");
    if (!b) continue;
    const on = muted.has(contact.id);
    b.setAttribute("aria-pressed", String(on));
    b.textContent = on ? "Unmute" : "Mute";
  }
}

const KEYPAD = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "0", "#"];

/** DTMF keypad for a connected call: each key is sent as it is pressed. @param {Contact} contact @param {boolean} disabled */
function keypad(contact, disabled) {
  const names = { "*": "star", "#": "pound" };
  return h("div", { class: "keypad", role: "group", "aria-label": "Keypad (tones into the call)" },
    KEYPAD.map((key) => h("button", {
      type: "button", class: "key", disabled, dataset: { key },
      "aria-label": `Key ${names[key] || key}`,
      onclick: () => sendKey(contact, key),
    }, key)));
}

/** Blind transfer to a queue, an available agent or an external number. @param {Contact} contact @param {boolean} disabled */
function transferForm(contact, disabled) {
  const base = `transfer-${cssId(contact.id)}`;
  const select = h("select", { id: `${base}-target`, name: "target", disabled },
    h("optgroup", { label: "Queues" }, config.queues
      .filter((q) => q.id !== contact.queue || true)
      .map((q) => h("option", { value: `queue:${q.id}` }, q.name))),
    h("optgroup", { label: "Available agents", class: "agents-group" },
      h("option", { value: "", disabled: true }, "loading…")));
  const number = contact.channel === "chat" ? null : h("input", {
    id: `${base}-number`, name: "number", type: "tel", inputmode: "tel", size: "13",
    class: "transfer-number", maxlength: "32", autocomplete: "off", placeholder: "+14155550123",
    disabled });
  const form = h("form", { class: "transfer", "aria-label": "Transfer" },
    h("label", { for: `${base}-target` }, "Transfer to"),
    select,
    number ? h("label", { for: `${base}-number` }, "or number") : null,
    number,
    h("button", { type: "submit", class: "transfer-go", disabled }, "Transfer"),
    contact.channel === "chat" ? null : h("button", {
      type: "button", class: "consult-go", disabled, "aria-keyshortcuts": "Alt+C",
      title: "Talk to the agent first; your caller waits on hold",
      onclick: () => {
        const value = /** @type {HTMLSelectElement} */ (select).value;
        if (!value.startsWith("agent:")) {
          say("Pick an available agent to consult.", true);
          return;
        }
        act(contact, "consult", { agent_id: value.slice("agent:".length) });
      },
    }, "Consult"));
  const loadAgents = async () => {
    const group = select.querySelector(".agents-group");
    if (!group) return;
    try {
      const data = await session.get("/api/ui/available-agents");
      setChildren(group, data.agents.length
        ? data.agents.map((a) => h("option", { value: `agent:${a.agent_id}` },
          a.display_name === a.agent_id ? a.agent_id : `${a.display_name} (${a.agent_id})`))
        : h("option", { value: "", disabled: true }, "nobody available"));
    } catch {
      setChildren(group, h("option", { value: "", disabled: true }, "could not load"));
    }
  };
  select.addEventListener("focus", loadAgents);
  select.addEventListener("pointerdown", loadAgents);
  loadAgents();
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    // a number typed in wins over the list: an external (blind) transfer
    const external = number ? /** @type {HTMLInputElement} */ (number).value.trim() : "";
    if (external) {
      act(contact, "transfer", { number: external });
      return;
    }
    const value = /** @type {HTMLSelectElement} */ (select).value;
    if (!value) return;
    const [kind, target] = [value.slice(0, value.indexOf(":")), value.slice(value.indexOf(":") + 1)];
    act(contact, "transfer", kind === "agent" ? { to_agent: target } : { to_queue: target });
  });
  return form;
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
    h("p", { class: "muted wrapup-policy" }, wrap && wrap.mode === "timed"
      ? `Wrap-up ends by itself after ${wrap.seconds} s.` : "Wrap-up: you stay unavailable until done."),
    h("p", { class: "wrapup-timer", "aria-live": "off" }, ""),
    h("label", { for: `${base}-disposition` }, required ? "Disposition (required)" : "Disposition"),
    disposition,
    h("label", { for: `${base}-notes` }, "Notes"),
    h("textarea", { id: `${base}-notes`, name: "notes", rows: 3, maxlength: 4000 }),
    h("div", { class: "actions" },
      h("button", { type: "submit", class: "done primary", disabled, "aria-keyshortcuts": "Alt+D" }, "Done")));
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

// --- chat ------------------------------------------------------------------------------------

/** @param {Contact} contact @param {boolean} offline */
function chatPane(contact, offline) {
  const base = `chat-${cssId(contact.id)}`;
  const transcript = h("ol", { class: "transcript", "aria-label": "Conversation", "aria-live": "polite" });
  contact.transcript = transcript;
  for (const line of [...contact.lines.values()].sort((a, b) => a.line - b.line)) {
    transcript.append(lineItem(line));
  }
  const input = /** @type {HTMLTextAreaElement} */ (h("textarea", {
    id: `${base}-text`, name: "text", rows: 2, maxlength: 2000, class: "chat-input",
    disabled: offline || contact.state !== "connected" }));
  let typingSent = false;
  let typingTimer = 0;
  input.addEventListener("input", () => {
    if (!typingSent) {
      typingSent = true;
      channel.command("chat_typing", { contact_id: contact.id, typing: true }).catch(() => {});
    }
    clearTimeout(typingTimer);
    typingTimer = window.setTimeout(() => {
      typingSent = false;
      channel.command("chat_typing", { contact_id: contact.id, typing: false }).catch(() => {});
    }, 2000);
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  const canned = (config.canned_replies || []).length ? h("select", {
    class: "canned", "aria-label": "Canned reply", disabled: offline || contact.state !== "connected",
    onchange: (event) => {
      const select = /** @type {HTMLSelectElement} */ (event.target);
      if (select.value) {
        // inserted for editing, not sent: the agent reads it before it goes
        input.value = input.value ? `${input.value} ${select.value}` : select.value;
        select.value = "";
        input.focus();
      }
    },
  }, h("option", { value: "" }, "Canned reply…"),
  (config.canned_replies || []).map((text) => h("option", { value: text }, text))) : null;
  const form = h("form", { class: "chat-send" },
    h("label", { for: `${base}-text`, class: "visually-hidden" }, "Message"),
    canned,
    input,
    h("button", { type: "submit", class: "primary", disabled: offline || contact.state !== "connected" }, "Send"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    try {
      await channel.command("chat_send", { contact_id: contact.id, text });
      input.value = "";
    } catch (exc) {
      say(`Message not sent: ${exc instanceof Error ? exc.message : exc}`, true);
    }
  });
  return h("section", { class: "chat-pane", "aria-label": "Chat" },
    transcript,
    h("p", { class: "typing muted", "aria-live": "polite" }, contact.visitorTyping ? "The visitor is typing…" : ""),
    form);
}

/** @param {any} line */
function lineItem(line) {
  return h("li", { class: `line from-${line.sender}${line.history ? " history" : ""}`, dataset: { line: String(line.line) } },
    h("span", { class: "who" }, line.name || label(line.sender)),
    h("span", { class: "text" }, String(line.text)));
}

/** @param {Contact} contact @param {any} line */
function appendLine(contact, line) {
  if (!contact.transcript) return;
  contact.transcript.append(lineItem(line));
  contact.transcript.scrollTop = contact.transcript.scrollHeight;
}

/** @param {Contact} contact */
function renderUnread(contact) {
  const el = contact.card && contact.card.querySelector(".unread");
  if (el) {
    el.textContent = String(contact.unread);
    /** @type {HTMLElement} */ (el).hidden = contact.unread === 0;
    el.setAttribute("aria-label", `${contact.unread} unread`);
  }
  updateBadge();
}

// --- dial ------------------------------------------------------------------------------------

/**
 * Click-to-dial (protocol ``dial``); resolves true when the server took it.
 * @param {string} number @param {string|null} customerId
 * @param {string|null} [queue] the wrap-up policy's queue (a campaign record's queue)
 */
async function dial(number, customerId = null, queue = null) {
  try {
    const fields = { number };
    if (customerId) fields.customer_id = customerId;
    if (queue) fields.queue = queue;
    const reply = await channel.command("dial", fields);
    // The reply carries the callee's screen pop and the queue (its wrap-up policy).
    const id = String(reply.contact_id);
    const contact = contacts.get(id) || newContact(id, "dialing");
    contact.queue = reply.queue ?? contact.queue;
    contact.channel = "voice";
    contact.offer = { contact_id: id, queue: reply.queue, channel: "voice", screen_pop: reply.screen_pop };
    contact.rendered = "";
    if (agent.contacts[id] || !contacts.has(id)) contacts.set(id, contact);
    renderContacts();
    say(`Calling ${reply.number || number}…`);
    return true;
  } catch (exc) {
    say(`Could not call ${number}: ${exc instanceof Error ? exc.message : exc}`, true);
    return false;
  }
}

// --- preview-mode campaign records -----------------------------------------------------------
// ``campaign_preview``: a record the dialer chose for this agent (compliance already checked,
// attempt recorded). The agent reads it and calls it with Dial (the ``dial`` command with
// its number, customer and queue). The protocol has no command to skip a record: one not
// called goes back to the list when it expires (``expires_at``).

/** @type {Map<string, any>} call_ref -> the record */
const previews = new Map();
const DIALED_KEY = "contactcenter.agent.previews-dialed";
/** records already dialled from this tab: a reload's replay does not show them again */
const dialedRefs = new Set(/** @type {string[]} */ (JSON.parse(sessionStorage.getItem(DIALED_KEY) || "[]")));

channel.addEventListener("campaign_preview", (event) => {
  const { data, ts, now } = /** @type {CustomEvent} */ (event).detail;
  const live = !!Number(ts) && Number(ts) === Number(now);
  if (live) offset = Number(ts) - Date.now() / 1000;
  const ref = String(data.call_ref);
  // Time left, on the server's clock at the message (like an offer's countdown). A replayed
  // record that expired meanwhile is dropped; a live one whose expiry is not between a few
  // seconds and an hour after its message's time means the dialer's clock and the message
  // clock disagree (the records live for minutes): shown without a countdown (the server
  // still expires it).
  const left = Number(data.expires_at) - Number(now);
  if (dialedRefs.has(ref) || (!live && !(left > 0))) return;
  const trusted = live ? left > 5 && left <= 3600 : left > 0;
  const deadline = trusted ? performance.now() + left * 1000 : null;
  previews.set(ref, { ...data, deadline });
  renderPreviews();
  const dialButton = byId("previews").querySelector(`[data-call-ref="${CSS.escape(ref)}"] button.preview-dial`);
  const typing = document.activeElement && document.activeElement.matches("input, textarea, select");
  if (dialButton instanceof HTMLButtonElement && !typing && !contacts.size) dialButton.focus();
  if (live) notify("Campaign record to call", `${data.name || data.number} · ${data.campaign_id}`, ref);
});

function renderPreviews() {
  const box = byId("previews");
  box.hidden = previews.size === 0;
  byId("no-contacts").hidden = contacts.size > 0 || previews.size > 0;
  const offline = channel.state !== "connected";
  setChildren(box, [...previews.values()].map((p) => previewCard(p, offline)));
  tickPreviews();
}

/** @param {any} p @param {boolean} offline */
function previewCard(p, offline) {
  const ref = String(p.call_ref);
  const titleId = `preview-title-${cssId(ref)}`;
  const attributes = Object.entries(p.attributes || {});
  const customer = p.screen_pop && p.screen_pop.known && p.screen_pop.customer ? p.screen_pop.customer : null;
  const card = h("article", { class: "card preview", dataset: { callRef: ref, campaign: p.campaign_id },
                              "aria-labelledby": titleId },
    h("header", { class: "contact-head" },
      h("h2", { id: titleId }, "Campaign record · ", h("span", { class: "preview-campaign" }, p.campaign_id)),
      h("span", { class: "countdown preview-countdown", "aria-live": "off" }, "")),
    h("p", { class: "customer-name preview-name" }, p.name || "No name on the list"),
    h("dl", { class: "facts" },
      h("dt", {}, "Number"), h("dd", { class: "preview-number" }, p.number),
      h("dt", {}, "Campaign"), h("dd", {}, p.campaign_id),
      h("dt", {}, "Queue"), h("dd", {}, queueName(p.queue)),
      customer ? [h("dt", {}, "Customer"), h("dd", { class: "preview-customer" },
        String(customer.name), customer.tier ? ` (${customer.tier})` : "")] : null,
      attributes.map(([k, v]) => [h("dt", {}, label(k)),
        h("dd", { class: "preview-attribute", dataset: { key: k } },
          typeof v === "string" ? v : JSON.stringify(v))])),
    h("div", { class: "actions" },
      h("button", { type: "button", class: "preview-dial primary", disabled: offline,
                    "aria-label": `Dial ${p.name || p.number} at ${p.number}`,
                    onclick: (event) => dialPreview(p, /** @type {HTMLButtonElement} */ (event.currentTarget)) },
        "Dial"),
      h("span", { class: "muted" }, "Skipping is not available: a record you do not call goes back to the list when the time runs out.")));
  return card;
}

/** @param {any} p @param {HTMLButtonElement} button */
async function dialPreview(p, button) {
  button.disabled = true;
  const ok = await dial(String(p.number), p.customer_id ?? null, p.queue ?? null);
  if (ok) {
    const ref = String(p.call_ref);
    dialedRefs.add(ref);
    sessionStorage.setItem(DIALED_KEY, JSON.stringify([...dialedRefs].slice(-50)));
    previews.delete(ref);
    renderPreviews();
  } else {
    button.disabled = channel.state !== "connected";
  }
}

function tickPreviews() {
  let expired = false;
  for (const [ref, p] of previews) {
    if (p.deadline === null) continue;
    const left = Math.ceil((p.deadline - performance.now()) / 1000);
    if (left <= 0) {
      previews.delete(ref);
      expired = true;
      say(`The record ${p.name || p.number} of campaign ${p.campaign_id} went back to the list (not called in time).`);
      continue;
    }
    const span = byId("previews").querySelector(`[data-call-ref="${CSS.escape(ref)}"] .preview-countdown`);
    if (span) {
      span.textContent = `${duration(left)} left to call`;
      span.classList.toggle("urgent", left <= 15);
    }
  }
  if (expired) renderPreviews();
}

channel.addEventListener("state", () => {
  const offline = channel.state !== "connected";
  for (const b of byId("previews").querySelectorAll("button.preview-dial")) {
    /** @type {HTMLButtonElement} */ (b).disabled = offline;
  }
});

byId("dial-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = /** @type {HTMLInputElement} */ (byId("dial-number"));
  const number = input.value.trim();
  if (number) dial(number).then(() => { input.value = ""; });
});

// --- commands --------------------------------------------------------------------------------

/** @param {Contact} contact @param {string} command @param {Record<string, unknown>} extra */
async function act(contact, command, extra) {
  contact.busy = true;
  setBusy(contact, true);
  try {
    await channel.command(command, { contact_id: contact.id, ...extra });
    if (command === "wrapup") say(`Contact ${contact.id} wrapped up.`);
    if (command === "transfer") say(`Contact ${contact.id} transferred.`);
    if (command === "consult_reject") say(`You declined the consult on ${contact.id}.`);
  } catch (exc) {
    say(`${label(command)} failed: ${exc instanceof Error ? exc.message : exc}`, true);
  } finally {
    contact.busy = false;
    setBusy(contact, false);
  }
}

/**
 * One keypad key into the call. Unlike act(), the card stays enabled: the agent keys a
 * number quickly and the focus stays on the keypad (a disabled button would drop it).
 * @param {Contact} contact @param {string} key
 */
async function sendKey(contact, key) {
  try {
    await channel.command("dtmf", { contact_id: contact.id, digits: key });
    say(`Sent ${key.length} key(s) into the call.`);
  } catch (exc) {
    say(`Keypad failed: ${exc instanceof Error ? exc.message : exc}`, true);
  }
}

/** Disable a card's controls while its command is under way (without rebuilding it). */
function setBusy(contact, busy) {
  if (!contact.card) return;
  for (const b of contact.card.querySelectorAll("button:not(.dial-phone), select, .chat-input, .transfer-number")) {
    /** @type {HTMLButtonElement} */ (b).disabled = busy || channel.state !== "connected" ||
      (b.classList.contains("chat-input") && contact.state !== "connected") ||
      // complete and conference wait for the consulted agent's answer
      (b.matches(".consult-complete, .conference") &&
       !(contact.consult && contact.consult.state === "consulting"));
  }
}

/** @param {Contact} contact */
function tickCountdown(contact) {
  const span = contact.card && contact.card.querySelector(".countdown");
  if (!span || contact.expiresAt === null) return;
  const left = Math.max(0, Math.ceil((contact.expiresAt - performance.now()) / 1000));
  span.textContent = `${left} s to answer`;
  span.classList.toggle("urgent", left <= 5);
}

/** @param {Contact} contact */
function tickContact(contact) {
  const card = contact.card;
  if (!card) return;
  const elapsed = serverNow() - contact.since;
  const timer = card.querySelector(".contact-timer");
  if (timer) timer.textContent = duration(elapsed);
  const waited = card.querySelector(".waited");
  if (waited && contact.enqueuedAt) waited.textContent = `waited ${duration(serverNow() - contact.enqueuedAt)}`;
  const wrap = card.querySelector(".wrapup-timer");
  if (wrap) {
    const q = queueConfig(contact.queue);
    const left = q && q.wrap_up.mode === "timed" ? q.wrap_up.seconds - elapsed : null;
    wrap.textContent = `In wrap-up ${duration(elapsed)}` +
      (left !== null ? ` · ends in ${duration(Math.max(0, left))}` : "");
  }
}

setInterval(() => {
  for (const contact of contacts.values()) {
    if (contact.state === "offered" || contact.state === "consult_offered") tickCountdown(contact);
  }
}, 250);
setInterval(() => {
  tickTimers();
  for (const contact of contacts.values()) tickContact(contact);
  tickPreviews();
}, 1000);

/** @param {string} text @param {boolean} [bad] */
function say(text, bad = false) {
  notice.textContent = text;
  notice.dataset.kind = bad ? "error" : "info";
}

// --- keyboard shortcuts ----------------------------------------------------------------------

const help = /** @type {HTMLDialogElement} */ (byId("help"));
setChildren(byId("help-rows"), SHORTCUTS.map((s) => h("tr", {},
  h("td", {}, h("kbd", {}, s.keys)), h("td", {}, s.does))));
byId("help-open").addEventListener("click", () => help.showModal());

/** @param {string} state */
function first(state) {
  for (const c of contacts.values()) if (c.state === state) return c;
  return null;
}

/** The contact the agent is working on: the one with focus, else the first in hand. */
function current(...states) {
  const focused = document.activeElement && document.activeElement.closest(".contact");
  if (focused) {
    const c = contacts.get(/** @type {HTMLElement} */ (focused).dataset.contactId || "");
    if (c && states.includes(c.state)) return c;
  }
  for (const s of states) {
    const c = first(s);
    if (c) return c;
  }
  return null;
}

document.addEventListener("keydown", (event) => {
  const action = actionFor(event);
  if (!action || (action === "close" && !help.open)) return;
  if (byId("main-view").hidden && action !== "help") return;
  event.preventDefault();
  let c = null;
  switch (action) {
    case "help":
      if (help.open) help.close();
      else help.showModal();
      return;
    case "close":
      help.close();
      return;
    case "accept":
    case "reject":
      c = first("offered");
      if (c) act(c, action, {});
      else if ((c = first("consult_offered"))) act(c, `consult_${action}`, {});
      return;
    case "consult": {
      c = current("connected", "held");
      const go = c && c.card && c.card.querySelector("button.consult-go");
      const target = c && c.card && c.card.querySelector("form.transfer select");
      if (go && target) /** @type {HTMLElement} */ (target).focus();
      return;
    }
    case "consult_complete":
    case "conference":
    case "consult_cancel":
      c = current("consult_hold");
      if (c) act(c, action, {});
      return;
    case "leave_conference":
      c = current("conferenced");
      if (c) act(c, "leave_conference", {});
      return;
    case "hold":
      c = current("connected", "held");
      if (c && c.channel !== "chat") act(c, c.state === "held" ? "resume_contact" : "hold", {});
      return;
    case "mute":
      c = current("connected", "held");
      if (c && c.channel !== "chat") act(c, "mute", { muted: !muted.has(c.id) });
      return;
    case "keypad": {
      c = current("connected");
      const key = c && c.card && c.card.querySelector(".keypad button");
      if (key) /** @type {HTMLElement} */ (key).focus();
      return;
    }
    case "end":
      c = current("connected", "held", "dialing");
      if (c) act(c, "end", {});
      else if ((c = current("consulting"))) act(c, "consult_reject", {});
      return;
    case "done": {
      c = current("wrap_up");
      const form = c && c.card && c.card.querySelector("form.wrapup");
      if (form) /** @type {HTMLFormElement} */ (form).requestSubmit();
      return;
    }
    case "next_chat": {
      const chats = [...contacts.values()].filter((x) => x.channel === "chat" && x.card);
      if (!chats.length) return;
      const at = chats.findIndex((x) => x.card && x.card.contains(document.activeElement));
      const next = chats[(at + 1) % chats.length];
      const target = next.card && (next.card.querySelector(".chat-input:not([disabled])") ||
        next.card.querySelector("button"));
      if (target) /** @type {HTMLElement} */ (target).focus();
      return;
    }
    default:
  }
});

renderStatusOptions();
renderAgent();
renderContacts();
