package chattest

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/parleychat/parley/internal/chat"
)

// The timeline contract (PROTOCOL.md §8): change events stored beside messages, folded
// state applied by compare-and-set, bodies erased.

// timelineSeed stores a message and, after it, a change event of each kind, and returns
// them in id order.
func timelineSeed(t *testing.T, s chat.MessageStore) (msg chat.Message, events []chat.Message) {
	t.Helper()
	ctx := ctxFor(t)
	conv, a, b := newConv(), newUser("a"), newUser("b")
	msg = chat.Message{ConversationID: conv, MessageID: newID(), SenderID: a, Body: "original", CreatedAt: 1_700_000_000_000, ClientMsgID: "c-1",
		ReplyTo: &chat.ReplyRef{MessageID: newID(), SenderID: b, Preview: "what they said"}}
	must(t, s.PutMessage(ctx, msg), "put message")
	change := func(kind, user, body, emoji, state string) chat.Message {
		id := newID()
		return chat.Message{ConversationID: conv, MessageID: id, SenderID: user, Body: body, CreatedAt: 1_700_000_000_100,
			Origin: "conn-" + user,
			Change: &chat.Change{Kind: kind, EventID: id, MessageID: msg.MessageID, UserID: user, At: 1_700_000_000_100, Body: body, Emoji: emoji, State: state}}
	}
	events = []chat.Message{
		change(chat.ChangeEdit, a, "edited ✓", "", ""),
		change(chat.ChangeReaction, b, "", "👍", chat.ReactionAdd),
		change(chat.ChangeDelete, a, "", "", ""),
	}
	for _, e := range events {
		must(t, s.PutMessage(ctx, e), "put change event")
	}
	return msg, events
}

func testChangeEventsRoundTrip(t *testing.T, s chat.MessageStore) {
	ctx := ctxFor(t)
	msg, events := timelineSeed(t, s)
	got, err := s.GetMessage(ctx, msg.ConversationID, msg.MessageID)
	must(t, err, "GetMessage of the message")
	diff(t, got, msg, "the message with its replyTo")
	for _, e := range events {
		got, err := s.GetMessage(ctx, e.ConversationID, e.MessageID)
		must(t, err, "GetMessage of a change event")
		diff(t, got, e, "change event "+e.Change.Kind)
	}
}

func testTimelineReads(t *testing.T, s chat.MessageStore) {
	ctx := ctxFor(t)
	msg, events := timelineSeed(t, s)
	conv := msg.ConversationID
	later := chat.Message{ConversationID: conv, MessageID: newID(), SenderID: msg.SenderID, Body: "later", CreatedAt: 1_700_000_000_200}
	must(t, s.PutMessage(ctx, later), "put a later message")

	all, more, err := s.After(ctx, conv, "", 10)
	must(t, err, "After")
	want := append(append([]chat.Message{msg}, events...), later)
	diff(t, all, want, "After: the timeline, changes included, in id order")
	if more {
		t.Fatal("After: more = true with the whole timeline read")
	}
	page, more, err := s.After(ctx, conv, msg.MessageID, 2)
	must(t, err, "After the message")
	diff(t, page, events[:2], "After the message, limit 2")
	if !more {
		t.Fatal("After the message, limit 2: more = false with two items left")
	}

	hist, more, err := s.Before(ctx, conv, "", 10)
	must(t, err, "Before")
	diff(t, hist, []chat.Message{later, msg}, "Before: messages only, newest first")
	if more {
		t.Fatal("Before: more = true with every message read")
	}
	// Paging past change events: a page of one must still find the older message, and
	// know there is none beyond it.
	hist, more, err = s.Before(ctx, conv, later.MessageID, 1)
	must(t, err, "Before the later message")
	diff(t, hist, []chat.Message{msg}, "Before the later message, limit 1")
	if more {
		t.Fatal("Before the later message: more = true, but only change events are older than the one message")
	}
	hist, more, err = s.Before(ctx, conv, "", 1)
	must(t, err, "Before, limit 1")
	diff(t, hist, []chat.Message{later}, "Before, limit 1")
	if !more {
		t.Fatal("Before, limit 1: more = false with an older message beyond change events")
	}

	n, err := s.CountAfter(ctx, conv, "", "", 100)
	must(t, err, "CountAfter")
	if n != 2 {
		t.Fatalf("CountAfter = %d, want 2: change events are not counted", n)
	}
	n, err = s.CountAfter(ctx, conv, msg.MessageID, newUser("nobody"), 100)
	must(t, err, "CountAfter the message")
	if n != 1 {
		t.Fatalf("CountAfter the message = %d, want 1", n)
	}
}

func testApplyChange(t *testing.T, s chat.MessageStore) {
	ctx := ctxFor(t)
	conv, msgs, _ := seedMessages(t, s, 1, newUser("a"), newUser("b"))
	m := msgs[0]
	next := m
	next.Body, next.EditedAt, next.Version = "edited", 1_700_000_001_000, 1
	next.Reactions = map[string][]string{"👍": {"u1", "u2"}, "🎉": {"u2"}}
	next.Changes = []chat.Change{{Kind: chat.ChangeReaction, EventID: newID(), MessageID: m.MessageID, UserID: "u2", At: 1_700_000_001_000, Emoji: "🎉", State: chat.ReactionAdd, Erases: []string{newID(), newID()}}}
	next.LastEventID = next.Changes[0].EventID
	next.EditIDs = []string{newID(), newID()}
	must(t, s.ApplyChange(ctx, next, 0), "ApplyChange from version 0")
	got, err := s.GetMessage(ctx, conv, m.MessageID)
	must(t, err, "GetMessage")
	diff(t, got, next, "the message after ApplyChange")

	stale := m
	stale.Body, stale.Version = "lost", 1
	wantErrIs(t, s.ApplyChange(ctx, stale, 0), chat.ErrConflict, "ApplyChange from a version that moved")
	// A put of the message as first stored must not undo the change.
	must(t, s.PutMessage(ctx, m), "PutMessage of the unchanged copy")
	got, err = s.GetMessage(ctx, conv, m.MessageID)
	must(t, err, "GetMessage")
	diff(t, got, next, "the message after a conflicting ApplyChange and a stale put")

	del := next
	del.Body, del.Deleted, del.Reactions, del.Version = "", true, nil, 2
	del.Changes = []chat.Change{{Kind: chat.ChangeDelete, EventID: newID(), MessageID: m.MessageID, UserID: m.SenderID, At: 1_700_000_002_000}}
	del.LastEventID = del.Changes[0].EventID
	must(t, s.ApplyChange(ctx, del, 1), "ApplyChange from version 1")
	got, err = s.GetMessage(ctx, conv, m.MessageID)
	must(t, err, "GetMessage")
	diff(t, got, del, "the message after a delete (body and reactions removed)")

	missing := m
	missing.MessageID, missing.Version = newID(), 1
	wantErrIs(t, s.ApplyChange(ctx, missing, 0), chat.ErrNotFound, "ApplyChange of a missing message")
	if _, err := s.GetMessage(ctx, conv, missing.MessageID); err == nil {
		t.Fatal("ApplyChange of a missing message created it")
	}
}

func testApplyChangeToEvent(t *testing.T, s chat.MessageStore) {
	ctx := ctxFor(t)
	_, events := timelineSeed(t, s)
	e := events[0]
	e.Version, e.Change = 1, nil
	wantErrIs(t, s.ApplyChange(ctx, e, 0), chat.ErrNotFound, "ApplyChange of a change event")
}

// testApplyChangeRace: of concurrent changes from one version exactly one applies.
func testApplyChangeRace(t *testing.T, s chat.MessageStore) {
	ctx := ctxFor(t)
	conv, msgs, _ := seedMessages(t, s, 1, newUser("a"), newUser("b"))
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			next := msgs[0]
			next.Body, next.Version = fmt.Sprint("edit ", i), 1
			errs[i] = s.ApplyChange(ctx, next, 0)
		}()
	}
	wg.Wait()
	won := -1
	for i, err := range errs {
		switch {
		case err == nil && won >= 0:
			t.Fatalf("changes %d and %d both applied from version 0", won, i)
		case err == nil:
			won = i
		default:
			wantErrIs(t, err, chat.ErrConflict, "a losing ApplyChange")
		}
	}
	if won < 0 {
		t.Fatal("no concurrent ApplyChange applied")
	}
	got, err := s.GetMessage(ctx, conv, msgs[0].MessageID)
	must(t, err, "GetMessage")
	if got.Body != fmt.Sprint("edit ", won) || got.Version != 1 {
		t.Fatalf("stored %q at version %d, want the winner's %q at 1", got.Body, got.Version, fmt.Sprint("edit ", won))
	}
}

func testEraseBody(t *testing.T, s chat.MessageStore) {
	ctx := ctxFor(t)
	_, events := timelineSeed(t, s)
	e := events[0]
	must(t, s.EraseBody(ctx, e.ConversationID, e.MessageID), "EraseBody")
	must(t, s.EraseBody(ctx, e.ConversationID, e.MessageID), "EraseBody again")
	got, err := s.GetMessage(ctx, e.ConversationID, e.MessageID)
	must(t, err, "GetMessage")
	want := e
	want.Body = ""
	c := *e.Change
	c.Body = ""
	want.Change = &c
	diff(t, got, want, "the edit after EraseBody")
	gone := newID()
	must(t, s.EraseBody(ctx, e.ConversationID, gone), "EraseBody of a missing item")
	if _, err := s.GetMessage(ctx, e.ConversationID, gone); err == nil {
		t.Fatal("EraseBody of a missing item created it")
	}
}

// testReactionCapacity stores the most reactions a message may have, each of a user id
// of the longest length, under the longest emojis, on a message with the largest body and
// its most recent changes:
// the store must hold it (DynamoDB's item limit is 400 KB).
func testReactionCapacity(t *testing.T, s chat.MessageStore) {
	ctx := ctxFor(t)
	conv, msgs, _ := seedMessages(t, s, 1, newUser("a"), newUser("b"))
	next := msgs[0]
	next.Body = strings.Repeat("é", chat.MaxBodyBytes/2)
	next.Reactions = map[string][]string{}
	for i := range chat.MaxMessageReactions {
		emoji := fmt.Sprintf("%s%03d", strings.Repeat("\U0001F600", 7), i/chat.MaxUserReactions) // 31 bytes
		user := fmt.Sprintf("%064d", i)
		next.Reactions[emoji] = append(next.Reactions[emoji], user)
	}
	for e := range next.Reactions {
		slices.Sort(next.Reactions[e])
	}
	next.Version = 1
	for range chat.MaxRecentChanges {
		next.Changes = append(next.Changes, chat.Change{Kind: chat.ChangeReaction, EventID: newID(), MessageID: next.MessageID,
			UserID: strings.Repeat("u", 64), At: 1, Emoji: strings.Repeat("\U0001F600", 8), State: chat.ReactionRemove, Erases: []string{newID()}})
	}
	next.LastEventID = next.Changes[len(next.Changes)-1].EventID
	for range chat.MaxKeptEdits {
		next.EditIDs = append(next.EditIDs, newID())
	}
	must(t, s.ApplyChange(ctx, next, 0), "ApplyChange with the most reactions")
	got, err := s.GetMessage(ctx, conv, next.MessageID)
	must(t, err, "GetMessage")
	n := 0
	for _, us := range got.Reactions {
		n += len(us)
	}
	if n != chat.MaxMessageReactions || got.Body != next.Body {
		t.Fatalf("read back %d reactions and a body of %d bytes, want %d and %d", n, len(got.Body), chat.MaxMessageReactions, len(next.Body))
	}
}
