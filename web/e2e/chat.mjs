// Browser test of Parley's web client: two people chat through two headless Chromium
// contexts against a running server. Run by web/browser_test.go, which starts `parley local`;
// by hand: PARLEY_URL=http://127.0.0.1:8080 PARLEY_OUT=/tmp/shots node web/e2e/chat.mjs
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
  const page = await context.newPage();
  users.push({ name, page });
  page.setDefaultTimeout(STEP_TIMEOUT);
  page.on("pageerror", (err) => problems.push(`${name}: page error: ${err.message}`));
  page.on("console", (msg) => {
    if (msg.type() === "error") problems.push(`${name}: console error: ${msg.text()}`);
  });
  return { name, context, page };
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
