// The sign-in form both pages share, and the header's user name and log-out button.
import { byId } from "./dom.js";

/**
 * Wire the page's #login-form. On a login whose role is not in `roles` the form refuses
 * it (the token is dropped) and says which page to use instead.
 * @param {import("./session.js").Session} session
 * @param {{roles: string[], pageName: string, onLogin: () => void, onLogout: () => void}} opts
 */
export function setupLogin(session, { roles, pageName, onLogin, onLogout }) {
  const form = /** @type {HTMLFormElement} */ (byId("login-form"));
  const error = byId("login-error");
  const button = /** @type {HTMLButtonElement} */ (form.querySelector("button[type=submit]"));
  const loginView = byId("login-view");
  const mainView = byId("main-view");
  const who = byId("who");
  const userName = byId("user-name");

  function show() {
    const user = session.user;
    loginView.hidden = !!user;
    mainView.hidden = !user;
    who.hidden = !user;
    userName.textContent = user ? `${user.display_name} (${user.role})` : "";
    if (!user) {
      const field = /** @type {HTMLInputElement} */ (byId("username"));
      field.focus();
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    button.disabled = true;
    const data = new FormData(form);
    try {
      const user = await session.login(String(data.get("username")), String(data.get("password")));
      if (!roles.includes(user.role)) {
        session.logout();
        error.textContent =
          `User ${user.user_id} is ${user.role === "agent" ? "an" : "a"} ${user.role}; ` +
          `the ${pageName} page needs one of: ${roles.join(", ")}.`;
        return;
      }
      form.reset();
      show();
      onLogin();
    } catch (exc) {
      error.textContent = exc instanceof Error ? exc.message : String(exc);
    } finally {
      button.disabled = false;
    }
  });

  byId("logout").addEventListener("click", () => {
    onLogout();
    session.logout();
    show();
  });

  show();
  if (session.user && roles.includes(session.user.role)) onLogin();
  return { show };
}
