// The sign-in screen: a user name, for which the local runtime hands out a token
// (/local/token), or a pasted token and WebSocket URL for any other server. A successful
// sign-in is saved for reloads (session.js) and handed to the controller.

import { tokenSubject } from "./protocol.js";
import { $ } from "./dom.js";
import { defaultWsUrl, saveSession } from "./session.js";

const LAST_USER_KEY = "parley.lastUser";

/** setupLogin wires the sign-in form; onSession gets each new {token, user, url}. */
export function setupLogin(onSession) {
  $("login-form").addEventListener("submit", (ev) => onLogin(ev, onSession));
}

/** showLogin hides the chat and shows the sign-in screen, with message as its error if set. */
export function showLogin(message) {
  $("app").hidden = true;
  $("login").hidden = false;
  $("login-url").value = $("login-url").value || defaultWsUrl();
  $("login-user").value = localStorage.getItem(LAST_USER_KEY) || "";
  setLoginError(message);
  $("login-user").focus();
}

function setLoginError(text) {
  $("login-error").hidden = !text;
  $("login-error").textContent = text || "";
}

async function onLogin(ev, onSession) {
  ev.preventDefault();
  setLoginError("");
  const url = $("login-url").value.trim() || defaultWsUrl();
  const pasted = $("login-token").value.trim();
  const button = $("login-submit");
  button.disabled = true;
  try {
    let token;
    let user;
    if (pasted) {
      user = tokenSubject(pasted);
      if (!user) throw new Error("That token has no user (sub claim).");
      token = pasted;
    } else {
      const name = $("login-user").value.trim();
      if (!/^[A-Za-z0-9_.@-]{1,64}$/.test(name)) throw new Error("Pick a name of 1 to 64 letters, digits or _ . @ -");
      let res;
      try {
        res = await fetch(`/local/token?user=${encodeURIComponent(name)}`, { headers: { Accept: "application/json" } });
      } catch {
        throw new Error("Cannot reach the server.");
      }
      if (res.status === 404) {
        $("login-advanced").open = true;
        throw new Error("This server does not hand out tokens. Paste a token below.");
      }
      const body = await res.json().catch(() => ({}));
      if (!res.ok || !body.token) throw new Error(body.message || body.error || `The server refused (${res.status}).`);
      token = body.token;
      user = body.user || name;
    }
    localStorage.setItem(LAST_USER_KEY, user);
    const session = { token, user, url };
    saveSession(session);
    onSession(session);
  } catch (err) {
    setLoginError(err.message);
  } finally {
    button.disabled = false;
  }
}
