// Toasts: errors and notices shown unobtrusively at the bottom of the screen and gone after
// a few seconds, and describe, which turns a protocol error into a sentence for them.

import { h } from "./format.js";
import { $ } from "./dom.js";

/** toast shows text for five seconds; kind is "error" (an alert) or "info" (a status). */
export function toast(text, kind = "error") {
  const el = h("div", { class: `toast ${kind}`, role: kind === "error" ? "alert" : "status" }, text);
  $("toasts").append(el);
  setTimeout(() => el.classList.add("leaving"), 4500);
  setTimeout(() => el.remove(), 5000);
}

/** describe says in words what went wrong, from the error's protocol code when it has one. */
export function describe(err) {
  if (!err) return "Something went wrong";
  const byCode = {
    forbidden: "You are not a member of that conversation.",
    not_found: "That conversation does not exist.",
    too_large: "That is over the limit.",
    rate_limited: "Slow down a little, then try again.",
    internal: "The server had a problem; try again.",
    disconnected: "Not connected; try again in a moment.",
    timeout: "The server did not answer in time.",
  };
  // Version 1.1: edit, delete and react name a message, not a conversation.
  if (err.code === "not_found" && ["edit", "delete", "react"].includes(err.action)) return "That message was deleted, or does not exist.";
  if (err.code === "forbidden" && ["edit", "delete"].includes(err.action)) return "Only its sender can change a message.";
  if (err.code === "bad_request" || err.code === "too_large") return err.message || byCode[err.code];
  return byCode[err.code] || err.message || String(err);
}
