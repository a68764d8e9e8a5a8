// The composer under the messages: a textarea that grows with its text, Enter to send
// (Shift+Enter for a new line), the send button enabled only for a non-blank message, and the
// typing indicator this user sends (a throttled "start", "stop" on send, blur or switch).

import { MAX_BODY_BYTES, utf8Length } from "./protocol.js";
import { $ } from "./dom.js";
import { toast } from "./toast.js";

/** A "start" goes out at most this often while the user keeps typing. */
const TYPING_THROTTLE_MS = 2000;

/** Composer sends into the open conversation of a ChatContext; onSent() follows each send. */
export class Composer {
  constructor(ctx, { onSent }) {
    this.ctx = ctx;
    this.onSent = onSent;
    this.lastTypingSent = 0;
    this.typingConv = ""; // the conversation we last said we are typing in, "" after "stop"

    $("composer").addEventListener("submit", (ev) => this.send(ev));
    const ta = $("composer-input");
    ta.addEventListener("input", () => this.onInput());
    ta.addEventListener("blur", () => this.stopTyping());
    ta.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
        ev.preventDefault();
        $("composer").requestSubmit();
      }
    });
    window.addEventListener("blur", () => this.stopTyping());
  }

  /** focus puts the cursor in the composer. */
  focus() {
    $("composer-input").focus();
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
    $("send").disabled = !text.trim();
    const c = store.get(activeId);
    if (!c || c.draft) return;
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

  send(ev) {
    ev.preventDefault();
    const { client, store, activeId } = this.ctx;
    const ta = $("composer-input");
    const body = ta.value.replace(/\s+$/, "");
    const c = store.get(activeId);
    if (!c || !body.trim()) return;
    if (utf8Length(body) > MAX_BODY_BYTES) {
      toast(`That message is too long (${utf8Length(body)} of ${MAX_BODY_BYTES} bytes).`);
      return;
    }
    this.stopTyping();
    if (c.draft) client.send({ to: c.peer, body });
    else client.send({ conversationId: c.id, body });
    c.activity = Date.now();
    ta.value = "";
    this.autosize();
    $("send").disabled = true;
    this.onSent();
  }
}
