// Receipts this user sends: "delivered" for every message that reached this browser,
// batched per conversation (the newest messageId wins) and sent shortly after, and "read"
// for the open conversation while the user can see it. A refused receipt rolls its cursor
// back so that a later one reports it again.

import { DisconnectedError } from "./protocol.js";
import { conversationVisible } from "./dom.js";
import { toast, describe } from "./toast.js";

/** Receipts reports what the signed-in user of ctx (a ChatContext) received and read. */
export class Receipts {
  constructor(ctx) {
    this.ctx = ctx;
    this.deliveredQueue = new Map(); // conversationId -> newest messageId to report delivered
    this.timer = null;
  }

  /** queueDelivered notes that messageId of conversation c reached this browser. */
  queueDelivered(c, messageId) {
    if (c.draft) return;
    if (messageId <= c.deliveredSent) return;
    const cur = this.deliveredQueue.get(c.id);
    if (!cur || messageId > cur) this.deliveredQueue.set(c.id, messageId);
    this.flushSoon();
  }

  /** flushSoon sends the queued delivered receipts in a moment. */
  flushSoon() {
    if (this.timer) return;
    this.timer = setTimeout(() => this.flush(), 250);
  }

  flush() {
    this.timer = null;
    const { client, store } = this.ctx;
    // While sync replays, the protocol client acknowledges what it replayed; ours wait for
    // the "synced" event, which flushes them.
    if (!client || client.state !== "open" || client.syncing) return;
    for (const [id, upTo] of this.deliveredQueue) {
      this.deliveredQueue.delete(id);
      const c = store.get(id);
      if (!c || upTo <= c.deliveredSent) continue;
      const prev = c.deliveredSent;
      c.deliveredSent = upTo;
      client.receipt(id, upTo, "delivered").catch((err) => {
        if (c.deliveredSent === upTo) c.deliveredSent = prev;
        if (!(err instanceof DisconnectedError)) toast(`Receipt: ${describe(err)}`);
      });
    }
  }

  /** markReadIfVisible reports the open conversation read up to its newest message, if seen. */
  markReadIfVisible() {
    const { client, store } = this.ctx;
    const c = store?.get(this.ctx.activeId);
    if (!c || c.draft || !client || client.state !== "open" || !conversationVisible()) return;
    const upTo = c.newestId();
    if (!upTo) return;
    c.unread = 0;
    if (upTo <= c.readSent) return;
    const prev = c.readSent;
    c.readSent = upTo;
    if (upTo > c.deliveredSent) c.deliveredSent = upTo;
    client.receipt(c.id, upTo, "read").catch((err) => {
      if (c.readSent === upTo) c.readSent = prev;
      if (!(err instanceof DisconnectedError)) toast(`Receipt: ${describe(err)}`);
    });
    this.ctx.render();
  }
}
