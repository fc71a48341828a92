// The customer chat widget: talks to /ws/chat (docs/chat.md). Everything the visitor, the
// bot or the agent wrote is shown with textContent, never as markup.

const STORE = "cc-chat";
const STATES = {
  ivr: "Assistant",
  queued: "Waiting for an agent…",
  connected: "Chatting with an agent",
  survey: "A short survey",
  ended: "Chat ended",
};
const WHO = { visitor: "You", bot: "Assistant", agent: "Agent", system: "Notice" };
const TYPING_IDLE_MS = 3000;
const TYPING_SHOWN_MS = 6000;

const $ = (id) => document.getElementById(id);
const ui = {
  status: $("status"), startForm: $("start-form"), name: $("name"), question: $("question"),
  chat: $("chat"), log: $("log"), typing: $("typing"), sendForm: $("send-form"),
  text: $("text"), send: $("send"), save: $("save"), leave: $("leave"), error: $("error"),
};

let ws = null;
let saved = load();        // {token, chatId, lastSeq} of the chat in progress, if any
let pendingStart = null;   // the start frame to send once the socket is open
let ended = false;
let retryMs = 1000;
let typingSent = false;
let typingTimer = 0;
let typingShownTimer = 0;
const shown = new Set();   // transcript line numbers on screen (replays must not repeat)
const transcript = [];     // [{who, text, ts}] for "Save transcript"

function load() {
  try {
    return JSON.parse(sessionStorage.getItem(STORE) || "null");
  } catch {
    return null;
  }
}

function store() {
  if (saved) sessionStorage.setItem(STORE, JSON.stringify(saved));
  else sessionStorage.removeItem(STORE);
}

function setStatus(text) {
  ui.status.textContent = text;
}

function showError(text) {
  ui.error.textContent = text;
  ui.error.hidden = !text;
}

function showChat() {
  ui.startForm.hidden = true;
  ui.chat.hidden = false;
}

// A site with a widget key (config/chat.yaml widget_keys) embeds this page as
// /ui/widget/index.html?site=NAME&key=KEY; both go on to the chat socket.
const SITE = new URLSearchParams(location.search);
// limits that refuse a start: the socket is closed, the visitor may try later
const START_REFUSED = new Set(["busy", "too_many_starts", "chat_unavailable"]);

function socketUrl() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const query = new URLSearchParams();
  for (const name of ["site", "key"]) {
    if (SITE.get(name)) query.set(name, SITE.get(name));
  }
  const tail = query.toString() ? `?${query}` : "";
  return `${scheme}//${location.host}/ws/chat${tail}`;
}

function send(frame) {
  if (ws && ws.readyState === WebSocket.OPEN) {
    ws.send(JSON.stringify(frame));
    return true;
  }
  return false;
}

function connect() {
  setStatus(saved ? "Reconnecting…" : "Connecting…");
  const sock = new WebSocket(socketUrl());
  ws = sock;
  sock.addEventListener("open", () => {
    retryMs = 1000;
    if (saved) send({ type: "resume", token: saved.token, last_seq: saved.lastSeq || 0 });
    else if (pendingStart) send(pendingStart);
  });
  sock.addEventListener("message", (event) => {
    if (ws !== sock) return; // a replaced connection
    let msg;
    try {
      msg = JSON.parse(event.data);
    } catch {
      return;
    }
    receive(msg);
  });
  sock.addEventListener("close", () => {
    if (ws !== sock) return;
    ws = null;
    if (ended || (!saved && !pendingStart)) return;
    setStatus("Connection lost; reconnecting…");
    setTimeout(connect, retryMs);
    retryMs = Math.min(retryMs * 2, 10000);
  });
}

function receive(msg) {
  const data = msg.data || {};
  if (msg.seq > 0 && saved) {
    saved.lastSeq = Math.max(saved.lastSeq || 0, msg.seq);
    store();
  }
  switch (msg.type) {
    case "started":
      saved = { token: data.token, chatId: data.chat_id, lastSeq: 0 };
      pendingStart = null;
      store();
      break;
    case "resumed":
      setStatus(STATES[data.state] || data.state);
      showError("");
      break;
    case "state":
      setState(data);
      break;
    case "message":
      addLine(data);
      break;
    case "typing":
      showTyping(data.typing);
      break;
    case "error":
      if (data.code === "unknown_chat" && saved) {
        // the chat is gone (ended, or the server restarted): offer a new one
        saved = null;
        store();
        if (ws) ws.close();
        resetToStart("That chat is no longer available; start a new one.");
      } else if (START_REFUSED.has(data.code) && !saved) {
        // not started: no reconnecting to try again at once; the visitor may retry
        pendingStart = null;
        if (ws) ws.close();
        resetToStart(data.message || "Chat is busy; please try again in a minute.");
      } else {
        showError(data.message || data.code);
      }
      break;
    default:
      break;
  }
}

function setState(data) {
  setStatus(STATES[data.state] || data.state);
  if (data.state === "connected") addNotice("An agent has joined the chat.");
  if (data.state === "queued" && data.transferred) addNotice("You are being transferred.");
  if (data.state === "ended") {
    ended = true;
    showTyping(false);
    closeInput();
    addNotice("The chat has ended. Thank you!");
    saved = null;
    store();
    if (ws) ws.close();
  }
}

function resetToStart(message) {
  ui.log.replaceChildren();
  shown.clear();
  transcript.length = 0;
  ui.chat.hidden = true;
  ui.startForm.hidden = false;
  setStatus("Not connected");
  const hint = ui.startForm.querySelector(".hint");
  hint.textContent = message;
}

function closeInput() {
  ui.text.disabled = true;
  ui.send.disabled = true;
  ui.leave.disabled = true;
  for (const b of ui.log.querySelectorAll(".choices button")) b.disabled = true;
}

function addNotice(text) {
  const li = document.createElement("li");
  li.className = "line notice";
  li.textContent = text;
  ui.log.append(li);
  ui.log.scrollTop = ui.log.scrollHeight;
}

function addLine(line) {
  if (shown.has(line.line)) return;
  shown.add(line.line);
  if (line.sender === "agent") showTyping(false);
  // older menus cannot be answered any more
  for (const b of ui.log.querySelectorAll(".choices button")) b.disabled = true;
  const li = document.createElement("li");
  li.className = `line ${line.sender}`;
  li.dataset.line = String(line.line);
  const who = document.createElement("span");
  who.className = "who";
  who.textContent = WHO[line.sender] || line.sender;
  const text = document.createElement("span");
  text.className = "text";
  text.textContent = line.text;
  li.append(who, text);
  if (Array.isArray(line.choices) && line.choices.length && !ended) {
    const row = document.createElement("div");
    row.className = "choices";
    for (const choice of line.choices) {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = choice.label === choice.key ? choice.key : `${choice.key}. ${choice.label}`;
      b.addEventListener("click", () => sendText(choice.key));
      row.append(b);
    }
    li.append(row);
  }
  ui.log.append(li);
  ui.log.scrollTop = ui.log.scrollHeight;
  transcript.push({ who: who.textContent, text: line.text, ts: line.ts });
}

function showTyping(on) {
  clearTimeout(typingShownTimer);
  ui.typing.hidden = !on;
  if (on) typingShownTimer = setTimeout(() => { ui.typing.hidden = true; }, TYPING_SHOWN_MS);
}

function sendText(text) {
  const clean = text.trim();
  if (!clean || ended) return;
  if (!send({ type: "message", text: clean })) {
    showError("Not connected; your message was not sent. Please try again in a moment.");
    return;
  }
  showError("");
  stopTyping();
}

function stopTyping() {
  clearTimeout(typingTimer);
  if (typingSent) send({ type: "typing", typing: false });
  typingSent = false;
}

ui.startForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const name = ui.name.value.trim();
  const question = ui.question.value.trim();
  if (!name || !question) return;
  pendingStart = { type: "start", name, question };
  showChat();
  if (ws && ws.readyState === WebSocket.OPEN) send(pendingStart);
  else if (!ws || ws.readyState >= WebSocket.CLOSING) connect();
  ui.text.focus();
});

ui.sendForm.addEventListener("submit", (event) => {
  event.preventDefault();
  const text = ui.text.value;
  if (!text.trim()) return;
  sendText(text);
  ui.text.value = "";
});

ui.text.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey) {
    event.preventDefault();
    ui.sendForm.requestSubmit();
  }
});

ui.text.addEventListener("input", () => {
  if (!typingSent && ui.text.value.trim()) {
    typingSent = send({ type: "typing", typing: true });
  }
  clearTimeout(typingTimer);
  typingTimer = setTimeout(stopTyping, TYPING_IDLE_MS);
});

ui.leave.addEventListener("click", () => {
  if (!ended) send({ type: "leave" });
});

ui.save.addEventListener("click", () => {
  const text = transcript
    .map((l) => `[${new Date(l.ts * 1000).toLocaleTimeString()}] ${l.who}: ${l.text}`)
    .join("\n");
  const url = URL.createObjectURL(new Blob([text + "\n"], { type: "text/plain" }));
  const a = document.createElement("a");
  a.href = url;
  a.download = "chat-transcript.txt";
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
});

if (saved) {
  // a reload (or a new tab of the same session) resumes the chat in progress
  showChat();
  saved.lastSeq = 0; // the page is new: ask for everything still kept
  connect();
}
