// The open group's actions: the "Add members" dialog and the confirmation before leaving
// the group. Both buttons sit in the conversation pane's header, shown for groups only.

import { parseUsers } from "./format.js";
import { $, confirmAction } from "./dom.js";
import { toast, describe } from "./toast.js";

/** setupGroupDialogs wires both actions to the open conversation of a ChatContext. */
export function setupGroupDialogs(ctx) {
  const dlg = $("add-dialog");
  $("add-members").addEventListener("click", () => {
    $("add-error").hidden = true;
    $("add-members-input").value = "";
    dlg.showModal();
  });
  $("add-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const c = ctx.store.get(ctx.activeId);
    try {
      const members = parseUsers($("add-members-input").value, ctx.store.me).filter((m) => !(c.members || []).includes(m));
      if (!members.length) throw new Error("Name someone who is not in the group yet.");
      const r = await ctx.client.addMembers(c.id, members);
      ctx.store.conversation(r.conversation);
      dlg.close();
      toast(`Added ${members.join(", ")}.`, "info");
      ctx.render();
    } catch (err) {
      $("add-error").textContent = err.code ? describe(err) : err.message;
      $("add-error").hidden = false;
    }
  });
  $("leave").addEventListener("click", async () => {
    const c = ctx.store.get(ctx.activeId);
    if (!c) return;
    const ok = await confirmAction({ title: `Leave “${ctx.store.title(c)}”?`, text: "You will stop receiving its messages. A member can add you back.", ok: "Leave" });
    if (!ok) return;
    try {
      await ctx.client.leave(c.id);
      ctx.store.convs.delete(c.id);
      if (ctx.activeId === c.id) ctx.activeId = "";
      $("app").classList.remove("pane-open");
      ctx.render();
    } catch (err) {
      toast(`Could not leave: ${describe(err)}`);
    }
  });
}
