// Small presentation helpers: element building, times, avatars.

/** h builds an element: h("div", {class: "x", onclick}, child, "text", …). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "dataset") Object.assign(el.dataset, v);
    else if (k === "style" && typeof v === "object") for (const [p, val] of Object.entries(v)) el.style.setProperty(p, val);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit" });
const weekdayFmt = new Intl.DateTimeFormat(undefined, { weekday: "short" });
const dateFmt = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short" });
const longDateFmt = new Intl.DateTimeFormat(undefined, { weekday: "long", day: "numeric", month: "long", year: "numeric" });

function startOfDay(t) {
  const d = new Date(t);
  d.setHours(0, 0, 0, 0);
  return d.getTime();
}

/** clock formats a time as hours and minutes. */
export function clock(ms) {
  return ms ? timeFmt.format(new Date(ms)) : "";
}

/** shortWhen formats a time for the conversation list: a clock today, else a day or date. */
export function shortWhen(ms, now = Date.now()) {
  if (!ms) return "";
  const days = Math.round((startOfDay(now) - startOfDay(ms)) / 86_400_000);
  if (days <= 0) return clock(ms);
  if (days === 1) return "Yesterday";
  if (days < 7) return weekdayFmt.format(new Date(ms));
  return dateFmt.format(new Date(ms));
}

/** dayLabel names the day of a time for separators in the message list. */
export function dayLabel(ms, now = Date.now()) {
  const days = Math.round((startOfDay(now) - startOfDay(ms)) / 86_400_000);
  if (days <= 0) return "Today";
  if (days === 1) return "Yesterday";
  return longDateFmt.format(new Date(ms));
}

/** sameDay reports whether two times fall on the same local day. */
export function sameDay(a, b) {
  return startOfDay(a) === startOfDay(b);
}

/** lastSeen describes when a user was last active. */
export function lastSeen(ms, now = Date.now()) {
  if (!ms) return "offline";
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 60) return "last seen just now";
  if (s < 3600) return `last seen ${Math.round(s / 60)} min ago`;
  if (sameDay(ms, now)) return `last seen today at ${clock(ms)}`;
  return `last seen ${shortWhen(ms, now)}`;
}

/** initials of a user id or conversation title, for avatars. */
export function initials(name) {
  const words = String(name || "?").replace(/[@._-]+/g, " ").trim().split(/\s+/);
  const s = words.length > 1 ? words[0][0] + words[1][0] : words[0].slice(0, 2);
  return s.toUpperCase();
}

/** hue derives a stable avatar colour from a name. */
export function hue(name) {
  let x = 0;
  for (const ch of String(name)) x = (x * 31 + ch.codePointAt(0)) >>> 0;
  return x % 360;
}

/** avatar fills el as the avatar of name (a user or a group). */
export function paintAvatar(el, name, group = false) {
  el.textContent = group ? "" : initials(name);
  el.classList.toggle("group", group);
  el.style.setProperty("--hue", String(hue(name)));
  if (group) el.append(groupIcon());
  return el;
}

function groupIcon() {
  return icon("M9 11a3.5 3.5 0 1 0 0-7 3.5 3.5 0 0 0 0 7zm7.5 0a3 3 0 1 0 0-6M2.5 20c.6-3.6 3.2-5.5 6.5-5.5s5.9 1.9 6.5 5.5m1.5-5.3c2.6.3 4.3 2 4.8 5.3");
}

/** icon builds a decorative 24×24 line icon (hidden from screen readers) from a path. */
export function icon(d) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("aria-hidden", "true");
  const p = document.createElementNS(ns, "path");
  p.setAttribute("d", d);
  p.setAttribute("fill", "none");
  p.setAttribute("stroke", "currentColor");
  p.setAttribute("stroke-width", "1.8");
  p.setAttribute("stroke-linecap", "round");
  p.setAttribute("stroke-linejoin", "round");
  svg.append(p);
  return svg;
}

/** The line icons of the message actions (paths for icon). */
export const ICONS = {
  react: "M12 21a9 9 0 1 0 0-18 9 9 0 0 0 0 18zM8.5 14.2c.9 1.3 2.1 1.9 3.5 1.9s2.6-.6 3.5-1.9M9 9.6v.1M15 9.6v.1",
  reply: "M10 7.5 5 12l5 4.5M5.5 12H14a5 5 0 0 1 5 5v1.5",
  edit: "M4.5 19.5h3.8L18.6 9.2a2.2 2.2 0 0 0-3.8-3.8L4.5 15.7zM13.6 6.6l3.8 3.8",
  delete: "M4.5 7h15M9.5 7V4.8h5V7M6.8 7l.9 12.2h8.6l.9-12.2M10.3 10.8v4.8M13.7 10.8v4.8",
  close: "M6.5 6.5l11 11M17.5 6.5l-11 11",
};

/** parseUsers splits "bob, carol dave" into valid, distinct user ids; it throws on a bad one. */
export function parseUsers(text, me) {
  const out = [];
  for (const raw of String(text).split(/[\s,;]+/)) {
    const u = raw.trim().replace(/^@(?=.)/, "");
    if (!u) continue;
    if (!/^[A-Za-z0-9_.@-]{1,64}$/.test(u)) throw new Error(`"${u}" is not a valid user name (letters, digits, _ . @ -)`);
    if (u !== me && !out.includes(u)) out.push(u);
  }
  return out;
}
