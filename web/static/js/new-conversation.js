// The "New conversation" dialog: a direct message to one user, or a group with a name and
// members. Opened from the sidebar's button and from the empty list's "Start a conversation".

import { DM } from "./store.js";
import { parseUsers } from "./format.js";
import { $ } from "./dom.js";
import { describe } from "./toast.js";

/**
 * setupNewConversation wires the dialog to a ChatContext. openDirect(peer) opens the direct
 * conversation with peer (a draft until its first message); openConversation(id) opens a
 * conversation by id.
 */
export function setupNewConversation(ctx, { openDirect, openConversation }) {
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
        const [peer, ...rest] = parseUsers($("new-to").value, ctx.store.me);
        if (!peer) return fail("Whom do you want to write to?");
        if (rest.length) return fail("A direct message goes to one person; make a group for more.");
        dlg.close();
        openDirect(peer);
        return;
      }
      const members = parseUsers($("new-members").value, ctx.store.me);
      const name = $("new-name").value.trim();
      if (!members.length) return fail("Add at least one member.");
      if (!name) return fail("Give the group a name.");
      const r = await ctx.client.createConversation(members, name);
      const c = ctx.store.conversation(r.conversation);
      c.activity = Date.now();
      dlg.close();
      openConversation(c.id);
    } catch (err) {
      fail(err instanceof Error && !err.code ? err.message : describe(err));
    }
  });
}
