// Outbound campaigns on the supervisor page and the wallboard screen: the list
// (GET /api/campaigns) and each campaign's live statistics (GET /api/campaigns/{id}/stats),
// polled every few seconds; start / pause / stop for admins. Figures are those of
// docs/dialer.md ("Server runner"); every piece of server data goes in as text (dom.js).
import { h, setChildren } from "./dom.js";
import { NONE, duration, label, percent } from "./format.js";

/** The regulator's abandon limit per ledger window (routing/compliance.py AbandonLedger). */
export const ABANDON_LIMIT = 0.03;
export const POLL_MS = 2500;

/** Which transitions the server allows from each state (campaigns/api.py _TRANSITIONS). */
const ACTIONS = [
  ["start", "Start", ["draft", "paused"]],
  ["pause", "Pause", ["running"]],
  ["stop", "Stop", ["draft", "running", "paused"]],
];

/**
 * GET JSON with a bearer token. Resolves with the body; rejects with an Error carrying the
 * server's message and `status`.
 * @param {string} token @param {string} path
 */
export async function getJson(token, path) {
  const resp = await fetch(path, { headers: { Authorization: `Bearer ${token}` } });
  if (!resp.ok) {
    let message = resp.statusText || `HTTP ${resp.status}`;
    try {
      const body = await resp.json();
      if (body && body.error) message = String(body.error.message || body.error.code || message);
    } catch {
      // not JSON: keep the status text
    }
    const error = /** @type {Error & {status?: number}} */ (new Error(message));
    error.status = resp.status;
    throw error;
  }
  return resp.json();
}

/**
 * Polls the campaigns and their statistics. `load(path)` does the authenticated GET.
 * Statistics are fetched every round for running and paused campaigns, once for the
 * others (again when their state changes). Dispatches "change" (detail: {campaigns,
 * stats}) after each round and "problem" (detail: {error}) when a round fails.
 */
export class CampaignPoller extends EventTarget {
  /** @param {(path: string) => Promise<any>} load @param {number} [periodMs] */
  constructor(load, periodMs = POLL_MS) {
    super();
    this.load = load;
    this.periodMs = periodMs;
    /** @type {any[]} */
    this.campaigns = [];
    /** @type {Map<string, any>} campaign id -> its last statistics */
    this.stats = new Map();
    this.timer = 0;
    this.running = false;
    this.rounds = 0;
  }

  start() {
    this.running = true;
    this.refresh();
  }

  stop() {
    this.running = false;
    clearTimeout(this.timer);
  }

  /** Poll now (and then on the period again). */
  async refresh() {
    clearTimeout(this.timer);
    if (!this.running) return;
    try {
      const list = await this.load("/api/campaigns");
      this.campaigns = Array.isArray(list.campaigns) ? list.campaigns : [];
      const ids = new Set(this.campaigns.map((c) => c.id));
      for (const id of [...this.stats.keys()]) if (!ids.has(id)) this.stats.delete(id);
      await Promise.all(this.campaigns.map(async (c) => {
        const old = this.stats.get(c.id);
        const live = c.state === "running" || c.state === "paused";
        if (!live && old && old.state === c.state) return;
        try {
          this.stats.set(c.id, await this.load(`/api/campaigns/${encodeURIComponent(c.id)}/stats`));
        } catch (exc) {
          if (exc && /** @type {any} */ (exc).status === 404) this.stats.delete(c.id);
          else throw exc;
        }
      }));
      this.rounds += 1;
      this.dispatchEvent(new CustomEvent("change", { detail: { campaigns: this.campaigns, stats: this.stats } }));
    } catch (exc) {
      this.dispatchEvent(new CustomEvent("problem", { detail: { error: exc } }));
      if (exc && [401, 403].includes(/** @type {any} */ (exc).status)) {
        this.running = false;
        return;
      }
    }
    if (this.running) this.timer = window.setTimeout(() => this.refresh(), this.periodMs);
  }
}

// --- figures ---------------------------------------------------------------------------------

/**
 * The current ledger window: the latest one, if it has not ended yet (a window with
 * nothing in it yet is not listed: it allows no abandon until it has live answers).
 * @param {any} stats @param {number} now POSIX seconds
 */
export function currentWindow(stats, now) {
  const windows = stats && Array.isArray(stats.windows) ? stats.windows : [];
  const last = windows[windows.length - 1];
  return last && last.end > now ? last : null;
}

/**
 * ok / amber / red for an abandon rate: red when the window is in breach (over 3%), amber
 * from the campaign's own target (default 2%, what predictive pacing steers to).
 * @param {number} rate @param {boolean} inBreach @param {number|null|undefined} target
 */
export function abandonLevel(rate, inBreach, target) {
  if (inBreach || rate > ABANDON_LIMIT) return "red";
  const amber = Math.min(target || (ABANDON_LIMIT * 2) / 3, ABANDON_LIMIT);
  return rate >= amber ? "amber" : "ok";
}

/** @param {number|null|undefined} value @param {number} [digits] */
function fixed(value, digits = 1) {
  return value === null || value === undefined || !Number.isFinite(value) ? NONE : value.toFixed(digits);
}

/** A headroom in abandons ("1.4 abandons"). @param {number|null|undefined} value */
function headroomText(value) {
  if (value === null || value === undefined || !Number.isFinite(value)) return NONE;
  const n = Math.max(0, value);
  return `${n.toFixed(1)} abandon${n.toFixed(1) === "1.0" ? "" : "s"}`;
}

/** The dial level line's parts. @param {any} level */
export function dialLevelText(level) {
  if (!level) return "not dialling in this server";
  const per = level.lines_per_ready_agent === null || level.lines_per_ready_agent === undefined
    ? `${NONE} lines per ready agent (none ready)`
    : `${fixed(level.lines_per_ready_agent, 2)} lines per ready agent`;
  return `${level.basis} · ${per} · ${level.lines_in_progress} lines in progress · ` +
    `${level.answered_waiting} answered calls waiting · ` +
    `${level.ready_agents} agents ready, ${level.busy_agents} busy`;
}

/** @param {string} key @param {string} name @param {string} value @param {unknown} [extra] @param {string} [alert] */
function figure(key, name, value, extra = null, alert = "ok") {
  return h("div", { class: `figure ${key}`, dataset: { alert } },
    h("span", { class: "name" }, name), h("span", { class: "value" }, value), extra);
}

/** The abandon figure of the current window. @param {any} c @param {any} s */
function abandonFigure(c, s, big = false) {
  const now = Date.now() / 1000;
  const win = currentWindow(s, now);
  const rate = Number(s.abandon_rate) || 0;
  const level = abandonLevel(rate, !!(win && win.in_breach), c ? c.abandon_target : null);
  const sub = win
    ? `limit ${percent(ABANDON_LIMIT)} · headroom ${headroomText(win.headroom)}${win.in_breach ? " · IN BREACH" : ""}`
    : `limit ${percent(ABANDON_LIMIT)} · no live answer in this window yet`;
  return figure("abandon-rate", big ? "Abandon rate (window)" : "Abandon rate, this window",
    percent(rate), h("span", { class: "sub" }, sub), level);
}

/**
 * The figures of one campaign on the supervisor page.
 * @param {any} c the campaign @param {any} s its statistics (or undefined before the first)
 */
export function campaignFigures(c, s) {
  if (!s) return h("p", { class: "muted" }, "Loading figures…");
  const contacts = s.contacts || {};
  return h("div", { class: "campaign-figures" },
    h("div", { class: "figures" },
      figure("dials", "Dials", String(s.dials)),
      figure("live-answers", "Live answers", String(s.live_answers),
        h("span", { class: "sub" }, `${s.machines} machines · ${s.busy} busy · ${s.no_answer} no answer`)),
      figure("connected", "Connected", String(s.connected)),
      figure("abandons", "Abandons", String(s.abandons)),
      abandonFigure(c, s),
      figure("talk-per-hour", "Talk min / agent hour", fixed(s.talk_minutes_per_agent_hour)),
      figure("agent-wait", "Agent wait between calls", duration(s.agent_wait_s)),
      figure("contacts", "Contacts done", `${contacts.final ?? 0} / ${contacts.total ?? 0}`,
        h("span", { class: "sub" }, `${contacts.untouched ?? 0} not dialled yet`))),
    h("p", { class: "dial-level" },
      h("span", { class: "name" }, "Dial level: "),
      h("span", { class: "mode" }, `${label(s.mode)} mode`), s.dial_level ? " · basis " : " · ",
      h("span", { class: "value" }, dialLevelText(s.dial_level))));
}

/**
 * Render the supervisor's campaign cards into `box`. A card's head (with the admin's
 * buttons) is kept across polls so focus stays put; its figures are replaced.
 * @param {HTMLElement} box @param {any[]} campaigns @param {Map<string, any>} stats
 * @param {{admin: boolean, onAction: (id: string, action: string, card: HTMLElement) => void}} opts
 */
export function renderCampaigns(box, campaigns, stats, opts) {
  if (!campaigns.length) {
    setChildren(box, h("p", { class: "muted" }, "No campaigns yet (an administrator creates them with the API or `contactcenter campaign`)."));
    return;
  }
  /** @type {Map<string, HTMLElement>} */
  const have = new Map();
  for (const el of box.querySelectorAll(":scope > .campaign")) {
    have.set(/** @type {HTMLElement} */ (el).dataset.campaign || "", /** @type {HTMLElement} */ (el));
  }
  const cards = campaigns.map((c) => {
    const card = have.get(c.id) || campaignCard(c, opts);
    updateCard(card, c, stats.get(c.id), opts.admin);
    return card;
  });
  const same = cards.length === box.children.length && cards.every((el, i) => el === box.children[i]);
  if (!same) setChildren(box, cards);
}

/** @param {any} c @param {{admin: boolean, onAction: Function}} opts */
function campaignCard(c, opts) {
  const titleId = `campaign-title-${c.id}`;
  const card = h("article", { class: "campaign", dataset: { campaign: c.id }, "aria-labelledby": titleId });
  const buttons = opts.admin ? h("div", { class: "campaign-actions", role: "group", "aria-label": `Control ${c.name}` },
    ACTIONS.map(([action, text]) => h("button", {
      type: "button", class: `small ${action}${action === "stop" ? " danger" : ""}`,
      dataset: { action }, "aria-label": `${text} ${c.name}`,
      onclick: () => opts.onAction(c.id, action, card),
    }, text))) : null;
  setChildren(card,
    h("header", { class: "campaign-head" },
      h("h3", { id: titleId, class: "campaign-name" }, c.name),
      h("span", { class: "pill state" }, label(c.state)),
      h("span", { class: "muted campaign-meta" }, ""),
      buttons),
    h("p", { class: "error campaign-error", role: "alert" }),
    h("div", { class: "campaign-body" }));
  return card;
}

/** @param {HTMLElement} card @param {any} c @param {any} s @param {boolean} admin */
function updateCard(card, c, s, admin) {
  card.dataset.state = c.state;
  const pill = /** @type {HTMLElement} */ (card.querySelector(".state"));
  pill.textContent = label(c.state);
  pill.dataset.state = `campaign_${c.state}`;
  /** @type {HTMLElement} */ (card.querySelector(".campaign-name")).textContent = c.name;
  /** @type {HTMLElement} */ (card.querySelector(".campaign-meta")).textContent =
    `${c.id} · ${label(c.mode)} · queue ${c.queue} · window ${c.calling_window.start}–${c.calling_window.end} (${String(c.regulatory_mode).toUpperCase()})`;
  if (admin) {
    for (const [action, , from] of ACTIONS) {
      const b = /** @type {HTMLButtonElement | null} */ (card.querySelector(`button[data-action="${action}"]`));
      if (b && !card.classList.contains("busy")) b.disabled = !from.includes(c.state);
    }
  }
  setChildren(/** @type {HTMLElement} */ (card.querySelector(".campaign-body")), campaignFigures(c, s));
}

// --- the wallboard's compact tile ---------------------------------------------------------

/**
 * Compact tiles of the running campaigns (wallboard screen): dial level, the abandon rate
 * of each ledger window, talk minutes per agent hour.
 * @param {HTMLElement} box @param {any[]} campaigns @param {Map<string, any>} stats
 */
export function renderCampaignTiles(box, campaigns, stats) {
  const running = campaigns.filter((c) => c.state === "running");
  box.hidden = running.length === 0;
  setChildren(box, running.map((c) => campaignTile(c, stats.get(c.id))));
}

/** @param {any} c @param {any} s */
function campaignTile(c, s) {
  const level = s ? abandonLevel(Number(s.abandon_rate) || 0,
    !!(currentWindow(s, Date.now() / 1000) || {}).in_breach, c.abandon_target) : "ok";
  const windows = s && Array.isArray(s.windows) ? s.windows : [];
  return h("article", {
    class: "tile campaign-tile", dataset: { campaign: c.id, level },
    "aria-label": `Campaign ${c.name}`,
  },
  h("header", { class: "tile-head" },
    h("h3", {}, c.name),
    h("span", { class: "level", dataset: { level } }, `${label(c.mode)} · running`)),
  s ? [
    h("div", { class: "figures" },
      figure("dial-level", "Lines per ready agent",
        s.dial_level ? fixed(s.dial_level.lines_per_ready_agent, 2) : NONE,
        h("span", { class: "sub" }, s.dial_level ? s.dial_level.basis : "not dialling here")),
      abandonFigure(c, s, true),
      figure("talk-per-hour", "Talk min / agent hour", fixed(s.talk_minutes_per_agent_hour))),
    h("ol", { class: "windows", "aria-label": "Abandon rate per ledger window" },
      windows.map((w, i) => h("li", { dataset: { alert: w.in_breach ? "red" : "ok" } },
        `window ${i + 1} (from ${new Date(w.start * 1000).toLocaleDateString()}): `,
        h("strong", {}, percent(w.rate)), ` of ${w.lives} live`))),
  ] : h("p", { class: "muted" }, "Loading…"));
}
