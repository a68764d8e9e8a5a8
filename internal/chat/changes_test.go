package chat_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/chat"
)

// The tests of version 1.1's changes (PROTOCOL.md §8) on the in-memory stores.

func ptr[T any](v T) *T { return &v }

// frames decodes the frames pushed to a connection, as generic objects.
func (f *fixture) frames(connectionID string) []map[string]any {
	f.t.Helper()
	var out []map[string]any
	for _, data := range f.push.To(connectionID) {
		var m map[string]any
		must(f.t, json.Unmarshal(data, &m), "decode a pushed frame")
		out = append(out, m)
	}
	return out
}

// ofType keeps the frames of one type.
func ofType(frames []map[string]any, typ string) []map[string]any {
	var out []map[string]any
	for _, fr := range frames {
		if fr["type"] == typ {
			out = append(out, fr)
		}
	}
	return out
}

// deliverAll runs the stream fan-out over the whole timeline of a conversation, as the
// stream would after the writes.
func (f *fixture) deliverAll(conversationID string) {
	f.t.Helper()
	items, _, err := f.store.After(f.ctx, conversationID, "", 1000)
	must(f.t, err, "read the timeline")
	d := f.svc.NewDeliverer()
	for _, m := range items {
		must(f.t, d.Deliver(f.ctx, m), "deliver "+m.MessageID)
	}
}

func (f *fixture) history(user, conversationID string) []chat.HistoryMessage {
	f.t.Helper()
	h, err := f.svc.History(f.ctx, as(user), conversationID, "", nil)
	must(f.t, err, "history")
	return h.Messages
}

func TestEditDeleteRules(t *testing.T) {
	f := newFixture(t, setup{})
	conv := f.group("alice", "bob")
	m := f.send("alice", conv, "helo")
	other := f.group("carol", "dave")
	elsewhere := f.send("carol", other, "not yours")

	for _, tc := range []struct {
		name   string
		caller string
		conv   string
		id     string
		body   *string
		want   chat.Code
	}{
		{"not the sender", "bob", conv, m.MessageID, ptr("x"), chat.CodeForbidden},
		{"not a member", "carol", conv, m.MessageID, ptr("x"), chat.CodeForbidden},
		{"no such conversation", "alice", "g:nope", m.MessageID, ptr("x"), chat.CodeNotFound},
		{"no such message", "alice", conv, f.ids.New(f.clock.Now()), ptr("x"), chat.CodeNotFound},
		{"a message of another conversation", "alice", conv, elsewhere.MessageID, ptr("x"), chat.CodeNotFound},
		{"not a message id", "alice", conv, "nope", ptr("x"), chat.CodeBadRequest},
		{"no body", "alice", conv, m.MessageID, nil, chat.CodeBadRequest},
		{"empty body", "alice", conv, m.MessageID, ptr(""), chat.CodeBadRequest},
		{"body too large", "alice", conv, m.MessageID, ptr(strings.Repeat("x", chat.MaxBodyBytes+1)), chat.CodeTooLarge},
		{"body not UTF-8", "alice", conv, m.MessageID, ptr("\xff"), chat.CodeBadRequest},
	} {
		t.Run("edit: "+tc.name, func(t *testing.T) {
			_, err := f.svc.Edit(f.ctx, as(tc.caller), tc.conv, tc.id, tc.body)
			wantCode(t, err, tc.want, "edit")
		})
	}
	_, err := f.svc.Delete(f.ctx, as("bob"), conv, m.MessageID)
	wantCode(t, err, chat.CodeForbidden, "delete by another member")
	// Nothing changed by the refused calls.
	got, err := f.store.GetMessage(f.ctx, conv, m.MessageID)
	must(t, err, "read")
	if got.Body != "helo" || got.Version != 0 || got.EditedAt != 0 {
		t.Fatalf("refused calls changed the message: %+v", got)
	}
	if items, _, _ := f.store.After(f.ctx, conv, "", 100); len(items) != 1 {
		t.Fatalf("refused calls stored %d timeline items, want the one message", len(items))
	}
	// An edit at the limit is accepted.
	_, err = f.svc.Edit(f.ctx, as("alice"), conv, m.MessageID, ptr(strings.Repeat("é", chat.MaxBodyBytes/2)))
	must(t, err, "edit at the body limit")
}

func TestEditThenDelete(t *testing.T) {
	f := newFixture(t, setup{opts: chat.Options{InlineMaxMembers: chat.DefaultInlineMaxMembers}})
	conv := f.dm("alice", "bob")
	aliceDev, aliceOther, bob := f.connect("alice"), f.connect("alice"), f.connect("bob")
	m := f.send("alice", conv, "helo")
	f.push.Reset()

	f.clock.Advance(time.Second)
	alice := aliceDev
	alice.RequestID = "r-1"
	e1, err := f.svc.Edit(f.ctx, alice, conv, m.MessageID, ptr("hello"))
	must(t, err, "edit")
	if e1.Type != chat.TypeEdited || e1.RequestID != "r-1" || e1.MessageID != m.MessageID || e1.Body != "hello" ||
		e1.EditedAt != f.clock.Now().UnixMilli() || !chat.ValidULID(e1.EventID) || e1.EventID <= m.MessageID {
		t.Fatalf("edit reply %+v", e1)
	}
	// The inline path pushed the event to every connection but the caller's.
	if n := len(ofType(f.frames(aliceDev.ConnectionID), chat.TypeEdited)); n != 0 {
		t.Fatalf("the editing connection got %d edited events, want only the reply", n)
	}
	for _, c := range []chat.Caller{aliceOther, bob} {
		evs := ofType(f.frames(c.ConnectionID), chat.TypeEdited)
		if len(evs) != 1 || evs[0]["eventId"] != e1.EventID || evs[0]["body"] != "hello" || evs[0]["requestId"] != nil {
			t.Fatalf("%s got edited events %v, want one for %s without requestId", c.ConnectionID, evs, e1.EventID)
		}
	}

	// Retrying the same edit names the same event and stores nothing new.
	again, err := f.svc.Edit(f.ctx, aliceDev, conv, m.MessageID, ptr("hello"))
	must(t, err, "edit again")
	if again.EventID != e1.EventID || again.EditedAt != e1.EditedAt {
		t.Fatalf("a repeated edit answered %+v, want the first edit %+v", again, e1)
	}
	f.clock.Advance(time.Second)
	e2, err := f.svc.Edit(f.ctx, aliceDev, conv, m.MessageID, ptr("hello, world"))
	must(t, err, "second edit")
	if e2.EventID <= e1.EventID {
		t.Fatalf("second edit's event %s is not after the first's %s", e2.EventID, e1.EventID)
	}
	// Both edits keep their bodies until a delete (sync replays each).
	first, err := f.store.GetMessage(f.ctx, conv, e1.EventID)
	must(t, err, "read the first edit")
	if first.Change.Body != "hello" {
		t.Fatalf("the first edit holds %q, want its body until a delete", first.Change.Body)
	}
	h := f.history("bob", conv)
	if len(h) != 1 || h[0].Body != "hello, world" || h[0].EditedAt != e2.EditedAt || h[0].LastEventID != e2.EventID {
		t.Fatalf("history after two edits: %+v", h)
	}
	sum, err := f.svc.Conversations(f.ctx, as("bob"))
	must(t, err, "conversations")
	if lm := sum.Conversations[0].LastMessage; lm == nil || lm.Body != "hello, world" || lm.EditedAt != e2.EditedAt {
		t.Fatalf("lastMessage after the edits: %+v", lm)
	}

	d, err := f.svc.Delete(f.ctx, aliceDev, conv, m.MessageID)
	must(t, err, "delete")
	if d.Type != chat.TypeDeleted || d.EventID <= e2.EventID || d.At == 0 {
		t.Fatalf("delete reply %+v", d)
	}
	d2, err := f.svc.Delete(f.ctx, aliceDev, conv, m.MessageID)
	must(t, err, "delete again")
	if d2.EventID != d.EventID || d2.At != d.At {
		t.Fatalf("a second delete answered %+v, want the first %+v", d2, d)
	}
	// Erased from storage: the message, the last edit; and the summary.
	for _, id := range []string{m.MessageID, e1.EventID, e2.EventID} {
		it, err := f.store.GetMessage(f.ctx, conv, id)
		must(t, err, "read")
		if it.Body != "" || it.Change != nil && it.Change.Body != "" {
			t.Fatalf("after the delete, %s still holds a body: %+v", id, it)
		}
	}
	h = f.history("bob", conv)
	if len(h) != 1 || !h[0].Deleted || h[0].Body != "" {
		t.Fatalf("history after the delete: %+v", h)
	}
	raw, _ := json.Marshal(h[0])
	if strings.Contains(string(raw), `"body"`) {
		t.Fatalf("a deleted message's history entry carries a body: %s", raw)
	}
	sum, err = f.svc.Conversations(f.ctx, as("bob"))
	must(t, err, "conversations")
	if lm := sum.Conversations[0].LastMessage; lm == nil || !lm.Deleted || lm.Body != "" {
		t.Fatalf("lastMessage after the delete: %+v", lm)
	}
	_, err = f.svc.Edit(f.ctx, aliceDev, conv, m.MessageID, ptr("back"))
	wantCode(t, err, chat.CodeNotFound, "edit of a deleted message")
	_, err = f.svc.React(f.ctx, as("bob"), conv, m.MessageID, "👍", "")
	wantCode(t, err, chat.CodeNotFound, "react to a deleted message")
	// Status and unread count messages only.
	sum, err = f.svc.Conversations(f.ctx, as("bob"))
	must(t, err, "conversations")
	if u := sum.Conversations[0].Unread; u != 1 {
		t.Fatalf("unread = %d, want 1: changes are not messages", u)
	}
}

func TestReactions(t *testing.T) {
	f := newFixture(t, setup{})
	conv := f.group("alice", "bob", "carol")
	m := f.send("alice", conv, "party?")

	bob := as("bob")
	bob.RequestID = "r-b"
	r, err := f.svc.React(f.ctx, bob, conv, m.MessageID, "🎉", "")
	must(t, err, "react")
	if r.Type != chat.TypeReaction || r.State != chat.ReactionAdd || r.UserID != "bob" || r.EventID == "" || r.RequestID != "r-b" {
		t.Fatalf("react reply %+v", r)
	}
	// Adding it again changes nothing: the repeat names the same event.
	again, err := f.svc.React(f.ctx, bob, conv, m.MessageID, "🎉", chat.ReactionAdd)
	must(t, err, "react again")
	if again.EventID != r.EventID {
		t.Fatalf("repeated add answered %+v, want event %s", again, r.EventID)
	}
	_, err = f.svc.React(f.ctx, as("carol"), conv, m.MessageID, "🎉", "")
	must(t, err, "carol reacts")
	_, err = f.svc.React(f.ctx, as("carol"), conv, m.MessageID, "👍", "")
	must(t, err, "carol reacts again")
	// Removing one the user does not have: no event.
	none, err := f.svc.React(f.ctx, as("alice"), conv, m.MessageID, "👍", chat.ReactionRemove)
	must(t, err, "remove a reaction not there")
	if none.EventID != "" {
		t.Fatalf("a no-op remove named event %s", none.EventID)
	}
	items, _, err := f.store.After(f.ctx, conv, "", 100)
	must(t, err, "timeline")
	if len(items) != 4 { // the message and three reaction events
		t.Fatalf("timeline holds %d items, want 4", len(items))
	}
	check := func(user string, want []chat.ReactionCount) {
		t.Helper()
		h := f.history(user, conv)
		if fmt.Sprint(h[0].Reactions) != fmt.Sprint(want) {
			t.Fatalf("%s's history reactions %v, want %v", user, h[0].Reactions, want)
		}
	}
	check("carol", []chat.ReactionCount{{Emoji: "🎉", Count: 2, Mine: true}, {Emoji: "👍", Count: 1, Mine: true}})
	check("alice", []chat.ReactionCount{{Emoji: "🎉", Count: 2}, {Emoji: "👍", Count: 1}})
	_, err = f.svc.React(f.ctx, as("carol"), conv, m.MessageID, "🎉", chat.ReactionRemove)
	must(t, err, "remove")
	check("bob", []chat.ReactionCount{{Emoji: "🎉", Count: 1, Mine: true}, {Emoji: "👍", Count: 1}})

	for _, tc := range []struct {
		name, emoji, state string
		want               chat.Code
	}{
		{"empty", "", "", chat.CodeBadRequest},
		{"too long", strings.Repeat("😀", 9), "", chat.CodeBadRequest},
		{"a space", "👍 👍", "", chat.CodeBadRequest},
		{"a control character", "👍\n", "", chat.CodeBadRequest},
		{"not UTF-8", "\xff", "", chat.CodeBadRequest},
		{"a bad state", "👍", "toggle", chat.CodeBadRequest},
		{"32 bytes", strings.Repeat("😀", 8), "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.svc.React(f.ctx, as("bob"), conv, m.MessageID, tc.emoji, tc.state)
			wantCode(t, err, tc.want, "react")
		})
	}
	_, err = f.svc.React(f.ctx, as("dave"), conv, m.MessageID, "👍", "")
	wantCode(t, err, chat.CodeForbidden, "react by a non-member")
}

func TestReactionLimits(t *testing.T) {
	f := newFixture(t, setup{})
	conv := f.group("alice", "bob")
	m := f.send("alice", conv, "react to me")
	for i := range chat.MaxUserReactions {
		_, err := f.svc.React(f.ctx, as("bob"), conv, m.MessageID, fmt.Sprint("e", i), "")
		must(t, err, "react")
	}
	_, err := f.svc.React(f.ctx, as("bob"), conv, m.MessageID, "one-too-many", "")
	wantCode(t, err, chat.CodeTooLarge, "the 21st reaction of one user")
	// Still allowed: removing one, re-adding one already there, and another user's.
	_, err = f.svc.React(f.ctx, as("bob"), conv, m.MessageID, "e0", "")
	must(t, err, "re-add an existing reaction")
	_, err = f.svc.React(f.ctx, as("alice"), conv, m.MessageID, "e0", "")
	must(t, err, "another user's reaction")

	// The message's limit, with the message's state filled to it directly.
	full := f.send("alice", conv, "popular")
	st, err := f.store.GetMessage(f.ctx, conv, full.MessageID)
	must(t, err, "read")
	st.Reactions = map[string][]string{}
	for i := range chat.MaxMessageReactions {
		e := fmt.Sprint("x", i%100)
		st.Reactions[e] = append(st.Reactions[e], fmt.Sprintf("u%05d", i))
	}
	st.Version = 1
	must(t, f.store.ApplyChange(f.ctx, st, 0), "fill the reactions")
	_, err = f.svc.React(f.ctx, as("bob"), conv, full.MessageID, "👍", "")
	wantCode(t, err, chat.CodeTooLarge, "a reaction beyond the message's limit")
}

// TestChangeRetryRepairsEvent: when storing a change's event fails after its state was
// applied, the caller gets an error, and the retry stores the event (once).
func TestChangeRetryRepairsEvent(t *testing.T) {
	var failing sync.Map
	f := newFixture(t, setup{messages: func(s chat.MessageStore) chat.MessageStore {
		return &failEventStore{MessageStore: s, fail: &failing}
	}})
	conv := f.dm("alice", "bob")
	m := f.send("alice", conv, "helo")
	for _, tc := range []struct {
		name string
		do   func() (string, error)
	}{
		{"edit", func() (string, error) {
			r, err := f.svc.Edit(f.ctx, as("alice"), conv, m.MessageID, ptr("hello"))
			return r.EventID, err
		}},
		{"react", func() (string, error) {
			r, err := f.svc.React(f.ctx, as("bob"), conv, m.MessageID, "👍", "")
			return r.EventID, err
		}},
		{"delete", func() (string, error) {
			r, err := f.svc.Delete(f.ctx, as("alice"), conv, m.MessageID)
			return r.EventID, err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			failing.Store("on", true)
			if _, err := tc.do(); err == nil {
				t.Fatal("the change succeeded with its event's put failing")
			}
			failing.Delete("on")
			id, err := tc.do()
			must(t, err, "retry")
			ev, err := f.store.GetMessage(f.ctx, conv, id)
			must(t, err, "the retry's event is stored")
			if ev.Change == nil || ev.Change.Kind != map[string]string{"edit": chat.ChangeEdit, "react": chat.ChangeReaction, "delete": chat.ChangeDelete}[tc.name] {
				t.Fatalf("stored event %+v", ev)
			}
		})
	}
	items, _, err := f.store.After(f.ctx, conv, "", 100)
	must(t, err, "timeline")
	if len(items) != 4 {
		t.Fatalf("timeline holds %d items, want the message and one event per change", len(items))
	}
}

// failEventStore fails the puts of change events while fail holds "on".
type failEventStore struct {
	chat.MessageStore
	fail *sync.Map
}

func (s *failEventStore) PutMessage(ctx context.Context, m chat.Message) error {
	if _, on := s.fail.Load("on"); on && m.IsChange() {
		return errors.New("injected: put of a change event failed")
	}
	return s.MessageStore.PutMessage(ctx, m)
}

// TestConcurrentReactions: concurrent reactions of many users all land (the
// compare-and-set retries), each with its event.
func TestConcurrentReactions(t *testing.T) {
	f := newFixture(t, setup{})
	users := []string{"u0", "u1", "u2", "u3", "u4", "u5"}
	conv := f.group("alice", users...)
	m := f.send("alice", conv, "vote")
	var wg sync.WaitGroup
	errs := make([]error, len(users))
	for i, u := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = f.svc.React(f.ctx, as(u), conv, m.MessageID, "👍", "")
		}()
	}
	wg.Wait()
	for i, err := range errs {
		must(t, err, "react of "+users[i])
	}
	h := f.history("alice", conv)
	if len(h[0].Reactions) != 1 || h[0].Reactions[0].Count != len(users) {
		t.Fatalf("reactions %v, want 👍 × %d", h[0].Reactions, len(users))
	}
	items, _, _ := f.store.After(f.ctx, conv, m.MessageID, 100)
	if len(items) != len(users) {
		t.Fatalf("%d reaction events, want %d", len(items), len(users))
	}
}

func TestReplyTo(t *testing.T) {
	f := newFixture(t, setup{})
	conv := f.group("alice", "bob")
	long := strings.Repeat("ab", 80) + "é"
	q := f.send("alice", conv, long)
	body := "re"
	ack, err := f.svc.Send(f.ctx, as("bob"), chat.SendInput{ConversationID: conv, ClientMsgID: "r1", Body: &body, ReplyTo: q.MessageID})
	must(t, err, "send a reply")
	m, err := f.store.GetMessage(f.ctx, conv, ack.MessageID)
	must(t, err, "read the reply")
	if r := m.ReplyTo; r == nil || r.MessageID != q.MessageID || r.SenderID != "alice" || r.Preview != long[:100] {
		t.Fatalf("replyTo %+v, want %s by alice with the first 100 characters", m.ReplyTo, q.MessageID)
	}
	h := f.history("alice", conv)
	if h[0].ReplyTo == nil || h[0].ReplyTo.Preview != long[:100] {
		t.Fatalf("history's replyTo %+v", h[0].ReplyTo)
	}
	// A deleted message is quoted with an empty preview.
	_, err = f.svc.Delete(f.ctx, as("alice"), conv, q.MessageID)
	must(t, err, "delete")
	ack, err = f.svc.Send(f.ctx, as("bob"), chat.SendInput{ConversationID: conv, ClientMsgID: "r2", Body: &body, ReplyTo: q.MessageID})
	must(t, err, "reply to a deleted message")
	m, err = f.store.GetMessage(f.ctx, conv, ack.MessageID)
	must(t, err, "read")
	if m.ReplyTo == nil || m.ReplyTo.Preview != "" {
		t.Fatalf("reply to a deleted message: replyTo %+v, want an empty preview", m.ReplyTo)
	}
	other := f.group("bob", "carol")
	elsewhere := f.send("carol", other, "x")
	items, _, _ := f.store.After(f.ctx, conv, "", 100)
	var eventID string
	for _, it := range items {
		if it.IsChange() {
			eventID = it.MessageID
		}
	}
	for _, tc := range []struct {
		name, replyTo string
		want          chat.Code
	}{
		{"unknown", f.ids.New(f.clock.Now()), chat.CodeNotFound},
		{"of another conversation", elsewhere.MessageID, chat.CodeNotFound},
		{"an event id", eventID, chat.CodeNotFound},
		{"malformed", "nope", chat.CodeBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := f.svc.Send(f.ctx, as("bob"), chat.SendInput{ConversationID: conv, ClientMsgID: "bad-" + tc.name, Body: &body, ReplyTo: tc.replyTo})
			wantCode(t, err, tc.want, "reply")
		})
	}
}

// TestStreamDeliversChanges: the stream fan-out delivers change events like messages,
// skipping the connection that made the change and erased edits.
func TestStreamDeliversChanges(t *testing.T) {
	f := newFixture(t, setup{}) // stream only
	conv := f.group("alice", "bob")
	alice, bob := f.connect("alice"), f.connect("bob")
	m := f.send("alice", conv, "helo")
	_, err := f.svc.Edit(f.ctx, alice, conv, m.MessageID, ptr("hello"))
	must(t, err, "edit")
	e2, err := f.svc.Edit(f.ctx, alice, conv, m.MessageID, ptr("hello!"))
	must(t, err, "edit again")
	r, err := f.svc.React(f.ctx, bob, conv, m.MessageID, "👍", "")
	must(t, err, "react")
	if len(f.push.Pushed()) != 0 {
		t.Fatalf("the stream-only service pushed %d frames itself", len(f.push.Pushed()))
	}
	f.deliverAll(conv)
	got := f.frames(bob.ConnectionID)
	var types []string
	for _, fr := range got {
		types = append(types, fmt.Sprint(fr["type"]))
	}
	// Both edits, in order (the reaction is bob's own).
	if fmt.Sprint(types) != "[message edited edited]" || got[2]["eventId"] != e2.EventID {
		t.Fatalf("bob got %v", got)
	}
	got = f.frames(alice.ConnectionID)
	if len(got) != 2 || got[1]["type"] != chat.TypeReaction || got[1]["eventId"] != r.EventID {
		t.Fatalf("alice got %v, want her message and bob's reaction", got)
	}
}

// TestSyncReplaysChanges: sync replays the timeline after the delivered cursor.
func TestSyncReplaysChanges(t *testing.T) {
	f := newFixture(t, setup{})
	conv := f.dm("alice", "bob")
	m1 := f.send("alice", conv, "one")
	m2 := f.send("alice", conv, "two")
	// bob has m1 delivered, then goes offline while alice edits and deletes and reacts.
	_, err := f.svc.Receipt(f.ctx, as("bob"), conv, m1.MessageID, chat.StatusDelivered)
	must(t, err, "receipt")
	f.clock.Advance(time.Minute)
	e1, err := f.svc.Edit(f.ctx, as("alice"), conv, m1.MessageID, ptr("one, edited"))
	must(t, err, "edit")
	f.clock.Advance(time.Millisecond)
	r, err := f.svc.React(f.ctx, as("alice"), conv, m2.MessageID, "❤️", "")
	must(t, err, "react")
	f.clock.Advance(time.Millisecond)
	d, err := f.svc.Delete(f.ctx, as("alice"), conv, m2.MessageID)
	must(t, err, "delete")

	bob := f.connect("bob")
	bob.RequestID = "s1"
	synced, err := f.svc.Sync(f.ctx, bob)
	must(t, err, "sync")
	got := f.frames(bob.ConnectionID)
	want := []struct{ typ, id string }{
		{chat.TypeMessage, m2.MessageID}, // as it is now: deleted
		{chat.TypeEdited, e1.EventID},
		{chat.TypeReaction, r.EventID},
		{chat.TypeDeleted, d.EventID},
	}
	if len(got) < len(want) {
		t.Fatalf("sync pushed %v", got)
	}
	got = got[len(got)-len(want):] // after the settling window's replays
	for i, w := range want {
		id := got[i]["eventId"]
		if w.typ == chat.TypeMessage {
			id = got[i]["message"].(map[string]any)["messageId"]
		}
		if got[i]["type"] != w.typ || id != w.id {
			t.Fatalf("frame %d: %v, want %s %s", i, got[i], w.typ, w.id)
		}
	}
	msg := got[0]["message"].(map[string]any)
	if msg["deleted"] != true || msg["body"] != nil {
		t.Fatalf("the replayed deleted message %v", msg)
	}
	if synced.LastMessageIDs[conv] != d.EventID {
		t.Fatalf("lastMessageIds %v, want %s", synced.LastMessageIDs, d.EventID)
	}
	// A receipt may name an event id: the cursor moves past the replayed changes.
	_, err = f.svc.Receipt(f.ctx, bob, conv, d.EventID, chat.StatusRead)
	must(t, err, "receipt naming an event id")
	f.push.Reset()
	synced, err = f.svc.Sync(f.ctx, bob)
	must(t, err, "sync again")
	for _, fr := range f.frames(bob.ConnectionID) {
		if fr["type"] == chat.TypeEdited || fr["type"] == chat.TypeDeleted || fr["type"] == chat.TypeReaction {
			if id := fr["eventId"].(string); id > d.EventID {
				t.Fatalf("second sync replayed %v beyond the cursor", fr)
			}
		}
	}
	h := f.history("alice", conv)
	if h[0].Status != chat.StatusRead || h[1].Status != chat.StatusRead {
		t.Fatalf("status after bob's read receipt at the last event: %s, %s", h[0].Status, h[1].Status)
	}
	_ = synced
}

// TestOfflineNotifications: a message causes one notification naming the members with no
// open connection; online, muted members and the sender get none.
func TestOfflineNotifications(t *testing.T) {
	for _, inline := range []bool{true, false} {
		t.Run(fmt.Sprint("inline ", inline), func(t *testing.T) {
			n := &recordingNotifier{}
			opts := chat.Options{Notifier: n}
			if inline {
				opts.InlineMaxMembers = chat.DefaultInlineMaxMembers
			}
			f := newFixture(t, setup{opts: opts})
			conv := f.group("alice", "bob", "carol", "dave", "erin")
			f.connect("bob")
			_, err := f.svc.Mute(f.ctx, as("dave"), conv, nil)
			must(t, err, "dave mutes")
			until := f.clock.Now().Add(time.Hour).UnixMilli()
			_, err = f.svc.Mute(f.ctx, as("erin"), conv, &until)
			must(t, err, "erin mutes for an hour")
			m := f.send("alice", conv, "anyone?")
			if !inline {
				f.deliverAll(conv)
			}
			got := n.take()
			if len(got) != 1 || fmt.Sprint(got[0].Recipients) != "[carol]" || got[0].MessageID != m.MessageID ||
				got[0].SenderID != "alice" || got[0].Preview != "anyone?" || got[0].ConversationKind != chat.KindGroup {
				t.Fatalf("notifications %+v, want one for carol", got)
			}
			// A change notifies nobody; after the hour erin is notified again.
			_, err = f.svc.Edit(f.ctx, as("alice"), conv, m.MessageID, ptr("anyone??"))
			must(t, err, "edit")
			f.clock.Advance(2 * time.Hour)
			_, err = f.svc.Unmute(f.ctx, as("dave"), conv)
			must(t, err, "dave unmutes")
			m2 := f.send("alice", conv, "still?")
			if !inline {
				f.push.Reset()
				d := f.svc.NewDeliverer()
				items, _, _ := f.store.After(f.ctx, conv, m.MessageID, 100)
				for _, it := range items {
					must(t, d.Deliver(f.ctx, it), "deliver")
				}
			}
			got = n.take()
			if len(got) != 1 || got[0].MessageID != m2.MessageID || fmt.Sprint(got[0].Recipients) != "[carol dave erin]" {
				t.Fatalf("notifications %+v, want one for carol, dave and erin", got)
			}
		})
	}
}

func TestNotificationsDirectAndBatched(t *testing.T) {
	n := &recordingNotifier{}
	f := newFixture(t, setup{opts: chat.Options{Notifier: n, NoNotifyPreview: true, InlineMaxMembers: chat.MaxGroupMembers}})
	conv := f.dm("alice", "bob")
	f.send("alice", conv, "psst")
	got := n.take()
	if len(got) != 1 || fmt.Sprint(got[0].Recipients) != "[bob]" || got[0].Preview != "" || got[0].ConversationKind != chat.KindDirect {
		t.Fatalf("notifications %+v, want one for bob without preview", got)
	}
	_, err := f.svc.Mute(f.ctx, as("bob"), conv, nil)
	must(t, err, "mute")
	f.send("alice", conv, "psst again")
	if got := n.take(); len(got) != 0 {
		t.Fatalf("a muted direct conversation notified %+v", got)
	}

	// A group of 250 offline members: three notifications of at most 100.
	members := make([]string, 249)
	for i := range members {
		members[i] = fmt.Sprintf("m%03d", i)
	}
	big := f.group("alice", members...)
	f.send("alice", big, "all hands")
	got = n.take()
	total := 0
	for _, x := range got {
		if len(x.Recipients) > chat.MaxNotifyRecipients {
			t.Fatalf("a notification names %d recipients", len(x.Recipients))
		}
		total += len(x.Recipients)
	}
	if len(got) != 3 || total != 249 {
		t.Fatalf("%d notifications for %d recipients, want 3 for 249", len(got), total)
	}
}

func TestMuteRules(t *testing.T) {
	f := newFixture(t, setup{})
	conv := f.group("alice", "bob")
	alice := as("alice")
	alice.RequestID = "m1"
	mf, err := f.svc.Mute(f.ctx, alice, conv, nil)
	must(t, err, "mute")
	if mf.Type != chat.TypeMuted || !mf.Muted || mf.Until != 0 || mf.RequestID != "m1" {
		t.Fatalf("mute reply %+v", mf)
	}
	sum, err := f.svc.Conversations(f.ctx, as("alice"))
	must(t, err, "conversations")
	if !sum.Conversations[0].Muted || sum.Conversations[0].MutedUntil != 0 {
		t.Fatalf("conversations entry %+v, want muted for good", sum.Conversations[0])
	}
	until := f.clock.Now().Add(time.Minute).UnixMilli()
	mf, err = f.svc.Mute(f.ctx, alice, conv, &until)
	must(t, err, "mute for a minute")
	if mf.Until != until {
		t.Fatalf("mute reply %+v, want until %d", mf, until)
	}
	past := f.clock.Now().UnixMilli()
	_, err = f.svc.Mute(f.ctx, alice, conv, &past)
	wantCode(t, err, chat.CodeBadRequest, "mute until now")
	_, err = f.svc.Mute(f.ctx, as("carol"), conv, nil)
	wantCode(t, err, chat.CodeForbidden, "mute by a non-member")
	_, err = f.svc.Unmute(f.ctx, as("alice"), "g:missing")
	wantCode(t, err, chat.CodeNotFound, "unmute of a missing conversation")
	f.clock.Advance(2 * time.Minute)
	sum, err = f.svc.Conversations(f.ctx, as("alice"))
	must(t, err, "conversations")
	if sum.Conversations[0].Muted {
		t.Fatalf("the mute did not end: %+v", sum.Conversations[0])
	}
}

// recordingNotifier records notifications.
type recordingNotifier struct {
	mu  sync.Mutex
	got []chat.Notification
}

func (r *recordingNotifier) Notify(_ context.Context, n chat.Notification) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	n.Recipients = append([]string(nil), n.Recipients...)
	r.got = append(r.got, n)
	return nil
}

func (r *recordingNotifier) take() []chat.Notification {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.got
	r.got = nil
	return out
}

// TestNotifyFailures: a transient notifier failure fails the delivery (to be retried), a
// permanent one (ErrRejected) is dropped and the delivery succeeds.
func TestNotifyFailures(t *testing.T) {
	for _, tc := range []struct {
		name    string
		err     error
		wantErr bool
	}{
		{"transient", errors.New("injected: throttled"), true},
		{"permanent", fmt.Errorf("injected: bus gone: %w", chat.ErrRejected), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, setup{opts: chat.Options{Notifier: failingNotifier{tc.err}}})
			conv := f.dm("alice", "bob")
			m := f.send("alice", conv, "hello")
			err := f.svc.NewDeliverer().Deliver(f.ctx, m)
			if (err != nil) != tc.wantErr {
				t.Fatalf("Deliver: %v, want an error: %v", err, tc.wantErr)
			}
		})
	}
}

type failingNotifier struct{ err error }

func (n failingNotifier) Notify(context.Context, chat.Notification) error { return n.err }

// TestReactionRetryAfterOthersChanged: a reaction whose event failed to store is repaired
// by its retry even when other changes were applied in between (the message keeps its
// recent changes, not only the last).
func TestReactionRetryAfterOthersChanged(t *testing.T) {
	var failing sync.Map
	f := newFixture(t, setup{messages: func(s chat.MessageStore) chat.MessageStore {
		return &failEventStore{MessageStore: s, fail: &failing}
	}})
	conv := f.group("alice", "bob", "carol")
	m := f.send("alice", conv, "vote")
	failing.Store("on", true)
	if _, err := f.svc.React(f.ctx, as("bob"), conv, m.MessageID, "👍", ""); err == nil {
		t.Fatal("the reaction succeeded with its event's put failing")
	}
	failing.Delete("on")
	for i := range chat.MaxRecentChanges - 1 {
		_, err := f.svc.React(f.ctx, as("carol"), conv, m.MessageID, fmt.Sprint("e", i), "")
		must(t, err, "carol reacts")
	}
	r, err := f.svc.React(f.ctx, as("bob"), conv, m.MessageID, "👍", "")
	must(t, err, "bob's retry")
	if r.EventID == "" {
		t.Fatal("bob's retry named no event: his reaction's event is lost")
	}
	ev, err := f.store.GetMessage(f.ctx, conv, r.EventID)
	must(t, err, "bob's event is stored")
	if ev.Change == nil || ev.Change.UserID != "bob" || ev.Change.Emoji != "👍" {
		t.Fatalf("stored %+v", ev)
	}
	st, err := f.store.GetMessage(f.ctx, conv, m.MessageID)
	must(t, err, "read")
	if len(st.Changes) != chat.MaxRecentChanges {
		t.Fatalf("the message keeps %d recent changes, want %d", len(st.Changes), chat.MaxRecentChanges)
	}
}

// TestEditsBeyondTheCap: past MaxKeptEdits edits of one message, each edit erases the
// oldest kept one; sync then skips the erased ones and replays the rest, and a delete
// erases every body left.
func TestEditsBeyondTheCap(t *testing.T) {
	f := newFixture(t, setup{})
	conv := f.dm("alice", "bob")
	m := f.send("alice", conv, "v0")
	var edits []string
	for i := range chat.MaxKeptEdits + 2 {
		f.clock.Advance(time.Millisecond)
		e, err := f.svc.Edit(f.ctx, as("alice"), conv, m.MessageID, ptr(fmt.Sprint("v", i+1)))
		must(t, err, "edit")
		edits = append(edits, e.EventID)
	}
	st, err := f.store.GetMessage(f.ctx, conv, m.MessageID)
	must(t, err, "read")
	if len(st.EditIDs) != chat.MaxKeptEdits || st.EditIDs[0] != edits[2] {
		t.Fatalf("kept %d edits from %v, want %d from the third", len(st.EditIDs), st.EditIDs[:1], chat.MaxKeptEdits)
	}
	for i, id := range edits {
		ev, err := f.store.GetMessage(f.ctx, conv, id)
		must(t, err, "read an edit")
		if erased := ev.Change.Body == ""; erased != (i < 2) {
			t.Fatalf("edit %d erased: %v", i, erased)
		}
	}
	bob := f.connect("bob")
	synced, err := f.svc.Sync(f.ctx, bob)
	must(t, err, "sync")
	if n := len(ofType(f.frames(bob.ConnectionID), chat.TypeEdited)); n != chat.MaxKeptEdits || synced.LastMessageIDs[conv] != edits[len(edits)-1] {
		t.Fatalf("sync replayed %d edits (last %s), want %d ending at %s", n, synced.LastMessageIDs[conv], chat.MaxKeptEdits, edits[len(edits)-1])
	}
	_, err = f.svc.Delete(f.ctx, as("alice"), conv, m.MessageID)
	must(t, err, "delete")
	items, _, err := f.store.After(f.ctx, conv, "", 1000)
	must(t, err, "timeline")
	for _, it := range items {
		if it.Body != "" || it.Change != nil && it.Change.Body != "" {
			t.Fatalf("after the delete %s still holds a body", it.MessageID)
		}
	}
}
