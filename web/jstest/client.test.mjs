// Unit tests of the browser client's protocol logic (static/js/protocol.js) and model
// (static/js/store.js), version 1.1's edits, deletes, reactions and replies included, with
// node:test. The WebSocket is a small fake, so each test can
// play the server's part frame by frame; the real server is exercised by e2e/chat.mjs.
// Run: node --test web/jstest/   (web/js_test.go runs it from `go test`).

import test from "node:test";
import assert from "node:assert/strict";
import { ParleyClient, backoffDelay, tokenSubject, Outbox } from "../static/js/protocol.js";
import { ChatStore, DM, GROUP, draftId, pendingFor, quoteOf, PREVIEW_CHARS } from "../static/js/store.js";

// A token whose payload is {"sub":"alice"}; the signature is never checked client-side.
const TOKEN = `x.${Buffer.from(JSON.stringify({ sub: "alice", exp: 9999999999 })).toString("base64url")}.y`;

class FakeSocket {
  static all = [];
  constructor(url) {
    this.url = url;
    this.readyState = 0;
    this.sent = [];
    FakeSocket.all.push(this);
  }
  send(data) {
    this.sent.push(JSON.parse(data));
  }
  close(code = 1000) {
    this.readyState = 3;
    this.onclose?.({ code });
  }
  // Server side.
  open() {
    this.readyState = 1;
    this.onopen?.();
  }
  deliver(frame) {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }
  frames(action) {
    return this.sent.filter((f) => f.action === action);
  }
}

class MemoryStorage {
  constructor() {
    this.m = new Map();
  }
  getItem(k) {
    return this.m.has(k) ? this.m.get(k) : null;
  }
  setItem(k, v) {
    this.m.set(k, String(v));
  }
}

function newClient(storage = new MemoryStorage()) {
  FakeSocket.all = [];
  const c = new ParleyClient({ url: "ws://test/ws", token: TOKEN, storage, WebSocket: FakeSocket });
  const events = [];
  for (const type of ["ack", "message", "synced", "sendfailed", "servererror", "receipt", "edited", "deleted", "reaction"]) {
    c.addEventListener(type, (e) => events.push({ type, ...e.detail }));
  }
  return { c, events, storage };
}

const tick = () => new Promise((r) => setImmediate(r));

test("tokenSubject reads the sub claim; backoff grows and stays bounded", () => {
  assert.equal(tokenSubject(TOKEN), "alice");
  assert.equal(tokenSubject("garbage"), "");
  for (let n = 1; n < 20; n++) {
    const d = backoffDelay(n);
    assert.ok(d >= 250 && d <= 15_000, `attempt ${n}: ${d}`);
  }
  assert.ok(backoffDelay(10) > backoffDelay(1));
});

test("the token goes in the query string", () => {
  const { c } = newClient();
  c.start();
  assert.match(FakeSocket.all[0].url, /^ws:\/\/test\/ws\?token=x\./);
  c.stop();
});

test("an un-acked message is resent with the same clientMsgId after a reconnect", async () => {
  const { c, events } = newClient();
  const entry = c.send({ conversationId: "g:1", body: "hello" }); // not connected yet: queued
  c.start();
  const ws1 = FakeSocket.all[0];
  ws1.open();
  const first = ws1.frames("send");
  assert.equal(first.length, 1);
  assert.equal(first[0].clientMsgId, entry.clientMsgId);
  assert.equal(first[0].conversationId, "g:1");

  ws1.close(1006); // lost before the ack
  c.reconnectNow();
  const ws2 = FakeSocket.all[1];
  ws2.open();
  const again = ws2.frames("send");
  assert.equal(again.length, 1);
  assert.equal(again[0].clientMsgId, entry.clientMsgId, "resend must reuse the clientMsgId");
  assert.notEqual(again[0].requestId, first[0].requestId);

  ws2.deliver({ type: "ack", requestId: again[0].requestId, clientMsgId: entry.clientMsgId, conversationId: "g:1", messageId: "01A", createdAt: 1 });
  assert.equal(c.outbox.items.length, 0);
  const acks = events.filter((e) => e.type === "ack");
  assert.equal(acks.length, 1);
  assert.equal(acks[0].entry.body, "hello");
  c.stop();
});

test("the outbox survives a reload (storage)", () => {
  const storage = new MemoryStorage();
  const a = newClient(storage).c;
  const entry = a.send({ to: "bob", body: "later" });
  const b = newClient(storage).c;
  assert.deepEqual(b.outbox.items.map((e) => e.clientMsgId), [entry.clientMsgId]);
  assert.equal(new Outbox(storage, "parley.outbox.alice").items[0].to, "bob");
});

test("sync is called after connect and again while more is true", async () => {
  const { c, events } = newClient();
  c.start();
  const ws = FakeSocket.all[0];
  ws.open();
  assert.equal(ws.frames("sync").length, 1);
  ws.deliver({ type: "message", message: { conversationId: "g:1", messageId: "01A", senderId: "bob", body: "1", createdAt: 1 } });
  ws.deliver({ type: "synced", requestId: ws.frames("sync")[0].requestId, count: 1, more: true });
  await tick();
  assert.equal(ws.frames("sync").length, 2);
  ws.deliver({ type: "synced", requestId: ws.frames("sync")[1].requestId, count: 0, more: false });
  await tick();
  assert.equal(ws.frames("sync").length, 2);
  assert.deepEqual(events.filter((e) => e.type === "synced").map((e) => e.count), [1]);
  c.stop();
});

test("while more is true, sync acknowledges exactly what it replayed before the next round", async () => {
  const { c, events } = newClient();
  c.start();
  const ws = FakeSocket.all[0];
  ws.open();
  const msg = (conversationId, messageId) => ({ type: "message", message: { conversationId, messageId, senderId: "bob", body: "x", createdAt: 1 } });
  ws.deliver(msg("g:1", "01A"));
  ws.deliver(msg("g:2", "01Z")); // live, beyond what sync has still to replay of g:2
  ws.deliver({ type: "synced", requestId: ws.frames("sync")[0].requestId, count: 1, more: true, lastMessageIds: { "g:1": "01A" } });
  await tick();
  assert.equal(c.syncing, true);
  const receipts = ws.frames("receipt");
  assert.deepEqual(receipts.map((r) => [r.conversationId, r.messageId, r.status]), [["g:1", "01A", "delivered"]]);
  assert.equal(ws.frames("sync").length, 1, "the next round waits for the receipt");
  ws.deliver({ type: "receipt", requestId: receipts[0].requestId, conversationId: "g:1", userId: "alice", status: "delivered", upTo: "01A", at: 1 });
  await tick();
  assert.equal(ws.frames("sync").length, 2);
  ws.deliver(msg("g:2", "01B"));
  ws.deliver({ type: "synced", requestId: ws.frames("sync")[1].requestId, count: 1, more: false, lastMessageIds: { "g:2": "01B" } });
  await tick();
  assert.equal(c.syncing, false);
  assert.equal(ws.frames("receipt").length, 1, "after the last round the app sends its own receipts");
  assert.deepEqual(events.filter((e) => e.type === "synced").map((e) => e.count), [2]);
  c.stop();
});

test("our message arriving before its ack settles the outbox once", () => {
  const { c, events } = newClient();
  c.start();
  const ws = FakeSocket.all[0];
  ws.open();
  const entry = c.send({ to: "bob", body: "hi" });
  const req = ws.frames("send")[0];
  assert.equal(req.to, "bob");
  ws.deliver({ type: "message", message: { conversationId: "dm:alice:bob", messageId: "01B", senderId: "alice", body: "hi", createdAt: 2, clientMsgId: entry.clientMsgId } });
  ws.deliver({ type: "ack", requestId: req.requestId, clientMsgId: entry.clientMsgId, conversationId: "dm:alice:bob", messageId: "01B", createdAt: 2 });
  const acks = events.filter((e) => e.type === "ack");
  assert.equal(acks.length, 2);
  assert.equal(acks[0].entry.to, "bob");
  assert.equal(acks[1].entry, undefined);
  assert.equal(c.outbox.items.length, 0);
  c.stop();
});

test("a refused send leaves the outbox; an internal error is retried later", () => {
  const { c, events } = newClient();
  c.start();
  const ws = FakeSocket.all[0];
  ws.open();
  const bad = c.send({ conversationId: "g:x", body: "nope" });
  const retry = c.send({ conversationId: "g:1", body: "again" });
  const [r1, r2] = ws.frames("send");
  ws.deliver({ type: "error", requestId: r1.requestId, action: "send", code: "forbidden", message: "not a member" });
  ws.deliver({ type: "error", requestId: r2.requestId, action: "send", code: "internal", message: "x" });
  assert.deepEqual(events.filter((e) => e.type === "sendfailed").map((e) => e.clientMsgId), [bad.clientMsgId]);
  assert.deepEqual(c.outbox.items.map((e) => e.clientMsgId), [retry.clientMsgId]);
  assert.equal(events.filter((e) => e.type === "servererror").length, 0, "send errors are reported as sendfailed, not twice");
  c.stop();
});

test("requests resolve by requestId and reject with the error code", async () => {
  const { c } = newClient();
  c.start();
  const ws = FakeSocket.all[0];
  ws.open();
  const hist = c.history("g:1", "01Z", 20);
  const pres = c.presence(["bob"]);
  const [h] = ws.frames("history");
  const [p] = ws.frames("presence");
  assert.deepEqual({ ...h, requestId: undefined }, { action: "history", conversationId: "g:1", before: "01Z", limit: 20, requestId: undefined });
  ws.deliver({ type: "error", requestId: h.requestId, action: "history", code: "forbidden", message: "no" });
  ws.deliver({ type: "presence", requestId: p.requestId, users: [{ userId: "bob", online: true }] });
  await assert.rejects(hist, (err) => err.code === "forbidden");
  assert.equal((await pres).users[0].online, true);
  c.stop();
});

test("requests in flight fail when the connection drops", async () => {
  const { c } = newClient();
  c.start();
  const ws = FakeSocket.all[0];
  ws.open();
  const pending = c.conversations();
  ws.close(1006);
  await assert.rejects(pending, (err) => err.code === "disconnected");
  c.stop();
});

// ---- version 1.1: edit, delete, react, replyTo -----------------------------------------

test("edit, delete and react send their frames and resolve with the reply, which is also emitted", async () => {
  const { c, events } = newClient();
  c.start();
  const ws = FakeSocket.all[0];
  ws.open();
  const strip = (f) => ({ ...f, requestId: undefined });

  const edit = c.edit("g:1", "01A", "fixed");
  const [e] = ws.frames("edit");
  assert.deepEqual(strip(e), { action: "edit", conversationId: "g:1", messageId: "01A", body: "fixed", requestId: undefined });
  const editReply = { type: "edited", requestId: e.requestId, conversationId: "g:1", messageId: "01A", eventId: "01E", body: "fixed", editedAt: 5 };
  ws.deliver(editReply);
  assert.deepEqual(await edit, editReply);

  const del = c.delete("g:1", "01B");
  const [d] = ws.frames("delete");
  assert.deepEqual(strip(d), { action: "delete", conversationId: "g:1", messageId: "01B", requestId: undefined });
  ws.deliver({ type: "deleted", requestId: d.requestId, conversationId: "g:1", messageId: "01B", eventId: "01F", at: 6 });
  assert.equal((await del).eventId, "01F");

  const add = c.react("g:1", "01A", "👍");
  const remove = c.react("g:1", "01A", "🎉", "remove");
  const [r1, r2] = ws.frames("react");
  assert.deepEqual(strip(r1), { action: "react", conversationId: "g:1", messageId: "01A", emoji: "👍", state: "add", requestId: undefined });
  assert.equal(r2.state, "remove");
  ws.deliver({ type: "reaction", requestId: r1.requestId, conversationId: "g:1", messageId: "01A", eventId: "01G", userId: "alice", emoji: "👍", state: "add", at: 7 });
  // A remove of a reaction we do not have changes nothing: no eventId.
  ws.deliver({ type: "reaction", requestId: r2.requestId, conversationId: "g:1", messageId: "01A", userId: "alice", emoji: "🎉", state: "remove", at: 7 });
  assert.equal((await add).eventId, "01G");
  assert.equal((await remove).eventId, undefined);

  // Events of other connections' changes (no requestId) are emitted the same way.
  ws.deliver({ type: "reaction", conversationId: "g:1", messageId: "01A", eventId: "01H", userId: "bob", emoji: "👍", state: "add", at: 8 });
  assert.deepEqual(events.filter((x) => ["edited", "deleted", "reaction"].includes(x.type)).map((x) => [x.type, x.eventId, !!x.requestId]), [
    ["edited", "01E", true],
    ["deleted", "01F", true],
    ["reaction", "01G", true],
    ["reaction", undefined, true],
    ["reaction", "01H", false],
  ]);
  assert.equal(events.filter((x) => x.type === "servererror").length, 0);
  c.stop();
});

test("a refused edit, delete or react rejects with the code and action", async () => {
  const { c, events } = newClient();
  c.start();
  const ws = FakeSocket.all[0];
  ws.open();
  const edit = c.edit("g:1", "01A", "x");
  const del = c.delete("g:1", "01A");
  const react = c.react("g:1", "01A", "not an emoji");
  ws.deliver({ type: "error", requestId: ws.frames("edit")[0].requestId, action: "edit", code: "forbidden", message: "not yours" });
  ws.deliver({ type: "error", requestId: ws.frames("delete")[0].requestId, action: "delete", code: "not_found", message: "gone" });
  ws.deliver({ type: "error", requestId: ws.frames("react")[0].requestId, action: "react", code: "bad_request", message: "emoji" });
  await assert.rejects(edit, (err) => err.code === "forbidden" && err.action === "edit");
  await assert.rejects(del, (err) => err.code === "not_found" && err.action === "delete");
  await assert.rejects(react, (err) => err.code === "bad_request" && err.action === "react");
  assert.equal(events.filter((x) => x.type === "servererror").length, 0);
  c.stop();
});

test("send carries replyTo (not the local quote), also when resent after a reconnect", () => {
  const { c, events } = newClient();
  c.start();
  const ws1 = FakeSocket.all[0];
  ws1.open();
  const quote = { messageId: "01A", senderId: "bob", preview: "lunch?" };
  const entry = c.send({ conversationId: "g:1", body: "yes!", replyTo: "01A", quote });
  const plain = c.send({ conversationId: "g:1", body: "no reply" });
  const [s1, s2] = ws1.frames("send");
  assert.equal(s1.replyTo, "01A");
  assert.equal(s1.quote, undefined, "the quote stays local");
  assert.equal("replyTo" in s2, false);
  assert.deepEqual(c.outbox.get(entry.clientMsgId).quote, quote);
  ws1.close(1006);
  c.reconnectNow();
  const ws2 = FakeSocket.all[1];
  ws2.open();
  const again = ws2.frames("send");
  assert.deepEqual(again.map((f) => [f.clientMsgId, f.replyTo]), [
    [entry.clientMsgId, "01A"],
    [plain.clientMsgId, undefined],
  ]);
  // A reply to a message that does not exist fails for good; the event says it was a reply.
  ws2.deliver({ type: "error", requestId: again[0].requestId, action: "send", code: "not_found", message: "no such message" });
  const failed = events.filter((x) => x.type === "sendfailed");
  assert.deepEqual(failed.map((x) => [x.clientMsgId, x.replyTo]), [[entry.clientMsgId, "01A"]]);
  c.stop();
});

// ---- store ------------------------------------------------------------------------------

const msg = (id, sender = "bob", conv = "dm:alice:bob") => ({ conversationId: conv, messageId: id, senderId: sender, body: `m${id}`, createdAt: Number.parseInt(id, 36) });

test("messages are deduped by messageId and ordered by messageId", () => {
  const s = new ChatStore("alice");
  assert.equal(s.addMessage(msg("03")), true);
  assert.equal(s.addMessage(msg("01")), true);
  assert.equal(s.addMessage(msg("02")), true);
  assert.equal(s.addMessage(msg("02")), false);
  const c = s.get("dm:alice:bob");
  assert.deepEqual(c.ordered().map((m) => m.messageId), ["01", "02", "03"]);
  assert.equal(c.lastMessage.messageId, "03");
  assert.equal(c.kind, DM);
  assert.equal(c.peer, "bob");
});

test("the peer of a direct conversation comes from its id when only we wrote", () => {
  const s = new ChatStore("alice");
  s.addMessage(msg("01", "alice", "dm:alice:bob.b"));
  assert.equal(s.get("dm:alice:bob.b").peer, "bob.b");
});

test("direct status follows the peer's cursors; history status is kept", () => {
  const s = new ChatStore("alice");
  s.history({ conversationId: "dm:alice:bob", messages: [{ ...msg("03", "alice"), status: "sent" }, { ...msg("02", "alice"), status: "delivered" }, { ...msg("01", "alice"), status: "read" }] });
  const c = s.get("dm:alice:bob");
  c.kind = DM;
  const st = () => c.ordered().map((m) => s.status(c, m).mark);
  assert.deepEqual(st(), ["read", "delivered", "sent"]);
  s.receipt({ conversationId: c.id, userId: "bob", status: "delivered", upTo: "03" });
  assert.deepEqual(st(), ["read", "delivered", "delivered"]);
  s.receipt({ conversationId: c.id, userId: "bob", status: "read", upTo: "02" });
  assert.deepEqual(st(), ["read", "read", "delivered"]);
});

test("group status counts readers; our own receipt clears unread", () => {
  const s = new ChatStore("alice");
  const c = s.conversation({ conversationId: "g:1", kind: GROUP, name: "G", members: ["alice", "bob", "carol"] });
  s.addMessage({ ...msg("05", "alice", "g:1") });
  const m = c.ordered()[0];
  assert.deepEqual(s.status(c, m), { mark: "sent", readBy: 0, deliveredTo: 0, others: 2 });
  s.receipt({ conversationId: "g:1", userId: "bob", status: "read", upTo: "05" });
  assert.equal(s.status(c, m).readBy, 1);
  assert.equal(s.status(c, m).mark, "sent");
  s.receipt({ conversationId: "g:1", userId: "carol", status: "delivered", upTo: "09" });
  assert.equal(s.status(c, m).mark, "delivered");
  s.receipt({ conversationId: "g:1", userId: "carol", status: "read", upTo: "09" });
  assert.equal(s.status(c, m).mark, "read");
  c.unread = 4;
  s.receipt({ conversationId: "g:1", userId: "alice", status: "read", upTo: "05" });
  assert.equal(c.unread, 0);
});

test("typing shows for 3 s after the last start and stops on stop or a message", () => {
  const s = new ChatStore("alice");
  const c = s.conversation({ conversationId: "g:1", kind: GROUP, members: ["alice", "bob", "carol"] });
  s.typing({ conversationId: "g:1", userId: "bob", state: "start" }, 1000);
  s.typing({ conversationId: "g:1", userId: "carol", state: "start" }, 1000);
  s.typing({ conversationId: "g:1", userId: "alice", state: "start" }, 1000);
  assert.deepEqual(s.typers(c, 3999), ["bob", "carol"]);
  s.typing({ conversationId: "g:1", userId: "carol", state: "stop" }, 2000);
  assert.deepEqual(s.typers(c, 2000), ["bob"]);
  assert.deepEqual(s.typers(c, 4000), []);
  s.typing({ conversationId: "g:1", userId: "bob", state: "start" }, 5000);
  s.addMessage({ ...msg("07", "bob", "g:1") });
  assert.deepEqual(s.typers(c, 5001), []);
});

test("leaving removes the conversation; a draft gives way to the real one", () => {
  const s = new ChatStore("alice");
  s.conversation({ conversationId: "g:1", kind: GROUP, members: ["alice", "bob"] });
  assert.equal(s.conversation({ conversationId: "g:1", kind: GROUP, members: ["bob"] }), null);
  assert.equal(s.get("g:1"), undefined);

  s.openDraft("bob");
  s.listed({ conversationId: "dm:alice:bob", kind: DM, name: "", peer: "bob", memberCount: 2, lastMessage: null, unread: 0 });
  const moved = s.adoptDrafts();
  assert.equal(moved.get(draftId("bob")).id, "dm:alice:bob");
  assert.equal(s.get(draftId("bob")), undefined);
  assert.equal(s.dmWith("bob").id, "dm:alice:bob");
});

test("a presence reply older than an event already applied does not override it", () => {
  const s = new ChatStore("alice");
  s.setPresence([{ userId: "bob", online: true, lastSeen: 1000 }]);
  s.setPresence([{ userId: "bob", online: false, lastSeen: 5000 }]); // the offline event
  s.setPresence([{ userId: "bob", online: true, lastSeen: 4000 }]); // a reply computed before it
  assert.deepEqual(s.presence.get("bob"), { online: false, lastSeen: 5000 });
  s.setPresence([{ userId: "bob", online: true, lastSeen: 6000 }]); // back online later
  assert.equal(s.presence.get("bob").online, true);
});

test("pending sends belong to their conversation, or to the direct one with their `to`", () => {
  const s = new ChatStore("alice");
  const dm = s.openDraft("bob");
  const g = s.ensure("g:1");
  g.kind = GROUP;
  const items = [
    { clientMsgId: "c1", to: "bob", body: "hi" },
    { clientMsgId: "c2", conversationId: "g:1", body: "all" },
    { clientMsgId: "c3", to: "carol", body: "yo" },
  ];
  assert.deepEqual(pendingFor(items, dm).map((e) => e.clientMsgId), ["c1"]);
  assert.deepEqual(pendingFor(items, g).map((e) => e.clientMsgId), ["c2"]);
  const real = s.promoteDraft("bob", "dm:alice:bob");
  items[0].conversationId = real.id; // Outbox.retarget after the ack
  assert.deepEqual(pendingFor(items, real).map((e) => e.clientMsgId), ["c1"]);
});

test("an idle connection sends keepalives, a busy one none, and no heartbeats", async () => {
  FakeSocket.all = [];
  const c = new ParleyClient({ url: "ws://test/ws", token: TOKEN, storage: new MemoryStorage(), WebSocket: FakeSocket, keepaliveMs: 60, keepaliveCheckMs: 10 });
  c.start();
  const ws = FakeSocket.all[0];
  ws.open();
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  await sleep(200);
  const idle = ws.frames("keepalive").length;
  assert.ok(idle >= 2, `keepalives while idle: ${idle}`);
  const before = ws.frames("keepalive").length;
  for (let i = 0; i < 10; i++) {
    c.sendFrame({ action: "presence", userIds: ["bob"] });
    await sleep(20);
  }
  assert.equal(ws.frames("keepalive").length, before, "keepalives while frames were sent");
  assert.equal(ws.frames("heartbeat").length, 0);
  c.stop();
});

// ---- store: version 1.1 changes -----------------------------------------------------------

const G = "g:1";
const change = (type, messageId, eventId, fields = {}) => ({ type, conversationId: G, messageId, eventId, ...fields });
const edit = (messageId, eventId, body) => change("edited", messageId, eventId, { body, editedAt: Number.parseInt(eventId, 36) });
const del = (messageId, eventId) => change("deleted", messageId, eventId, { at: 1 });
const react = (messageId, eventId, userId, emoji, state = "add") => change("reaction", messageId, eventId, { userId, emoji, state, at: 1 });

function groupStore() {
  const s = new ChatStore("alice");
  s.conversation({ conversationId: G, kind: GROUP, name: "G", members: ["alice", "bob", "carol"] });
  return s;
}
const get = (s, id) => s.get(G).messages.get(id);
const counts = (s, id) => (get(s, id).reactions || []).map((r) => `${r.emoji}${r.count}${r.mine ? "*" : ""}`);

test("edits apply by eventId: once, and an older edit arriving late changes nothing", () => {
  const s = groupStore();
  s.addMessage(msg("10", "bob", G));
  s.edited(edit("10", "12", "second"));
  assert.equal(get(s, "10").body, "second");
  assert.equal(get(s, "10").editedAt, Number.parseInt("12", 36));
  s.edited(edit("10", "11", "first")); // older, arrived after
  assert.equal(get(s, "10").body, "second");
  s.edited(edit("10", "12", "second")); // the same again (live and from sync)
  s.edited(edit("10", "13", "third"));
  assert.equal(get(s, "10").body, "third");
  assert.equal(get(s, "10").lastEventId, "13");
  assert.equal(s.get(G).lastMessage.body, "third", "the conversation list shows the edit");
});

test("a delete leaves a placeholder without body, for good; a late edit does not bring it back", () => {
  const s = groupStore();
  s.addMessage(msg("10", "bob", G));
  s.edited(edit("10", "11", "edited"));
  s.deleted(del("10", "13"));
  const m = get(s, "10");
  assert.equal(m.deleted, true);
  assert.equal("body" in m, false);
  assert.equal(m.editedAt, undefined);
  s.edited(edit("10", "12", "late edit"));
  s.edited(edit("10", "14", "after"));
  assert.equal(get(s, "10").deleted, true);
  assert.equal("body" in get(s, "10"), false);
  s.deleted(del("10", "13")); // again: nothing changes
  assert.deepEqual(s.get(G).ordered().map((x) => x.messageId), ["10"], "it keeps its place");
  // A message frame of the message (sync's replayed window) does not undelete it either.
  s.addMessage({ ...msg("10", "bob", G), lastEventId: "12" });
  assert.equal(get(s, "10").deleted, true);
});

test("reactions: history counts, then events by eventId; mine follows our own", () => {
  const s = groupStore();
  s.history({
    conversationId: G,
    messages: [{ ...msg("10", "bob", G), lastEventId: "15", reactions: [{ emoji: "👍", count: 2, mine: true }, { emoji: "🎉", count: 1, mine: false }] }],
  });
  assert.deepEqual(counts(s, "10"), ["👍2*", "🎉1"]);
  s.reaction(react("10", "16", "carol", "👍"));
  s.reaction(react("10", "16", "carol", "👍")); // the same event twice
  assert.deepEqual(counts(s, "10"), ["👍3*", "🎉1"]);
  s.reaction(react("10", "17", "alice", "👍", "remove"));
  assert.deepEqual(counts(s, "10"), ["👍2", "🎉1"]);
  s.reaction(react("10", "18", "bob", "🎉", "remove"));
  assert.deepEqual(counts(s, "10"), ["👍2"], "an emoji without reactions goes");
  s.reaction(react("10", "19", "alice", "❤️"));
  assert.deepEqual(counts(s, "10"), ["👍2", "❤️1*"]);
  // A reply that changed nothing has no eventId and is ignored.
  s.reaction({ ...react("10", undefined, "alice", "❤️") });
  assert.deepEqual(counts(s, "10"), ["👍2", "❤️1*"]);
});

test("changes at or below the lastEventId of the history snapshot are skipped", () => {
  const s = groupStore();
  s.history({ conversationId: G, messages: [{ ...msg("10", "bob", G), body: "v2", editedAt: 3, lastEventId: "15", reactions: [{ emoji: "👍", count: 1, mine: false }] }] });
  s.edited(edit("10", "12", "v1")); // folded into the snapshot already
  s.reaction(react("10", "14", "bob", "👍")); // counted in the snapshot
  s.reaction(react("10", "15", "carol", "😂"));
  assert.equal(get(s, "10").body, "v2");
  assert.deepEqual(counts(s, "10"), ["👍1"]);
  s.edited(edit("10", "16", "v3"));
  s.reaction(react("10", "17", "carol", "👍"));
  assert.equal(get(s, "10").body, "v3");
  assert.deepEqual(counts(s, "10"), ["👍2"]);
});

test("a message replayed by sync has no counts: the reaction frames after it build them", () => {
  const s = groupStore();
  // The replayed message folds every change in (lastEventId is its last reaction) but
  // carries no reaction counts; the changes follow it in the replay.
  s.addMessage({ ...msg("10", "bob", G), body: "latest", editedAt: 4, lastEventId: "14" });
  s.edited(edit("10", "11", "latest"));
  s.reaction(react("10", "12", "carol", "👍"));
  s.reaction(react("10", "13", "alice", "👍"));
  s.reaction(react("10", "14", "carol", "❤️"));
  assert.equal(get(s, "10").body, "latest");
  assert.deepEqual(counts(s, "10"), ["👍2*", "❤️1"]);
  // The same replay again (a second sync, or the live copies) changes nothing.
  for (const id of ["12", "13"]) s.reaction(react("10", id, id === "12" ? "carol" : "alice", "👍"));
  assert.deepEqual(counts(s, "10"), ["👍2*", "❤️1"]);
  // Then the conversation is opened: history replaces the counts as of its lastEventId.
  s.history({ conversationId: G, messages: [{ ...msg("10", "bob", G), body: "latest", editedAt: 4, lastEventId: "14", reactions: [{ emoji: "👍", count: 2, mine: true }, { emoji: "❤️", count: 1, mine: false }] }] });
  assert.deepEqual(counts(s, "10"), ["👍2*", "❤️1"]);
});

test("a history page older than events already applied keeps them; a newer one replaces them", () => {
  const s = groupStore();
  s.addMessage(msg("10", "bob", G));
  s.reaction(react("10", "12", "bob", "👍"));
  s.reaction(react("10", "14", "carol", "👍"));
  s.edited(edit("10", "15", "new"));
  // A page read before 14 and 15 (its lastEventId is 12) arrives now.
  s.history({ conversationId: G, messages: [{ ...msg("10", "bob", G), lastEventId: "12", reactions: [{ emoji: "👍", count: 1, mine: false }] }] });
  assert.deepEqual(counts(s, "10"), ["👍2"]);
  assert.equal(get(s, "10").body, "new");
  // A page read after a change we missed (16: carol removed hers).
  s.history({ conversationId: G, messages: [{ ...msg("10", "bob", G), body: "new", editedAt: 9, lastEventId: "16", reactions: [{ emoji: "👍", count: 1, mine: false }] }] });
  assert.deepEqual(counts(s, "10"), ["👍1"]);
  s.reaction(react("10", "14", "carol", "👍")); // a late copy of an event the page includes
  assert.deepEqual(counts(s, "10"), ["👍1"]);
  // An even older page cannot take the counts back.
  s.history({ conversationId: G, messages: [{ ...msg("10", "bob", G), lastEventId: "12", reactions: [{ emoji: "👍", count: 1, mine: false }] }] });
  assert.deepEqual(counts(s, "10"), ["👍1"]);
  // A page that shows an edit or a delete we missed updates the message.
  s.history({ conversationId: G, messages: [{ ...msg("10", "bob", G), deleted: true, body: undefined, lastEventId: "17" }] });
  assert.equal(get(s, "10").deleted, true);
});

test("changes of a message not loaded yet apply when it comes", () => {
  const s = groupStore();
  s.reaction(react("10", "12", "bob", "👍"));
  s.edited(edit("10", "13", "edited"));
  s.reaction(react("99", "14", "bob", "👍")); // never loaded: nothing breaks
  // The page was read before the changes (no lastEventId).
  s.history({ conversationId: G, messages: [msg("10", "bob", G)] });
  assert.deepEqual(counts(s, "10"), ["👍1"]);
  assert.equal(get(s, "10").body, "edited");
  assert.equal(s.get(G).orphans.length, 1);
  // Changes of a conversation we do not know are dropped.
  assert.equal(s.reaction({ ...react("10", "15", "bob", "👍"), conversationId: "g:unknown" }), undefined);
});

test("replyTo: the quote of a message, and the server's replacing the local one", () => {
  const long = "x".repeat(PREVIEW_CHARS + 20);
  const s = groupStore();
  s.addMessage({ ...msg("10", "bob", G), body: `${"😀".repeat(PREVIEW_CHARS)}tail` });
  const q = quoteOf(get(s, "10"));
  assert.deepEqual({ ...q, preview: Array.from(q.preview).length }, { messageId: "10", senderId: "bob", preview: PREVIEW_CHARS });
  assert.equal(quoteOf({ messageId: "1", senderId: "b", body: long }).preview.length, PREVIEW_CHARS);
  assert.equal(quoteOf({ messageId: "1", senderId: "b", deleted: true }).preview, "");
  // Our reply, first from the ack (local quote), then its message event (the server's).
  s.addMessage({ conversationId: G, messageId: "11", senderId: "alice", body: "yes", createdAt: 2, replyTo: { messageId: "10", senderId: "bob", preview: "local" } });
  s.addMessage({ conversationId: G, messageId: "11", senderId: "alice", body: "yes", createdAt: 2, replyTo: { messageId: "10", senderId: "bob", preview: "server" } });
  assert.equal(get(s, "11").replyTo.preview, "server");
  // Deleting the quoted message does not change the quote.
  s.deleted(del("10", "12"));
  assert.equal(get(s, "11").replyTo.preview, "server");
});

test("the conversation list's last message follows edits and deletes", () => {
  const s = new ChatStore("alice");
  s.listed({ conversationId: G, kind: GROUP, name: "G", memberCount: 3, lastMessage: { ...msg("10", "bob", G), body: "old" }, unread: 1 });
  s.edited(edit("10", "11", "new"));
  assert.equal(s.get(G).lastMessage.body, "new");
  s.deleted(del("10", "12"));
  assert.equal(s.get(G).lastMessage.deleted, true);
  // Once the message is loaded, a later listing folds into it.
  const t = new ChatStore("alice");
  t.addMessage({ ...msg("10", "bob", G), body: "old" });
  t.listed({ conversationId: G, kind: GROUP, name: "G", memberCount: 3, lastMessage: { ...msg("10", "bob", G), body: "newer", editedAt: 5, lastEventId: "11" }, unread: 0 });
  assert.equal(t.get(G).messages.get("10").body, "newer");
  assert.equal(t.get(G).lastMessage, t.get(G).messages.get("10"));
});
