// The supervisor page: queue tiles and the agents grid from the wallboard push feed
// (/ws/supervisor), actions on agents (REST /api/supervisor/...), why a contact waits,
// and interval reports with CSV download. Server data only ever goes in as text.
import { renderTiles, tickTiles } from "./board.js";
import { CampaignPoller, renderCampaigns } from "./campaigns.js";
import { timeChart } from "./chart.js";
import { byId, h, setChildren } from "./dom.js";
import { WallboardFeed } from "./feed.js";
import { NONE, duration, label, percent } from "./format.js";
import { setupLogin } from "./login.js";
import { SurveyPoller } from "./surveys.js";
import { ApiError, AuthError, Session, getBlob, sendJson } from "./session.js";

const session = new Session("supervisor");
// ?period=0.5 asks the server for faster updates (within its min_period_s)
const feed = new WallboardFeed(() => session.freshToken(),
  Number(new URLSearchParams(location.search).get("period")) || null);
/** @type {{reason_codes: string[], queues: any[]}} */
let config = { reason_codes: [], queues: [] };
let ticker = 0;
let waitingTimer = 0;
/** @type {string | null} */
let explained = null;
/** @type {string | null} */
let managed = null;

const tiles = byId("tiles");
const agentsBody = /** @type {HTMLElement} */ (byId("agents").querySelector("tbody"));
/** @type {Map<string, HTMLTableRowElement>} */
const rows = new Map();

setupLogin(session, {
  roles: ["supervisor", "admin"],
  pageName: "supervisor",
  onLogin: start,
  onLogout: stop,
});

async function start() {
  byId("admin-tools").hidden = !(session.user && session.user.role === "admin");
  try {
    config = await session.get("/api/ui/config");
  } catch (exc) {
    if (exc instanceof AuthError) return expired();
  }
  fillQueueSelects();
  /** @type {HTMLInputElement} */ (byId("report-date")).value = new Date().toISOString().slice(0, 10);
  feed.start();
  clearInterval(ticker);
  ticker = window.setInterval(tick, 1000);
  refreshWaiting();
  clearInterval(trendTimer);
  trendTimer = window.setInterval(trends, 60_000);
  trends();
  campaigns.start();
  surveys.start();
}

function stop() {
  surveys.stop();
  campaigns.stop();
  clearInterval(trendTimer);
  feed.stop();
  clearInterval(ticker);
  clearTimeout(waitingTimer);
}

function expired() {
  stop();
  session.forget();
  location.reload();
}

/** @param {string} text @param {boolean} [error] */
function say(text, error = false) {
  const notice = byId("notice");
  notice.textContent = text;
  notice.dataset.kind = error ? "error" : "info";
}

/** @param {unknown} exc */
function problem(exc) {
  if (exc instanceof AuthError) expired();
  return exc instanceof Error ? exc.message : String(exc);
}

feed.addEventListener("auth", expired);
feed.addEventListener("state", (event) => {
  const { state, detail } = /** @type {CustomEvent} */ (event).detail;
  const live = byId("live");
  live.textContent = state === "connected" ? "live" : state;
  live.dataset.state = state;
  live.title = detail || "";
});

feed.addEventListener("change", (event) => {
  const changed = /** @type {CustomEvent} */ (event).detail;
  renderTiles(tiles, feed, changed);
  if (changed.full) {
    rows.clear();
    agentsBody.replaceChildren();
  }
  for (const id of changed.removed) {
    rows.get(id)?.remove();
    rows.delete(id);
  }
  for (const id of changed.agents) renderAgent(feed.agents.get(id));
  if (changed.full || changed.agents.length) {
    fillTeams();
    sortRows();
    applyFilters();
  }
  renderSummary();
  const updated = byId("updated");
  updated.textContent = `updated ${new Date().toLocaleTimeString()}`;
  updated.dataset.messages = String(feed.messages);
  if (managed && changed.agents.includes(managed)) renderManage();
});

function tick() {
  tickTiles(tiles, feed);
  sample();
  const now = feed.now();
  for (const [id, tr] of rows) {
    const a = feed.agents.get(id);
    if (!a) continue;
    /** @type {HTMLElement} */ (tr.querySelector(".time-in-state")).textContent = duration(now - a.since);
    const dur = tr.querySelector(".contact-duration");
    if (dur && a.contact_since) {
      const seconds = now - a.contact_since;
      dur.textContent = duration(seconds);
      tr.classList.toggle("long-contact", seconds >= feed.longContactS);
    }
  }
}

function renderSummary() {
  let logged = 0;
  for (const a of feed.agents.values()) if (a.activity !== "offline") logged += 1;
  let waiting = 0;
  for (const t of feed.queues.values()) waiting += t.waiting;
  setChildren(byId("summary"), `${logged} of ${feed.agents.size} agents logged in · ${waiting} waiting`);
}

// --- agents grid -----------------------------------------------------------------------------

/** @param {any} a */
function renderAgent(a) {
  if (!a) return;
  const now = feed.now();
  const contactIds = Object.keys(a.contacts || {});
  const long = a.contact_since && now - a.contact_since >= feed.longContactS;
  const tr = h("tr", {
    dataset: { agent: a.agent_id, state: a.state, team: a.team, queues: a.queues.join(" ") },
    class: long ? "long-contact" : null,
  },
  h("th", { scope: "row" }, a.display_name,
    a.display_name !== a.agent_id ? h("span", { class: "muted id" }, a.agent_id) : null),
  h("td", { class: "team" }, a.team || NONE),
  h("td", { class: "state" }, h("span", { class: "pill", dataset: { state: a.state } }, label(a.state))),
  h("td", { class: "status" }, label(a.status),
    a.next_status ? h("span", { class: "muted" }, ` then ${label(a.next_status)}`) : null),
  h("td", { class: "num time-in-state" }, duration(now - a.since)),
  h("td", { class: "contacts" }, contactIds.length
    ? [contactIds.map((id) => `${id} (${label(a.contacts[id])})`).join(", "),
      a.contact_since ? h("span", { class: "contact-duration" }, duration(now - a.contact_since)) : null]
    : NONE),
  h("td", { class: "row-actions" }, h("button", {
    type: "button", class: "small", "aria-label": `Manage ${a.display_name}`,
    onclick: () => openManage(a.agent_id),
  }, "Manage…")));
  const old = rows.get(a.agent_id);
  if (old) old.replaceWith(tr);
  else agentsBody.append(tr);
  rows.set(a.agent_id, /** @type {HTMLTableRowElement} */ (tr));
}

function sortRows() {
  const order = [...rows.entries()].sort(([a], [b]) => {
    const x = feed.agents.get(a);
    const y = feed.agents.get(b);
    return String(x?.display_name).localeCompare(String(y?.display_name)) || a.localeCompare(b);
  });
  const same = order.every(([, tr], i) => agentsBody.children[i] === tr);
  if (!same) agentsBody.replaceChildren(...order.map(([, tr]) => tr));
}

function fillTeams() {
  const select = /** @type {HTMLSelectElement} */ (byId("filter-team"));
  const teams = [...new Set([...feed.agents.values()].map((a) => a.team).filter(Boolean))].sort();
  const have = [...select.options].slice(1).map((o) => o.value);
  if (have.join("\n") === teams.join("\n")) return;
  const value = select.value;
  setChildren(select, h("option", { value: "" }, "all"), teams.map((t) => h("option", { value: t }, t)));
  select.value = value;
}

function fillQueueSelects() {
  const trend = /** @type {HTMLSelectElement} */ (byId("trend-queue"));
  setChildren(trend, config.queues.map((q) => h("option", { value: q.id }, q.name)));
  for (const id of ["filter-queue", "report-queue"]) {
    const select = /** @type {HTMLSelectElement} */ (byId(id));
    setChildren(select, h("option", { value: "" }, "all"),
      config.queues.map((q) => h("option", { value: q.id }, q.name)));
  }
}

function applyFilters() {
  const form = /** @type {HTMLFormElement} */ (byId("filters"));
  const data = new FormData(form);
  const team = String(data.get("team") || "");
  const queue = String(data.get("queue") || "");
  const state = String(data.get("state") || "");
  const text = String(data.get("text") || "").toLowerCase();
  let shown = 0;
  for (const [id, tr] of rows) {
    const a = feed.agents.get(id);
    const visible = !!a && (!team || a.team === team) && (!queue || a.queues.includes(queue)) &&
      (state === "*" || (state ? a.state === state : a.activity !== "offline")) &&
      (!text || `${a.agent_id} ${a.display_name}`.toLowerCase().includes(text));
    tr.hidden = !visible;
    if (visible) shown += 1;
  }
  byId("agents-count").textContent = `${shown} shown of ${rows.size}`;
}

byId("filters").addEventListener("input", applyFilters);
byId("filters").addEventListener("submit", (event) => event.preventDefault());

// --- manage one agent ----------------------------------------------------------------------

const dialog = /** @type {HTMLDialogElement} */ (byId("manage"));

/** @param {string} agentId */
function openManage(agentId) {
  managed = agentId;
  byId("manage-error").textContent = "";
  const select = /** @type {HTMLSelectElement} */ (byId("force-status"));
  setChildren(select, ["available", ...config.reason_codes, "offline"].map((s) =>
    h("option", { value: s }, s === "offline" ? "offline (log out)" : label(s))));
  const a = feed.agents.get(agentId);
  setChildren(byId("skills-rows"), Object.entries(a ? a.skills : {}).map(([k, v]) => skillRow(k, v)));
  renderManage();
  dialog.showModal();
}

function renderManage() {
  const a = managed ? feed.agents.get(managed) : null;
  if (!a) return;
  byId("manage-title").textContent = `${a.display_name} (${a.agent_id})`;
  byId("manage-state").textContent = `${label(a.state)} · status ${label(a.status)}` +
    (a.next_status ? `, then ${label(a.next_status)}` : "");
}

dialog.addEventListener("close", () => { managed = null; });

/** @param {string} name @param {number} level */
function skillRow(name, level) {
  const row = h("div", { class: "skill-row" },
    h("input", { name: "skill", value: name, "aria-label": "Skill", required: true, maxlength: 64 }),
    h("input", { name: "level", type: "number", min: 1, max: 10, value: level,
                 "aria-label": `Proficiency of ${name || "new skill"}`, required: true }),
    h("button", { type: "button", class: "small", "aria-label": `Remove ${name || "skill"}`,
                  onclick: () => row.remove() }, "Remove"));
  return row;
}

byId("skill-add").addEventListener("click", () => {
  const row = skillRow("", 5);
  byId("skills-rows").append(row);
  /** @type {HTMLInputElement} */ (row.querySelector("input")).focus();
});

/** @param {string} path @param {unknown} body @param {string} method */
async function agentAction(path, body, method = "POST") {
  if (!managed) return;
  const error = byId("manage-error");
  error.textContent = "";
  try {
    await sendJson(session, method, `/api/supervisor/agents/${encodeURIComponent(managed)}/${path}`, body);
    const done = { status: "status set", logout: "logged out", skills: "skills saved" };
    say(`${managed}: ${done[path] || path}.`);
    dialog.close();
  } catch (exc) {
    error.textContent = problem(exc);
  }
}

byId("force-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const status = /** @type {HTMLSelectElement} */ (byId("force-status")).value;
  if (status === "offline") agentAction("logout", { force: false });
  else agentAction("status", { status });
});

byId("force-logout").addEventListener("click", () => agentAction("logout", { force: true }));

byId("skills-form").addEventListener("submit", (event) => {
  event.preventDefault();
  /** @type {Record<string, number>} */
  const skills = {};
  for (const row of byId("skills-rows").querySelectorAll(".skill-row")) {
    const [name, level] = row.querySelectorAll("input");
    if (name.value.trim()) skills[name.value.trim()] = Number(level.value);
  }
  agentAction("skills", { skills }, "PUT");
});

// --- waiting contacts and explain ----------------------------------------------------------

async function refreshWaiting() {
  clearTimeout(waitingTimer);
  if (!session.token) return;
  try {
    const data = await session.get("/api/supervisor/waiting");
    setChildren(byId("waiting"), data.contacts.length ? data.contacts.map((c) =>
      h("li", { dataset: { contactId: c.contact_id } },
        h("button", { type: "button", class: "small", onclick: () => explain(c.contact_id),
                      "aria-label": `Why is ${c.contact_id} waiting?` }, "Why?"),
        h("span", { class: "cid" }, c.contact_id),
        h("span", { class: "muted" }, ` ${queueName(c.queue_id)} · step ${c.step} · ${duration(c.wait_s)}`),
        c.ani ? h("span", { class: "muted" }, ` · ${c.ani}`) : null))
      : h("li", { class: "muted" }, "Nobody is waiting."));
    if (explained) await explain(explained, true);
  } catch (exc) {
    if (exc instanceof AuthError) return expired();
  }
  if (feed.state !== "disconnected" || session.token) waitingTimer = window.setTimeout(refreshWaiting, 3000);
}

byId("waiting-refresh").addEventListener("click", refreshWaiting);

/** @param {string} id */
function queueName(id) {
  const q = config.queues.find((x) => x.id === id);
  return q ? q.name : id;
}

/** @param {string} contactId @param {boolean} [quiet] */
async function explain(contactId, quiet = false) {
  explained = contactId;
  const box = byId("explain");
  try {
    const e = await session.get(`/api/supervisor/contacts/${encodeURIComponent(contactId)}/explain`);
    setChildren(box,
      h("h3", {}, `Why ${e.contact_id} is ${e.state === "queued" ? "waiting" : label(e.state)}`),
      h("p", { class: "summary" }, e.summary),
      h("dl", { class: "facts" },
        h("dt", {}, "Queue"), h("dd", {}, queueName(e.queue_id)),
        h("dt", {}, "Routing step"), h("dd", {}, `${e.step} (step ${e.step_index + 1})`),
        h("dt", {}, "Position"), h("dd", {}, e.position === null ? NONE : String(e.position)),
        h("dt", {}, "Waiting"), h("dd", {}, duration(e.wait_s)),
        h("dt", {}, "Eligible agents"), h("dd", {}, `${e.eligible_logged_in} logged in, ${e.eligible_routable} routable`),
        h("dt", {}, "They are"), h("dd", {}, Object.entries(e.eligible_by_activity)
          .map(([k, n]) => `${n} ${label(k.replace("status:", "on "))}`).join(", ") || NONE)));
  } catch (exc) {
    if (quiet) {
      explained = null;
      setChildren(box, h("p", { class: "muted" }, `${contactId} is no longer waiting.`));
    } else setChildren(box, h("p", { class: "error" }, problem(exc)));
  }
}

// --- interval reports ----------------------------------------------------------------------

function reportQuery(format) {
  const data = new FormData(/** @type {HTMLFormElement} */ (byId("report-form")));
  const params = new URLSearchParams({ date: String(data.get("date")), interval: String(data.get("interval")), format });
  if (data.get("queue")) params.set("queue", String(data.get("queue")));
  return `/api/supervisor/reports/intervals?${params}`;
}

byId("report-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const box = byId("report");
  try {
    const report = await session.get(reportQuery("json"));
    if (!report.rows.length) {
      setChildren(box, h("p", { class: "muted" }, "No contacts on that day."));
      return;
    }
    const cols = [["Queue", (r) => queueName(r.queue_id)],
      ["Interval (UTC)", (r) => `${r.interval_start.slice(11, 16)}–${r.interval_end.slice(11, 16)}`],
      ["Offered", (r) => r.offered], ["Answered", (r) => r.answered], ["Abandoned", (r) => r.abandoned],
      ["Short abandons", (r) => r.short_abandoned], ["Service level", (r) => percent(r.service_level)],
      ["ASA", (r) => duration(r.asa_s)], ["Abandon rate", (r) => percent(r.abandon_rate)],
      ["AHT", (r) => duration(r.aht_s)], ["Occupancy", (r) => percent(r.occupancy)]];
    setChildren(box, h("table", { class: "grid report" },
      h("thead", {}, h("tr", {}, cols.map(([name]) => h("th", { scope: "col" }, name)))),
      h("tbody", {}, report.rows.map((r) => h("tr", { dataset: { queue: r.queue_id } },
        cols.map(([name, get], i) => h(i === 0 ? "th" : "td", { class: i > 1 ? "num" : null, dataset: { col: name } }, String(get(r)))))))));
  } catch (exc) {
    setChildren(box, h("p", { class: "error" }, problem(exc)));
  }
});

byId("report-csv").addEventListener("click", async () => {
  try {
    const blob = await getBlob(session, reportQuery("csv"));
    const date = /** @type {HTMLInputElement} */ (byId("report-date")).value;
    const link = h("a", { href: URL.createObjectURL(blob), download: `intervals-${date}.csv` });
    document.body.append(link);
    link.click();
    link.remove();
  } catch (exc) {
    say(`Report not downloaded: ${problem(exc)}`, true);
  }
});

// --- wallboard token (admin) ---------------------------------------------------------------

byId("token-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const data = new FormData(/** @type {HTMLFormElement} */ (event.target));
  const out = byId("token-out");
  try {
    const issued = await sendJson(session, "POST", "/api/supervisor/wallboard-token",
      { name: String(data.get("name")), days: Number(data.get("days")) });
    const url = `${location.origin}/ui/wallboard.html#token=${issued.token}`;
    setChildren(out, "Open this on the screen (read-only, valid until ",
      new Date(issued.expires_at * 1000).toLocaleDateString(), "): ",
      h("a", { href: url, class: "token-link" }, url));
  } catch (exc) {
    setChildren(out, h("span", { class: "error" }, problem(exc)));
  }
});

// --- trends ----------------------------------------------------------------------------------

let trendTimer = 0;
/** total waiting per queue, sampled from the feed every 10 s while the page is open */
const samples = /** @type {Map<string, [number, number][]>} */ (new Map());
const SAMPLE_S = 10;
const KEEP_S = 4 * 3600;
let lastSample = 0;

function sample() {
  const now = feed.now();
  if (now - lastSample < SAMPLE_S || !feed.queues.size) return;
  lastSample = now;
  for (const [id, t] of feed.queues) {
    const list = samples.get(id) || [];
    list.push([now, t.waiting]);
    while (list.length && list[0][0] < now - KEEP_S) list.shift();
    samples.set(id, list);
  }
  drawWaiting();
}

function drawWaiting() {
  const queue = /** @type {HTMLSelectElement} */ (byId("trend-queue")).value;
  const points = samples.get(queue) || [];
  const now = feed.now();
  const yMax = Math.max(4, ...points.map(([, v]) => v));
  setChildren(byId("trend-waiting"), timeChart({
    points, kind: "line", yMax, label: `Contacts waiting in ${queueName(queue)}`,
    format: (v) => String(Math.round(v)), from: points.length ? points[0][0] : now - 60, to: now,
  }));
}

async function trends() {
  const queue = /** @type {HTMLSelectElement} */ (byId("trend-queue")).value;
  if (!queue || !session.token) return;
  try {
    const report = await session.get(`/api/supervisor/reports/intervals?interval=15&queue=${encodeURIComponent(queue)}`);
    const points = report.rows.filter((r) => r.service_level !== null)
      .map((r) => [Date.parse(r.interval_start) / 1000, r.service_level]);
    const q = config.queues.find((x) => x.id === queue);
    const now = feed.now();
    setChildren(byId("trend-sl"), timeChart({
      points, kind: "bars", yMax: 1, label: `Service level of ${queueName(queue)} by 15 minutes`,
      format: (v) => `${Math.round(v * 100)} %`, target: q ? q.service_level_target : null,
      from: points.length ? Math.min(points[0][0], now - 4 * 3600) : now - 4 * 3600, to: now,
    }));
  } catch (exc) {
    if (exc instanceof AuthError) expired();
  }
  drawWaiting();
}

byId("trend-queue").addEventListener("change", trends);
feed.addEventListener("change", sample);

// --- outbound campaigns (js/campaigns.js) ----------------------------------------------------

const campaigns = new CampaignPoller((path) => session.get(path));
const surveys = new SurveyPoller(session, queueName);

campaigns.addEventListener("change", () => {
  byId("campaigns-error").textContent = "";
  renderCampaigns(byId("campaigns"), campaigns.campaigns, campaigns.stats, {
    admin: !!(session.user && session.user.role === "admin"),
    onAction: campaignAction,
  });
  const updated = byId("campaigns-updated");
  updated.textContent = `updated ${new Date().toLocaleTimeString()}`;
  updated.dataset.rounds = String(campaigns.rounds);
});

campaigns.addEventListener("problem", (event) => {
  const { error } = /** @type {CustomEvent} */ (event).detail;
  if (error instanceof AuthError) return expired();
  byId("campaigns-error").textContent = `Campaigns not updated: ${problem(error)}`;
});

/** Start, pause or stop a campaign (admin); the server's error is shown on its card.
 * @param {string} id @param {string} action @param {HTMLElement} card */
async function campaignAction(id, action, card) {
  const error = /** @type {HTMLElement} */ (card.querySelector(".campaign-error"));
  const buttons = /** @type {NodeListOf<HTMLButtonElement>} */ (card.querySelectorAll(".campaign-actions button"));
  error.textContent = "";
  card.classList.add("busy");
  for (const b of buttons) b.disabled = true;
  try {
    const updated = await sendJson(session, "POST", `/api/campaigns/${encodeURIComponent(id)}/${action}`, {});
    say(`Campaign ${updated.name}: ${updated.state}.`);
  } catch (exc) {
    const code = exc instanceof ApiError ? ` (${exc.code})` : "";
    error.textContent = `${action} failed: ${problem(exc)}${code}`;
  } finally {
    card.classList.remove("busy");
    await campaigns.refresh();
  }
}
