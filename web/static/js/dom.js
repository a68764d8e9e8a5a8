// DOM helpers the views share: element lookup by id, the node cache that lets a render
// rebuild only what changed, whether the user can see the open conversation, and the
// confirmation dialog.

/** $ returns the element with the given id. */
export const $ = (id) => document.getElementById(id);

/**
 * NodeCache keeps rendered nodes by key with a signature of what they show, so rendering
 * rebuilds only what changed. With setChildren, which replaces a container's children only
 * when the sequence differs, this keeps clicks, selections and scroll positions stable while
 * events stream in.
 */
export class NodeCache {
  constructor() {
    this.entries = new Map(); // key -> {sig, el}
  }

  /** node returns the cached element for key if its signature is sig, else build()'s. */
  node(key, sig, build) {
    const hit = this.entries.get(key);
    if (hit && hit.sig === sig) return hit.el;
    const el = build();
    this.entries.set(key, { sig, el });
    return el;
  }

  /** clear forgets every cached node. */
  clear() {
    this.entries.clear();
  }
}

/** setChildren makes nodes the children of parent, touching the DOM only if they differ. */
export function setChildren(parent, nodes) {
  const cur = parent.children;
  if (cur.length === nodes.length && nodes.every((n, i) => cur[i] === n)) return;
  parent.replaceChildren(...nodes);
}

/**
 * conversationVisible reports whether the user sees the open conversation: the page is
 * visible and focused and the conversation pane is shown.
 */
export function conversationVisible() {
  if (document.visibilityState !== "visible" || !document.hasFocus()) return false;
  // On a phone-sized screen the pane shows only when a conversation is open.
  return !$("pane-conv").hidden;
}

/**
 * confirmAction asks in the confirmation dialog; it resolves true when the user chose the
 * action (whose button says ok), false when they cancelled.
 */
export function confirmAction({ title, text, ok }) {
  const cd = $("confirm-dialog");
  $("confirm-title").textContent = title;
  $("confirm-text").textContent = text;
  $("confirm-ok").textContent = ok;
  cd.returnValue = "";
  cd.showModal();
  return new Promise((resolve) => cd.addEventListener("close", () => resolve(cd.returnValue === "ok"), { once: true }));
}
