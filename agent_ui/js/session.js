// Login and authenticated requests. The token lives in sessionStorage under a key per page,
// so the agent and supervisor pages of one browser keep separate logins and a reload keeps
// the login of its tab.

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
    /** @type {{token: string, user_id: string, role: string, display_name: string, expires_at: number} | null} */
    this.user = null;
    try {
      const saved = JSON.parse(sessionStorage.getItem(this.key) || "null");
      if (saved && saved.token && saved.expires_at > Date.now() / 1000 + 5) this.user = saved;
    } catch {
      this.user = null;
    }
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
    const body = await resp.json();
    this.user = {
      token: String(body.token),
      user_id: String(body.user_id),
      role: String(body.role),
      display_name: String(body.display_name || body.user_id),
      expires_at: Number(body.expires_at),
    };
    sessionStorage.setItem(this.key, JSON.stringify(this.user));
    return this.user;
  }

  logout() {
    this.user = null;
    sessionStorage.removeItem(this.key);
  }

  /** GET a JSON resource with the bearer token; AuthError when the login is no longer valid. */
  async get(path) {
    if (!this.token) throw new AuthError("not logged in");
    const resp = await fetch(path, { headers: { Authorization: `Bearer ${this.token}` } });
    if (resp.status === 401) {
      this.logout();
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
  if (!session.token) throw new AuthError("not logged in");
  const resp = await fetch(path, {
    method,
    headers: { Authorization: `Bearer ${session.token}`, "Content-Type": "application/json" },
    body: JSON.stringify(body ?? {}),
  });
  if (resp.status === 401) {
    session.logout();
    throw new AuthError("the login has expired; sign in again");
  }
  if (!resp.ok) throw await apiError(resp);
  return resp.json();
}

/** GET a file (e.g. a CSV report) with the bearer token, as a Blob. */
export async function getBlob(session, path) {
  if (!session.token) throw new AuthError("not logged in");
  const resp = await fetch(path, { headers: { Authorization: `Bearer ${session.token}` } });
  if (!resp.ok) throw await apiError(resp);
  return resp.blob();
}
