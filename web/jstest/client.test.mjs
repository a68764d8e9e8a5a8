// Unit tests of the browser client's protocol logic (static/js/protocol.js) and model
// (static/js/store.js), with node:test. The WebSocket is a small fake, so each test can
// play the server's part frame by frame; the real server is exercised by e2e/chat.mjs.
// Run: node --test web/jstest/   (web/js_test.go runs it from `go test`).

import test from "node:test";
import assert from "node:assert/strict";
import { ParleyClient, backoffDelay, tokenSubject, Outbox } from "../static/js/protocol.js";
import { ChatStore, DM, GROUP, draftId, pendingFor } from "../static/js/store.js";

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
  for (const type of ["ack", "message", "synced", "sendfailed", "servererror", "receipt"]) {
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
