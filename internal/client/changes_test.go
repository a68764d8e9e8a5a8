package client

import (
	"fmt"
	"reflect"
	"sort"
	"testing"
	"time"
)

func TestChangeActions(t *testing.T) {
	t.Parallel()
	c := dialFake(t, newFakeServer(t), nil)
	ctx := testCtx(t)

	ed, err := c.Edit(ctx, "c1", "M1", "fixed")
	if err != nil {
		t.Fatalf("edit: %v", err)
	}
	if want := (Edited{ConversationID: "c1", MessageID: "M1", EventID: "E1", Body: "fixed", EditedAt: 1700000000002}); *ed != want {
		t.Errorf("edit = %+v, want %+v", *ed, want)
	}
	if _, err := c.Edit(ctx, "c1", "gone", "x"); ErrorCode(err) != CodeNotFound {
		t.Errorf("edit of a deleted message: %v, want not_found", err)
	}

	del, err := c.Delete(ctx, "c1", "M1")
	if err != nil {
		t.Fatalf("delete: %v", err)
	}
	if want := (Deleted{ConversationID: "c1", MessageID: "M1", EventID: "E2", At: 1700000000003}); *del != want {
		t.Errorf("delete = %+v, want %+v", *del, want)
	}

	for _, tt := range []struct {
		name, messageID, state string
		want                   Reaction
	}{
		{"add", "M1", ReactionAdd, Reaction{ConversationID: "c1", MessageID: "M1", EventID: "E3", UserID: "alice", Emoji: "👍", State: ReactionAdd, At: 1700000000004}},
		{"remove", "M1", ReactionRemove, Reaction{ConversationID: "c1", MessageID: "M1", EventID: "E3", UserID: "alice", Emoji: "👍", State: ReactionRemove, At: 1700000000004}},
		{"no-op has no eventId", "noop", ReactionAdd, Reaction{ConversationID: "c1", MessageID: "noop", UserID: "alice", Emoji: "👍", State: ReactionAdd, At: 1700000000004}},
	} {
		t.Run("react "+tt.name, func(t *testing.T) {
			r, err := c.React(ctx, "c1", tt.messageID, "👍", tt.state)
			if err != nil || *r != tt.want {
				t.Errorf("react = %+v, %v; want %+v", r, err, tt.want)
			}
		})
	}
	if _, err := c.React(ctx, "c1", "M1", "👍", "toggle"); err == nil {
		t.Error("react with a bad state: no error")
	}

	until := time.UnixMilli(1767225600000)
	for _, tt := range []struct {
		name string
		call func() (*MuteState, error)
		want MuteState
	}{
		{"mute until", func() (*MuteState, error) { return c.Mute(ctx, "c1", until) }, MuteState{ConversationID: "c1", Muted: true, Until: 1767225600000}},
		{"mute for good", func() (*MuteState, error) { return c.Mute(ctx, "c1", time.Time{}) }, MuteState{ConversationID: "c1", Muted: true}},
		{"unmute", func() (*MuteState, error) { return c.Unmute(ctx, "c1") }, MuteState{ConversationID: "c1"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m, err := tt.call()
			if err != nil || *m != tt.want {
				t.Errorf("%s = %+v, %v; want %+v", tt.name, m, err, tt.want)
			}
		})
	}

	convs, err := c.Conversations(ctx)
	if err != nil || len(convs) != 1 || !convs[0].Muted || convs[0].MutedUntil != 1767225600000 {
		t.Errorf("conversations = %+v, %v; want c1 muted until 1767225600000", convs, err)
	}
}

func TestSendReply(t *testing.T) {
	t.Parallel()
	c := dialFake(t, newFakeServer(t), nil)
	ack, err := c.SendReply(testCtx(t), "c1", "m1", "sure", "M0")
	if err != nil || ack.MessageID != "Mm1" {
		t.Fatalf("send reply = %+v, %v", ack, err)
	}
	ev := nextEvent(t, c, TypeMessage)
	if want := (ReplyRef{MessageID: "M0", SenderID: "bob", Preview: "quoted"}); ev.Message.ReplyTo == nil || *ev.Message.ReplyTo != want {
		t.Fatalf("message replyTo = %+v, want %+v", ev.Message.ReplyTo, want)
	}
	if _, err := c.Send(testCtx(t), "c1", "m2", "plain"); err != nil {
		t.Fatal(err)
	}
	if ev := nextEvent(t, c, TypeMessage); ev.Message.ReplyTo != nil {
		t.Fatalf("plain message has replyTo %+v", ev.Message.ReplyTo)
	}
	for _, tt := range []struct{ conv, replyTo string }{{"", "M0"}, {"c1", ""}} {
		if _, err := c.SendReply(testCtx(t), tt.conv, "m3", "x", tt.replyTo); err == nil {
			t.Errorf("SendReply(%q, replyTo %q): no error", tt.conv, tt.replyTo)
		}
	}
}

// Change events pushed without a requestId reach Events like message events, in order; a
// muted frame without a requestId is no event.
func TestChangeEvents(t *testing.T) {
	t.Parallel()
	f := newFakeServer(t)
	c := dialFake(t, f, nil)
	f.push <- map[string]any{"type": "edited", "conversationId": "c1", "messageId": "M1", "eventId": "E1", "body": "new", "editedAt": 10}
	f.push <- map[string]any{"type": "muted", "conversationId": "c1", "muted": true}
	f.push <- map[string]any{"type": "deleted", "conversationId": "c1", "messageId": "M1", "eventId": "E2", "at": 11}
	f.push <- map[string]any{"type": "reaction", "conversationId": "c1", "messageId": "M0", "eventId": "E3", "userId": "bob", "emoji": "🎉", "state": "remove", "at": 12}
	f.push <- map[string]any{"type": "message", "message": map[string]any{"conversationId": "c1", "messageId": "M4", "senderId": "bob", "body": "x", "createdAt": 13}}

	want := []Event{
		{Type: TypeEdited, Edited: &Edited{ConversationID: "c1", MessageID: "M1", EventID: "E1", Body: "new", EditedAt: 10}},
		{Type: TypeDeleted, Deleted: &Deleted{ConversationID: "c1", MessageID: "M1", EventID: "E2", At: 11}},
		{Type: TypeReaction, Reaction: &Reaction{ConversationID: "c1", MessageID: "M0", EventID: "E3", UserID: "bob", Emoji: "🎉", State: ReactionRemove, At: 12}},
		{Type: TypeMessage, Message: &Message{ConversationID: "c1", MessageID: "M4", SenderID: "bob", Body: "x", CreatedAt: 13}},
	}
	for i, w := range want {
		var ev Event
		select {
		case ev = <-c.Events():
		case <-time.After(5 * time.Second):
			t.Fatalf("event %d (%s) did not arrive", i, w.Type)
		}
		if ev.Received.IsZero() {
			t.Errorf("event %d has no Received time", i)
		}
		ev.Received = time.Time{}
		if !reflect.DeepEqual(ev, w) {
			t.Errorf("event %d = %+v, want %+v", i, ev, w)
		}
	}
}

func TestHistoryFoldedMessages(t *testing.T) {
	t.Parallel()
	c := dialFake(t, newFakeServer(t), nil)
	page, err := c.History(testCtx(t), "v11", "", 0)
	if err != nil || len(page.Messages) != 2 {
		t.Fatalf("history = %+v, %v", page, err)
	}
	want := []Message{
		{ConversationID: "v11", MessageID: "M3", SenderID: "bob", Body: "sure", CreatedAt: 3,
			ReplyTo:   &ReplyRef{MessageID: "M1", SenderID: "alice", Preview: "lunch?"},
			Reactions: []ReactionCount{{Emoji: "👍", Count: 2, Mine: true}, {Emoji: "🎉", Count: 1}},
			EditedAt:  4, LastEventID: "E5"},
		{ConversationID: "v11", MessageID: "M2", SenderID: "alice", CreatedAt: 2, Deleted: true, LastEventID: "E4"},
	}
	if !reflect.DeepEqual(page.Messages, want) {
		t.Fatalf("messages\n%+v\nwant\n%+v", page.Messages, want)
	}
}

// TestSyncAllWithChangeFrames: sync replays edited, deleted and reaction frames between
// message frames; they reach Events, count in the total, and a change's eventId is what
// gets acknowledged when it is the newest item of its conversation, whether the server
// names it in lastMessageIds or not. Messages and changes share one id space (T1 < T2 ...).
func TestSyncAllWithChangeFrames(t *testing.T) {
	t.Parallel()
	msg := func(conv, id string) map[string]any {
		return map[string]any{"conversationId": conv, "messageId": id, "senderId": "bob", "body": "x", "createdAt": 1}
	}
	change := func(typ, conv, messageID, eventID string) map[string]any {
		f := map[string]any{"type": typ, "conversationId": conv, "messageId": messageID, "eventId": eventID}
		switch typ {
		case TypeEdited:
			f["body"] = "y"
		case TypeReaction:
			f["userId"], f["emoji"], f["state"] = "bob", "👍", ReactionAdd
		}
		return f
	}
	tests := []struct {
		name     string
		upTo     bool
		receipts [][]string // per round, sorted
	}{
		// Round 1 replays A/T1, A/T2 (B/T9 comes live); round 2 B/T3, B/T4; round 3 A/T5.
		// While more, only the replayed items; at the end, the live B/T9 too.
		{"with lastMessageIds", true, [][]string{{"A/T2"}, {"B/T4"}, {"A/T5", "B/T9"}}},
		// Without lastMessageIds every round acknowledges the newest that arrived.
		{"without lastMessageIds", false, [][]string{{"A/T2", "B/T9"}, {}, {"A/T5"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFakeServer(t)
			f.pendingSync = []map[string]any{
				msg("A", "T1"), change(TypeEdited, "A", "T1", "T2"),
				msg("B", "T3"), change(TypeReaction, "B", "T3", "T4"),
				change(TypeDeleted, "A", "T1", "T5"),
			}
			f.syncPage = 2
			f.syncUpTo = tt.upTo
			f.liveInSync = change(TypeReaction, "B", "T3", "T9")
			c := dialFake(t, f, nil)
			got := make(chan string, 10)
			go func() {
				for ev := range c.Events() {
					switch ev.Type {
					case TypeMessage:
						got <- ev.Type + " " + ev.Message.MessageID
					case TypeEdited:
						got <- ev.Type + " " + ev.Edited.EventID + " of " + ev.Edited.MessageID
					case TypeDeleted:
						got <- ev.Type + " " + ev.Deleted.EventID + " of " + ev.Deleted.MessageID
					case TypeReaction:
						got <- ev.Type + " " + ev.Reaction.EventID + " of " + ev.Reaction.MessageID
					}
				}
			}()
			if n, err := c.SyncAll(testCtx(t)); err != nil || n != 5 {
				t.Fatalf("SyncAll = %d, %v; want 5", n, err)
			}
			var events []string
			for range 6 {
				select {
				case e := <-got:
					events = append(events, e)
				case <-time.After(5 * time.Second):
					t.Fatalf("events so far %q: a synced item did not reach Events", events)
				}
			}
			wantEvents := []string{"message T1", "reaction T9 of T3", "edited T2 of T1", "message T3", "reaction T4 of T3", "deleted T5 of T1"}
			if fmt.Sprint(events) != fmt.Sprint(wantEvents) {
				t.Errorf("events %q, want %q", events, wantEvents)
			}

			f.mu.Lock()
			defer f.mu.Unlock()
			var flat []string
			for _, r := range f.receipts {
				if r["status"] != StatusDelivered {
					t.Errorf("receipt %v is not delivered", r)
				}
				flat = append(flat, fmt.Sprint(r["conversationId"], "/", r["messageId"]))
			}
			var want []string
			i := 0
			for _, round := range tt.receipts {
				if i+len(round) > len(flat) {
					break
				}
				sort.Strings(flat[i : i+len(round)]) // within a round the order is a map's
				i += len(round)
				want = append(want, round...)
			}
			if fmt.Sprint(flat) != fmt.Sprint(want) {
				t.Errorf("receipts %v, want %v", flat, want)
			}
		})
	}
}
