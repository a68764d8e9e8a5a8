// Browser test of Parley's web client: two people chat through two headless Chromium
// contexts against a running server. Run by web/browser_test.go, which starts `parley local`;
// by hand: PARLEY_URL=http://127.0.0.1:8080 PARLEY_OUT=/tmp/shots node web/e2e/chat.mjs
//
// Version 1.1 (docs/protocol.md): a reply with its quote, an edit, reactions and a delete,
// each seen live by the other user, then from history after a reload, and the changes made
// while one user was away (page closed, or client stopped) seen after they come back.
//
// Environment:
//   PARLEY_URL       base URL of the server (required)
//   PARLEY_OUT       directory for screenshots (required)
//   PARLEY_CHROMIUM  the browser executable (default /usr/bin/chromium)
//
// It prints one line per step and exits non-zero with the reason on the first failure.

import { chromium } from "playwright-core";
import { mkdir } from "node:fs/promises";
import path from "node:path";

const base = process.env.PARLEY_URL;
const out = process.env.PARLEY_OUT;
if (!base || !out) {
  console.error("chat.mjs: set PARLEY_URL and PARLEY_OUT");
  process.exit(2);
}
const executablePath = process.env.PARLEY_CHROMIUM || "/usr/bin/chromium";
const STEP_TIMEOUT = 15_000;
// Unique names, so that a run never meets the conversations of an earlier one.
const run = Date.now().toString(36);
const aliceName = `alice-${run}`;
const bobName = `bob-${run}`;

await mkdir(out, { recursive: true });

const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
});

const problems = [];
const users = [];
let current = "start";

function step(name) {
  current = name;
  console.log(`step: ${name}`);
}

async function newUser(name, viewport = { width: 1180, height: 740 }) {
  const context = await browser.newContext({ viewport, deviceScaleFactor: 1 });
  // Nothing may be fetched from anywhere but the server under test.
  const origin = new URL(base).origin;
  await context.route("**/*", (route) => {
    const url = route.request().url();
    if (url.startsWith(origin) || url.startsWith("data:")) return route.continue();
    problems.push(`${name}: request to another origin: ${url}`);
    return route.abort();
  });
  // An error toast is a failure too: it reports to the console, which is watched.
  await context.addInitScript(() => {
    new MutationObserver((records) => {
      for (const r of records) for (const n of r.addedNodes) if (n.classList?.contains("toast") && n.classList.contains("error")) console.error(`toast: ${n.textContent}`);
    }).observe(document, { childList: true, subtree: true });
  });
  const u = { name, context, page: null };
  await openPage(u);
  return u;
}

/** openPage gives user u a new tab of their browser context (a closed one stays closed). */
async function openPage(u) {
  const page = await u.context.newPage();
  u.page = page;
  users.push({ name: u.name, page });
  page.setDefaultTimeout(STEP_TIMEOUT);
  page.on("pageerror", (err) => problems.push(`${u.name}: page error: ${err.message}`));
  page.on("console", (msg) => {
    if (msg.type() === "error") problems.push(`${u.name}: console error: ${msg.text()}`);
  });
  return page;
}

async function signIn(u) {
  await u.page.goto(base + "/");
  await u.page.locator("#login-user").fill(u.name);
  await u.page.locator("#login-submit").click();
  await u.page.locator('#conn-state[data-state="open"]').waitFor();
  await u.page.locator("#me-name", { hasText: u.name }).waitFor();
}

async function shot(u, file) {
  const p = path.join(out, file);
  await u.page.screenshot({ path: p });
  console.log(`screenshot: ${p}`);
}

function convItem(u, title) {
  return u.page.locator(`.conv[data-title="${title}"]`);
}

/** msg is the message of u's open conversation whose own text (not a quote) contains text. */
function msg(u, text, cls = "") {
  return u.page.locator(`#message-list .msg${cls}`).filter({ has: u.page.locator(".bubble > .text", { hasText: text }) });
}

/** act clicks one of a message's actions (react, reply, edit, delete), shown on hover. */
async function act(u, message, action) {
  await message.hover();
  await message.locator(`.act-${action}`).click();
}

/** reactWith opens the picker of a message and picks emoji. */
async function reactWith(u, message, emoji) {
  await act(u, message, "react");
  await message.locator(`.picker button[data-emoji="${emoji}"]`).click();
  await message.locator(".picker").waitFor({ state: "detached" });
}

/** reactionCount waits until message shows emoji with count (0: not at all); mine: ours or not. */
async function reactionCount(message, emoji, count, mine) {
  const chip = message.locator(`.reaction[data-emoji="${emoji}"]`);
  if (count === 0) {
    await chip.waitFor({ state: "detached" });
    return;
  }
  const sel = mine === undefined ? "" : mine ? ".mine" : ":not(.mine)";
  await message.locator(`.reaction${sel}[data-emoji="${emoji}"] .count`).filter({ hasText: new RegExp(`^${count}$`) }).waitFor();
}

async function typeSlowly(u, text) {
  // Type the way a person does, so the client sends typing events as it goes.
  await u.page.locator("#composer-input").click();
  await u.page.keyboard.type(text, { delay: 70 });
}

let failed = null;
try {
  const alice = await newUser(aliceName);
  const bob = await newUser(bobName);

  step("sign in as both users");
  await signIn(bob);
  await signIn(alice);
  await shot(alice, "01-alice-empty.png");

  step("alice starts a direct conversation with bob");
  await alice.page.locator("#new-chat").click();
  await alice.page.locator("#new-to").fill(bobName);
  await alice.page.locator("#new-submit").click();
  await alice.page.locator("#conv-title", { hasText: bobName }).waitFor();

  step("alice cannot see bob's presence before they share a conversation");
  await alice.page.locator("#conv-avatar .presence.offline").waitFor();

  step("alice sends the first message; it is acknowledged");
  await typeSlowly(alice, "Hi Bob! Are we still on for lunch?");
  await alice.page.keyboard.press("Enter");
  const first = alice.page.locator(".msg.own", { hasText: "Are we still on for lunch?" });
  await first.waitFor();
  await alice.page.locator('.msg.own[data-status]:not([data-status=""])', { hasText: "still on for lunch" }).waitFor();

  step("alice sees bob online once they share the conversation (presence dot)");
  await alice.page.locator("#conv-avatar .presence.online").waitFor();
  await alice.page.locator("#conv-subtitle", { hasText: "online" }).waitFor();

  step("bob gets the conversation with one unread message");
  const bobsItem = convItem(bob, aliceName);
  await bobsItem.waitFor();
  await bobsItem.locator(".badge", { hasText: "1" }).waitFor();
  await bobsItem.locator(".preview", { hasText: "still on for lunch" }).waitFor();
  await shot(bob, "02-bob-unread.png");

  step("alice sees her message delivered to bob (✓✓)");
  await alice.page.locator('.msg.own[data-status="delivered"], .msg.own[data-status="read"]', { hasText: "still on for lunch" }).waitFor();

  step("bob opens the conversation and reads the message");
  await bobsItem.click();
  await bob.page.locator(".msg.other", { hasText: "Are we still on for lunch?" }).waitFor();
  await bob.page.locator("#conv-avatar .presence.online").waitFor();
  await bobsItem.locator(".badge").waitFor({ state: "detached" });

  step("alice sees that bob read it (blue ✓✓)");
  await alice.page.locator('.msg.own[data-status="read"] .ticks.read', { hasText: "✓✓" }).first().waitFor();
  const color = await alice.page.locator('.msg.own[data-status="read"] .ticks.read').first().evaluate((el) => getComputedStyle(el).color);
  const [r, g, b] = color.match(/\d+/g).map(Number);
  if (!(b > 150 && b > r + 60)) throw new Error(`read ticks are not blue: ${color}`);

  step("bob sees alice typing");
  await typeSlowly(alice, "Great, see you at noon");
  await bob.page.locator("#typing:not([hidden])").waitFor();
  await bob.page.locator("#typing-text", { hasText: `${aliceName} is typing` }).waitFor();
  await convItem(bob, aliceName).locator(".typing-preview").waitFor();
  await shot(bob, "03-bob-sees-typing.png");

  step("alice sends; bob gets it and the typing indicator goes away");
  await alice.page.keyboard.press("Enter");
  await bob.page.locator(".msg.other", { hasText: "Great, see you at noon" }).waitFor();
  await bob.page.locator("#typing").waitFor({ state: "hidden" });

  step("bob answers; alice gets it and bob sees his message read");
  await typeSlowly(bob, "Perfect. The usual café?");
  await bob.page.keyboard.press("Enter");
  await alice.page.locator(".msg.other", { hasText: "The usual café?" }).waitFor();
  await bob.page.locator('.msg.own[data-status="read"]', { hasText: "The usual café?" }).waitFor();
  await alice.page.locator("#message-list .msg").nth(2).waitFor();
  const aliceCount = await alice.page.locator("#message-list .msg").count();
  const bobCount = await bob.page.locator("#message-list .msg").count();
  if (aliceCount !== 3 || bobCount !== 3) throw new Error(`want 3 messages on each side, alice has ${aliceCount}, bob ${bobCount}`);
  await shot(alice, "04-alice-chat.png");
  await shot(bob, "05-bob-chat.png");

  step("alice loses her connection, writes meanwhile; it is resent and synced after reconnect");
  await alice.page.evaluate(() => window.parley.client.ws.close(4000, "test: connection lost"));
  await alice.page.locator("#composer-input").fill("Sent while offline");
  await alice.page.keyboard.press("Enter");
  await alice.page.locator(".msg.own", { hasText: "Sent while offline" }).waitFor();
  await bob.page.locator("#composer-input").fill("Did you get this?");
  await bob.page.keyboard.press("Enter");
  await alice.page.locator('#conn-state[data-state="open"]').waitFor();
  await alice.page.locator(".msg.other", { hasText: "Did you get this?" }).waitFor();
  await alice.page.locator('.msg.own[data-status="read"]', { hasText: "Sent while offline" }).waitFor();
  await bob.page.locator(".msg.other", { hasText: "Sent while offline" }).waitFor();
  const offline = await bob.page.locator(".msg.other .text").getByText("Sent while offline", { exact: true }).count();
  if (offline !== 1) throw new Error(`bob has "Sent while offline" ${offline} times, want once`);

  step("alice creates a group with bob and carol");
  const group = `Lunch crew ${run}`;
  await alice.page.locator("#new-chat").click();
  await alice.page.locator('#new-dialog [data-kind="group"]').click();
  await alice.page.locator("#new-name").fill(group);
  await alice.page.locator("#new-members").fill(`${bobName}, carol-${run}`);
  await alice.page.locator("#new-submit").click();
  await alice.page.locator("#conv-title", { hasText: group }).waitFor();
  await alice.page.locator("#conv-subtitle", { hasText: "3 members" }).waitFor();
  await alice.page.locator("#composer-input").fill("Who is in for Friday?");
  await alice.page.keyboard.press("Enter");
  await alice.page.locator('.msg.own[data-status]:not([data-status=""])', { hasText: "Who is in for Friday?" }).waitFor();

  step("bob gets the group, opens it; alice sees 'read by 1'");
  const bobsGroup = convItem(bob, group);
  await bobsGroup.locator(".badge", { hasText: "1" }).waitFor();
  await bobsGroup.click();
  await bob.page.locator(".msg.other .sender", { hasText: aliceName }).waitFor();
  await alice.page.locator(".msg.own .read-by", { hasText: "read by 1" }).waitFor();

  step("alice adds dave");
  await alice.page.locator("#add-members").click();
  await alice.page.locator("#add-members-input").fill(`dave-${run}`);
  await alice.page.locator('#add-form button[type="submit"]').click();
  await alice.page.locator("#conv-subtitle", { hasText: "4 members" }).waitFor();
  await bob.page.locator("#conv-subtitle", { hasText: "4 members" }).waitFor();
  await shot(alice, "06-alice-group.png");

  step("bob scrolls back through a long history");
  const many = 60;
  for (let i = 1; i <= many; i++) {
    await alice.page.locator("#composer-input").fill(`count ${i}`);
    await alice.page.keyboard.press("Enter");
  }
  const newest = (u) => u.page.locator(".msg.other .text").getByText(`count ${many}`, { exact: true });
  await newest(bob).waitFor();
  await alice.page.locator(".msg.own.pending").first().waitFor({ state: "detached" });

  step("bob reloads, opens the group and scrolls back page by page");
  await bob.page.reload();
  await bob.page.locator('#conn-state[data-state="open"]').waitFor();
  await convItem(bob, group).click();
  await newest(bob).waitFor();
  const firstPage = await bob.page.locator("#message-list .msg").count();
  if (firstPage >= many + 1) throw new Error(`the first page already holds all ${firstPage} messages; paging untested`);
  for (let i = 0; i < 10 && !(await bob.page.locator("#history-state.start").isVisible()); i++) {
    await bob.page.locator("#messages").evaluate((el) => el.scrollTo(0, 0));
    await bob.page.waitForFunction((n) => document.querySelectorAll("#message-list .msg").length > n || document.querySelector("#history-state.start"), firstPage);
  }
  await bob.page.locator(".msg.other", { hasText: "Who is in for Friday?" }).waitFor();
  const all = await bob.page.locator("#message-list .msg").count();
  if (all !== many + 1) throw new Error(`after scrolling back bob has ${all} messages, want ${many + 1}`);

  step("bob leaves the group; alice sees 3 members");
  await bob.page.locator("#leave").click();
  await bob.page.locator('#confirm-dialog button[value="ok"]').click();
  await bobsGroup.waitFor({ state: "detached" });
  await alice.page.locator("#conv-subtitle", { hasText: "3 members" }).waitFor();
  await convItem(bob, aliceName).click();

  // ---- version 1.1: replies, edits, reactions, deletes ------------------------------------

  step("1.1: alice sends; bob replies to it with a quote (cancelled once with Escape)");
  await convItem(alice, bobName).click();
  await alice.page.locator("#composer-input").fill("Shall we book a table for 12:30?");
  await alice.page.keyboard.press("Enter");
  const bobA = msg(bob, "book a table for 12:30", ".other");
  await bobA.waitFor();
  await act(bob, bobA, "reply");
  await bob.page.locator("#composer-context:not([hidden])", { hasText: `Replying to ${aliceName}` }).waitFor();
  await bob.page.locator("#composer-context-preview", { hasText: "book a table for 12:30?" }).waitFor();
  await bob.page.locator("#messages .msg.replying").waitFor();
  await bob.page.locator("#composer-input").press("Escape");
  await bob.page.locator("#composer-context").waitFor({ state: "hidden" });
  await act(bob, bobA, "reply");
  await bob.page.locator("#composer-context:not([hidden])").waitFor();
  await shot(bob, "08-bob-replying.png");
  await typeSlowly(bob, "Yes, book it");
  await bob.page.keyboard.press("Enter");
  await bob.page.locator("#composer-context").waitFor({ state: "hidden" });
  const bobReply = msg(bob, "Yes, book it", ".own");
  await bobReply.locator(".quote .quote-sender", { hasText: aliceName }).waitFor();
  await bobReply.locator(".quote .quote-text", { hasText: "book a table for 12:30?" }).waitFor();
  await bob.page.locator('.msg.own[data-status]:not([data-status=""])', { hasText: "Yes, book it" }).waitFor();

  step("1.1: alice sees the reply with its quote live");
  const aliceReply = msg(alice, "Yes, book it", ".other");
  await aliceReply.locator(".quote .quote-sender", { hasText: "You" }).waitFor();
  await aliceReply.locator(".quote .quote-text", { hasText: "book a table for 12:30?" }).waitFor();
  await shot(bob, "09-bob-reply-quote.png");

  step("1.1: alice edits her message (Escape first gives back her draft); bob sees it live");
  const aliceA = msg(alice, "book a table for", ".own");
  await alice.page.locator("#composer-input").fill("a draft");
  await act(alice, aliceA, "edit");
  await alice.page.locator("#composer-context:not([hidden])", { hasText: "Editing" }).waitFor();
  if ((await alice.page.locator("#composer-input").inputValue()) !== "Shall we book a table for 12:30?") throw new Error("the composer does not hold the message to edit");
  await alice.page.locator("#composer-input").press("Escape");
  await alice.page.locator("#composer-context").waitFor({ state: "hidden" });
  if ((await alice.page.locator("#composer-input").inputValue()) !== "a draft") throw new Error("cancelling the edit did not give back the draft");
  await alice.page.locator("#composer-input").fill("");
  await act(alice, aliceA, "edit");
  await alice.page.locator("#composer-input").fill("Shall we book a table for 13:00?");
  await shot(alice, "10-alice-editing.png");
  await alice.page.keyboard.press("Enter");
  await alice.page.locator("#composer-context").waitFor({ state: "hidden" });
  await msg(alice, "table for 13:00?", ".own").locator(".meta .edited").waitFor();
  if ((await alice.page.locator("#composer-input").inputValue()) !== "") throw new Error("the composer is not empty after the edit");
  await msg(bob, "table for 13:00?", ".other").locator(".meta .edited", { hasText: "edited" }).waitFor();
  await msg(bob, "table for 12:30?").waitFor({ state: "detached" });
  // The quote is a copy taken when the reply was sent: it keeps the old text.
  await bobReply.locator(".quote .quote-text", { hasText: "book a table for 12:30?" }).waitFor();

  step("1.1: bob reacts 👍; alice sees the count live; her own reaction toggles");
  const bobA2 = msg(bob, "table for 13:00?", ".other");
  await act(bob, bobA2, "react");
  await bobA2.locator(".picker button").first().waitFor();
  await shot(bob, "11-bob-picker.png");
  await bob.page.keyboard.press("ArrowRight");
  await bobA2.locator('.picker button[data-emoji="❤️"]:focus').waitFor();
  await bob.page.keyboard.press("Escape"); // closes the picker, focus back on React
  await bobA2.locator(".picker").waitFor({ state: "detached" });
  await bobA2.locator(".act-react:focus").waitFor();
  await reactWith(bob, bobA2, "👍");
  await reactionCount(bobA2, "👍", 1, true);
  const aliceA2 = msg(alice, "table for 13:00?", ".own");
  await reactionCount(aliceA2, "👍", 1, false);
  await aliceA2.locator('.reaction[data-emoji="👍"]').click(); // alice adds hers
  await reactionCount(aliceA2, "👍", 2, true);
  await reactionCount(bobA2, "👍", 2, true);
  await aliceA2.locator('.reaction[data-emoji="👍"]').click(); // and takes it back
  await reactionCount(aliceA2, "👍", 1, false);
  await reactionCount(bobA2, "👍", 1, true);
  await reactWith(alice, aliceReply, "😂");
  await reactionCount(msg(bob, "Yes, book it", ".own"), "😂", 1, false);
  await shot(alice, "12-alice-edit-reactions.png");

  step("1.1: alice deletes a message (after confirming); bob sees the placeholder");
  await alice.page.locator("#composer-input").fill("Oops, wrong chat");
  await alice.page.keyboard.press("Enter");
  await msg(bob, "Oops, wrong chat", ".other").waitFor();
  const aliceOops = msg(alice, "Oops, wrong chat", ".own");
  await aliceOops.locator(".ticks:not(.pending)").waitFor();
  await act(alice, aliceOops, "delete");
  await alice.page.locator("#confirm-dialog[open]", { hasText: "Delete this message?" }).waitFor();
  await alice.page.locator("#confirm-ok").click();
  await alice.page.locator("#message-list .msg.own.deleted .text", { hasText: "Message deleted" }).waitFor();
  await bob.page.locator("#message-list .msg.other.deleted .text", { hasText: "Message deleted" }).waitFor();
  await msg(bob, "Oops, wrong chat").waitFor({ state: "detached" });
  await convItem(bob, aliceName).locator(".preview", { hasText: "Message deleted" }).waitFor();
  await shot(bob, "13-bob-deleted.png");

  step("1.1: bob reloads and sees the edit, the reactions, the quote and the placeholder from history");
  await bob.page.reload();
  await bob.page.locator('#conn-state[data-state="open"]').waitFor();
  await convItem(bob, aliceName).click();
  const expectAfterReload = async () => {
    await msg(bob, "table for 13:00?", ".other").locator(".meta .edited").waitFor();
    await reactionCount(msg(bob, "table for 13:00?", ".other"), "👍", 1, true);
    await msg(bob, "Yes, book it", ".own").locator(".quote .quote-text", { hasText: "book a table for 12:30?" }).waitFor();
    await reactionCount(msg(bob, "Yes, book it", ".own"), "😂", 1, false);
    await bob.page.locator("#message-list .msg.other.deleted .text", { hasText: "Message deleted" }).waitFor();
    if (await msg(bob, "Oops, wrong chat").count()) throw new Error("a deleted message's text came back");
  };
  await expectAfterReload();
  await shot(bob, "14-bob-after-reload.png");

  step("1.1: bob is away (page closed) while alice edits, reacts and sends; he comes back to it all");
  await bob.page.close();
  await alice.page.locator("#conv-avatar .presence.offline").waitFor({ timeout: 30_000 });
  await act(alice, msg(alice, "table for 13:00?", ".own"), "edit");
  await alice.page.locator("#composer-input").fill("Shall we book a table for 13:30?");
  await alice.page.keyboard.press("Enter");
  await msg(alice, "table for 13:30?", ".own").locator(".meta .edited").waitFor();
  await reactWith(alice, msg(alice, "Yes, book it", ".other"), "❤️");
  await reactionCount(msg(alice, "Yes, book it", ".other"), "❤️", 1, true);
  await alice.page.locator("#composer-input").fill("I booked it");
  await alice.page.keyboard.press("Enter");
  const booked = msg(alice, "I booked it", ".own");
  await booked.locator(".ticks:not(.pending)").waitFor();
  // ↑ in the empty composer edits her newest message.
  await alice.page.locator("#composer-input").press("ArrowUp");
  await alice.page.locator("#composer-context:not([hidden])", { hasText: "Editing" }).waitFor();
  await alice.page.locator("#composer-input").fill("I booked it (window table)");
  await alice.page.keyboard.press("Enter");
  await msg(alice, "I booked it (window table)", ".own").locator(".meta .edited").waitFor();
  await reactWith(alice, msg(alice, "I booked it (window table)", ".own"), "🎉");
  await reactionCount(msg(alice, "I booked it (window table)", ".own"), "🎉", 1, true);

  await openPage(bob);
  await signIn(bob);
  // Sync replayed the message sent meanwhile as it is now (edited), without counts, and the
  // reaction frame after it: the model has them before the conversation is even opened.
  await bob.page.waitForFunction(
    ({ peer, body }) => {
      const { store } = window.parley;
      const c = store.dmWith(peer);
      const m = c && [...c.messages.values()].find((x) => x.body === body);
      return m && m.editedAt && m.reactions?.length === 1 && m.reactions[0].emoji === "🎉" && m.reactions[0].count === 1 && !m.reactions[0].mine;
    },
    { peer: aliceName, body: "I booked it (window table)" },
  );
  await convItem(bob, aliceName).locator(".preview", { hasText: "I booked it (window table)" }).waitFor();
  await convItem(bob, aliceName).click();
  await msg(bob, "table for 13:30?", ".other").locator(".meta .edited").waitFor();
  await reactionCount(msg(bob, "table for 13:30?", ".other"), "👍", 1, true);
  await reactionCount(msg(bob, "Yes, book it", ".own"), "❤️", 1, false);
  await reactionCount(msg(bob, "Yes, book it", ".own"), "😂", 1, false);
  await msg(bob, "I booked it (window table)", ".other").locator(".meta .edited").waitFor();
  await reactionCount(msg(bob, "I booked it (window table)", ".other"), "🎉", 1, false);
  await bob.page.locator("#message-list .msg.other.deleted").waitFor();
  await shot(bob, "15-bob-back.png");

  step("1.1: bob's client is stopped while alice changes more; after it reconnects nothing counts twice");
  await bob.page.evaluate(() => window.parley.client.stop());
  await alice.page.locator("#conv-avatar .presence.offline").waitFor({ timeout: 30_000 });
  await act(alice, msg(alice, "I booked it (window table)", ".own"), "edit");
  await alice.page.locator("#composer-input").fill("I booked it (window table, 2 people)");
  await alice.page.keyboard.press("Enter");
  await msg(alice, "window table, 2 people", ".own").locator(".meta .edited").waitFor();
  await reactWith(alice, msg(alice, "table for 13:30?", ".own"), "👍");
  await reactionCount(msg(alice, "table for 13:30?", ".own"), "👍", 2, true);
  await bob.page.locator(".msg.other .text").getByText("I booked it (window table)", { exact: true }).waitFor(); // still the old text
  await bob.page.evaluate(() => window.parley.client.start());
  await bob.page.locator('#conn-state[data-state="open"]').waitFor();
  await msg(bob, "window table, 2 people", ".other").locator(".meta .edited").waitFor();
  await reactionCount(msg(bob, "table for 13:30?", ".other"), "👍", 2, true);
  // Sync and the history reload both bring these changes: each counts once.
  await bob.page.waitForTimeout(1500);
  await reactionCount(msg(bob, "table for 13:30?", ".other"), "👍", 2, true);
  await reactionCount(msg(bob, "window table, 2 people", ".other"), "🎉", 1, false);
  await reactionCount(msg(bob, "Yes, book it", ".own"), "❤️", 1, false);
  await reactionCount(msg(bob, "Yes, book it", ".own"), "😂", 1, false);
  if ((await bob.page.locator("#message-list .msg").count()) !== (await alice.page.locator("#message-list .msg").count())) throw new Error("alice and bob show a different number of messages");
  await shot(bob, "16-bob-reconnected.png");
  await shot(alice, "17-alice-final.png");

  step("a reload keeps the conversation (history) and the read marks");
  await alice.page.reload();
  await alice.page.locator('#conn-state[data-state="open"]').waitFor();
  await convItem(alice, bobName).click();
  await alice.page.locator(".msg.other", { hasText: "The usual café?" }).waitFor();
  await alice.page.locator('.msg.own[data-status="read"]', { hasText: "see you at noon" }).waitFor();

  step("a phone-sized screen shows one column");
  const phone = await newUser(aliceName, { width: 390, height: 740 });
  await signIn(phone);
  await convItem(phone, bobName).click();
  await phone.page.locator(".msg.other", { hasText: "The usual café?" }).waitFor();
  if (await phone.page.locator(".sidebar").isVisible()) throw new Error("on a phone the list should hide while a conversation is open");
  await shot(phone, "07-phone.png");
  await phone.context.close();

  step("bob leaves; alice sees him go offline");
  await bob.context.close();
  await alice.page.locator("#conv-avatar .presence.offline").waitFor({ timeout: 30_000 });
  await alice.context.close();

  if (problems.length) throw new Error(problems.join("\n"));
} catch (err) {
  failed = err;
  for (const [i, u] of users.entries()) {
    if (u.page.isClosed()) continue;
    const p = path.join(out, `failure-${i}-${u.name}.png`);
    await u.page.screenshot({ path: p }).then(() => console.log(`screenshot: ${p}`), () => {});
  }
}
await browser.close();
if (failed) {
  console.error(`FAIL at step "${current}": ${failed.message}`);
  if (problems.length) console.error(`page problems:\n${problems.join("\n")}`);
  process.exit(1);
}
console.log("PASS");
