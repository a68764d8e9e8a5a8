// The client's model of the user's conversations: summaries, messages (deduped by messageId,
// ordered by messageId) with their edits, deletes, reactions and quotes (version 1.1),
// receipt cursors of the other members, typing and presence.
// No DOM and no network here; app.js feeds it protocol events and the views render from it.
//
// How changes are applied (docs/protocol.md, "The timeline"). A change (edit, delete,
// reaction) may arrive twice (live and from sync) and out of order (two server instances),
// and a message may come from a snapshot that already folds some changes in: `history`
// (with its reaction counts) or a `message` frame (latest body, no reaction counts). Per
// message the store keeps a Fold:
//   - stateId: the newest change reflected in body / editedAt / deleted. An edit applies
//     only if its eventId is above it (so an older edit arriving late changes nothing); a
//     delete always applies and stays.
//   - base, baseId: the reaction counts of the newest history snapshot and the snapshot's
//     lastEventId; a message frame gives an empty base as of "" (a replayed message has no
//     counts: the reaction frames after it build them). Reaction events at or below baseId
//     are in the base already and are skipped.
//   - events: the reaction events above baseId, by eventId (the same eventId counts once).
//     Counts are the base plus one per add and minus one per remove (the server makes an
//     event only when a reaction really changes); `mine` follows the newest of our own.
// Changes of a message not loaded yet wait (a few hundred per conversation) and apply when
// it comes: a history page asked for before a change can arrive after it.

/** Conversation kinds (PROTOCOL.md createConversation). */
export const DM = "dm";
export const GROUP = "group";

/** TYPING_MS: hide a typing indicator this long after the last `start`. */
export const TYPING_MS = 3000;

/** A reply quotes at most this many characters of the message it answers (PROTOCOL.md §8). */
export const PREVIEW_CHARS = 100;

/** At most this many changes of messages not loaded are kept per conversation. */
const MAX_ORPHANS = 300;

/** quoteOf is the replyTo of a reply to m, as the server will make it. */
export function quoteOf(m) {
  return { messageId: m.messageId, senderId: m.senderId, preview: m.deleted ? "" : Array.from(m.body ?? "").slice(0, PREVIEW_CHARS).join("") };
}

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

/** markDeleted turns m into the placeholder of a deleted message and returns it. */
function markDeleted(m) {
  m.deleted = true;
  delete m.body;
  delete m.editedAt;
  return m;
}

function copyReactions(list) {
  return Array.isArray(list) ? list.filter((r) => r && r.emoji && r.count > 0).map((r) => ({ emoji: r.emoji, count: r.count, mine: !!r.mine })) : [];
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
    this.folds = new Map(); // messageId -> Fold (see the top of this file)
    this.orphans = []; // [{type, ev}]: changes of messages not loaded yet, oldest first
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
    const stored = e.lastMessage && c.messages.get(e.lastMessage.messageId);
    if (stored) {
      // Folded like history: it may show an edit or a delete we have not seen.
      this.merge(c, stored, e.lastMessage, false);
      if (!c.lastMessage || stored.messageId >= c.lastMessage.messageId) c.lastMessage = stored;
    } else if (e.lastMessage && (!c.lastMessage || e.lastMessage.messageId >= c.lastMessage.messageId)) {
      c.lastMessage = e.lastMessage;
    }
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
   * A message we have takes what is newer in m: status fields, the server's quote, the body
   * state when m folds a later change in. fromHistory says m comes from a `history` page,
   * whose reaction counts (and lastEventId) replace older ones.
   */
  addMessage(m, fromHistory = false) {
    const c = this.ensure(m.conversationId);
    const old = c.messages.get(m.messageId);
    if (old) {
      this.merge(c, old, m, fromHistory);
      return false;
    }
    if (!c.kind && c.id.startsWith("dm:")) {
      c.kind = DM;
      this.guessPeer(c);
    }
    const stored = { ...m };
    if (stored.deleted) delete stored.body;
    const at = m.lastEventId || "";
    c.folds.set(m.messageId, { stateId: at, base: fromHistory ? copyReactions(m.reactions) : [], baseId: fromHistory ? at : "", events: new Map() });
    c.messages.set(m.messageId, stored);
    c.sorted = null;
    this.foldReactions(c, stored);
    if (!c.lastMessage || m.messageId >= c.lastMessage.messageId) c.lastMessage = stored;
    c.typing.delete(m.senderId);
    if (c.kind === DM && !c.peer && m.senderId !== this.me) c.peer = m.senderId;
    this.adoptOrphans(c, m.messageId);
    return true;
  }

  /** merge brings the stored message old up to date with another copy m of it. */
  merge(c, old, m, fromHistory) {
    // History may bring status fields for a message we already have.
    for (const k of ["status", "deliveredTo", "readBy"]) if (m[k] !== undefined) old[k] = m[k];
    // The server's quote replaces the one made locally for a message we sent.
    if (m.replyTo) old.replyTo = m.replyTo;
    const f = c.folds.get(old.messageId);
    const at = m.lastEventId || "";
    if (m.deleted) {
      markDeleted(old);
      f.stateId = maxId(f.stateId, at);
    } else if (!old.deleted && at > f.stateId) {
      old.body = m.body;
      if (m.editedAt) old.editedAt = m.editedAt;
      f.stateId = at;
    }
    if (at > (old.lastEventId || "")) old.lastEventId = at;
    if (fromHistory && at >= f.baseId) {
      f.base = copyReactions(m.reactions);
      f.baseId = at;
      for (const id of f.events.keys()) if (id <= at) f.events.delete(id);
      this.foldReactions(c, old);
    }
  }

  /** history applies a `history` reply (newest first) to its conversation. */
  history(reply) {
    const c = this.ensure(reply.conversationId);
    for (const m of reply.messages || []) this.addMessage({ ...m, conversationId: reply.conversationId }, true);
    this.guessPeer(c);
    return c;
  }

  /**
   * edited applies an `edited` event or reply. It returns the conversation when known.
   * An edit older than the body shown (by eventId) or of a deleted message changes nothing.
   */
  edited(ev) {
    const c = this.convs.get(ev.conversationId);
    if (!c || !ev.eventId) return c;
    const m = c.messages.get(ev.messageId);
    if (!m) {
      this.orphan(c, "edited", ev);
      const last = c.lastMessage;
      if (last?.messageId === ev.messageId && !last.deleted && ev.eventId > (last.lastEventId || "")) {
        c.lastMessage = { ...last, body: ev.body, editedAt: ev.editedAt, lastEventId: ev.eventId };
      }
      return c;
    }
    const f = c.folds.get(m.messageId);
    if (m.deleted || ev.eventId <= f.stateId) return c;
    m.body = ev.body;
    m.editedAt = ev.editedAt;
    f.stateId = ev.eventId;
    if (ev.eventId > (m.lastEventId || "")) m.lastEventId = ev.eventId;
    return c;
  }

  /** deleted applies a `deleted` event or reply: the message keeps its place, without body. */
  deleted(ev) {
    const c = this.convs.get(ev.conversationId);
    if (!c || !ev.eventId) return c;
    const m = c.messages.get(ev.messageId);
    if (!m) {
      this.orphan(c, "deleted", ev);
      if (c.lastMessage?.messageId === ev.messageId) c.lastMessage = markDeleted({ ...c.lastMessage });
      return c;
    }
    markDeleted(m);
    const f = c.folds.get(m.messageId);
    f.stateId = maxId(f.stateId, ev.eventId);
    if (ev.eventId > (m.lastEventId || "")) m.lastEventId = ev.eventId;
    return c;
  }

  /**
   * reaction applies a `reaction` event or reply, once per eventId; one at or below the
   * lastEventId of the message's history snapshot is counted in it already. A reply without
   * eventId changed nothing and is ignored. It returns the conversation when known.
   */
  reaction(ev) {
    const c = this.convs.get(ev.conversationId);
    if (!c || !ev.eventId || !ev.emoji) return c;
    const m = c.messages.get(ev.messageId);
    if (!m) {
      this.orphan(c, "reaction", ev);
      return c;
    }
    const f = c.folds.get(m.messageId);
    if (ev.eventId <= f.baseId || f.events.has(ev.eventId)) return c;
    f.events.set(ev.eventId, { userId: ev.userId, emoji: ev.emoji, add: ev.state !== "remove" });
    this.foldReactions(c, m);
    return c;
  }

  /** foldReactions sets m.reactions, [{emoji, count, mine}], from its base and events. */
  foldReactions(c, m) {
    const f = c.folds.get(m.messageId);
    const rows = new Map();
    for (const r of f.base) rows.set(r.emoji, { ...r });
    for (const id of [...f.events.keys()].sort()) {
      const e = f.events.get(id);
      let r = rows.get(e.emoji);
      if (!r) rows.set(e.emoji, (r = { emoji: e.emoji, count: 0, mine: false }));
      r.count += e.add ? 1 : -1;
      if (e.userId === this.me) r.mine = e.add;
    }
    const out = [...rows.values()].filter((r) => r.count > 0);
    if (out.length) m.reactions = out;
    else delete m.reactions;
  }

  /** orphan keeps a change of a message not loaded, until the message comes. */
  orphan(c, type, ev) {
    c.orphans.push({ type, ev });
    if (c.orphans.length > MAX_ORPHANS) c.orphans.splice(0, c.orphans.length - MAX_ORPHANS);
  }

  /** adoptOrphans applies the waiting changes of a message that has just been stored. */
  adoptOrphans(c, messageId) {
    if (!c.orphans.some((o) => o.ev.messageId === messageId)) return;
    const mine = c.orphans.filter((o) => o.ev.messageId === messageId);
    c.orphans = c.orphans.filter((o) => o.ev.messageId !== messageId);
    for (const o of mine) this[o.type](o.ev);
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
