// Parley's browser client: sign-in, the conversation list and the conversation pane.
// Protocol logic lives in protocol.js, the model in store.js; this file is the UI.

import { ParleyClient, DisconnectedError, MAX_BODY_BYTES, tokenSubject, utf8Length } from "./protocol.js";
import { ChatStore, DM, GROUP, draftId, TYPING_MS } from "./store.js";
import { h, clock, shortWhen, dayLabel, sameDay, lastSeen, paintAvatar, parseUsers } from "./format.js";

const $ = (id) => document.getElementById(id);
const SESSION_KEY = "parley.session";
const TYPING_THROTTLE_MS = 2000;
const GROUP_GAP_MS = 5 * 60_000;

const defaultWsUrl = () => `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`;

// ---------------------------------------------------------------------------------------
// Toasts: errors shown unobtrusively, bottom of the screen, gone after a few seconds.

function toast(text, kind = "error") {
  const el = h("div", { class: `toast ${kind}`, role: kind === "error" ? "alert" : "status" }, text);
  $("toasts").append(el);
  setTimeout(() => el.classList.add("leaving"), 4500);
  setTimeout(() => el.remove(), 5000);
}

function describe(err) {
  if (!err) return "Something went wrong";
  const byCode = {
    forbidden: "You are not a member of that conversation.",
    not_found: "That conversation does not exist.",
    too_large: "That is over the limit.",
    rate_limited: "Slow down a little, then try again.",
    internal: "The server had a problem; try again.",
    disconnected: "Not connected; try again in a moment.",
    timeout: "The server did not answer in time.",
  };
  if (err.code === "bad_request" || err.code === "too_large") return err.message || byCode[err.code];
  return byCode[err.code] || err.message || String(err);
}

// ---------------------------------------------------------------------------------------
// Sign-in.

function showLogin(message) {
  $("app").hidden = true;
  $("login").hidden = false;
  $("login-url").value = $("login-url").value || defaultWsUrl();
  $("login-user").value = localStorage.getItem("parley.lastUser") || "";
  setLoginError(message);
  $("login-user").focus();
}

function setLoginError(text) {
  $("login-error").hidden = !text;
  $("login-error").textContent = text || "";
}

async function onLogin(ev) {
  ev.preventDefault();
  setLoginError("");
  const url = $("login-url").value.trim() || defaultWsUrl();
  const pasted = $("login-token").value.trim();
  const button = $("login-submit");
  button.disabled = true;
  try {
    let token;
    let user;
    if (pasted) {
      user = tokenSubject(pasted);
      if (!user) throw new Error("That token has no user (sub claim).");
      token = pasted;
    } else {
      const name = $("login-user").value.trim();
      if (!/^[A-Za-z0-9_.@-]{1,64}$/.test(name)) throw new Error("Pick a name of 1 to 64 letters, digits or _ . @ -");
      let res;
      try {
        res = await fetch(`/local/token?user=${encodeURIComponent(name)}`, { headers: { Accept: "application/json" } });
      } catch {
        throw new Error("Cannot reach the server.");
      }
      if (res.status === 404) {
        $("login-advanced").open = true;
        throw new Error("This server does not hand out tokens. Paste a token below.");
      }
      const body = await res.json().catch(() => ({}));
      if (!res.ok || !body.token) throw new Error(body.message || body.error || `The server refused (${res.status}).`);
      token = body.token;
      user = body.user || name;
    }
    localStorage.setItem("parley.lastUser", user);
    const session = { token, user, url };
    sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
    startChat(session);
  } catch (err) {
    setLoginError(err.message);
  } finally {
    button.disabled = false;
  }
}

// ---------------------------------------------------------------------------------------
// The chat.

let client = null;
let store = null;
let activeId = "";
let lastTypingSent = 0;
let typingConv = "";
let receiptTimer = null;
const deliveredQueue = new Map(); // conversationId -> newest messageId to report delivered
let convRefreshTimer = null;
let renderQueued = false;
let typingTimer = null;
let loadingHistory = new Set();
const sendErrors = new Map(); // clientMsgId -> error text, for a moment after a refused send

function startChat(session) {
  $("login").hidden = true;
  $("app").hidden = false;
  store = new ChatStore(session.user);
  client = new ParleyClient({ url: session.url || defaultWsUrl(), token: session.token, storage: localStorage });
  $("me-name").textContent = session.user;
  paintAvatar($("me-avatar"), session.user);
  document.title = `Parley · ${session.user}`;

  client.addEventListener("state", (e) => onState(e.detail));
  client.addEventListener("connected", onConnected);
  client.addEventListener("synced", () => flushReceiptsSoon());
  client.addEventListener("message", (e) => onMessage(e.detail.message));
  client.addEventListener("ack", (e) => onAck(e.detail));
  client.addEventListener("sendfailed", (e) => {
    toast(`Message not sent: ${describe(e.detail)}`);
    render();
  });
  client.addEventListener("outbox", render);
  client.addEventListener("typing", (e) => {
    store.typing(e.detail);
    render();
    scheduleTypingExpiry();
  });
  client.addEventListener("receipt", (e) => {
    store.receipt(e.detail);
    render();
  });
  client.addEventListener("presence", (e) => {
    store.setPresence(e.detail.users);
    render();
  });
  client.addEventListener("conversation", (e) => onConversation(e.detail.conversation));
  client.addEventListener("servererror", (e) => toast(describe(e.detail)));
  client.start();
  // For the console and the browser test: the live client and model.
  window.parley = { client, store };
  render();
}

function signOut() {
  client?.stop();
  client = null;
  store = null;
  activeId = "";
  sessionStorage.removeItem(SESSION_KEY);
  nodeCache.clear();
  listCache.clear();
  $("message-list").replaceChildren();
  $("conv-list").replaceChildren();
  showLogin();
}

function onState({ state, attempt, everOpened }) {
  const el = $("conn-state");
  el.dataset.state = state;
  if (state === "open") el.textContent = "Online";
  else if (state === "connecting") el.textContent = attempt > 0 ? "Reconnecting…" : "Connecting…";
  else if (!everOpened && attempt >= 3) el.textContent = "Cannot connect — is the token valid?";
  else el.textContent = "Offline · retrying";
  $("app").dataset.conn = state;
}

async function onConnected() {
  await refreshConversations();
  const peers = store.dmPeers();
  if (peers.length) refreshPresence(peers);
  // Receipts that happened while we were away are not replayed: reload the open page.
  const c = store.get(activeId);
  if (c && !c.draft && c.next !== undefined) loadHistory(c, false);
  markReadIfVisible();
}

async function refreshConversations() {
  try {
    const r = await client.conversations();
    const seen = new Set();
    for (const e of r.conversations || []) seen.add(store.listed(e).id);
    render();
    return seen;
  } catch (err) {
    if (!(err instanceof DisconnectedError)) toast(`Could not load conversations: ${describe(err)}`);
    return null;
  }
}

function refreshConversationsSoon() {
  clearTimeout(convRefreshTimer);
  convRefreshTimer = setTimeout(async () => {
    await refreshConversations();
    refreshPresence(store.dmPeers());
  }, 150);
}

async function refreshPresence(peers) {
  for (let i = 0; i < peers.length; i += 100) {
    try {
      const r = await client.presence(peers.slice(i, i + 100));
      store.setPresence(r.users);
    } catch (err) {
      if (!(err instanceof DisconnectedError)) toast(`Presence: ${describe(err)}`);
    }
  }
  render();
}

function onMessage(m) {
  if (!m || !m.conversationId || !m.messageId) return;
  const known = store.get(m.conversationId);
  const isNew = store.addMessage(m);
  const c = store.get(m.conversationId);
  if (!known) refreshConversationsSoon();
  if (isNew) {
    c.activity = Date.now();
    queueDelivered(c, m.messageId);
    if (m.senderId !== store.me && !(c.id === activeId && isVisible())) {
      if (!c.readSent || m.messageId > c.readSent) c.unread = Math.min(100, c.unread + 1);
    }
  }
  markReadIfVisible();
  render();
}

function onAck(ack) {
  const entry = ack.entry;
  if (entry?.to) {
    const wasActive = activeId === draftId(entry.to);
    const c = store.promoteDraft(entry.to, ack.conversationId);
    if (wasActive) activeId = c.id;
    if (c.next === undefined) loadHistory(c, false);
    refreshConversationsSoon();
  }
  const c = store.ensure(ack.conversationId);
  // The message event may come before or after the ack; whichever is first adds the message.
  if (entry && store.addMessage({ conversationId: ack.conversationId, messageId: ack.messageId, senderId: store.me, body: entry.body, createdAt: ack.createdAt, clientMsgId: ack.clientMsgId })) {
    c.activity = Date.now();
  }
  queueDelivered(c, ack.messageId);
  markReadIfVisible();
  render();
}

function onConversation(conv) {
  const c = store.conversation(conv);
  if (!c) {
    if (activeId === conv.conversationId) activeId = "";
    toast("You left the group.", "info");
  } else {
    if (c.kind === DM && activeId === draftId(c.peer)) activeId = c.id;
    if (c.kind === DM && c.peer && !store.presence.has(c.peer)) refreshPresence([c.peer]);
  }
  render();
}

// ---------------------------------------------------------------------------------------
// Receipts.

function isVisible() {
  if (document.visibilityState !== "visible" || !document.hasFocus()) return false;
  // On a phone-sized screen the pane shows only when a conversation is open.
  return !$("pane-conv").hidden;
}

function queueDelivered(c, messageId) {
  if (c.draft) return;
  if (messageId <= c.deliveredSent) return;
  const cur = deliveredQueue.get(c.id);
  if (!cur || messageId > cur) deliveredQueue.set(c.id, messageId);
  flushReceiptsSoon();
}

function flushReceiptsSoon() {
  if (receiptTimer) return;
  receiptTimer = setTimeout(flushReceipts, 250);
}

function flushReceipts() {
  receiptTimer = null;
  // While sync replays, the protocol client acknowledges what it replayed; ours wait for
  // the "synced" event, which flushes them.
  if (!client || client.state !== "open" || client.syncing) return;
  for (const [id, upTo] of deliveredQueue) {
    deliveredQueue.delete(id);
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

function markReadIfVisible() {
  const c = store?.get(activeId);
  if (!c || c.draft || !client || client.state !== "open" || !isVisible()) return;
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
  render();
}

// ---------------------------------------------------------------------------------------
// History.

async function loadHistory(c, older) {
  if (c.draft || loadingHistory.has(c.id)) return;
  if (older && !c.next) return;
  loadingHistory.add(c.id);
  c.loadingOlder = older;
  render();
  const list = $("messages");
  const anchor = older && c.id === activeId ? list.scrollHeight - list.scrollTop : null;
  try {
    const r = await client.history(c.id, older ? c.next : undefined);
    store.history(r);
    if (older || c.next === undefined) c.next = r.next || "";
    const newest = (r.messages || [])[0];
    if (newest) queueDelivered(c, newest.messageId);
  } catch (err) {
    if (!(err instanceof DisconnectedError)) toast(`Could not load messages: ${describe(err)}`);
  } finally {
    loadingHistory.delete(c.id);
    c.loadingOlder = false;
  }
  renderNow();
  if (anchor !== null && c.id === activeId) list.scrollTop = list.scrollHeight - anchor;
  markReadIfVisible();
}

// ---------------------------------------------------------------------------------------
// Opening conversations, starting new ones.

function openConversation(id) {
  if (activeId !== id) stopTyping();
  activeId = id;
  const c = store.get(id);
  $("app").classList.add("pane-open");
  stickToBottom = true;
  render();
  if (c && c.next === undefined) loadHistory(c, false);
  markReadIfVisible();
  $("composer-input").focus();
}

function openDirect(peer) {
  let c = store.dmWith(peer);
  if (!c) c = store.openDraft(peer);
  if (!store.presence.has(peer)) refreshPresence([peer]);
  openConversation(c.id);
}

function setupNewDialog() {
  const dlg = $("new-dialog");
  let kind = DM;
  const setKind = (k) => {
    kind = k;
    for (const b of dlg.querySelectorAll("[role=tab]")) b.setAttribute("aria-selected", String(b.dataset.kind === k));
    for (const f of dlg.querySelectorAll("[data-for]")) f.hidden = f.dataset.for !== k;
    $("new-submit").textContent = k === DM ? "Start chat" : "Create group";
    (k === DM ? $("new-to") : $("new-name")).focus();
  };
  for (const b of dlg.querySelectorAll("[role=tab]")) b.addEventListener("click", () => setKind(b.dataset.kind));
  const open = () => {
    $("new-error").hidden = true;
    $("new-to").value = "";
    $("new-name").value = "";
    $("new-members").value = "";
    dlg.showModal();
    setKind(DM);
  };
  $("new-chat").addEventListener("click", open);
  $("new-chat-empty").addEventListener("click", open);
  $("new-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const fail = (msg) => {
      $("new-error").textContent = msg;
      $("new-error").hidden = false;
    };
    try {
      if (kind === DM) {
        const [peer, ...rest] = parseUsers($("new-to").value, store.me);
        if (!peer) return fail("Whom do you want to write to?");
        if (rest.length) return fail("A direct message goes to one person; make a group for more.");
        dlg.close();
        openDirect(peer);
        return;
      }
      const members = parseUsers($("new-members").value, store.me);
      const name = $("new-name").value.trim();
      if (!members.length) return fail("Add at least one member.");
      if (!name) return fail("Give the group a name.");
      const r = await client.createConversation(members, name);
      const c = store.conversation(r.conversation);
      c.activity = Date.now();
      dlg.close();
      openConversation(c.id);
    } catch (err) {
      fail(err instanceof Error && !err.code ? err.message : describe(err));
    }
  });
}

function setupGroupActions() {
  const dlg = $("add-dialog");
  $("add-members").addEventListener("click", () => {
    $("add-error").hidden = true;
    $("add-members-input").value = "";
    dlg.showModal();
  });
  $("add-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const c = store.get(activeId);
    try {
      const members = parseUsers($("add-members-input").value, store.me).filter((m) => !(c.members || []).includes(m));
      if (!members.length) throw new Error("Name someone who is not in the group yet.");
      const r = await client.addMembers(c.id, members);
      store.conversation(r.conversation);
      dlg.close();
      toast(`Added ${members.join(", ")}.`, "info");
      render();
    } catch (err) {
      $("add-error").textContent = err.code ? describe(err) : err.message;
      $("add-error").hidden = false;
    }
  });
  $("leave").addEventListener("click", () => {
    const c = store.get(activeId);
    if (!c) return;
    const cd = $("confirm-dialog");
    $("confirm-title").textContent = `Leave “${store.title(c)}”?`;
    $("confirm-text").textContent = "You will stop receiving its messages. A member can add you back.";
    cd.returnValue = "";
    cd.showModal();
    cd.addEventListener(
      "close",
      async () => {
        if (cd.returnValue !== "ok") return;
        try {
          await client.leave(c.id);
          store.convs.delete(c.id);
          if (activeId === c.id) activeId = "";
          $("app").classList.remove("pane-open");
          render();
        } catch (err) {
          toast(`Could not leave: ${describe(err)}`);
        }
      },
      { once: true },
    );
  });
  for (const d of document.querySelectorAll("dialog")) {
    for (const b of d.querySelectorAll("[data-close]")) b.addEventListener("click", () => d.close());
  }
}

// ---------------------------------------------------------------------------------------
// Composer: send, typing.

function autosize() {
  const ta = $("composer-input");
  ta.style.height = "auto";
  ta.style.height = `${Math.min(ta.scrollHeight, 160)}px`;
}

function onComposerInput() {
  autosize();
  const text = $("composer-input").value;
  $("send").disabled = !text.trim();
  const c = store.get(activeId);
  if (!c || c.draft) return;
  if (!text.trim()) {
    stopTyping();
    return;
  }
  const now = Date.now();
  if (now - lastTypingSent >= TYPING_THROTTLE_MS || typingConv !== c.id) {
    lastTypingSent = now;
    typingConv = c.id;
    client.typing(c.id, "start");
  }
}

function stopTyping() {
  if (!typingConv || !client) return;
  client.typing(typingConv, "stop");
  typingConv = "";
  lastTypingSent = 0;
}

function onSend(ev) {
  ev.preventDefault();
  const ta = $("composer-input");
  const body = ta.value.replace(/\s+$/, "");
  const c = store.get(activeId);
  if (!c || !body.trim()) return;
  if (utf8Length(body) > MAX_BODY_BYTES) {
    toast(`That message is too long (${utf8Length(body)} of ${MAX_BODY_BYTES} bytes).`);
    return;
  }
  stopTyping();
  if (c.draft) client.send({ to: c.peer, body });
  else client.send({ conversationId: c.id, body });
  c.activity = Date.now();
  ta.value = "";
  autosize();
  $("send").disabled = true;
  stickToBottom = true;
  render();
}

// ---------------------------------------------------------------------------------------
// Rendering.

let stickToBottom = true;

function render() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => {
    renderQueued = false;
    renderNow();
  });
}

function renderNow() {
  if (!store) return;
  for (const [from, to] of store.adoptDrafts()) {
    if (activeId === from) {
      activeId = to.id;
      if (to.next === undefined) loadHistory(to, false);
    }
  }
  renderList();
  renderPane();
}

function previewOf(c) {
  const typers = store.typers(c);
  if (typers.length) return { text: c.kind === DM ? "typing…" : `${typers[0]} is typing…`, typing: true };
  const pend = pendingFor(c);
  const last = c.lastMessage;
  if (pend.length && (!last || pend[pend.length - 1].createdAt >= last.createdAt)) return { text: `You: ${pend[pend.length - 1].body}` };
  if (!last) return { text: c.draft ? "New conversation" : c.kind === GROUP ? `${c.memberCount || c.members?.length || 0} members` : "No messages yet" };
  const who = last.senderId === store.me ? "You: " : c.kind === GROUP ? `${last.senderId}: ` : "";
  return { text: who + (last.body ?? ""), time: last.createdAt };
}

function renderList() {
  const filter = $("filter").value.trim().toLowerCase();
  const items = [];
  const all = store.list();
  for (const c of all) {
    const title = store.title(c);
    if (filter && !title.toLowerCase().includes(filter)) continue;
    const p = previewOf(c);
    const unread = c.id === activeId && isVisible() ? 0 : c.unread;
    const pr = c.kind === DM && c.peer ? store.presence.get(c.peer) : undefined;
    const sig = JSON.stringify([title, c.kind, c.peer, pr?.online, c.id === activeId, unread, p.text, p.typing, shortWhen(p.time || c.sortKey())]);
    items.push(
      cachedNode(listCache, c.id, sig, () => {
        const avatar = paintAvatar(h("div", { class: "avatar" }), title, c.kind === GROUP);
        if (c.kind === DM && c.peer) avatar.append(h("span", { class: `presence ${pr?.online ? "online" : "offline"}`, title: pr?.online ? "online" : "offline" }));
        return h(
          "button",
          {
            type: "button",
            class: `conv${c.id === activeId ? " active" : ""}${unread ? " unread" : ""}`,
            dataset: { id: c.id, title },
            onclick: () => openConversation(c.id),
          },
          avatar,
          h(
            "div",
            { class: "conv-main" },
            h("div", { class: "row" }, h("span", { class: "conv-name" }, title), h("time", { class: "conv-time" }, shortWhen(p.time || c.sortKey()))),
            h(
              "div",
              { class: "row" },
              h("span", { class: `preview${p.typing ? " typing-preview" : ""}` }, p.text),
              unread ? h("span", { class: "badge", "aria-label": `${unread} unread` }, unread >= 100 ? "99+" : String(unread)) : null,
            ),
          ),
        );
      }),
    );
  }
  setChildren($("conv-list"), items);
  $("conv-empty").hidden = all.length > 0;
  $("conv-list").hidden = all.length === 0;
  const totalUnread = all.reduce((n, c) => n + (c.id === activeId ? 0 : c.unread), 0);
  document.title = `${totalUnread ? `(${totalUnread}) ` : ""}Parley · ${store.me}`;
}

function pendingFor(c) {
  return client.outbox.items.filter((e) => (e.conversationId ? e.conversationId === c.id : c.kind === DM && e.to === c.peer));
}

// Rendering rebuilds only what changed: nodes are cached by key with a signature of what
// they show, and a container's children are replaced only when the sequence differs. This
// keeps clicks, selections and scroll positions stable while events stream in.
const nodeCache = new Map(); // message key -> {sig, el}
const listCache = new Map(); // conversationId -> {sig, el}

function cachedNode(cache, key, sig, build) {
  const hit = cache.get(key);
  if (hit && hit.sig === sig) return hit.el;
  const el = build();
  cache.set(key, { sig, el });
  return el;
}

function messageNode(key, sig, build) {
  return cachedNode(nodeCache, key, sig, build);
}

function setChildren(parent, nodes) {
  const cur = parent.children;
  if (cur.length === nodes.length && nodes.every((n, i) => cur[i] === n)) return;
  parent.replaceChildren(...nodes);
}

function ticks(mark) {
  const label = { sent: "Sent", delivered: "Delivered", read: "Read" }[mark];
  return h("span", { class: `ticks ${mark}`, title: label, "aria-label": label }, mark === "sent" ? "✓" : "✓✓");
}

function renderPane() {
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
  else if (c.loadingOlder || (loadingHistory.has(c.id) && c.next === undefined)) hs.textContent = "Loading…";
  else if (c.next === "") hs.textContent = c.messages.size ? "Beginning of the conversation" : "No messages yet. Say hello!";
  else hs.textContent = "";
  hs.classList.toggle("start", c.next === "" || c.draft);

  // Messages.
  const list = $("messages");
  const atBottom = stickToBottom || list.scrollHeight - list.scrollTop - list.clientHeight < 60;
  const nodes = [];
  const msgs = c.ordered();
  let prev = null;
  const seen = new Set();
  const pushDay = (t) => {
    const label = dayLabel(t);
    nodes.push(messageNode(`d:${new Date(t).toDateString()}`, label, () => h("div", { class: "day" }, h("span", {}, label))));
  };
  for (const m of msgs) {
    if (!prev || !sameDay(prev.createdAt, m.createdAt)) pushDay(m.createdAt);
    const own = m.senderId === store.me;
    const first = !prev || prev.senderId !== m.senderId || m.createdAt - prev.createdAt > GROUP_GAP_MS || !sameDay(prev.createdAt, m.createdAt);
    const st = own ? store.status(c, m) : null;
    const sig = JSON.stringify([first, st, m.body, c.kind]);
    nodes.push(
      messageNode(`m:${m.messageId}`, sig, () => {
        const meta = h("span", { class: "meta" }, h("time", { datetime: new Date(m.createdAt).toISOString(), title: new Date(m.createdAt).toLocaleString() }, clock(m.createdAt)));
        if (own) {
          if (c.kind === GROUP && st.readBy > 0) meta.append(h("span", { class: "read-by" }, st.readBy >= st.others ? "read by all" : `read by ${st.readBy}`));
          meta.append(ticks(st.mark));
        }
        return h(
          "div",
          { class: `msg ${own ? "own" : "other"}${first ? " first" : ""}`, dataset: { id: m.messageId, status: st?.mark || "" } },
          h("div", { class: "bubble" }, c.kind === GROUP && !own && first ? h("div", { class: "sender", style: { "--hue": String(hueOf(m.senderId)) } }, m.senderId) : null, h("span", { class: "text" }, m.body ?? ""), meta),
        );
      }),
    );
    seen.add(m.clientMsgId);
    prev = m;
  }
  for (const e of pendingFor(c)) {
    if (seen.has(e.clientMsgId)) continue;
    if (prev && !sameDay(prev.createdAt, e.createdAt)) pushDay(e.createdAt);
    const first = !prev || prev.senderId !== store.me;
    nodes.push(
      messageNode(`p:${e.clientMsgId}`, JSON.stringify([first]), () =>
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
  stickToBottom = false;
  $("jump").hidden = atBottom || list.scrollHeight - list.scrollTop - list.clientHeight < 200;
}

function hueOf(name) {
  let x = 0;
  for (const ch of String(name)) x = (x * 31 + ch.codePointAt(0)) >>> 0;
  return x % 360;
}

function scheduleTypingExpiry() {
  clearTimeout(typingTimer);
  typingTimer = setTimeout(() => {
    render();
    // Re-check while anyone is still shown as typing.
    for (const c of store?.convs.values() || []) if (store.typers(c).length) return scheduleTypingExpiry();
  }, Math.min(TYPING_MS, 1000));
}

// ---------------------------------------------------------------------------------------
// Wiring.

function init() {
  $("login-form").addEventListener("submit", onLogin);
  $("sign-out").addEventListener("click", signOut);
  $("composer").addEventListener("submit", onSend);
  const ta = $("composer-input");
  ta.addEventListener("input", onComposerInput);
  ta.addEventListener("blur", stopTyping);
  ta.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
      ev.preventDefault();
      $("composer").requestSubmit();
    }
  });
  $("filter").addEventListener("input", render);
  $("back").addEventListener("click", () => {
    stopTyping();
    activeId = "";
    $("app").classList.remove("pane-open");
    render();
  });
  $("messages").addEventListener("scroll", () => {
    const list = $("messages");
    const c = store?.get(activeId);
    if (c && list.scrollTop < 120 && c.next) loadHistory(c, true);
    $("jump").hidden = list.scrollHeight - list.scrollTop - list.clientHeight < 200;
  });
  $("jump").addEventListener("click", () => {
    const list = $("messages");
    list.scrollTo({ top: list.scrollHeight, behavior: "smooth" });
  });
  setupNewDialog();
  setupGroupActions();
  window.addEventListener("focus", () => {
    markReadIfVisible();
    render();
  });
  window.addEventListener("blur", stopTyping);
  document.addEventListener("visibilitychange", () => {
    markReadIfVisible();
    if (document.visibilityState === "visible") client?.reconnectNow();
  });
  window.addEventListener("online", () => client?.reconnectNow());
  // Refresh relative times ("last seen 3 min ago") now and then.
  setInterval(render, 30_000);

  let session = null;
  try {
    session = JSON.parse(sessionStorage.getItem(SESSION_KEY) || "null");
  } catch {
    session = null;
  }
  if (session?.token && session?.user) startChat(session);
  else showLogin();
}

init();
