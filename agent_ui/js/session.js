// Login and authenticated requests. The session lives in sessionStorage under a key per
// page, so the agent and supervisor pages of one browser keep separate logins and a reload
// keeps the login of its tab. A login is a stored server session: its access token lives
// minutes (expires_at) and is renewed with the refresh token (POST /api/session/refresh)
// a minute before it expires (half-way through a shorter one), until the session ends (session_expires_at), the user logs
// out (POST /api/logout) or the server revokes it (a 401 then signs the page out).

const RENEW_BEFORE_S = 60;

export class AuthError extends Error {}

export class ApiError extends Error {
  /** @param {number} status @param {string} code @param {string} message */
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** The server's {"error": {"code", "message"}} body as an ApiError. @param {Response} resp */
async function apiError(resp) {
  let code = "http_" + resp.status;
  let message = resp.statusText || "request failed";
  try {
    const body = await resp.json();
    if (body && body.error) {
      code = String(body.error.code || code);
      message = String(body.error.message || message);
    }
  } catch {
    // not JSON: keep the status text
  }
  return new ApiError(resp.status, code, message);
}

export class Session {
  /** @param {string} page a key: "agent" or "supervisor" */
  constructor(page) {
    this.key = `contactcenter.session.${page}`;
    /**
     * @type {{token: string, refresh_token: string, user_id: string, role: string,
     *   display_name: string, expires_at: number, session_expires_at: number,
     *   renew_at: number} | null}
     */
    this.user = null;
    /** @type {Promise<string | null> | null} a renewal under way */
    this.renewing = null;
    this.renewTimer = 0;
    try {
      const saved = JSON.parse(sessionStorage.getItem(this.key) || "null");
      const now = Date.now() / 1000;
      if (saved && saved.token && saved.refresh_token && saved.session_expires_at > now + 5) {
        this.user = saved;
        this.scheduleRenewal();
      }
    } catch {
      this.user = null;
    }
  }

  /** @param {any} body a login or refresh answer */
  remember(body) {
    const now = Date.now() / 1000;
    const life = Math.max(0, Number(body.expires_at) - now);
    this.user = {
      token: String(body.token),
      refresh_token: String(body.refresh_token),
      user_id: String(body.user_id),
      role: String(body.role),
      display_name: String(body.display_name || body.user_id),
      expires_at: Number(body.expires_at),
      session_expires_at: Number(body.session_expires_at),
      // a minute before expiry, or half-way through a token that lives less than two
      renew_at: now + Math.max(life / 2, life - RENEW_BEFORE_S),
    };
    sessionStorage.setItem(this.key, JSON.stringify(this.user));
    this.scheduleRenewal();
    return this.user;
  }

  scheduleRenewal() {
    clearTimeout(this.renewTimer);
    if (!this.user) return;
    const due = this.user.renew_at * 1000 - Date.now();
    this.renewTimer = window.setTimeout(() => { this.freshToken().catch(() => {}); },
      Math.max(0, due));
  }

  /** An access token good for a while yet: renewed first when it is about to expire. */
  async freshToken() {
    if (!this.user) return null;
    if (this.user.renew_at > Date.now() / 1000) return this.user.token;
    if (!this.renewing) {
      this.renewing = this.renew().finally(() => { this.renewing = null; });
    }
    return this.renewing;
  }

  async renew() {
    if (!this.user) return null;
    let resp;
    try {
      resp = await fetch("/api/session/refresh", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ refresh_token: this.user.refresh_token }),
      });
    } catch {
      // the network: keep the token while it lasts, try again shortly
      this.renewTimer = window.setTimeout(() => { this.freshToken().catch(() => {}); }, 5000);
      return this.token;
    }
    if (resp.status === 401) {
      this.forget();
      return null;
    }
    if (!resp.ok) return this.token;
    return this.remember(await resp.json()).token;
  }

  /** The bearer token, or null when not logged in or expired. */
  get token() {
    if (!this.user || this.user.expires_at <= Date.now() / 1000) return null;
    return this.user.token;
  }

  /** @param {string} username @param {string} password */
  async login(username, password) {
    const resp = await fetch("/api/login", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ username, password }),
    });
    if (!resp.ok) throw await apiError(resp);
    return this.remember(await resp.json());
  }

  /** End the session on the server too (its sockets close) and forget it here. */
  logout() {
    const token = this.token;
    if (token) {
      fetch("/api/logout", { method: "POST", headers: { Authorization: `Bearer ${token}` } })
        .catch(() => {});
    }
    this.forget();
  }

  /** Forget the session here only (the server refused it already). */
  forget() {
    clearTimeout(this.renewTimer);
    this.user = null;
    sessionStorage.removeItem(this.key);
  }

  /** GET a JSON resource with the bearer token; AuthError when the login is no longer valid. */
  async get(path) {
    const token = await this.freshToken();
    if (!token) throw new AuthError("not logged in");
    const resp = await fetch(path, { headers: { Authorization: `Bearer ${token}` } });
    if (resp.status === 401) {
      this.forget();
      throw new AuthError("the login has expired; sign in again");
    }
    if (!resp.ok) throw await apiError(resp);
    return resp.json();
  }
}

/**
 * Send JSON with the bearer token (POST, PUT); resolves with the JSON answer, throws
 * ApiError with the server's code and message, AuthError when the login is gone.
 * @param {import("./session.js").Session} session @param {string} method @param {string} path
 * @param {unknown} body
 */
export async function sendJson(session, method, path, body) {
  const token = await session.freshToken();
  if (!token) throw new AuthError("not logged in");
  const resp = await fetch(path, {
    method,
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: JSON.stringify(body ?? {}),
  });
  if (resp.status === 401) {
    session.forget();
    throw new AuthError("the login has expired; sign in again");
  }
  if (!resp.ok) throw await apiError(resp);
  return resp.json();
}

/** GET a file (e.g. a CSV report) with the bearer token, as a Blob. */
export async function getBlob(session, path) {
  const token = await session.freshToken();
  if (!token) throw new AuthError("not logged in");
  const resp = await fetch(path, { headers: { Authorization: `Bearer ${token}` } });
  if (!resp.ok) throw await apiError(resp);
  return resp.blob();
}
