package e2e

import (
	"fmt"
	"testing"
)

// TestTimeline is a client written from PROTOCOL.md §8 alone (raw frames, no
// internal/client) against the whole local system: replies, edits, reactions and deletes
// live, the errors of §8, and after a reconnect the replayed timeline and the folded
// history.
func TestTimeline(t *testing.T) {
	t.Parallel()
	s := defaultSystem(t)
	u := newUsers("alice", "bob")
	alice, bob := s.dialRaw(t, u[0]), s.dialRaw(t, u[1])

	alice.send(map[string]any{"action": "send", "to": u[1], "clientMsgId": "a-1", "body": "helo bob", "requestId": "s1"})
	ack := alice.reply("s1")
	conv, m1 := str(ack, "conversationId"), str(ack, "messageId")
	if ack["type"] != "ack" || len(m1) != 26 {
		t.Fatalf("ack %v", ack)
	}
	bob.readUntil("alice's message", isMessage(m1))

	// A reply quotes the message.
	bob.send(map[string]any{"action": "send", "conversationId": conv, "clientMsgId": "b-1", "body": "hi!", "replyTo": m1, "requestId": "s2"})
	m2 := str(bob.reply("s2"), "messageId")
	got := alice.readUntil("bob's reply", isMessage(m2))
	quote, _ := got["message"].(map[string]any)["replyTo"].(map[string]any)
	if quote["messageId"] != m1 || quote["senderId"] != u[0] || quote["preview"] != "helo bob" {
		t.Fatalf("the reply's replyTo %v, want alice's message quoted", quote)
	}

	// An edit: the reply to alice, the event to bob.
	alice.send(map[string]any{"action": "edit", "conversationId": conv, "messageId": m1, "body": "hello bob", "requestId": "e1"})
	edited := alice.reply("e1")
	if edited["type"] != "edited" || edited["messageId"] != m1 || edited["body"] != "hello bob" || str(edited, "eventId") <= m2 {
		t.Fatalf("edit reply %v", edited)
	}
	ev := bob.readUntil("the edited event", isEvent("edited", str(edited, "eventId")))
	if ev["requestId"] != nil || ev["body"] != "hello bob" || ev["editedAt"] != edited["editedAt"] {
		t.Fatalf("edited event %v, want the reply's without requestId", ev)
	}

	// A reaction: the reply to bob, the event to alice.
	bob.send(map[string]any{"action": "react", "conversationId": conv, "messageId": m1, "emoji": "👍", "requestId": "r1"})
	reacted := bob.reply("r1")
	if reacted["type"] != "reaction" || reacted["state"] != "add" || reacted["userId"] != u[1] || reacted["emoji"] != "👍" {
		t.Fatalf("react reply %v", reacted)
	}
	alice.readUntil("bob's reaction", isEvent("reaction", str(reacted, "eventId")))

	// §8's errors.
	for _, tc := range []struct {
		frame map[string]any
		code  string
	}{
		{map[string]any{"action": "edit", "conversationId": conv, "messageId": m1, "body": "mine now"}, "forbidden"},
		{map[string]any{"action": "delete", "conversationId": conv, "messageId": m1}, "forbidden"},
		{map[string]any{"action": "react", "conversationId": conv, "messageId": m1, "emoji": "two words"}, "bad_request"},
		{map[string]any{"action": "react", "conversationId": conv, "messageId": m1, "emoji": "👍", "state": "maybe"}, "bad_request"},
		{map[string]any{"action": "send", "conversationId": conv, "clientMsgId": "b-x", "body": "?", "replyTo": str(reacted, "eventId")}, "not_found"},
		{map[string]any{"action": "edit", "conversationId": conv, "messageId": m2, "body": ""}, "bad_request"},
	} {
		rid := fmt.Sprint("err-", tc.frame["action"], "-", tc.code, "-", len(tc.frame))
		tc.frame["requestId"] = rid
		bob.send(tc.frame)
		if r := bob.reply(rid); r["type"] != "error" || r["code"] != tc.code {
			t.Fatalf("%v: reply %v, want error %s", tc.frame, r, tc.code)
		}
	}

	// bob leaves; alice edits again, reacts and deletes meanwhile.
	if err := bob.ws.CloseNow(); err != nil {
		t.Fatal(err)
	}
	alice.send(map[string]any{"action": "react", "conversationId": conv, "messageId": m2, "emoji": "❤️", "requestId": "r2"})
	heart := str(alice.reply("r2"), "eventId")
	alice.send(map[string]any{"action": "edit", "conversationId": conv, "messageId": m1, "body": "hello, bob", "requestId": "e2"})
	alice.reply("e2")
	alice.send(map[string]any{"action": "delete", "conversationId": conv, "messageId": m1, "requestId": "d1"})
	deleted := alice.reply("d1")
	if deleted["type"] != "deleted" || deleted["messageId"] != m1 {
		t.Fatalf("delete reply %v", deleted)
	}
	alice.send(map[string]any{"action": "delete", "conversationId": conv, "messageId": m1, "requestId": "d2"})
	if again := alice.reply("d2"); again["eventId"] != deleted["eventId"] {
		t.Fatalf("a second delete answered %v, want the first's eventId", again)
	}

	// bob comes back: sync replays the timeline, oldest first; the superseded and
	// erased edits are not replayed.
	bob = s.dialRaw(t, u[1])
	bob.send(map[string]any{"action": "sync", "requestId": "y1"})
	var frames []map[string]any
	synced := bob.readUntil("synced", func(f map[string]any) bool {
		if f["type"] == "synced" {
			return true
		}
		frames = append(frames, f)
		return false
	})
	var order []string
	for _, f := range frames {
		id := str(f, "eventId")
		if f["type"] == "message" {
			id = str(f["message"].(map[string]any), "messageId")
		}
		order = append(order, fmt.Sprint(f["type"], ":", id))
	}
	want := []string{
		"message:" + m1, "message:" + m2,
		"reaction:" + str(reacted, "eventId"), "reaction:" + heart,
		"deleted:" + str(deleted, "eventId"),
	}
	if fmt.Sprint(order) != fmt.Sprint(want) || synced["count"] != float64(len(want)) {
		t.Fatalf("sync replayed %v (synced %v), want %v", order, synced, want)
	}
	if first := frames[0]["message"].(map[string]any); first["deleted"] != true || first["body"] != nil {
		t.Fatalf("the replayed deleted message %v, want deleted without body", first)
	}

	// history folds the state.
	bob.send(map[string]any{"action": "history", "conversationId": conv, "requestId": "h1"})
	h := bob.reply("h1")
	msgs := h["messages"].([]any)
	if len(msgs) != 2 {
		t.Fatalf("history %v, want the two messages only", h)
	}
	newest, oldest := msgs[0].(map[string]any), msgs[1].(map[string]any)
	if oldest["deleted"] != true || oldest["body"] != nil || oldest["editedAt"] == nil {
		t.Fatalf("history of the deleted message %v", oldest)
	}
	if fmt.Sprint(oldest["reactions"]) != "[map[count:1 emoji:👍 mine:true]]" {
		t.Fatalf("reactions of the deleted message %v, want bob's 👍", oldest["reactions"])
	}
	if fmt.Sprint(newest["reactions"]) != "[map[count:1 emoji:❤️ mine:false]]" || newest["replyTo"] == nil {
		t.Fatalf("history of the reply %v", newest)
	}

	// A receipt may name an event: the cursor passes the replayed changes.
	bob.send(map[string]any{"action": "receipt", "conversationId": conv, "messageId": str(deleted, "eventId"), "status": "read", "requestId": "rc"})
	if r := bob.reply("rc"); r["type"] != "receipt" || r["upTo"] != deleted["eventId"] {
		t.Fatalf("receipt naming an event id: %v", r)
	}
	bob.send(map[string]any{"action": "sync", "requestId": "y2"})
	if again := bob.readUntil("synced", func(f map[string]any) bool { return f["type"] == "synced" }); again["more"] != false {
		t.Fatalf("second sync %v", again)
	}

	// mute and unmute.
	bob.send(map[string]any{"action": "mute", "conversationId": conv, "requestId": "mu"})
	if r := bob.reply("mu"); r["type"] != "muted" || r["muted"] != true {
		t.Fatalf("mute reply %v", r)
	}
	bob.send(map[string]any{"action": "conversations", "requestId": "cs"})
	cs := bob.reply("cs")["conversations"].([]any)
	if len(cs) != 1 || cs[0].(map[string]any)["muted"] != true {
		t.Fatalf("conversations %v, want the muted conversation", cs)
	}
	bob.send(map[string]any{"action": "unmute", "conversationId": conv, "requestId": "um"})
	if r := bob.reply("um"); r["type"] != "muted" || r["muted"] != false {
		t.Fatalf("unmute reply %v", r)
	}
}

func str(f map[string]any, k string) string {
	s, _ := f[k].(string)
	return s
}

func isMessage(id string) func(map[string]any) bool {
	return func(f map[string]any) bool {
		m, ok := f["message"].(map[string]any)
		return f["type"] == "message" && ok && m["messageId"] == id
	}
}

func isEvent(typ, eventID string) func(map[string]any) bool {
	return func(f map[string]any) bool { return f["type"] == typ && f["eventId"] == eventID }
}
