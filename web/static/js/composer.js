// The composer under the messages: a textarea that grows with its text, Enter to send
// (Shift+Enter for a new line), the send button enabled only for a non-blank message, and the
// typing indicator this user sends (a throttled "start", "stop" on send, blur or switch).
//
// Version 1.1: it replies and edits. A reply shows the message answered in a bar above the
// composer (sender and preview, × or Escape cancels) and the send carries replyTo. An edit
// puts the message's text in the composer: Enter saves, Escape (or ×) cancels and gives back
// what was being written before. ↑ in an empty composer edits our newest message. What the
// composer is doing is ctx.composing, so the message pane can mark the message concerned.

import { MAX_BODY_BYTES, utf8Length } from "./protocol.js";
import { quoteOf } from "./store.js";
import { $ } from "./dom.js";
import { toast, describe } from "./toast.js";

/** A "start" goes out at most this often while the user keeps typing. */
const TYPING_THROTTLE_MS = 2000;

/** Composer sends into the open conversation of a ChatContext; onSent() follows each send. */
export class Composer {
  constructor(ctx, { onSent }) {
    this.ctx = ctx;
    this.onSent = onSent;
    this.lastTypingSent = 0;
    this.typingConv = ""; // the conversation we last said we are typing in, "" after "stop"
    this.resume = null; // while editing: {text, reply}, what to give back when the edit ends
    this.saving = false; // an edit is on its way to the server
    this.barSig = ""; // what the reply / edit bar shows, to touch it only when it changes

    $("composer").addEventListener("submit", (ev) => this.send(ev));
    $("composer-context-cancel").addEventListener("click", () => {
      this.cancel();
      this.focus();
    });
    const ta = $("composer-input");
    ta.addEventListener("input", () => this.onInput());
    ta.addEventListener("blur", () => this.stopTyping());
    ta.addEventListener("keydown", (ev) => {
      if (ev.isComposing) return;
      if (ev.key === "Enter" && !ev.shiftKey) {
        ev.preventDefault();
        $("composer").requestSubmit();
      } else if (ev.key === "Escape" && this.ctx.composing) {
        ev.preventDefault();
        this.cancel();
      } else if (ev.key === "ArrowUp" && !ta.value && !this.ctx.composing) {
        if (this.editLast()) ev.preventDefault();
      }
    });
    window.addEventListener("blur", () => this.stopTyping());
  }

  /** focus puts the cursor in the composer. */
  focus() {
    $("composer-input").focus();
  }

  /** clear forgets a reply or an edit in progress and empties the composer (on sign-out). */
  clear() {
    this.ctx.composing = null;
    this.resume = null;
    $("composer-input").value = "";
    this.autosize();
    this.render();
  }

  autosize() {
    const ta = $("composer-input");
    ta.style.height = "auto";
    ta.style.height = `${Math.min(ta.scrollHeight, 160)}px`;
  }

  onInput() {
    const { client, store, activeId } = this.ctx;
    this.autosize();
    const text = $("composer-input").value;
    $("send").disabled = !text.trim() || this.saving;
    const c = store.get(activeId);
    if (!c || c.draft || this.ctx.composing?.kind === "edit") return;
    if (!text.trim()) {
      this.stopTyping();
      return;
    }
    const now = Date.now();
    if (now - this.lastTypingSent >= TYPING_THROTTLE_MS || this.typingConv !== c.id) {
      this.lastTypingSent = now;
      this.typingConv = c.id;
      client.typing(c.id, "start");
    }
  }

  /** stopTyping tells the conversation we said we type in that we stopped. */
  stopTyping() {
    const { client } = this.ctx;
    if (!this.typingConv || !client) return;
    client.typing(this.typingConv, "stop");
    this.typingConv = "";
    this.lastTypingSent = 0;
  }

  /** startReply makes the next message sent in c a reply to its message m. */
  startReply(c, m) {
    if (this.ctx.composing?.kind === "edit") this.endEdit();
    this.ctx.composing = { kind: "reply", conversationId: c.id, messageId: m.messageId, quote: quoteOf(m) };
    this.ctx.render();
    this.focus();
  }

  /** startEdit puts our message m of c in the composer to be edited. */
  startEdit(c, m) {
    const ta = $("composer-input");
    const cur = this.ctx.composing;
    if (cur?.kind !== "edit") this.resume = { text: ta.value, reply: cur };
    this.stopTyping();
    this.ctx.composing = { kind: "edit", conversationId: c.id, messageId: m.messageId };
    ta.value = m.body ?? "";
    this.autosize();
    $("send").disabled = !ta.value.trim();
    this.ctx.render();
    this.focus();
    ta.setSelectionRange(ta.value.length, ta.value.length);
  }

  /** editLast edits our newest message of the open conversation; false if there is none. */
  editLast() {
    const { store, activeId } = this.ctx;
    const c = store?.get(activeId);
    const m = c && [...c.ordered()].reverse().find((x) => x.senderId === store.me && !x.deleted);
    if (!m) return false;
    this.startEdit(c, m);
    return true;
  }

  /** endEdit leaves edit mode and gives back what was being written before it. */
  endEdit() {
    const ta = $("composer-input");
    const resume = this.resume || { text: "", reply: null };
    this.resume = null;
    this.ctx.composing = resume.reply?.conversationId === this.ctx.activeId ? resume.reply : null;
    ta.value = resume.text;
    this.autosize();
    $("send").disabled = !ta.value.trim();
  }

  /** cancel drops the reply or the edit in progress. */
  cancel() {
    const mode = this.ctx.composing;
    if (!mode) return;
    if (mode.kind === "edit") this.endEdit();
    else this.ctx.composing = null;
    this.ctx.render();
  }

  send(ev) {
    ev.preventDefault();
    const { client, store, activeId } = this.ctx;
    if (this.ctx.composing?.kind === "edit") {
      this.saveEdit();
      return;
    }
    const ta = $("composer-input");
    const body = ta.value.replace(/\s+$/, "");
    const c = store.get(activeId);
    if (!c || !body.trim()) return;
    if (utf8Length(body) > MAX_BODY_BYTES) {
      toast(`That message is too long (${utf8Length(body)} of ${MAX_BODY_BYTES} bytes).`);
      return;
    }
    this.stopTyping();
    const mode = this.ctx.composing;
    const reply = mode?.kind === "reply" && mode.conversationId === c.id ? { replyTo: mode.messageId, quote: mode.quote } : {};
    if (c.draft) client.send({ to: c.peer, body });
    else client.send({ conversationId: c.id, body, ...reply });
    this.ctx.composing = null;
    c.activity = Date.now();
    ta.value = "";
    this.autosize();
    $("send").disabled = true;
    this.onSent();
  }

  /** saveEdit sends the edit in the composer; it stays open, with a message, if that fails. */
  async saveEdit() {
    if (this.saving) return;
    const { client, store } = this.ctx;
    const mode = this.ctx.composing;
    const m = store.get(mode.conversationId)?.messages.get(mode.messageId);
    const body = $("composer-input").value.replace(/\s+$/, "");
    if (!m || m.deleted) {
      this.cancel();
      return;
    }
    if (!body.trim()) return;
    if (utf8Length(body) > MAX_BODY_BYTES) {
      toast(`That message is too long (${utf8Length(body)} of ${MAX_BODY_BYTES} bytes).`);
      return;
    }
    if (body === m.body) {
      this.cancel();
      return;
    }
    this.saving = true;
    $("send").disabled = true;
    try {
      await client.edit(mode.conversationId, mode.messageId, body);
      if (this.ctx.composing === mode) this.endEdit();
    } catch (err) {
      toast(`Not saved: ${describe(err)}`);
    } finally {
      this.saving = false;
      $("send").disabled = !$("composer-input").value.trim();
      this.ctx.render();
    }
  }

  /**
   * render shows the reply or edit bar. A reply or an edit of another conversation than the
   * open one is dropped, and so is the edit of a message deleted meanwhile.
   */
  render() {
    const { store, activeId } = this.ctx;
    let mode = this.ctx.composing;
    if (mode && mode.conversationId !== activeId) {
      if (mode.kind === "edit") this.endEdit();
      else this.ctx.composing = null;
      mode = this.ctx.composing;
    }
    let target = null;
    if (mode?.kind === "edit") {
      target = store?.get(mode.conversationId)?.messages.get(mode.messageId);
      if (!target || target.deleted) {
        toast("The message you were editing was deleted.", "info");
        this.endEdit();
        mode = this.ctx.composing;
      }
    }
    let title = "";
    let preview = "";
    if (mode?.kind === "reply") {
      const q = mode.quote;
      title = `Replying to ${q.senderId === store.me ? "yourself" : q.senderId}`;
      preview = q.preview;
    } else if (mode?.kind === "edit") {
      title = "Editing your message";
      preview = target.body ?? "";
    }
    const sig = JSON.stringify([mode?.kind, title, preview]);
    if (sig === this.barSig) return;
    this.barSig = sig;
    const bar = $("composer-context");
    bar.hidden = !mode;
    bar.dataset.kind = mode?.kind || "";
    $("composer-context-title").textContent = title;
    const pv = $("composer-context-preview");
    pv.textContent = preview || (mode?.kind === "reply" ? "Message deleted" : "");
    pv.classList.toggle("deleted-text", mode?.kind === "reply" && !preview);
    $("composer-context-cancel").setAttribute("aria-label", mode?.kind === "edit" ? "Cancel editing" : "Cancel reply");
    $("composer-context-cancel").title = mode?.kind === "edit" ? "Cancel editing (Esc)" : "Cancel reply (Esc)";
    const ta = $("composer-input");
    ta.setAttribute("aria-label", mode?.kind === "edit" ? "Edit your message" : mode?.kind === "reply" ? `Reply to ${mode.quote.senderId}` : "Message");
    ta.placeholder = mode?.kind === "edit" ? "Edit your message" : mode?.kind === "reply" ? "Write a reply" : "Write a message";
    $("send").setAttribute("aria-label", mode?.kind === "edit" ? "Save" : "Send");
    $("send").title = mode?.kind === "edit" ? "Save (Enter)" : "";
  }
}
