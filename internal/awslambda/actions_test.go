package awslambda

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/chat"
)

func TestReceiptsAndHistoryStatus(t *testing.T) {
	e := newEnv(t, chat.Options{})
	alice, bob := uid("alice"), uid("bob")
	ac, ac2, bc := e.connect(alice), e.connect(alice), e.connect(bob)
	dm := e.must(alice, ac, map[string]any{"action": "createConversation", "members": []string{bob}})["conversation"].(map[string]any)["conversationId"].(string)
	m1, m2, m3 := e.send(alice, ac, dm, "1"), e.send(alice, ac, dm, "2"), e.send(alice, ac, dm, "3")

	status := func() []any {
		h := e.must(alice, ac, map[string]any{"action": "history", "conversationId": dm})
		var out []any
		for _, m := range h["messages"].([]any) { // newest first
			out = append(out, m.(map[string]any)["status"])
		}
		return out
	}
	if got := status(); len(got) != 3 || got[0] != "sent" || got[2] != "sent" {
		t.Fatalf("before receipts: %v", got)
	}

	e.push.reset()
	r := e.must(bob, bc, map[string]any{"action": "receipt", "conversationId": dm, "messageId": m2.MessageID, "status": "delivered", "requestId": "q"})
	if r["type"] != "receipt" || r["requestId"] != "q" || r["userId"] != bob || r["upTo"] != m2.MessageID || r["status"] != "delivered" {
		t.Fatalf("receipt reply %v", r)
	}
	for _, c := range []string{ac, ac2} {
		if evs := e.push.framesOf(c, "receipt"); len(evs) != 1 || evs[0]["requestId"] != nil || evs[0]["upTo"] != m2.MessageID {
			t.Fatalf("alice's connection %s got %v", c, evs)
		}
	}
	if evs := e.push.framesOf(bc, "receipt"); len(evs) != 0 {
		t.Fatalf("the calling connection got the event besides the reply: %v", evs)
	}
	if got := status(); got[0] != "sent" || got[1] != "delivered" || got[2] != "delivered" {
		t.Fatalf("after delivered up to m2: %v", got)
	}

	// read implies delivered; a receipt behind the cursor changes nothing and pushes nothing.
	e.must(bob, bc, map[string]any{"action": "receipt", "conversationId": dm, "messageId": m1.MessageID, "status": "read"})
	e.push.reset()
	e.must(bob, bc, map[string]any{"action": "receipt", "conversationId": dm, "messageId": m3.MessageID, "status": "read"})
	if got := status(); got[0] != "read" || got[1] != "read" || got[2] != "read" {
		t.Fatalf("after read up to m3: %v", got)
	}
	e.push.reset()
	e.must(bob, bc, map[string]any{"action": "receipt", "conversationId": dm, "messageId": m1.MessageID, "status": "delivered"})
	if evs := e.push.framesOf(ac, "receipt"); len(evs) != 0 {
		t.Fatalf("a receipt behind the cursor was announced: %v", evs)
	}
	if got := status(); got[2] != "read" {
		t.Fatalf("a receipt behind the cursor moved it back: %v", got)
	}
	// Bob's own messages carry no status for bob... but alice's view of bob's do not either.
	h := e.must(bob, bc, map[string]any{"action": "history", "conversationId": dm})
	if st := h["messages"].([]any)[0].(map[string]any)["status"]; st != nil {
		t.Fatalf("status on another's message: %v", st)
	}
}

func TestGroupCountsAndPaging(t *testing.T) {
	e := newEnv(t, chat.Options{})
	alice, bob, carol := uid("alice"), uid("bob"), uid("carol")
	ac, bc, cc := e.connect(alice), e.connect(bob), e.connect(carol)
	g := e.must(alice, ac, map[string]any{"action": "createConversation", "members": []string{bob, carol}, "name": "Trip"})
	conv := g["conversation"].(map[string]any)
	if conv["kind"] != "group" || conv["name"] != "Trip" || conv["createdBy"] != alice || len(conv["members"].([]any)) != 3 {
		t.Fatalf("group %v", conv)
	}
	id := conv["conversationId"].(string)
	for _, c := range []string{bc, cc} {
		if evs := e.push.framesOf(c, "conversation"); len(evs) != 1 || evs[0]["requestId"] != nil {
			t.Fatalf("member connection %s got %v", c, evs)
		}
	}
	var msgs []chat.Message
	for i := 0; i < 7; i++ {
		msgs = append(msgs, e.send(alice, ac, id, string(rune('a'+i))))
	}
	e.must(bob, bc, map[string]any{"action": "receipt", "conversationId": id, "messageId": msgs[6].MessageID, "status": "read"})
	e.must(carol, cc, map[string]any{"action": "receipt", "conversationId": id, "messageId": msgs[2].MessageID, "status": "delivered"})

	// Paging: 3 + 3 + 1, newest first, next chaining.
	var seen []string
	before := ""
	for page := 0; page < 4; page++ {
		req := map[string]any{"action": "history", "conversationId": id, "limit": 3}
		if before != "" {
			req["before"] = before
		}
		h := e.must(alice, ac, req)
		for _, m := range h["messages"].([]any) {
			mm := m.(map[string]any)
			seen = append(seen, mm["body"].(string))
			if mm["messageId"] == msgs[2].MessageID && (mm["deliveredTo"] != float64(2) || mm["readBy"] != float64(1)) {
				t.Fatalf("counts of message c: %v", mm)
			}
			if mm["messageId"] == msgs[6].MessageID && (mm["deliveredTo"] != float64(1) || mm["readBy"] != float64(1)) {
				t.Fatalf("counts of message g: %v", mm)
			}
		}
		next, ok := h["next"].(string)
		if !ok {
			break
		}
		before = next
	}
	if got := len(seen); got != 7 || seen[0] != "g" || seen[6] != "a" {
		t.Fatalf("paged %v", seen)
	}

	// Unread: bob read all, carol none (only alice's messages count, capped at 100).
	list := func(user, conn string) map[string]any {
		for _, c := range e.must(user, conn, map[string]any{"action": "conversations"})["conversations"].([]any) {
			if c.(map[string]any)["conversationId"] == id {
				return c.(map[string]any)
			}
		}
		t.Fatalf("%s does not list %s", user, id)
		return nil
	}
	if c := list(bob, bc); c["unread"] != float64(0) || c["memberCount"] != float64(3) || c["lastMessage"].(map[string]any)["body"] != "g" {
		t.Fatalf("bob's entry %v", c)
	}
	if c := list(carol, cc); c["unread"] != float64(7) {
		t.Fatalf("carol's entry %v", c)
	}
	if c := list(alice, ac); c["unread"] != float64(0) {
		t.Fatalf("alice's own messages counted unread: %v", c)
	}

	// addMembers and leave announce the group as it now stands to every member.
	dave := uid("dave")
	dc := e.connect(dave)
	e.push.reset()
	added := e.must(bob, bc, map[string]any{"action": "addMembers", "conversationId": id, "members": []string{dave}})
	if n := len(added["conversation"].(map[string]any)["members"].([]any)); n != 4 {
		t.Fatalf("after addMembers: %v", added)
	}
	for _, c := range []string{ac, cc, dc} {
		if len(e.push.framesOf(c, "conversation")) != 1 {
			t.Fatalf("%s was not told of the new member", c)
		}
	}
	e.push.reset()
	left := e.must(carol, cc, map[string]any{"action": "leave", "conversationId": id})
	if n := len(left["conversation"].(map[string]any)["members"].([]any)); n != 3 {
		t.Fatalf("after leave: %v", left)
	}
	if len(e.push.framesOf(ac, "conversation")) != 1 || len(e.push.framesOf(dc, "conversation")) != 1 {
		t.Fatal("remaining members were not told")
	}
	if out := e.call(carol, cc, map[string]any{"action": "history", "conversationId": id}); out["code"] != "forbidden" {
		t.Fatalf("carol after leaving: %v", out)
	}
	dm := e.must(alice, ac, map[string]any{"action": "createConversation", "members": []string{bob}})["conversation"].(map[string]any)["conversationId"].(string)
	if out := e.call(alice, ac, map[string]any{"action": "leave", "conversationId": dm}); out["code"] != "bad_request" {
		t.Fatalf("leave a DM: %v", out)
	}
}

func TestDirectConversationIsDeterministic(t *testing.T) {
	e := newEnv(t, chat.Options{})
	alice, bob := uid("alice"), uid("bob")
	ac, bc := e.connect(alice), e.connect(bob)
	a := e.must(alice, ac, map[string]any{"action": "createConversation", "members": []string{bob}})["conversation"].(map[string]any)
	b := e.must(bob, bc, map[string]any{"action": "createConversation", "members": []string{alice, alice}})["conversation"].(map[string]any)
	ack := e.must(alice, ac, map[string]any{"action": "send", "to": bob, "clientMsgId": "x", "body": "hi"})
	if a["conversationId"] != b["conversationId"] || a["conversationId"] != ack["conversationId"] || a["kind"] != "dm" {
		t.Fatalf("%v / %v / %v", a, b, ack)
	}
	if out := e.call(alice, ac, map[string]any{"action": "send", "to": alice, "clientMsgId": "y", "body": "me"}); out["code"] != "bad_request" {
		t.Fatalf("DM to self: %v", out)
	}
}

func TestTypingGoesToOtherMembersOnly(t *testing.T) {
	e := newEnv(t, chat.Options{})
	alice, bob := uid("alice"), uid("bob")
	ac, ac2, bc := e.connect(alice), e.connect(alice), e.connect(bob)
	dm := e.must(alice, ac, map[string]any{"action": "createConversation", "members": []string{bob}})["conversation"].(map[string]any)["conversationId"].(string)
	e.push.reset()
	if out := e.call(alice, ac, map[string]any{"action": "typing", "conversationId": dm}); out != nil {
		t.Fatalf("typing was answered: %v", out)
	}
	evs := e.push.framesOf(bc, "typing")
	if len(evs) != 1 || evs[0]["userId"] != alice || evs[0]["state"] != "start" || evs[0]["conversationId"] != dm {
		t.Fatalf("bob got %v", evs)
	}
	if len(e.push.framesOf(ac2, "typing")) != 0 || len(e.push.framesOf(ac, "typing")) != 0 {
		t.Fatal("the typer's own connections got the typing event")
	}
	e.must(alice, ac, map[string]any{"action": "typing", "conversationId": dm, "state": "stop"})
	if evs := e.push.framesOf(bc, "typing"); len(evs) != 2 || evs[1]["state"] != "stop" {
		t.Fatalf("stop: %v", evs)
	}
	if out := e.call(alice, ac, map[string]any{"action": "typing", "conversationId": dm, "state": "maybe"}); out["code"] != "bad_request" {
		t.Fatalf("bad state: %v", out)
	}
}

func TestHeartbeatAndPresenceEvents(t *testing.T) {
	e := newEnv(t, chat.Options{})
	alice, bob := uid("alice"), uid("bob")
	bc := e.connect(bob)
	e.must(bob, bc, map[string]any{"action": "createConversation", "members": []string{alice}})
	e.push.reset()
	ac := e.connect(alice)
	evs := e.push.framesOf(bc, "presence")
	if len(evs) != 1 || evs[0]["users"].([]any)[0].(map[string]any)["online"] != true {
		t.Fatalf("bob was not told alice came online: %v", evs)
	}
	// A second device does not announce again.
	e.push.reset()
	ac2 := e.connect(alice)
	if evs := e.push.framesOf(bc, "presence"); len(evs) != 0 {
		t.Fatalf("second connection announced: %v", evs)
	}
	hb := e.must(alice, ac, map[string]any{"action": "heartbeat", "requestId": "h"})
	if hb["type"] != "heartbeat" || hb["at"] == nil || hb["requestId"] != "h" {
		t.Fatalf("heartbeat reply %v", hb)
	}
	// Closing one of two connections keeps alice online; closing the last does not.
	e.disconnect(alice, ac)
	if evs := e.push.framesOf(bc, "presence"); len(evs) != 0 {
		t.Fatalf("offline announced while a connection remains: %v", evs)
	}
	e.disconnect(alice, ac2)
	if evs := e.push.framesOf(bc, "presence"); len(evs) != 1 || evs[0]["users"].([]any)[0].(map[string]any)["online"] != false {
		t.Fatalf("offline not announced: %v", evs)
	}
	// A frame of the closed connection processed after its $disconnect (API Gateway runs
	// them independently) must not bring alice back online.
	e.push.reset()
	e.must(alice, ac2, map[string]any{"action": "heartbeat"})
	if evs := e.push.framesOf(bc, "presence"); len(evs) != 0 {
		t.Fatalf("a late frame announced alice online again: %v", evs)
	}
	ps := e.must(bob, bc, map[string]any{"action": "presence", "userIds": []string{alice}})
	if u := ps["users"].([]any)[0].(map[string]any); u["online"] != false {
		t.Fatalf("alice online after a late frame: %v", u)
	}
}

// TestDisconnectAfterUnrecordedLapse: a user whose presence lapsed (no frame for 60 s) but
// whose lapse TTL has not announced yet, then disconnects: the disconnect announces the
// offline state, since no TTL deletion follows an explicit offline.
func TestDisconnectAfterUnrecordedLapse(t *testing.T) {
	var skew atomic.Int64
	e := newEnv(t, chat.Options{Now: func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }})
	alice, bob := uid("alice"), uid("bob")
	bc := e.connect(bob)
	e.must(bob, bc, map[string]any{"action": "createConversation", "members": []string{alice}})
	ac := e.connect(alice)
	skew.Store(int64(2 * time.Minute)) // alice lapses; the sweeper has not run
	e.push.reset()
	e.disconnect(alice, ac)
	evs := e.push.framesOf(bc, "presence")
	if len(evs) != 1 || evs[0]["users"].([]any)[0].(map[string]any)["online"] != false {
		t.Fatalf("bob got %v, want one offline event for alice", evs)
	}
}
