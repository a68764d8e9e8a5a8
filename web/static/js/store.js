// The client's model of the user's conversations: summaries, messages (deduped by messageId,
// ordered by messageId), receipt cursors of the other members, typing and presence.
// No DOM and no network here; app.js feeds it protocol events and the views render from it.

/** Conversation kinds (PROTOCOL.md createConversation). */
export const DM = "dm";
export const GROUP = "group";

/** TYPING_MS: hide a typing indicator this long after the last `start`. */
export const TYPING_MS = 3000;

/** A conversation opened with a user before its first message: sends go `to` the peer. */
export function draftId(peer) {
  return `draft:${peer}`;
}

/**
 * pendingFor returns the outbox entries (protocol.js Outbox.items) of conversation c that the
 * server has not acknowledged yet: those sent to its id, and for a direct conversation those
 * sent `to` its peer before the conversation had an id.
 */
export function pendingFor(items, c) {
  return items.filter((e) => (e.conversationId ? e.conversationId === c.id : c.kind === DM && e.to === c.peer));
}

function maxId(a, b) {
  if (!a) return b || "";
  if (!b) return a;
  return a > b ? a : b;
}

/** Conversation is the state of one conversation. */
export class Conversation {
  constructor(id) {
    this.id = id;
    this.kind = ""; // DM or GROUP; "" until the server says (a message can come first)
    this.name = "";
    this.members = null; // string[] once known
    this.memberCount = 0;
    this.peer = ""; // the other member of a direct conversation, once known
    this.createdAt = 0;
    this.lastMessage = null;
    this.unread = 0;
    this.draft = false;
    this.messages = new Map(); // messageId -> message
    this.sorted = null; // cached ordering
    this.next = undefined; // history cursor: undefined = never loaded, "" = no older messages
    this.loadingOlder = false;
    this.typing = new Map(); // userId -> time of the last start
    this.cursors = new Map(); // userId -> {delivered, read}, from receipts of others
    this.deliveredSent = ""; // our own cursors as far as we reported them
    this.readSent = "";
    this.activity = 0; // local time of the newest activity, for list order
  }

  /** ordered returns the messages sorted by messageId. */
  ordered() {
    if (!this.sorted) this.sorted = [...this.messages.values()].sort((a, b) => (a.messageId < b.messageId ? -1 : a.messageId > b.messageId ? 1 : 0));
    return this.sorted;
  }

  newestId() {
    const o = this.ordered();
    return o.length ? o[o.length - 1].messageId : this.lastMessage?.messageId || "";
  }

  /** sortKey orders the conversation list: newest activity first. */
  sortKey() {
    return Math.max(this.lastMessage?.createdAt || 0, this.createdAt || 0, this.activity);
  }
}

/** ChatStore holds every conversation of the signed-in user. */
export class ChatStore {
  constructor(me) {
    this.me = me;
    this.convs = new Map();
    this.presence = new Map(); // userId -> {online, lastSeen}
  }

  get(id) {
    return this.convs.get(id);
  }

  ensure(id) {
    let c = this.convs.get(id);
    if (!c) {
      c = new Conversation(id);
      this.convs.set(id, c);
    }
    return c;
  }

  /** dmWith returns the known direct conversation with peer (drafts included), if any. */
  dmWith(peer) {
    for (const c of this.convs.values()) if (c.kind === DM && c.peer === peer) return c;
    return undefined;
  }

  /** openDraft returns a draft direct conversation with peer. */
  openDraft(peer) {
    const c = this.ensure(draftId(peer));
    c.kind = DM;
    c.peer = peer;
    c.draft = true;
    c.next = "";
    c.activity = Date.now();
    return c;
  }

  /** promoteDraft replaces the draft with peer by the real conversation id. */
  promoteDraft(peer, id) {
    const d = this.convs.get(draftId(peer));
    const c = this.ensure(id);
    c.kind = DM;
    c.peer = c.peer || peer;
    if (d) {
      this.convs.delete(d.id);
      c.activity = Math.max(c.activity, d.activity);
    }
    return c;
  }

  /**
   * adoptDrafts drops each draft whose real direct conversation is now known. It returns a
   * map from the dropped draft ids to the conversation that replaces each.
   */
  adoptDrafts() {
    const moved = new Map();
    for (const d of [...this.convs.values()]) {
      if (!d.draft) continue;
      for (const c of this.convs.values()) {
        if (!c.draft && c.kind === DM && c.peer === d.peer) {
          this.convs.delete(d.id);
          c.activity = Math.max(c.activity, d.activity);
          moved.set(d.id, c);
          break;
        }
      }
    }
    return moved;
  }

  /** listed applies one entry of a `conversations` reply. */
  listed(e) {
    const c = this.ensure(e.conversationId);
    c.kind = e.kind || c.kind;
    c.name = e.name || "";
    if (typeof e.memberCount === "number") c.memberCount = e.memberCount;
    if (Array.isArray(e.members)) this.setMembers(c, e.members);
    if (e.peer) c.peer = e.peer;
    if (e.createdAt) c.createdAt = e.createdAt;
    if (e.lastMessage && (!c.lastMessage || e.lastMessage.messageId >= c.lastMessage.messageId)) c.lastMessage = e.lastMessage;
    c.unread = typeof e.unread === "number" ? e.unread : c.unread;
    this.guessPeer(c);
    return c;
  }

  /** conversation applies a `conversation` event or reply. It returns null when the caller left. */
  conversation(conv) {
    if (Array.isArray(conv.members) && !conv.members.includes(this.me)) {
      this.convs.delete(conv.conversationId);
      return null;
    }
    const c = this.ensure(conv.conversationId);
    c.kind = conv.kind || c.kind;
    c.name = conv.name || "";
    if (conv.createdAt) c.createdAt = conv.createdAt;
    if (Array.isArray(conv.members)) this.setMembers(c, conv.members);
    if (c.kind === DM && c.peer) {
      const d = this.convs.get(draftId(c.peer));
      if (d) this.convs.delete(d.id);
    }
    return c;
  }

  setMembers(c, members) {
    c.members = [...members];
    c.memberCount = members.length;
    if (c.kind === DM) c.peer = members.find((m) => m !== this.me) || c.peer;
  }

  /** guessPeer fills the peer of a direct conversation from what is known of it. */
  guessPeer(c) {
    if (c.kind !== DM || c.peer) return;
    for (const m of c.messages.values()) {
      if (m.senderId !== this.me) {
        c.peer = m.senderId;
        return;
      }
    }
    if (c.lastMessage && c.lastMessage.senderId !== this.me) {
      c.peer = c.lastMessage.senderId;
      return;
    }
    // A direct conversation's id is derived from both user ids: pick the one that is not ours.
    const parts = c.id.split(/[#:|~/]/).filter((p) => /^[A-Za-z0-9_.@-]{1,64}$/.test(p));
    if (parts.includes(this.me)) {
      const others = parts.filter((p) => p !== this.me && !/^(dm|DM|conv|CONV|direct)$/.test(p));
      if (others.length === 1) c.peer = others[0];
    }
  }

  /**
   * addMessage stores a message once (by messageId). It returns true when the message is new.
   */
  addMessage(m) {
    const c = this.ensure(m.conversationId);
    const old = c.messages.get(m.messageId);
    if (old) {
      // History may bring status fields for a message we already have.
      for (const k of ["status", "deliveredTo", "readBy"]) if (m[k] !== undefined) old[k] = m[k];
      return false;
    }
    if (!c.kind && c.id.startsWith("dm:")) {
      c.kind = DM;
      this.guessPeer(c);
    }
    c.messages.set(m.messageId, { ...m });
    c.sorted = null;
    if (!c.lastMessage || m.messageId > c.lastMessage.messageId) c.lastMessage = m;
    c.typing.delete(m.senderId);
    if (c.kind === DM && !c.peer && m.senderId !== this.me) c.peer = m.senderId;
    return true;
  }

  /** history applies a `history` reply (newest first) to its conversation. */
  history(reply) {
    const c = this.ensure(reply.conversationId);
    for (const m of reply.messages || []) this.addMessage({ ...m, conversationId: reply.conversationId });
    this.guessPeer(c);
    return c;
  }

  /** receipt applies a receipt event. It returns the conversation when known. */
  receipt(ev) {
    const c = this.convs.get(ev.conversationId);
    if (!c) return undefined;
    if (ev.userId === this.me) {
      // Another device of ours (or our own request) moved our cursor.
      if (ev.status === "read") {
        c.readSent = maxId(c.readSent, ev.upTo);
        if (!c.lastMessage || ev.upTo >= c.lastMessage.messageId) c.unread = 0;
      }
      c.deliveredSent = maxId(c.deliveredSent, ev.upTo);
      return c;
    }
    const cur = c.cursors.get(ev.userId) || { delivered: "", read: "" };
    cur.delivered = maxId(cur.delivered, ev.upTo);
    if (ev.status === "read") cur.read = maxId(cur.read, ev.upTo);
    c.cursors.set(ev.userId, cur);
    return c;
  }

  /**
   * status of one of our own messages: for a direct conversation {mark: "sent"|"delivered"|"read"};
   * for a group also {readBy, deliveredTo, others}.
   */
  status(c, m) {
    const rank = { sent: 0, delivered: 1, read: 2 };
    if (c.kind === DM) {
      let s = m.status && rank[m.status] !== undefined ? m.status : "sent";
      for (const cur of c.cursors.values()) {
        if (cur.read && cur.read >= m.messageId) s = "read";
        else if (cur.delivered && cur.delivered >= m.messageId && rank[s] < 1) s = "delivered";
      }
      return { mark: s };
    }
    let readBy = 0;
    let deliveredTo = 0;
    for (const cur of c.cursors.values()) {
      if (cur.read >= m.messageId && cur.read) readBy++;
      if (cur.delivered >= m.messageId && cur.delivered) deliveredTo++;
    }
    readBy = Math.max(readBy, m.readBy || 0);
    deliveredTo = Math.max(deliveredTo, m.deliveredTo || 0, readBy);
    const others = Math.max(0, (c.memberCount || c.members?.length || 1) - 1);
    let mark = "sent";
    if (others > 0 && readBy >= others) mark = "read";
    else if (others > 0 && deliveredTo >= others) mark = "delivered";
    return { mark, readBy, deliveredTo, others };
  }

  /** typing records a typing event; it returns the conversation when known. */
  typing(ev, now = Date.now()) {
    const c = this.convs.get(ev.conversationId);
    if (!c || ev.userId === this.me) return c;
    if (ev.state === "stop") c.typing.delete(ev.userId);
    else c.typing.set(ev.userId, now);
    return c;
  }

  /** typers returns who is typing in c now, dropping indicators older than TYPING_MS. */
  typers(c, now = Date.now()) {
    const out = [];
    for (const [u, at] of c.typing) {
      if (now - at < TYPING_MS) out.push(u);
      else c.typing.delete(u);
    }
    return out.sort();
  }

  /**
   * setPresence applies presence from an event or a query reply. A view older than the one
   * held is dropped: a presence reply computed before a user went offline can arrive after
   * the offline event, and must not turn the dot green again. lastSeen orders the views
   * (an event carries the time of the change).
   */
  setPresence(users) {
    for (const u of users || []) {
      const lastSeen = u.lastSeen || 0;
      const cur = this.presence.get(u.userId);
      if (cur && lastSeen < cur.lastSeen) continue;
      this.presence.set(u.userId, { online: !!u.online, lastSeen });
    }
  }

  /** list returns the conversations, newest activity first. */
  list() {
    return [...this.convs.values()].sort((a, b) => b.sortKey() - a.sortKey() || (a.id < b.id ? -1 : 1));
  }

  /** title is how a conversation is named in the UI. */
  title(c) {
    if (c.kind === DM) return c.peer || c.name || "Direct message";
    if (!c.kind) return c.name || "…";
    if (c.name) return c.name;
    const others = (c.members || []).filter((m) => m !== this.me);
    return others.length ? others.join(", ") : "Group";
  }

  /** dmPeers lists the peers of every direct conversation (for presence queries). */
  dmPeers() {
    const s = new Set();
    for (const c of this.convs.values()) if (c.kind === DM && c.peer) s.add(c.peer);
    return [...s];
  }
}
