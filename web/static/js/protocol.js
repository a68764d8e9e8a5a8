// Parley client protocol (PROTOCOL.md, version 1.1): one WebSocket with requests matched by
// requestId, an outbox of un-acknowledged messages that is resent with the same clientMsgId
// after every reconnect, keepalives when idle, reconnection with backoff and `sync` after every
// (re)connect. No DOM code here: the UI listens to the events this client dispatches.
//
// Events (CustomEvent, payload in `detail`):
//   state        {state: "connecting"|"open"|"closed", attempt, error}
//   connected    {}                       after open, before the sync loop
//   synced       {count}                  the sync loop finished (every page read)
//   message      {message}                a message frame, live or from sync (not deduped here)
//   ack          {clientMsgId, conversationId, messageId, createdAt, entry} (entry: the outbox
//                item it settles, undefined for a duplicate ack)
//   sendfailed   {clientMsgId, code, message} a send the server refused for good
//   typing       {conversationId, userId, state}
//   receipt      {conversationId, userId, status, upTo, at}
//   presence     {users}
//   conversation {conversation}
//   edited       {conversationId, messageId, eventId, body, editedAt}   (version 1.1)
//   deleted      {conversationId, messageId, eventId, at}
//   reaction     {conversationId, messageId, eventId?, userId, emoji, state, at}
//                These three come live, from sync, and as the replies to this client's own
//                edit, delete and react (the caller's connection gets no event of its own
//                change): the same change may come more than once, apply it by eventId.
//   outbox       {}                        the outbox changed
//   servererror  {code, message, action}   an error frame that answered no request

/** Limits from PROTOCOL.md §7. */
export const MAX_BODY_BYTES = 16384;
export const HISTORY_PAGE = 50;
// After this long without a frame sent, a one-way keepalive (API Gateway answers it
// itself, no function runs) keeps the connection under the 10-minute idle limit. Presence
// needs no heartbeat: it is the open connection (docs/protocol.md).
const KEEPALIVE_MS = 9 * 60_000;
const KEEPALIVE_CHECK_MS = 30_000;
const REQUEST_TIMEOUT_MS = 20_000;
const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 15_000;

/** ProtocolError is an `error` frame turned into an exception. */
export class ProtocolError extends Error {
  constructor(frame) {
    super(frame.message || frame.code || "error");
    this.name = "ProtocolError";
    this.code = frame.code || "internal";
    this.action = frame.action || "";
  }
}

/** A request that could not complete because the connection went away. */
export class DisconnectedError extends Error {
  constructor(action) {
    super(`not connected (${action})`);
    this.name = "DisconnectedError";
    this.code = "disconnected";
  }
}

/** newId returns a random id usable as requestId or clientMsgId (at most 64 characters). */
export function newId(prefix = "") {
  if (globalThis.crypto?.randomUUID) return prefix + crypto.randomUUID();
  const b = new Uint8Array(16);
  crypto.getRandomValues(b);
  return prefix + Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

/** utf8Length is the byte length of s in UTF-8. */
export function utf8Length(s) {
  return new TextEncoder().encode(s).length;
}

/** tokenSubject returns the `sub` claim of a JWT without verifying it, or "". */
export function tokenSubject(token) {
  try {
    const part = token.split(".")[1];
    const json = atob(part.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(part.length / 4) * 4, "="));
    return JSON.parse(json).sub || "";
  } catch {
    return "";
  }
}

/** backoffDelay is the wait before reconnect attempt n (1-based): exponential, jittered. */
export function backoffDelay(attempt) {
  const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** Math.max(0, attempt - 1));
  return Math.round(base / 2 + Math.random() * (base / 2));
}

/**
 * Outbox keeps un-acknowledged sends, in order, in storage (so a reload does not lose them).
 * An entry: {clientMsgId, conversationId?, to?, body, createdAt, replyTo?, quote?} — replyTo
 * is the messageId answered, quote what the UI shows of it until the server's own comes.
 */
export class Outbox {
  constructor(storage, key) {
    this.storage = storage;
    this.key = key;
    this.items = [];
    try {
      const saved = storage ? JSON.parse(storage.getItem(key) || "[]") : [];
      if (Array.isArray(saved)) this.items = saved.filter((e) => e && e.clientMsgId && e.body);
    } catch {
      this.items = [];
    }
  }
  add(entry) {
    this.items.push(entry);
    this.save();
  }
  remove(clientMsgId) {
    const before = this.items.length;
    this.items = this.items.filter((e) => e.clientMsgId !== clientMsgId);
    if (this.items.length !== before) this.save();
  }
  get(clientMsgId) {
    return this.items.find((e) => e.clientMsgId === clientMsgId);
  }
  /** retarget gives entries addressed `to` a user the conversation id the server assigned. */
  retarget(to, conversationId) {
    for (const e of this.items) if (e.to === to && !e.conversationId) e.conversationId = conversationId;
    this.save();
  }
  save() {
    try {
      this.storage?.setItem(this.key, JSON.stringify(this.items));
    } catch {
      /* storage full or unavailable: the outbox still works in memory */
    }
  }
}

/** ParleyClient is one user's connection to Parley. */
export class ParleyClient extends EventTarget {
  /**
   * @param {object} opts
   * @param {string} opts.url      WebSocket URL without the token (ws://host/ws)
   * @param {string} opts.token    JWT
   * @param {Storage} [opts.storage] where the outbox survives reloads
   * @param {typeof WebSocket} [opts.WebSocket]
   */
  constructor({ url, token, storage, WebSocket: WS = globalThis.WebSocket, keepaliveMs = KEEPALIVE_MS, keepaliveCheckMs = KEEPALIVE_CHECK_MS }) {
    super();
    this.keepaliveMs = keepaliveMs;
    this.keepaliveCheckMs = keepaliveCheckMs;
    this.url = url;
    this.token = token;
    this.user = tokenSubject(token);
    this.WS = WS;
    this.ws = null;
    this.state = "closed";
    this.attempt = 0;
    this.everOpened = false;
    this.stopped = true;
    this.pending = new Map(); // requestId -> {resolve, reject, timer, action}
    this.outbox = new Outbox(storage, `parley.outbox.${this.user}`);
    this.inFlight = new Set(); // clientMsgIds sent on the current socket and not yet acked
    this.heartbeatTimer = null;
    this.reconnectTimer = null;
    this.seq = 0;
    this.sendRequests = new Map(); // requestId of a send -> its clientMsgId
    this.syncing = false; // true while afterConnect's sync rounds run
  }

  emit(type, detail = {}) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  setState(state, error) {
    this.state = state;
    this.emit("state", { state, attempt: this.attempt, everOpened: this.everOpened, error });
  }

  /** start opens the connection and keeps it open until stop. */
  start() {
    this.stopped = false;
    this.open();
  }

  /** stop closes the connection and stops reconnecting. */
  stop() {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    this.teardown();
    if (this.ws) {
      try {
        this.ws.close(1000, "bye");
      } catch {
        /* already closed */
      }
      this.ws = null;
    }
    this.setState("closed");
  }

  /** reconnectNow skips the backoff wait (used when the browser comes back online). */
  reconnectNow() {
    if (this.stopped || this.state !== "closed") return;
    clearTimeout(this.reconnectTimer);
    this.open();
  }

  open() {
    clearTimeout(this.reconnectTimer);
    const sep = this.url.includes("?") ? "&" : "?";
    let ws;
    try {
      ws = new this.WS(`${this.url}${sep}token=${encodeURIComponent(this.token)}`);
    } catch (err) {
      this.setState("closed", err);
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    this.setState("connecting");
    ws.onopen = () => {
      if (this.ws !== ws) return;
      this.attempt = 0;
      this.everOpened = true;
      this.setState("open");
      this.lastSent = Date.now();
      this.heartbeatTimer = setInterval(() => {
        if (Date.now() - this.lastSent >= this.keepaliveMs) this.sendFrame({ action: "keepalive" });
      }, this.keepaliveCheckMs);
      this.emit("connected");
      this.afterConnect(ws);
    };
    ws.onmessage = (ev) => {
      if (this.ws !== ws) return;
      let frame;
      try {
        frame = JSON.parse(ev.data);
      } catch {
        return;
      }
      if (frame && typeof frame === "object") this.handleFrame(frame);
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.teardown();
      this.setState("closed", ev.code === 1000 ? undefined : new Error(`connection closed (${ev.code})`));
      this.scheduleReconnect();
    };
    ws.onerror = () => {
      /* onclose follows and reconnects */
    };
  }

  teardown() {
    clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = null;
    this.inFlight.clear();
    this.sendRequests.clear();
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new DisconnectedError(p.action));
      this.pending.delete(id);
    }
  }

  scheduleReconnect() {
    if (this.stopped) return;
    this.attempt++;
    const wait = backoffDelay(this.attempt);
    this.reconnectTimer = setTimeout(() => this.open(), wait);
  }

  /**
   * afterConnect resends the outbox, then syncs until the server has nothing more. While
   * the server says there is more, it acknowledges (delivered) exactly what the round
   * replayed — the synced frame's lastMessageIds — so the next round continues after it;
   * a live message that arrived meanwhile may lie beyond messages still to replay, so the
   * app holds its own delivered receipts while `syncing` is true and sends them after.
   */
  async afterConnect(ws) {
    for (const entry of [...this.outbox.items]) this.transmit(entry);
    this.syncing = true;
    try {
      let total = 0;
      for (let page = 0; page < 1000 && this.ws === ws; page++) {
        const r = await this.request("sync", {});
        total += r.count || 0;
        if (!r.more) break;
        const replayed = Object.entries(r.lastMessageIds || {});
        await Promise.all(replayed.map(([conversationId, messageId]) =>
          this.receipt(conversationId, messageId, "delivered").catch((err) => {
            if (err?.code !== "forbidden") throw err; // a conversation left meanwhile
          })));
      }
      this.syncing = false;
      if (this.ws === ws) this.emit("synced", { count: total });
    } catch (err) {
      if (!(err instanceof DisconnectedError)) this.emit("servererror", { code: err.code, message: err.message, action: "sync" });
    } finally {
      this.syncing = false;
    }
  }

  sendFrame(frame) {
    if (!this.ws || this.ws.readyState !== 1) return false;
    this.ws.send(JSON.stringify(frame));
    this.lastSent = Date.now();
    return true;
  }

  /** request sends an action and resolves with the reply that echoes its requestId. */
  request(action, fields = {}) {
    return new Promise((resolve, reject) => {
      if (!this.ws || this.ws.readyState !== 1) {
        reject(new DisconnectedError(action));
        return;
      }
      const requestId = `r${++this.seq}-${Date.now().toString(36)}`;
      const timer = setTimeout(() => {
        this.pending.delete(requestId);
        reject(new ProtocolError({ code: "timeout", message: `${action}: no reply`, action }));
      }, REQUEST_TIMEOUT_MS);
      this.pending.set(requestId, { resolve, reject, timer, action });
      this.sendFrame({ ...fields, action, requestId });
    });
  }

  handleFrame(frame) {
    const p = frame.requestId ? this.pending.get(frame.requestId) : undefined;
    if (p) {
      this.pending.delete(frame.requestId);
      clearTimeout(p.timer);
    }
    switch (frame.type) {
      case "error":
        if (p) p.reject(new ProtocolError(frame));
        else if (!this.sendRequests.has(frame.requestId)) this.emit("servererror", frame);
        this.sendError(frame);
        return;
      case "ack":
        this.sendRequests.delete(frame.requestId);
        this.settle(frame);
        if (p) p.resolve(frame);
        return;
      case "message": {
        const m = frame.message;
        // Our own message can arrive (fan-out) before its ack: it is stored, so settle it now.
        if (m && m.senderId === this.user && m.clientMsgId && this.outbox.get(m.clientMsgId)) {
          this.settle({ type: "ack", clientMsgId: m.clientMsgId, conversationId: m.conversationId, messageId: m.messageId, createdAt: m.createdAt });
        }
        this.emit("message", { message: m });
        return;
      }
      case "typing":
        this.emit("typing", frame);
        return;
      case "receipt":
        if (p) p.resolve(frame);
        this.emit("receipt", frame);
        return;
      case "presence":
        if (p) p.resolve(frame);
        else this.emit("presence", frame);
        return;
      case "conversation":
        if (p) p.resolve(frame);
        this.emit("conversation", frame);
        return;
      case "edited":
      case "deleted":
      case "reaction":
        // The reply to our own change is emitted too: this connection gets no event of it.
        if (p) p.resolve(frame);
        this.emit(frame.type, frame);
        return;
      default:
        if (p) p.resolve(frame);
    }
  }

  /**
   * settle takes a stored message out of the outbox and emits `ack` with the outbox entry
   * (undefined when it was settled already, by the message event or an earlier ack).
   */
  settle(ack) {
    this.inFlight.delete(ack.clientMsgId);
    const entry = this.outbox.get(ack.clientMsgId);
    if (entry?.to) this.outbox.retarget(entry.to, ack.conversationId);
    this.outbox.remove(ack.clientMsgId);
    this.emit("ack", { ...ack, entry });
    if (entry) this.emit("outbox");
  }

  /**
   * sendError handles an error that answers a send: internal and rate_limited are retried
   * with the same clientMsgId a little later; any other code drops the message for good.
   */
  sendError(frame) {
    const id = this.sendRequests.get(frame.requestId);
    if (!id) return;
    this.sendRequests.delete(frame.requestId);
    this.inFlight.delete(id);
    if (frame.code === "internal" || frame.code === "rate_limited") {
      setTimeout(() => {
        const entry = this.outbox.get(id);
        if (entry) this.transmit(entry);
      }, 2000 + Math.random() * 2000);
      return;
    }
    const entry = this.outbox.get(id);
    this.outbox.remove(id);
    this.emit("sendfailed", { clientMsgId: id, code: frame.code, message: frame.message, replyTo: entry?.replyTo });
    this.emit("outbox");
  }

  transmit(entry) {
    if (this.inFlight.has(entry.clientMsgId)) return;
    const requestId = `s${++this.seq}-${Date.now().toString(36)}`;
    const frame = { action: "send", requestId, clientMsgId: entry.clientMsgId, body: entry.body };
    if (entry.conversationId) frame.conversationId = entry.conversationId;
    else frame.to = entry.to;
    if (entry.replyTo) frame.replyTo = entry.replyTo;
    if (this.sendFrame(frame)) {
      this.inFlight.add(entry.clientMsgId);
      this.sendRequests.set(requestId, entry.clientMsgId);
    }
  }

  /**
   * send queues a message for a conversation ({conversationId}) or a user ({to}) and sends it
   * now if connected, or after the next connect. replyTo is the messageId the message answers
   * (version 1.1), quote what to show of that message meanwhile ({messageId, senderId,
   * preview}, kept in the outbox entry, not sent). Returns the outbox entry; `ack` or
   * `sendfailed` events report the outcome.
   */
  send({ conversationId, to, body, replyTo, quote }) {
    const entry = { clientMsgId: newId("c-"), body, createdAt: Date.now() };
    if (conversationId) entry.conversationId = conversationId;
    else entry.to = to;
    if (replyTo) {
      entry.replyTo = replyTo;
      if (quote) entry.quote = quote;
    }
    this.outbox.add(entry);
    this.transmit(entry);
    this.emit("outbox");
    return entry;
  }

  /** discard drops an un-acked message from the outbox (the user gave up on it). */
  discard(clientMsgId) {
    this.outbox.remove(clientMsgId);
    this.emit("outbox");
  }

  typing(conversationId, state) {
    this.sendFrame({ action: "typing", conversationId, state });
  }

  receipt(conversationId, messageId, status) {
    return this.request("receipt", { conversationId, messageId, status });
  }

  /**
   * edit replaces the body of one of our own messages (version 1.1). It resolves with the
   * `edited` reply, which is also emitted as an `edited` event. Resending the edit applied
   * last is answered with that edit again, so a failed call may simply be retried.
   */
  edit(conversationId, messageId, body) {
    return this.request("edit", { conversationId, messageId, body });
  }

  /** delete erases one of our own messages for everyone; it resolves with the `deleted` reply. */
  delete(conversationId, messageId) {
    return this.request("delete", { conversationId, messageId });
  }

  /**
   * react adds (state "add") or removes ("remove") our reaction emoji on a message. It
   * resolves with the `reaction` reply, which has no eventId when nothing changed.
   */
  react(conversationId, messageId, emoji, state = "add") {
    return this.request("react", { conversationId, messageId, emoji, state });
  }

  history(conversationId, before, limit = HISTORY_PAGE) {
    const f = { conversationId, limit };
    if (before) f.before = before;
    return this.request("history", f);
  }

  conversations() {
    return this.request("conversations");
  }

  createConversation(members, name) {
    const f = { members };
    if (name) f.name = name;
    return this.request("createConversation", f);
  }

  addMembers(conversationId, members) {
    return this.request("addMembers", { conversationId, members });
  }

  leave(conversationId) {
    return this.request("leave", { conversationId });
  }

  presence(userIds) {
    return this.request("presence", { userIds });
  }
}
