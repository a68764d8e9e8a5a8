// The conversation pane: the header (avatar, title, presence or members), the typing
// indicator, the messages grouped by day and sender with their sent / delivered / read
// marks, the sends still in the outbox, and history paging as the user scrolls up. It keeps
// the view at the newest message unless the user has scrolled away ("jump" brings it back).
//
// Version 1.1: each message shows the quote it answers (a click shows the message quoted),
// "edited", or the "Message deleted" placeholder, and its reactions, one button per emoji
// with its count that toggles ours. Its actions appear on hover or focus: React (a small
// picker), Reply, and on our own messages Edit and Delete. Reply and Edit hand over to the
// composer (onReply, onEdit); delete asks first.

import { DisconnectedError } from "./protocol.js";
import { DM, GROUP, pendingFor } from "./store.js";
import { h, clock, dayLabel, sameDay, lastSeen, paintAvatar, hue, icon, ICONS } from "./format.js";
import { $, NodeCache, setChildren, confirmAction } from "./dom.js";
import { toast, describe } from "./toast.js";

/** Messages closer together than this from the same sender share one group. */
const GROUP_GAP_MS = 5 * 60_000;

/** The reactions the picker offers. */
export const REACTIONS = ["👍", "❤️", "😂", "😮", "😢", "🎉"];

/**
 * MessagePane renders the open conversation of a ChatContext and loads its history; it
 * reports what it loads to receipts (a Receipts). onBack closes the conversation;
 * onReply(c, m) and onEdit(c, m) start a reply to or an edit of message m of c.
 */
export class MessagePane {
  constructor(ctx, receipts, { onBack, onReply, onEdit }) {
    this.ctx = ctx;
    this.receipts = receipts;
    this.onReply = onReply;
    this.onEdit = onEdit;
    this.pickerFor = ""; // messageId whose reaction picker is open
    this.focusNext = ""; // a selector to focus in the message list after the next render
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
    // The picker closes on Escape (focus goes back to its React button) and on a click
    // elsewhere; ← and → move between its emojis.
    $("message-list").addEventListener("keydown", (ev) => {
      if (ev.key === "Escape" && this.pickerFor) {
        ev.preventDefault();
        this.closePicker(true);
      } else if ((ev.key === "ArrowLeft" || ev.key === "ArrowRight") && ev.target.closest?.(".picker")) {
        ev.preventDefault();
        const buttons = [...ev.target.closest(".picker").querySelectorAll("button")];
        const i = buttons.indexOf(ev.target) + (ev.key === "ArrowRight" ? 1 : -1);
        buttons[(i + buttons.length) % buttons.length].focus();
      }
    });
    document.addEventListener("click", (ev) => {
      if (this.pickerFor && !ev.target.closest?.(".picker, .act-react")) this.closePicker(false);
    });
  }

  openPicker(m) {
    this.pickerFor = this.pickerFor === m.messageId ? "" : m.messageId;
    this.focusNext = this.pickerFor ? `.msg[data-id="${m.messageId}"] .picker button` : `.msg[data-id="${m.messageId}"] .act-react`;
    this.ctx.renderNow();
  }

  closePicker(refocus) {
    const id = this.pickerFor;
    this.pickerFor = "";
    if (refocus) this.focusNext = `.msg[data-id="${id}"] .act-react`;
    this.ctx.renderNow();
  }

  /** toggleReaction adds our reaction emoji to m, or removes it when we have it. */
  async toggleReaction(c, m, emoji) {
    const mine = (m.reactions || []).some((r) => r.emoji === emoji && r.mine);
    try {
      await this.ctx.client.react(c.id, m.messageId, emoji, mine ? "remove" : "add");
    } catch (err) {
      toast(`Reaction not saved: ${describe(err)}`);
    }
  }

  async deleteMessage(c, m) {
    const ok = await confirmAction({ title: "Delete this message?", text: "It is deleted for everyone in the conversation. This cannot be undone.", ok: "Delete" });
    if (!ok) return;
    try {
      await this.ctx.client.delete(c.id, m.messageId);
    } catch (err) {
      toast(`Not deleted: ${describe(err)}`);
    }
  }

  /** showMessage scrolls to a loaded message and highlights it for a moment (a quote's target). */
  showMessage(messageId) {
    const el = $("message-list").querySelector(`.msg[data-id="${CSS.escape(messageId)}"]`);
    if (!el) {
      toast("That message is further back in the history.", "info");
      return;
    }
    el.scrollIntoView({ block: "center", behavior: "smooth" });
    el.classList.remove("flash");
    void el.offsetWidth; // restart the animation
    el.classList.add("flash");
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
    const composing = this.ctx.composing;
    for (const m of msgs) {
      if (!prev || !sameDay(prev.createdAt, m.createdAt)) pushDay(m.createdAt);
      const own = m.senderId === store.me;
      const first = !prev || prev.senderId !== m.senderId || m.createdAt - prev.createdAt > GROUP_GAP_MS || !sameDay(prev.createdAt, m.createdAt);
      const st = own ? store.status(c, m) : null;
      const picking = this.pickerFor === m.messageId;
      const marked = composing?.messageId === m.messageId ? composing.kind : "";
      const sig = JSON.stringify([first, st, m.body, m.deleted, m.editedAt, m.replyTo, m.reactions, c.kind, picking, marked]);
      nodes.push(this.nodes.node(`m:${m.messageId}`, sig, () => this.messageNode(c, m, { own, first, st, picking, marked })));
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
              { class: "bubble-wrap" },
              h(
                "div",
                { class: "bubble" },
                e.quote ? quoteNode(e.quote, store.me) : null,
                h("span", { class: "text" }, e.body),
                h("span", { class: "meta" }, h("time", {}, clock(e.createdAt)), h("span", { class: "ticks pending", title: "Sending", "aria-label": "Sending" })),
              ),
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
    if (this.focusNext) {
      const el = $("message-list").querySelector(this.focusNext);
      this.focusNext = "";
      if (el) {
        el.focus();
        el.scrollIntoView({ block: "nearest" });
      }
    }
  }

  /**
   * messageNode builds message m of c: the bubble (sender in groups, quote, text or the
   * deleted placeholder, "edited", time and marks), its reactions, the picker when open,
   * and its actions.
   */
  messageNode(c, m, { own, first, st, picking, marked }) {
    const { store } = this.ctx;
    const created = new Date(m.createdAt);
    const meta = h("span", { class: "meta" });
    if (m.editedAt && !m.deleted) meta.append(h("span", { class: "edited", title: `Edited ${new Date(m.editedAt).toLocaleString()}` }, "edited"));
    meta.append(h("time", { datetime: created.toISOString(), title: created.toLocaleString() }, clock(m.createdAt)));
    if (own) {
      if (c.kind === GROUP && st.readBy > 0) meta.append(h("span", { class: "read-by" }, st.readBy >= st.others ? "read by all" : `read by ${st.readBy}`));
      meta.append(ticks(st.mark));
    }
    const bubble = h(
      "div",
      { class: "bubble", tabindex: "-1" },
      c.kind === GROUP && !own && first ? h("div", { class: "sender", style: { "--hue": String(hue(m.senderId)) } }, m.senderId) : null,
      m.replyTo && !m.deleted ? quoteNode(m.replyTo, store.me, () => this.showMessage(m.replyTo.messageId)) : null,
      m.deleted ? h("span", { class: "text deleted-text" }, "Message deleted") : h("span", { class: "text" }, m.body ?? ""),
      meta,
    );
    const wrap = h("div", { class: "bubble-wrap" }, bubble);
    if (!m.deleted && m.reactions?.length) {
      wrap.append(
        h(
          "div",
          { class: "reactions", role: "group", "aria-label": "Reactions" },
          m.reactions.map((r) =>
            h(
              "button",
              {
                type: "button",
                class: `reaction${r.mine ? " mine" : ""}`,
                dataset: { emoji: r.emoji },
                "aria-pressed": String(r.mine),
                "aria-label": `${r.emoji} ${r.count} ${r.count === 1 ? "reaction" : "reactions"}${r.mine ? ", yours among them: remove yours" : ": add yours"}`,
                title: r.mine ? (r.count > 1 ? `You and ${r.count - 1} more · click to remove yours` : "You reacted · click to remove") : `${r.count} reacted · click to react too`,
                onclick: () => this.toggleReaction(c, m, r.emoji),
              },
              h("span", { class: "emoji", "aria-hidden": "true" }, r.emoji),
              h("span", { class: "count", "aria-hidden": "true" }, String(r.count)),
            ),
          ),
        ),
      );
    }
    if (picking && !m.deleted) {
      wrap.append(
        h(
          "div",
          { class: "picker", role: "group", "aria-label": "Pick a reaction" },
          REACTIONS.map((emoji) => {
            const mine = (m.reactions || []).some((r) => r.emoji === emoji && r.mine);
            return h(
              "button",
              {
                type: "button",
                class: mine ? "mine" : "",
                dataset: { emoji },
                "aria-pressed": String(mine),
                "aria-label": `React with ${emoji}`,
                onclick: () => {
                  this.closePicker(true);
                  this.toggleReaction(c, m, emoji);
                },
              },
              emoji,
            );
          }),
        ),
      );
    }
    const actions = m.deleted
      ? null
      : h(
          "div",
          { class: "msg-actions", role: "group", "aria-label": "Message actions" },
          actionButton("react", "React", () => this.openPicker(m), { "aria-expanded": String(picking) }),
          actionButton("reply", "Reply", () => this.onReply(c, m)),
          own ? actionButton("edit", "Edit", () => this.onEdit(c, m)) : null,
          own ? actionButton("delete", "Delete", () => this.deleteMessage(c, m)) : null,
        );
    const cls = `msg ${own ? "own" : "other"}${first ? " first" : ""}${m.deleted ? " deleted" : ""}${picking ? " picking" : ""}${marked ? ` ${marked === "edit" ? "editing" : "replying"}` : ""}`;
    return h("div", { class: cls, dataset: { id: m.messageId, status: st?.mark || "" } }, wrap, actions);
  }
}

/** actionButton is one of a message's action buttons (an icon with a label for assistive tech). */
function actionButton(kind, label, onclick, attrs = {}) {
  return h("button", { type: "button", class: `act act-${kind}`, title: label, "aria-label": label, onclick, ...attrs }, icon(ICONS[kind]));
}

/**
 * quoteNode shows the message a reply answers: its sender and preview, or a placeholder for
 * a message deleted before the reply. With onclick it is a button that shows the message.
 */
function quoteNode(q, me, onclick) {
  const who = q.senderId === me ? "You" : q.senderId;
  const text = q.preview ? h("span", { class: "quote-text" }, q.preview) : h("span", { class: "quote-text deleted-text" }, "Message deleted");
  const sender = h("span", { class: "quote-sender" }, who);
  const style = { "--hue": String(hue(q.senderId)) };
  if (!onclick) return h("div", { class: "quote", style }, sender, text);
  return h("button", { type: "button", class: "quote", style, title: "Show the message", "aria-label": `In reply to ${who}: ${q.preview || "a deleted message"}. Show it.`, onclick }, sender, text);
}

/** ticks is the mark of one of our own messages: "sent", "delivered" or "read". */
function ticks(mark) {
  const label = { sent: "Sent", delivered: "Delivered", read: "Read" }[mark];
  return h("span", { class: `ticks ${mark}`, title: label, "aria-label": label }, mark === "sent" ? "✓" : "✓✓");
}
