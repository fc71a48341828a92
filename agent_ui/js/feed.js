// The wallboard push feed (/ws/supervisor): one snapshot, then only what changed, at most
// once per period (the server coalesces). Keeps the current tiles and agent rows, the
// server's clock offset (times in state tick on the server's clock, not the browser's),
// and reconnects with back-off; a reconnection starts from a fresh snapshot. The token goes
// in the socket's first frame ({"type": "auth", "token"}), never in the URL.

const RETRY_MS = [500, 1000, 2000, 5000];
// protocol.py: the token was refused, the role may not read the feed, the session ended
const CLOSE_UNAUTHENTICATED = 4401;
const CLOSE_FORBIDDEN = 4403;
const CLOSE_SESSION_ENDED = 4410;

export class WallboardFeed extends EventTarget {
  /**
   * @param {() => string | null | Promise<string | null>} token
   * @param {number | null} period seconds, or the server's
   */
  constructor(token, period = null) {
    super();
    this.token = token;
    this.period = period;
    /** @type {Map<string, any>} */
    this.queues = new Map();
    /** @type {Map<string, any>} */
    this.agents = new Map();
    this.offset = 0;
    this.readOnly = true;
    this.longContactS = 600;
    this.state = "disconnected";
    this.messages = 0;
    this.attempt = 0;
    this.stopped = true;
    /** @type {WebSocket | null} */
    this.ws = null;
    this.retryTimer = 0;
  }

  /** The server's time now, in seconds. */
  now() {
    return Date.now() / 1000 + this.offset;
  }

  start() {
    this.stopped = false;
    this.open();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    if (this.ws) this.ws.close(1000, "page closed");
    this.ws = null;
    this.setState("disconnected");
  }

  /** @param {string} state @param {string} [detail] */
  setState(state, detail = "") {
    this.state = state;
    this.dispatchEvent(new CustomEvent("state", { detail: { state, detail } }));
  }

  async open() {
    let token = null;
    try {
      token = await this.token();
    } catch {
      token = null;
    }
    if (this.stopped) return;
    if (!token) {
      this.setState("disconnected", "not signed in");
      this.dispatchEvent(new CustomEvent("auth"));
      return;
    }
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    let url = `${scheme}//${location.host}/ws/supervisor`;
    if (this.period) url += `?period=${this.period}`;
    const ws = new WebSocket(url);
    this.ws = ws;
    this.setState(this.attempt ? "reconnecting" : "connecting");
    ws.addEventListener("open", () => ws.send(JSON.stringify({ type: "auth", token })));
    ws.addEventListener("message", (event) => {
      let msg;
      try {
        msg = JSON.parse(event.data);
      } catch {
        return;
      }
      this.receive(msg);
    });
    ws.addEventListener("close", (event) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.stopped) return;
      if ([CLOSE_UNAUTHENTICATED, CLOSE_FORBIDDEN, CLOSE_SESSION_ENDED].includes(event.code)) {
        this.setState("disconnected", "the token was refused or its session ended");
        this.dispatchEvent(new CustomEvent("auth"));
        return;
      }
      if (event.code === 1006 && this.attempt > 2 && !this.queues.size) {
        // never got in: probably an expired or refused token
        this.dispatchEvent(new CustomEvent("auth"));
      }
      const delay = RETRY_MS[Math.min(this.attempt, RETRY_MS.length - 1)];
      this.attempt += 1;
      this.setState("reconnecting", `retrying in ${Math.round(delay / 100) / 10} s`);
      this.retryTimer = setTimeout(() => this.open(), delay);
    });
  }

  /** @param {any} msg */
  receive(msg) {
    if (!msg || !msg.data) return;
    if (msg.type !== "wallboard_snapshot" && msg.type !== "wallboard_update") return;
    const data = msg.data;
    this.messages += 1;
    this.offset = Number(data.now) - Date.now() / 1000;
    /** @type {{queues: string[], agents: string[], removed: string[], full: boolean}} */
    const changed = { queues: [], agents: [], removed: [], full: false };
    if (msg.type === "wallboard_snapshot") {
      this.queues.clear();
      this.agents.clear();
      this.readOnly = !!data.read_only;
      this.longContactS = Number(data.long_contact_s) || 600;
      changed.full = true;
      this.attempt = 0;
      this.setState("connected");
    } else if (msg.type !== "wallboard_update") {
      return;
    }
    for (const tile of data.queues || []) {
      this.queues.set(tile.queue_id, tile);
      changed.queues.push(tile.queue_id);
    }
    for (const row of data.agents || []) {
      this.agents.set(row.agent_id, row);
      changed.agents.push(row.agent_id);
    }
    for (const id of data.removed_agents || []) {
      this.agents.delete(id);
      changed.removed.push(id);
    }
    this.dispatchEvent(new CustomEvent("change", { detail: changed }));
  }
}
