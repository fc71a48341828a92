// The read-only wallboard screen: the queue tiles only, large, from the push feed. Its
// token is a long-lived wallboard token (an admin issues it; it can read the feed and
// nothing else) given in the URL fragment, which never reaches the server's logs; it is
// kept in this tab's sessionStorage and removed from the address bar.
import { renderTiles, tickTiles } from "./board.js";
import { CampaignPoller, getJson, renderCampaignTiles } from "./campaigns.js";
import { byId } from "./dom.js";
import { WallboardFeed } from "./feed.js";

const KEY = "contactcenter.wallboard.token";
const fragment = new URLSearchParams(location.hash.slice(1));
if (fragment.get("token")) {
  sessionStorage.setItem(KEY, String(fragment.get("token")));
  history.replaceState(null, "", location.pathname);
}

function token() {
  const own = sessionStorage.getItem(KEY);
  if (own) return own;
  // a supervisor signed in on the supervisor page of this tab may use the screen too
  try {
    const saved = JSON.parse(sessionStorage.getItem("contactcenter.session.supervisor") || "null");
    return saved && saved.token ? String(saved.token) : null;
  } catch {
    return null;
  }
}

const tiles = byId("tiles");
const period = Number(new URLSearchParams(location.search).get("period")) || null;
const feed = new WallboardFeed(token, period);

if (!token()) {
  byId("no-token").hidden = false;
} else {
  feed.addEventListener("state", (event) => {
    const { state } = /** @type {CustomEvent} */ (event).detail;
    const live = byId("live");
    live.textContent = state === "connected" ? "live" : state;
    live.dataset.state = state;
  });
  feed.addEventListener("auth", () => {
    sessionStorage.removeItem(KEY);
    byId("no-token").hidden = false;
  });
  feed.addEventListener("change", (event) => {
    renderTiles(tiles, feed, /** @type {CustomEvent} */ (event).detail);
    tiles.dataset.messages = String(feed.messages);
  });
  feed.start();
  // running outbound campaigns: a compact tile each (GET /api/campaigns and /stats accept
  // the wallboard token); a server or token that refuses them leaves the section hidden
  const campaigns = new CampaignPoller((path) => {
    const current = token();
    return current ? getJson(current, path) : Promise.reject(new Error("no token"));
  });
  campaigns.addEventListener("change", () => {
    const box = byId("campaign-tiles");
    renderCampaignTiles(box, campaigns.campaigns, campaigns.stats);
    byId("campaign-section").hidden = box.hidden;
    box.dataset.rounds = String(campaigns.rounds);
  });
  campaigns.start();
  setInterval(() => {
    tickTiles(tiles, feed);
    byId("clock").textContent = new Date(feed.now() * 1000).toLocaleTimeString();
  }, 1000);
}
