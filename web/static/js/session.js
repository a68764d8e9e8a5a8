// The signed-in session of this browser tab: {token, user, url}, kept in sessionStorage so
// a reload stays signed in, and the WebSocket URL of the server that served the page.

const SESSION_KEY = "parley.session";

/** defaultWsUrl is the WebSocket endpoint of the server this page came from. */
export const defaultWsUrl = () => `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`;

/** loadSession returns the saved session, or null when there is none (or it is unreadable). */
export function loadSession() {
  try {
    return JSON.parse(sessionStorage.getItem(SESSION_KEY) || "null");
  } catch {
    return null;
  }
}

/** saveSession keeps session for reloads of this tab. */
export function saveSession(session) {
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
}

/** clearSession forgets the saved session. */
export function clearSession() {
  sessionStorage.removeItem(SESSION_KEY);
}
