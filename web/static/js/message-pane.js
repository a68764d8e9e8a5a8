// The conversation pane: the header (avatar, title, presence or members), the typing
// indicator, the messages grouped by day and sender with their sent / delivered / read
// marks, the sends still in the outbox, and history paging as the user scrolls up. It keeps
// the view at the newest message unless the user has scrolled away ("jump" brings it back).

import { DisconnectedError } from "./protocol.js";
import { DM, GROUP, pendingFor } from "./store.js";
import { h, clock, dayLabel, sameDay, lastSeen, paintAvatar, hue } from "./format.js";
import { $, NodeCache, setChildren } from "./dom.js";
import { toast, describe } from "./toast.js";

/** Messages closer together than this from the same sender share one group. */
const GROUP_GAP_MS = 5 * 60_000;

/**
 * MessagePane renders the open conversation of a ChatContext and loads its history; it
 * reports what it loads to receipts (a Receipts). onBack closes the conversation.
 */
export class MessagePane {
  constructor(ctx, receipts, { onBack }) {
    this.ctx = ctx;
    this.receipts = receipts;
    this.nodes = new NodeCache(); // message key -> {sig, el}
    this.loadingHistory = new Set(); // ids of the conversations whose history is being fetched
    // ids of the conversations scrolled to the top while their first page was loading
    // (the messages sync replays can show before it): their older page follows it.
    this.olderWanted = new Set();
    /** Set stickToBottom to scroll to the newest message at the next render. */
    this.stickToBottom = true;

    $("back").addEventListener("click", onBack);
    $("messages").addEventListener("scroll", () => {
      const list = $("messages");
      const c = ctx.store?.get(ctx.activeId);
      if (c && list.scrollTop < 120 && c.next) this.loadHistory(c, true);
      else if (c && list.scrollTop < 120 && c.next === undefined) this.olderWanted.add(c.id);
      $("jump").hidden = list.scrollHeight - list.scrollTop - list.clientHeight < 200;
    });
    $("jump").addEventListener("click", () => {
      const list = $("messages");
      list.scrollTo({ top: list.scrollHeight, behavior: "smooth" });
    });
  }

  /** clear empties the pane and forgets its cached nodes (on sign-out). */
  clear() {
    this.nodes.clear();
    $("message-list").replaceChildren();
  }

  /**
   * loadHistory fetches the newest page of c's history, or with older the page before the
   * oldest one loaded, keeping the scroll position while older messages are added on top.
   */
  async loadHistory(c, older) {
    if (c.draft || this.loadingHistory.has(c.id)) return;
    if (older && !c.next) return;
    this.loadingHistory.add(c.id);
    c.loadingOlder = older;
    this.ctx.render();
    const list = $("messages");
    const anchor = older && c.id === this.ctx.activeId ? list.scrollHeight - list.scrollTop : null;
    try {
      const r = await this.ctx.client.history(c.id, older ? c.next : undefined);
      this.ctx.store.history(r);
      if (older || c.next === undefined) c.next = r.next || "";
      const newest = (r.messages || [])[0];
      if (newest) this.receipts.queueDelivered(c, newest.messageId);
    } catch (err) {
      if (!(err instanceof DisconnectedError)) toast(`Could not load messages: ${describe(err)}`);
    } finally {
      this.loadingHistory.delete(c.id);
      c.loadingOlder = false;
    }
    this.ctx.renderNow();
    if (anchor !== null && c.id === this.ctx.activeId) list.scrollTop = list.scrollHeight - anchor;
    this.receipts.markReadIfVisible();
    if (!older && this.olderWanted.delete(c.id) && c.next) this.loadHistory(c, true);
  }

  /** render shows the open conversation, or the welcome screen when none is open. */
  render() {
    const { client, store, activeId } = this.ctx;
    const c = store.get(activeId);
    $("pane-empty").hidden = !!c;
    $("pane-conv").hidden = !c;
    if (!c) {
      $("app").classList.remove("pane-open");
      return;
    }
    const title = store.title(c);
    paintAvatar($("conv-avatar"), title, c.kind === GROUP);
    $("conv-title").textContent = title;
    $("pane-conv").dataset.kind = c.kind;
    $("add-members").hidden = c.kind !== GROUP;
    $("leave").hidden = c.kind !== GROUP;

    // Subtitle: presence for a direct conversation, members for a group.
    const sub = $("conv-subtitle");
    const typers = store.typers(c);
    sub.classList.remove("online");
    if (c.kind === DM) {
      const pr = store.presence.get(c.peer);
      sub.textContent = pr ? (pr.online ? "online" : lastSeen(pr.lastSeen)) : "";
      sub.classList.toggle("online", !!pr?.online);
      const dot = h("span", { class: `presence ${pr?.online ? "online" : "offline"}` });
      $("conv-avatar").append(dot);
    } else {
      const n = c.members?.length || c.memberCount;
      sub.textContent = c.members ? `${n} members · ${c.members.slice(0, 6).join(", ")}${c.members.length > 6 ? "…" : ""}` : `${n} members`;
    }

    // Typing indicator.
    $("typing").hidden = typers.length === 0;
    $("typing-text").textContent =
      typers.length === 0 ? "" : typers.length === 1 ? (c.kind === DM ? `${typers[0]} is typing` : `${typers[0]} is typing`) : `${typers.slice(0, 3).join(", ")} are typing`;

    // History state at the top.
    const hs = $("history-state");
    if (c.draft) hs.textContent = `This is the start of your conversation with ${c.peer}.`;
    else if (c.loadingOlder || (this.loadingHistory.has(c.id) && c.next === undefined)) hs.textContent = "Loading…";
    else if (c.next === "") hs.textContent = c.messages.size ? "Beginning of the conversation" : "No messages yet. Say hello!";
    else hs.textContent = "";
    hs.classList.toggle("start", c.next === "" || c.draft);

    // Messages.
    const list = $("messages");
    const atBottom = this.stickToBottom || list.scrollHeight - list.scrollTop - list.clientHeight < 60;
    const nodes = [];
    const msgs = c.ordered();
    let prev = null;
    const seen = new Set();
    const pushDay = (t) => {
      const label = dayLabel(t);
      nodes.push(this.nodes.node(`d:${new Date(t).toDateString()}`, label, () => h("div", { class: "day" }, h("span", {}, label))));
    };
    for (const m of msgs) {
      if (!prev || !sameDay(prev.createdAt, m.createdAt)) pushDay(m.createdAt);
      const own = m.senderId === store.me;
      const first = !prev || prev.senderId !== m.senderId || m.createdAt - prev.createdAt > GROUP_GAP_MS || !sameDay(prev.createdAt, m.createdAt);
      const st = own ? store.status(c, m) : null;
      const sig = JSON.stringify([first, st, m.body, c.kind]);
      nodes.push(
        this.nodes.node(`m:${m.messageId}`, sig, () => {
          const meta = h("span", { class: "meta" }, h("time", { datetime: new Date(m.createdAt).toISOString(), title: new Date(m.createdAt).toLocaleString() }, clock(m.createdAt)));
          if (own) {
            if (c.kind === GROUP && st.readBy > 0) meta.append(h("span", { class: "read-by" }, st.readBy >= st.others ? "read by all" : `read by ${st.readBy}`));
            meta.append(ticks(st.mark));
          }
          return h(
            "div",
            { class: `msg ${own ? "own" : "other"}${first ? " first" : ""}`, dataset: { id: m.messageId, status: st?.mark || "" } },
            h("div", { class: "bubble" }, c.kind === GROUP && !own && first ? h("div", { class: "sender", style: { "--hue": String(hue(m.senderId)) } }, m.senderId) : null, h("span", { class: "text" }, m.body ?? ""), meta),
          );
        }),
      );
      seen.add(m.clientMsgId);
      prev = m;
    }
    for (const e of pendingFor(client.outbox.items, c)) {
      if (seen.has(e.clientMsgId)) continue;
      if (prev && !sameDay(prev.createdAt, e.createdAt)) pushDay(e.createdAt);
      const first = !prev || prev.senderId !== store.me;
      nodes.push(
        this.nodes.node(`p:${e.clientMsgId}`, JSON.stringify([first]), () =>
          h(
            "div",
            { class: `msg own pending${first ? " first" : ""}`, dataset: { clientMsgId: e.clientMsgId } },
            h(
              "div",
              { class: "bubble" },
              h("span", { class: "text" }, e.body),
              h("span", { class: "meta" }, h("time", {}, clock(e.createdAt)), h("span", { class: "ticks pending", title: "Sending", "aria-label": "Sending" })),
            ),
          ),
        ),
      );
      prev = { senderId: store.me, createdAt: e.createdAt };
    }
    setChildren($("message-list"), nodes);
    if (atBottom) list.scrollTop = list.scrollHeight;
    this.stickToBottom = false;
    $("jump").hidden = atBottom || list.scrollHeight - list.scrollTop - list.clientHeight < 200;
  }
}

/** ticks is the mark of one of our own messages: "sent", "delivered" or "read". */
function ticks(mark) {
  const label = { sent: "Sent", delivered: "Delivered", read: "Read" }[mark];
  return h("span", { class: `ticks ${mark}`, title: label, "aria-label": label }, mark === "sent" ? "✓" : "✓✓");
}
