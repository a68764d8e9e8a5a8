// Parley's browser client: the controller. It signs in and out, owns the signed-in user's
// protocol client (protocol.js) and model (store.js), turns protocol events into model
// updates, and renders the views once per frame. Everything the views share is in one
// ChatContext (context.js) passed to each of them.
//
// The views: login.js (sign-in), conversation-list.js (the sidebar), message-pane.js (the open
// conversation and its history, reactions and the message actions), composer.js (writing,
// typing, replying and editing), new-conversation.js and
// group-dialogs.js (the dialogs). receipts.js reports what was delivered and read; toast.js
// shows errors.

import { ParleyClient, DisconnectedError } from "./protocol.js";
import { ChatStore, DM, draftId, TYPING_MS } from "./store.js";
import { $, conversationVisible } from "./dom.js";
import { ChatContext } from "./context.js";
import { defaultWsUrl, loadSession, clearSession } from "./session.js";
import { toast, describe } from "./toast.js";
import { Receipts } from "./receipts.js";
import { setupLogin, showLogin } from "./login.js";
import { ConversationList } from "./conversation-list.js";
import { MessagePane } from "./message-pane.js";
import { Composer } from "./composer.js";
import { setupNewConversation } from "./new-conversation.js";
import { setupGroupDialogs } from "./group-dialogs.js";

const ctx = new ChatContext({ render, renderNow });
const receipts = new Receipts(ctx);
const list = new ConversationList(ctx, { onOpen: openConversation });
const composer = new Composer(ctx, {
  onSent: () => {
    pane.stickToBottom = true;
    render();
  },
});
const pane = new MessagePane(ctx, receipts, {
  onBack: closeConversation,
  onReply: (c, m) => composer.startReply(c, m),
  onEdit: (c, m) => composer.startEdit(c, m),
});

let convRefreshTimer = null;
let renderQueued = false;
let typingTimer = null;

// ---------------------------------------------------------------------------------------
// Signing in and out.

function startChat(session) {
  $("login").hidden = true;
  $("app").hidden = false;
  const store = new ChatStore(session.user);
  const client = new ParleyClient({ url: session.url || defaultWsUrl(), token: session.token, storage: localStorage });
  ctx.store = store;
  ctx.client = client;
  list.showUser(session.user);
  document.title = `Parley · ${session.user}`;

  client.addEventListener("state", (e) => list.showState(e.detail));
  client.addEventListener("connected", onConnected);
  client.addEventListener("synced", () => receipts.flushSoon());
  client.addEventListener("message", (e) => onMessage(e.detail.message));
  client.addEventListener("ack", (e) => onAck(e.detail));
  client.addEventListener("sendfailed", (e) => {
    const gone = e.detail.code === "not_found" && e.detail.replyTo;
    toast(`Message not sent: ${gone ? "the message it replies to does not exist." : describe(e.detail)}`);
    render();
  });
  client.addEventListener("outbox", render);
  client.addEventListener("typing", (e) => {
    ctx.store.typing(e.detail);
    render();
    scheduleTypingExpiry();
  });
  client.addEventListener("receipt", (e) => {
    ctx.store.receipt(e.detail);
    render();
  });
  client.addEventListener("presence", (e) => {
    ctx.store.setPresence(e.detail.users);
    render();
  });
  client.addEventListener("conversation", (e) => onConversation(e.detail.conversation));
  for (const type of ["edited", "deleted", "reaction"]) client.addEventListener(type, (e) => onChange(type, e.detail));
  client.addEventListener("servererror", (e) => toast(describe(e.detail)));
  client.start();
  // For the console and the browser test: the live client and model.
  window.parley = { client, store };
  render();
}

function signOut() {
  ctx.client?.stop();
  ctx.client = null;
  ctx.store = null;
  ctx.activeId = "";
  clearSession();
  composer.clear();
  pane.clear();
  list.clear();
  showLogin();
}

// ---------------------------------------------------------------------------------------
// Protocol events.

async function onConnected() {
  await refreshConversations();
  const peers = ctx.store.dmPeers();
  if (peers.length) refreshPresence(peers);
  // Receipts that happened while we were away are not replayed: reload the open page.
  const c = ctx.store.get(ctx.activeId);
  if (c && !c.draft && c.next !== undefined) pane.loadHistory(c, false);
  receipts.markReadIfVisible();
}

async function refreshConversations() {
  try {
    const r = await ctx.client.conversations();
    const seen = new Set();
    for (const e of r.conversations || []) seen.add(ctx.store.listed(e).id);
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
    refreshPresence(ctx.store.dmPeers());
  }, 150);
}

async function refreshPresence(peers) {
  for (let i = 0; i < peers.length; i += 100) {
    try {
      const r = await ctx.client.presence(peers.slice(i, i + 100));
      ctx.store.setPresence(r.users);
    } catch (err) {
      if (!(err instanceof DisconnectedError)) toast(`Presence: ${describe(err)}`);
    }
  }
  render();
}

function onMessage(m) {
  if (!m || !m.conversationId || !m.messageId) return;
  const { store } = ctx;
  const known = store.get(m.conversationId);
  const isNew = store.addMessage(m);
  const c = store.get(m.conversationId);
  if (!known) refreshConversationsSoon();
  if (isNew) {
    c.activity = Date.now();
    receipts.queueDelivered(c, m.messageId);
    if (m.senderId !== store.me && !m.deleted && !(c.id === ctx.activeId && conversationVisible())) {
      if (!c.readSent || m.messageId > c.readSent) c.unread = Math.min(100, c.unread + 1);
    }
  }
  receipts.markReadIfVisible();
  render();
}

function onAck(ack) {
  const { store } = ctx;
  const entry = ack.entry;
  if (entry?.to) {
    const wasActive = ctx.activeId === draftId(entry.to);
    const c = store.promoteDraft(entry.to, ack.conversationId);
    if (wasActive) ctx.activeId = c.id;
    if (c.next === undefined) pane.loadHistory(c, false);
    refreshConversationsSoon();
  }
  const c = store.ensure(ack.conversationId);
  // The message event may come before or after the ack; whichever is first adds the message
  // (with the quote shown while it was sent; the message event brings the server's).
  const m = { conversationId: ack.conversationId, messageId: ack.messageId, senderId: store.me, body: entry?.body, createdAt: ack.createdAt, clientMsgId: ack.clientMsgId };
  if (entry?.quote && !c.messages.has(ack.messageId)) m.replyTo = entry.quote;
  if (entry && store.addMessage(m)) {
    c.activity = Date.now();
  }
  receipts.queueDelivered(c, ack.messageId);
  receipts.markReadIfVisible();
  render();
}

/**
 * onChange applies an edited, deleted or reaction frame (an event, or the reply to our own
 * change). Like a message, a change is a position in the timeline: reporting it delivered
 * keeps the next sync from replaying it.
 */
function onChange(type, ev) {
  if (!ev?.conversationId || !ev.messageId) return;
  const c = ctx.store[type](ev);
  if (!c) return;
  if (ev.eventId) receipts.queueDelivered(c, ev.eventId);
  render();
}

function onConversation(conv) {
  const c = ctx.store.conversation(conv);
  if (!c) {
    if (ctx.activeId === conv.conversationId) ctx.activeId = "";
    toast("You left the group.", "info");
  } else {
    if (c.kind === DM && ctx.activeId === draftId(c.peer)) ctx.activeId = c.id;
    if (c.kind === DM && c.peer && !ctx.store.presence.has(c.peer)) refreshPresence([c.peer]);
  }
  render();
}

function scheduleTypingExpiry() {
  clearTimeout(typingTimer);
  typingTimer = setTimeout(() => {
    render();
    // Re-check while anyone is still shown as typing.
    const { store } = ctx;
    for (const c of store?.convs.values() || []) if (store.typers(c).length) return scheduleTypingExpiry();
  }, Math.min(TYPING_MS, 1000));
}

// ---------------------------------------------------------------------------------------
// Opening and closing conversations.

function openConversation(id) {
  if (ctx.activeId !== id) composer.stopTyping();
  ctx.activeId = id;
  const c = ctx.store.get(id);
  $("app").classList.add("pane-open");
  pane.stickToBottom = true;
  render();
  if (c && c.next === undefined) pane.loadHistory(c, false);
  receipts.markReadIfVisible();
  composer.focus();
}

function openDirect(peer) {
  const { store } = ctx;
  let c = store.dmWith(peer);
  if (!c) c = store.openDraft(peer);
  if (!store.presence.has(peer)) refreshPresence([peer]);
  openConversation(c.id);
}

function closeConversation() {
  composer.stopTyping();
  ctx.activeId = "";
  $("app").classList.remove("pane-open");
  render();
}

// ---------------------------------------------------------------------------------------
// Rendering.

function render() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => {
    renderQueued = false;
    renderNow();
  });
}

function renderNow() {
  const { store } = ctx;
  if (!store) return;
  for (const [from, to] of store.adoptDrafts()) {
    if (ctx.activeId === from) {
      ctx.activeId = to.id;
      if (to.next === undefined) pane.loadHistory(to, false);
    }
  }
  list.render();
  composer.render();
  pane.render();
}

// ---------------------------------------------------------------------------------------
// Wiring.

function init() {
  setupLogin(startChat);
  $("sign-out").addEventListener("click", signOut);
  setupNewConversation(ctx, { openDirect, openConversation });
  setupGroupDialogs(ctx);
  // Every dialog's Cancel button closes it.
  for (const d of document.querySelectorAll("dialog")) {
    for (const b of d.querySelectorAll("[data-close]")) b.addEventListener("click", () => d.close());
  }
  window.addEventListener("focus", () => {
    receipts.markReadIfVisible();
    render();
  });
  document.addEventListener("visibilitychange", () => {
    receipts.markReadIfVisible();
    if (document.visibilityState === "visible") ctx.client?.reconnectNow();
  });
  window.addEventListener("online", () => ctx.client?.reconnectNow());
  // Refresh relative times ("last seen 3 min ago") now and then.
  setInterval(render, 30_000);

  const session = loadSession();
  if (session?.token && session?.user) startChat(session);
  else showLogin();
}

init();
