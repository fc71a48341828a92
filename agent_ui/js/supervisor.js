// The supervisor page: the queues from the statistics fold (GET /api/queues) and the agents
// from the live engine (GET /api/agents), polled once a second.
import { byId, h, setChildren } from "./dom.js";
import { NONE, duration, label, percent } from "./format.js";
import { setupLogin } from "./login.js";
import { AuthError, Session } from "./session.js";

const PERIOD_MS = 1000;
const STATE_ORDER = ["idle", "offered", "on_contact", "on_hold", "wrap_up", "not_ready",
  "not_responding"];

const session = new Session("supervisor");
let running = false;
let timer = 0;
/** @type {Map<string, any>} */
let queueNames = new Map();

setupLogin(session, {
  roles: ["supervisor", "admin"],
  pageName: "supervisor",
  onLogin: start,
  onLogout: stop,
});

async function start() {
  if (running) return;
  running = true;
  try {
    const config = await session.get("/api/ui/config");
    queueNames = new Map(config.queues.map((q) => [q.id, q]));
  } catch (exc) {
    if (exc instanceof AuthError) return expired();
  }
  poll();
}

function stop() {
  running = false;
  clearTimeout(timer);
}

function expired() {
  stop();
  session.logout();
  location.reload();
}

async function poll() {
  if (!running) return;
  const started = performance.now();
  const live = byId("live");
  try {
    const [queues, agents] = await Promise.all([
      session.get("/api/queues"), session.get("/api/agents")]);
    renderQueues(queues, agents);
    renderAgents(agents);
    live.textContent = "live";
    live.dataset.state = "connected";
    const updated = byId("updated");
    updated.textContent = `updated ${new Date().toLocaleTimeString()}`;
    updated.dataset.polls = String(Number(updated.dataset.polls || 0) + 1);
    byId("poll-error").textContent = "";
  } catch (exc) {
    if (exc instanceof AuthError) return expired();
    live.textContent = "stale";
    live.dataset.state = "reconnecting";
    byId("poll-error").textContent =
      `Could not refresh: ${exc instanceof Error ? exc.message : exc}. Retrying.`;
  }
  if (running) timer = setTimeout(poll, Math.max(0, PERIOD_MS - (performance.now() - started)));
}

/** @param {Record<string, number>} counts */
function byState(counts) {
  const entries = Object.entries(counts || {}).filter(([, n]) => n > 0);
  if (!entries.length) return h("span", { class: "muted" }, "none logged in");
  entries.sort(([a], [b]) => rank(a) - rank(b));
  return h("ul", { class: "states" }, entries.map(([state, n]) =>
    h("li", { dataset: { state } }, h("span", { class: "count" }, String(n)), ` ${label(state)}`)));
}

/** @param {string} state */
function rank(state) {
  const i = STATE_ORDER.indexOf(state);
  return i < 0 ? STATE_ORDER.length : i;
}

/** @param {any} snapshot GET /api/queues @param {any} agents GET /api/agents */
function renderQueues(snapshot, agents) {
  const rows = snapshot.queues.map((q) => {
    const cfg = queueNames.get(q.queue_id);
    const target = cfg ? cfg.service_level_target : null;
    const missed = q.service_level !== null && target !== null && q.service_level < target;
    return h("tr", { dataset: { queue: q.queue_id } },
      h("th", { scope: "row" }, cfg ? cfg.name : q.queue_id,
        cfg && cfg.name !== q.queue_id ? h("span", { class: "muted id" }, q.queue_id) : null),
      h("td", { class: "num waiting" }, String(q.waiting)),
      h("td", { class: "num longest" }, q.waiting ? duration(q.longest_wait_s) : NONE),
      h("td", { class: "num offered" }, String(q.offered)),
      h("td", { class: "num answered" }, String(q.answered)),
      h("td", { class: "num abandoned" }, String(q.abandoned)),
      h("td", { class: `sl${missed ? " below" : ""}` },
        h("span", { class: "sl-value" }, percent(q.service_level)),
        target !== null ? h("span", { class: "muted" }, ` target ${percent(target)}`) : null,
        h("span", { class: "formula" }, `= ${q.service_level_formula}`)),
      h("td", { class: "num asa" }, duration(q.asa_s)),
      h("td", { class: "num abandon-rate" }, percent(q.abandon_rate)),
      h("td", { class: "num aht" }, duration(q.aht_s)),
      h("td", { class: "agents-by-state" }, byState(agents.by_queue[q.queue_id])));
  });
  setChildren(/** @type {HTMLElement} */ (byId("queues").querySelector("tbody")), rows);
  const all = Object.values(snapshot.agents_by_state || {}).reduce((a, b) => a + b, 0);
  setChildren(byId("summary"), `${all} ${all === 1 ? "agent" : "agents"} logged in · occupancy ${percent(snapshot.occupancy)}`);
}

/** @param {any} data GET /api/agents */
function renderAgents(data) {
  const rows = data.agents.map((a) => h("tr", { dataset: { agent: a.agent_id, state: a.state } },
    h("th", { scope: "row" }, a.display_name,
      a.display_name !== a.agent_id ? h("span", { class: "muted id" }, a.agent_id) : null),
    h("td", {}, a.team || NONE),
    h("td", { class: "state" }, h("span", { class: "pill", dataset: { state: a.state } }, label(a.state))),
    h("td", { class: "status" }, label(a.status),
      a.next_status ? h("span", { class: "muted" }, ` then ${label(a.next_status)}`) : null),
    h("td", { class: "activity" }, label(a.activity)),
    h("td", { class: "num time-in-state" }, duration(data.now - a.since)),
    h("td", { class: "contacts" }, Object.entries(a.contacts).map(([id, s]) => `${id} (${label(s)})`)
      .join(", ") || NONE)));
  setChildren(/** @type {HTMLElement} */ (byId("agents").querySelector("tbody")), rows);
}
