// The agent websocket (/ws/agent): commands out, server messages in, in order.
//
// The token never goes in the URL (access logs and proxies would keep it): the first frame
// on the open socket is {"type": "auth", "token"} (protocol.AuthFrame). A close with
// CLOSE_UNAUTHENTICATED or CLOSE_SESSION_ENDED (logged out, revoked, the user disabled or
// its password changed) means sign in again: no reconnection.
//
// Every server message carries the channel's seq. After each (re)connection the page
// sends hello (with the last seq it handled, once it has one) and holds what arrives until
// the hello's reply: the server's greeting agent_state, anything it replays and anything
// new. Those are then handled once each in seq order, so an offer made while the network
// blinked is not lost and nothing is handled twice. A reply with gap=true (or another
// session: the server restarted) means some was lost: its agent_state is then the truth.

const RETRY_MS = [500, 1000, 2000, 5000];
const PAGE_NONCE = Math.random().toString(36).slice(2, 10);
// This tab's console id: kept across reloads (sessionStorage is per tab), so the server
// can tell a reconnection of this tab from a second tab (refused: protocol.CLOSE_OTHER_TAB).
const CLIENT_KEY = "contactcenter.console.client";
const CLIENT_ID = sessionStorage.getItem(CLIENT_KEY) || `tab-${PAGE_NONCE}-${Date.now().toString(36)}`;
sessionStorage.setItem(CLIENT_KEY, CLIENT_ID);
export const CLOSE_REPLACED = 4000;
export const CLOSE_OTHER_TAB = 4001;
export const CLOSE_UNAUTHENTICATED = 4401;
export const CLOSE_FORBIDDEN = 4403;
export const CLOSE_SESSION_ENDED = 4410;

export class AgentChannel extends EventTarget {
  /** @param {() => string | null | Promise<string | null>} token the access token (renewed) */
  constructor(token) {
    super();
    this.token = token;
    /** @type {WebSocket | null} */
    this.ws = null;
    this.state = "disconnected";
    this.session = null;
    this.lastSeq = 0;
    this.nextId = 0;
    this.attempt = 0;
    this.stopped = true;
    /** @type {Map<string, {resolve: (v: any) => void, reject: (e: Error) => void}>} */
    this.pending = new Map();
    /** @type {any[] | null} messages held until the hello reply */
    this.held = null;
    this.helloId = null;
    this.retryTimer = 0;
    /** Replace the console of another tab on the next connection (the agent said so). */
    this.takeover = false;
  }

  start() {
    this.stopped = false;
    this.open();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    if (this.ws) this.ws.close(1000, "logged out");
    this.ws = null;
    this.session = null;
    this.lastSeq = 0;
    this.setState("disconnected");
  }

  /** @param {string} state */
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
      this.setState("disconnected", "the login has expired; sign in again");
      this.dispatchEvent(new CustomEvent("auth"));
      return;
    }
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    let url = `${scheme}//${location.host}/ws/agent?client=${encodeURIComponent(CLIENT_ID)}`;
    if (this.takeover) url += "&takeover=1";
    this.takeover = false;
    const ws = new WebSocket(url);
    this.ws = ws;
    this.setState(this.attempt ? "reconnecting" : "connecting");
    ws.addEventListener("open", () => {
      ws.send(JSON.stringify({ type: "auth", token }));
      this.attempt = 0;
      this.held = [];
      this.sendHello(true);
    });
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
      this.held = null;
      for (const waiter of this.pending.values()) waiter.reject(new Error("connection lost"));
      this.pending.clear();
      if (this.stopped) return;
      if (event.code === CLOSE_REPLACED || event.code === CLOSE_OTHER_TAB) {
        // The console is open in another tab: do not fight over the channel; the page
        // offers to take over.
        this.setState("disconnected", event.code === CLOSE_OTHER_TAB
          ? "open in another tab" : "moved to another tab");
        this.dispatchEvent(new CustomEvent("other_tab", { detail: { code: event.code } }));
        return;
      }
      if (event.code === CLOSE_UNAUTHENTICATED || event.code === CLOSE_SESSION_ENDED) {
        // the login is gone (expired, logged out elsewhere, revoked): sign in again
        this.setState("disconnected", "the login has ended; sign in again");
        this.dispatchEvent(new CustomEvent("auth"));
        return;
      }
      if (event.code === CLOSE_FORBIDDEN) {
        this.setState("disconnected", event.reason || "not allowed on the agent console");
        return;
      }
      if (event.code === 1008) {
        this.setState("disconnected", event.reason || "closed by the server");
      }
      const delay = RETRY_MS[Math.min(this.attempt, RETRY_MS.length - 1)];
      this.attempt += 1;
      this.setState("reconnecting", `retrying in ${Math.round(delay / 100) / 10} s`);
      this.retryTimer = setTimeout(() => this.open(), delay);
    });
  }

  /** @param {boolean} withSession name the session of the seqs (servers that know it) */
  sendHello(withSession) {
    if (!this.ws) return;
    this.helloId = this.newId();
    const hello = { type: "hello", id: this.helloId };
    // First connection of this page (a new login or a reload): ask for everything the
    // channel still holds, so an offer or a call in hand comes back with its screen pop.
    hello.last_seq = this.session !== null ? this.lastSeq : 0;
    // With the session, a server that restarted knows our seqs are not its own.
    if (withSession && this.session !== null) hello.session = this.session;
    this.ws.send(JSON.stringify(hello));
  }

  newId() {
    this.nextId += 1;
    // unique per page load: replies replayed from an earlier page never match a new command
    return `ui-${PAGE_NONCE}-${this.nextId}`;
  }

  /** @param {any} msg */
  receive(msg) {
    if (!msg || typeof msg.seq !== "number") return;
    if (this.held !== null) {
      const answersHello = msg.data && msg.data.id === this.helloId;
      if (msg.type === "error" && answersHello && msg.data.code === "invalid_command") {
        this.sendHello(false); // an older server without hello.session
        return;
      }
      const isHelloReply = msg.type === "reply" && answersHello;
      if (!isHelloReply) {
        this.held.push(msg);
        return;
      }
      const data = msg.data;
      const sameSession = this.session !== null && data.session === this.session;
      const after = sameSession ? this.lastSeq : 0;
      const held = this.held;
      this.held = null;
      this.session = data.session;
      const seen = new Set();
      held.sort((a, b) => a.seq - b.seq);
      for (const m of held) {
        if (m.seq <= after || seen.has(m.seq)) continue;
        seen.add(m.seq);
        this.handle(m, msg.ts);
      }
      this.lastSeq = Math.max(msg.seq, ...held.map((m) => m.seq));
      // The reply's agent_state is as of the hello: newer than anything held before it.
      this.emit("agent_state", data.agent_state, msg.ts, msg.ts);
      this.setState("connected");
      return;
    }
    if (msg.seq <= this.lastSeq) return; // already handled (replayed twice)
    this.lastSeq = msg.seq;
    this.handle(msg);
  }

  /** @param {any} msg */
  /**
   * @param {any} msg
   * @param {number|null} replayedAt the server time of the hello reply when the message is
   *   handled late (held during a reconnection); null for a live message
   */
  handle(msg, replayedAt = null) {
    const data = msg.data || {};
    if (msg.type === "reply" || msg.type === "error") {
      const waiter = this.pending.get(data.id);
      if (waiter) {
        this.pending.delete(data.id);
        if (msg.type === "reply") waiter.resolve(data);
        else waiter.reject(Object.assign(new Error(data.message || data.code), { code: data.code }));
        return;
      }
      // an error answering a command of an earlier page or connection is old news
      if (msg.type === "error" && replayedAt === null) this.emit("error", data, msg.ts, msg.ts);
      return;
    }
    this.emit(msg.type, data, msg.ts, replayedAt ?? msg.ts);
  }

  /**
   * @param {string} type @param {any} data @param {number} ts when the server sent it
   * @param {number} now the server's time as the page handles it (later than ts for a replay)
   */
  emit(type, data, ts, now) {
    this.dispatchEvent(new CustomEvent(type, { detail: { data, ts, now } }));
  }

  /**
   * Send a command; resolves with the reply's data, rejects with the server's error.
   * @param {string} type @param {Record<string, unknown>} fields
   */
  command(type, fields = {}) {
    const ws = this.ws;
    if (!ws || ws.readyState !== WebSocket.OPEN || this.state !== "connected") {
      return Promise.reject(new Error("not connected to the server; wait for it to reconnect"));
    }
    const id = this.newId();
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      ws.send(JSON.stringify({ type, id, ...fields }));
    });
  }
}
