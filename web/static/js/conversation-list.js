// The sidebar: the signed-in user and the connection state at the top, the search filter,
// and the conversation list (newest activity first) with avatar, presence dot, preview of
// the last message or of who is typing, time and unread badge. It sets the page title to
// the unread count.

import { DM, GROUP, pendingFor } from "./store.js";
import { h, shortWhen, paintAvatar } from "./format.js";
import { $, NodeCache, setChildren, conversationVisible } from "./dom.js";

/** ConversationList renders the sidebar from a ChatContext; onOpen(id) opens a conversation. */
export class ConversationList {
  constructor(ctx, { onOpen }) {
    this.ctx = ctx;
    this.onOpen = onOpen;
    this.nodes = new NodeCache(); // conversationId -> {sig, el}
    $("filter").addEventListener("input", () => ctx.render());
  }

  /** showUser names the signed-in user at the top. */
  showUser(user) {
    $("me-name").textContent = user;
    paintAvatar($("me-avatar"), user);
  }

  /** showState shows the connection state of a protocol "state" event. */
  showState({ state, attempt, everOpened }) {
    const el = $("conn-state");
    el.dataset.state = state;
    if (state === "open") el.textContent = "Online";
    else if (state === "connecting") el.textContent = attempt > 0 ? "Reconnecting…" : "Connecting…";
    else if (!everOpened && attempt >= 3) el.textContent = "Cannot connect — is the token valid?";
    else el.textContent = "Offline · retrying";
    $("app").dataset.conn = state;
  }

  /** clear empties the list and forgets its cached nodes (on sign-out). */
  clear() {
    this.nodes.clear();
    $("conv-list").replaceChildren();
  }

  previewOf(c) {
    const { client, store } = this.ctx;
    const typers = store.typers(c);
    if (typers.length) return { text: c.kind === DM ? "typing…" : `${typers[0]} is typing…`, typing: true };
    const pend = pendingFor(client.outbox.items, c);
    const last = c.lastMessage;
    if (pend.length && (!last || pend[pend.length - 1].createdAt >= last.createdAt)) return { text: `You: ${pend[pend.length - 1].body}` };
    if (!last) return { text: c.draft ? "New conversation" : c.kind === GROUP ? `${c.memberCount || c.members?.length || 0} members` : "No messages yet" };
    const who = last.senderId === store.me ? "You: " : c.kind === GROUP ? `${last.senderId}: ` : "";
    return { text: who + (last.deleted ? "Message deleted" : (last.body ?? "")), time: last.createdAt };
  }

  /** render brings the list up to date with the store. */
  render() {
    const { store, activeId } = this.ctx;
    const filter = $("filter").value.trim().toLowerCase();
    const items = [];
    const all = store.list();
    for (const c of all) {
      const title = store.title(c);
      if (filter && !title.toLowerCase().includes(filter)) continue;
      const p = this.previewOf(c);
      const unread = c.id === activeId && conversationVisible() ? 0 : c.unread;
      const pr = c.kind === DM && c.peer ? store.presence.get(c.peer) : undefined;
      const sig = JSON.stringify([title, c.kind, c.peer, pr?.online, c.id === activeId, unread, p.text, p.typing, shortWhen(p.time || c.sortKey())]);
      items.push(
        this.nodes.node(c.id, sig, () => {
          const avatar = paintAvatar(h("div", { class: "avatar" }), title, c.kind === GROUP);
          if (c.kind === DM && c.peer) avatar.append(h("span", { class: `presence ${pr?.online ? "online" : "offline"}`, title: pr?.online ? "online" : "offline" }));
          return h(
            "button",
            {
              type: "button",
              class: `conv${c.id === activeId ? " active" : ""}${unread ? " unread" : ""}`,
              dataset: { id: c.id, title },
              onclick: () => this.onOpen(c.id),
            },
            avatar,
            h(
              "div",
              { class: "conv-main" },
              h("div", { class: "row" }, h("span", { class: "conv-name" }, title), h("time", { class: "conv-time" }, shortWhen(p.time || c.sortKey()))),
              h(
                "div",
                { class: "row" },
                h("span", { class: `preview${p.typing ? " typing-preview" : ""}` }, p.text),
                unread ? h("span", { class: "badge", "aria-label": `${unread} unread` }, unread >= 100 ? "99+" : String(unread)) : null,
              ),
            ),
          );
        }),
      );
    }
    setChildren($("conv-list"), items);
    $("conv-empty").hidden = all.length > 0;
    $("conv-list").hidden = all.length === 0;
    const totalUnread = all.reduce((n, c) => n + (c.id === activeId ? 0 : c.unread), 0);
    document.title = `${totalUnread ? `(${totalUnread}) ` : ""}Parley · ${store.me}`;
  }
}
