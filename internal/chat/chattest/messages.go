package chattest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/parleychat/parley/internal/chat"
)

// RunMessageStoreTests runs the chat.MessageStore contract against the stores newStore
// returns. When a store is also a chat.ConversationStore (DynamoDB keeps cursors on
// membership items) the cursor tests first make their users members of the conversation.
func RunMessageStoreTests(t *testing.T, newStore func(t *testing.T) chat.MessageStore) {
	runContract(t, newStore, []contract[chat.MessageStore]{
		{"PutGet", testPutGet},
		{"GetMissing", testGetMissing},
		{"PutIdempotent", testPutIdempotent},
		{"Before", testBefore},
		{"After", testAfter},
		{"WalkPages", testWalkPages},
		{"EmptyConversation", testEmptyConversation},
		{"Reserve", testReserve},
		{"ReserveRace", testReserveRace},
		{"RenewReservation", testRenewReservation},
		{"RenewReservationRace", testRenewReservationRace},
		{"CountAfter", testCountAfter},
		{"AdvanceCursor", testAdvanceCursor},
		{"AdvanceCursorConcurrent", testAdvanceCursorConcurrent},
		{"Cursors", testCursors},
		{"ChangeEventsRoundTrip", testChangeEventsRoundTrip},
		{"TimelineReads", testTimelineReads},
		{"ApplyChange", testApplyChange},
		{"ApplyChangeToEvent", testApplyChangeToEvent},
		{"ApplyChangeRace", testApplyChangeRace},
		{"EraseBody", testEraseBody},
		{"ReactionCapacity", testReactionCapacity},
	})
}

// seedMessages stores n messages in a fresh conversation, alternating senders a and b,
// in shuffled order, and returns them in id order. gaps[i] is a valid ULID that is not
// stored, between the ids of messages i-1 and i. A neighbouring conversation gets
// messages too, which no read of the first may return.
func seedMessages(t *testing.T, s chat.MessageStore, n int, a, b string) (conv string, msgs []chat.Message, gaps []string) {
	t.Helper()
	ctx := ctxFor(t)
	conv = newConv()
	msgs = make([]chat.Message, n)
	gaps = make([]string, n)
	for i := range msgs {
		gaps[i] = newID()
		sender := a
		if i%2 == 1 {
			sender = b
		}
		msgs[i] = chat.Message{
			ConversationID: conv,
			MessageID:      newID(),
			SenderID:       sender,
			Body:           fmt.Sprintf("message %d", i),
			CreatedAt:      int64(1_700_000_000_000 + i),
			ClientMsgID:    fmt.Sprintf("c%d", i),
		}
	}
	// A neighbour whose ids interleave with conv's.
	other := newConv()
	for i := range 3 {
		must(t, s.PutMessage(ctx, chat.Message{ConversationID: other, MessageID: newID(), SenderID: a, Body: "elsewhere", CreatedAt: int64(i)}), "put neighbour message")
	}
	for _, i := range rand.Perm(n) {
		must(t, s.PutMessage(ctx, msgs[i]), "put message")
	}
	return conv, msgs, gaps
}

func reversed(ms []chat.Message) []chat.Message {
	out := slices.Clone(ms)
	slices.Reverse(out)
	return out
}

func testPutGet(t *testing.T, s chat.MessageStore) {
	ctx := ctxFor(t)
	cases := []chat.Message{
		{ConversationID: newConv(), MessageID: newID(), SenderID: newUser("alice"), Body: "hello, 世界 ✓", CreatedAt: 1_700_000_000_123, ClientMsgID: "c-1"},
		{ConversationID: "dm:" + newUser("a") + ":" + newUser("b"), MessageID: newID(), SenderID: newUser("bob"), Body: "no client id", CreatedAt: 1},
		{ConversationID: newConv(), MessageID: newID(), SenderID: newUser("carol"), Body: "emoji \U0001F600 and \"quotes\"", CreatedAt: 2, ClientMsgID: "c#2:with/odd chars"},
	}
	for _, m := range cases {
		must(t, s.PutMessage(ctx, m), "PutMessage")
		got, err := s.GetMessage(ctx, m.ConversationID, m.MessageID)
		must(t, err, "GetMessage")
		diff(t, got, m, "GetMessage")
	}
}

func testGetMissing(t *testing.T, s chat.MessageStore) {
	ctx := ctxFor(t)
	conv, msgs, gaps := seedMessages(t, s, 1, newUser("a"), newUser("b"))
	_, err := s.GetMessage(ctx, conv, gaps[0])
	wantErrIs(t, err, chat.ErrNotFound, "GetMessage of an unknown id")
	_, err = s.GetMessage(ctx, newConv(), msgs[0].MessageID)
	wantErrIs(t, err, chat.ErrNotFound, "GetMessage in the wrong conversation")
}

func testPutIdempotent(t *testing.T, s chat.MessageStore) {
	ctx := ctxFor(t)
	m := chat.Message{ConversationID: newConv(), MessageID: newID(), SenderID: newUser("a"), Body: "once", CreatedAt: 5, ClientMsgID: "c"}
	for range 3 {
		must(t, s.PutMessage(ctx, m), "PutMessage")
	}
	got, more, err := s.After(ctx, m.ConversationID, "", 10)
	must(t, err, "After")
	diff(t, got, []chat.Message{m}, "messages after three puts of one message")
	if more {
		t.Fatal("After: more = true with a single message")
	}
}

func testBefore(t *testing.T, s chat.MessageStore) {
	conv, msgs, gaps := seedMessages(t, s, 7, newUser("a"), newUser("b"))
	id := func(i int) string { return msgs[i].MessageID }
	// newest first: msgs[6], msgs[5], ...
	cases := []struct {
		name     string
		before   string
		limit    int
		want     []chat.Message
		wantMore bool
	}{
		{"newest page", "", 3, reversed(msgs[4:]), true},
		{"all but one", "", 6, reversed(msgs[1:]), true},
		{"exactly all", "", 7, reversed(msgs), false},
		{"more than all", "", 8, reversed(msgs), false},
		{"limit one", "", 1, msgs[6:7], true},
		{"before middle, page ends at the first", id(3), 3, reversed(msgs[:3]), false},
		{"before middle, page short of the first", id(3), 2, reversed(msgs[1:3]), true},
		{"before middle, big limit", id(3), 50, reversed(msgs[:3]), false},
		{"before the first", id(0), 5, nil, false},
		{"before an id past the newest", newID(), 2, reversed(msgs[5:]), true},
		{"before an id not stored", gaps[3], 10, reversed(msgs[:3]), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, more, err := s.Before(ctxFor(t), conv, tc.before, tc.limit)
			must(t, err, "Before")
			diff(t, got, tc.want, "Before")
			if more != tc.wantMore {
				t.Fatalf("Before: more = %v, want %v", more, tc.wantMore)
			}
		})
	}
}

func testAfter(t *testing.T, s chat.MessageStore) {
	conv, msgs, gaps := seedMessages(t, s, 7, newUser("a"), newUser("b"))
	id := func(i int) string { return msgs[i].MessageID }
	cases := []struct {
		name     string
		after    string
		limit    int
		want     []chat.Message
		wantMore bool
	}{
		{"first page", "", 3, msgs[:3], true},
		{"all but one", "", 6, msgs[:6], true},
		{"exactly all", "", 7, msgs, false},
		{"more than all", "", 8, msgs, false},
		{"limit one", "", 1, msgs[:1], true},
		{"after middle, page ends at the newest", id(3), 3, msgs[4:], false},
		{"after middle, page short of the newest", id(3), 2, msgs[4:6], true},
		{"after middle, big limit", id(3), 50, msgs[4:], false},
		{"after the newest", id(6), 5, nil, false},
		{"after an id below the first", "00000000000000000000000000", 2, msgs[:2], true},
		{"after an id not stored", gaps[3], 10, msgs[3:], false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, more, err := s.After(ctxFor(t), conv, tc.after, tc.limit)
			must(t, err, "After")
			diff(t, got, tc.want, "After")
			if more != tc.wantMore {
				t.Fatalf("After: more = %v, want %v", more, tc.wantMore)
			}
		})
	}
}

// testWalkPages pages through a conversation in both directions with several page sizes,
// and checks that every message comes exactly once, in order, and that more is false
// exactly on the last page.
func testWalkPages(t *testing.T, s chat.MessageStore) {
	conv, msgs, _ := seedMessages(t, s, 10, newUser("a"), newUser("b"))
	for _, limit := range []int{1, 2, 3, 5, 10} {
		t.Run(fmt.Sprintf("limit %d", limit), func(t *testing.T) {
			ctx := ctxFor(t)
			var got []chat.Message
			after := ""
			for pages := 0; ; pages++ {
				if pages > len(msgs) {
					t.Fatal("After: too many pages")
				}
				page, more, err := s.After(ctx, conv, after, limit)
				must(t, err, "After")
				got = append(got, page...)
				if !more {
					break
				}
				if len(page) != limit {
					t.Fatalf("After: page of %d with more = true, want a full page of %d", len(page), limit)
				}
				after = page[len(page)-1].MessageID
			}
			diff(t, got, msgs, "messages walked forward")

			got = nil
			before := ""
			for pages := 0; ; pages++ {
				if pages > len(msgs) {
					t.Fatal("Before: too many pages")
				}
				page, more, err := s.Before(ctx, conv, before, limit)
				must(t, err, "Before")
				got = append(got, page...)
				if !more {
					break
				}
				if len(page) != limit {
					t.Fatalf("Before: page of %d with more = true, want a full page of %d", len(page), limit)
				}
				before = page[len(page)-1].MessageID
			}
			diff(t, got, reversed(msgs), "messages walked backward")
		})
	}
}

func testEmptyConversation(t *testing.T, s chat.MessageStore) {
	ctx := ctxFor(t)
	conv := newConv()
	got, more, err := s.Before(ctx, conv, "", 10)
	must(t, err, "Before")
	if len(got) != 0 || more {
		t.Fatalf("Before on an empty conversation = %v, %v; want none, false", got, more)
	}
	got, more, err = s.After(ctx, conv, "", 10)
	must(t, err, "After")
	if len(got) != 0 || more {
		t.Fatalf("After on an empty conversation = %v, %v; want none, false", got, more)
	}
	n, err := s.CountAfter(ctx, conv, "", "", 100)
	must(t, err, "CountAfter")
	if n != 0 {
		t.Fatalf("CountAfter on an empty conversation = %d, want 0", n)
	}
}

func testReserve(t *testing.T, s chat.MessageStore) {
	ctx := ctxFor(t)
	conv, sender := newConv(), newUser("alice")
	first := chat.Reservation{ConversationID: conv, SenderID: sender, ClientMsgID: "c-1", MessageID: newID(), CreatedAt: 100}

	got, err := s.Reserve(ctx, first)
	must(t, err, "Reserve")
	diff(t, got, first, "first Reserve")

	retry := first
	retry.MessageID, retry.CreatedAt = newID(), 200
	got, err = s.Reserve(ctx, retry)
	must(t, err, "Reserve again")
	diff(t, got, first, "Reserve of a reserved key")

	// Any part of the key differing makes another reservation.
	others := []chat.Reservation{
		{ConversationID: conv, SenderID: newUser("bob"), ClientMsgID: "c-1", MessageID: newID(), CreatedAt: 300},
		{ConversationID: newConv(), SenderID: sender, ClientMsgID: "c-1", MessageID: newID(), CreatedAt: 400},
		{ConversationID: conv, SenderID: sender, ClientMsgID: "c-2", MessageID: newID(), CreatedAt: 500},
		{ConversationID: conv, SenderID: sender, ClientMsgID: "c-1#x", MessageID: newID(), CreatedAt: 600},
	}
	for _, r := range others {
		got, err := s.Reserve(ctx, r)
		must(t, err, "Reserve")
		diff(t, got, r, "Reserve of a distinct key")
	}
}

func testReserveRace(t *testing.T, s chat.MessageStore) {
	ctx := ctxFor(t)
	conv, sender := newConv(), newUser("alice")
	candidates := make([]chat.Reservation, raceCallers)
	for i := range candidates {
		candidates[i] = chat.Reservation{ConversationID: conv, SenderID: sender, ClientMsgID: "same", MessageID: newID(), CreatedAt: int64(i)}
	}
	winner := raceForOne(t, "Reserve", candidates, func(r chat.Reservation) (chat.Reservation, error) {
		return s.Reserve(ctx, r)
	})
	again, err := s.Reserve(ctx, candidates[raceCallers-1])
	must(t, err, "Reserve after the race")
	diff(t, again, winner, "Reserve after the race")
}

// raceCallers is how many callers a race test starts at once.
const raceCallers = 16

// raceForOne calls call with every candidate at once, each from its own goroutine, and
// checks that every call succeeded and returned the same reservation, one of the
// candidates; it returns that winner.
func raceForOne(t *testing.T, what string, candidates []chat.Reservation, call func(chat.Reservation) (chat.Reservation, error)) chat.Reservation {
	t.Helper()
	results := make([]chat.Reservation, len(candidates))
	errs := make([]error, len(candidates))
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range candidates {
		wg.Go(func() {
			<-start
			results[i], errs[i] = call(candidates[i])
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		must(t, err, fmt.Sprintf("%s #%d", what, i))
	}
	winner := results[0]
	if !slices.Contains(candidates, winner) {
		t.Fatalf("%s returned %+v, which no caller proposed", what, winner)
	}
	for i, r := range results {
		diff(t, r, winner, fmt.Sprintf("%s: reservation seen by caller %d", what, i))
	}
	return winner
}

func testRenewReservation(t *testing.T, s chat.MessageStore) {
	ctx := ctxFor(t)
	conv, sender := newConv(), newUser("alice")
	first := chat.Reservation{ConversationID: conv, SenderID: sender, ClientMsgID: "c-1", MessageID: newID(), CreatedAt: 100}
	neighbour := chat.Reservation{ConversationID: conv, SenderID: sender, ClientMsgID: "c-2", MessageID: newID(), CreatedAt: 150}
	for _, r := range []chat.Reservation{first, neighbour} {
		_, err := s.Reserve(ctx, r)
		must(t, err, "Reserve")
	}
	with := func(r chat.Reservation, createdAt int64) chat.Reservation {
		r.MessageID, r.CreatedAt = newID(), createdAt
		return r
	}
	second, third := with(first, 200), with(first, 300)

	steps := []struct {
		name string
		r    chat.Reservation
		old  string
		want chat.Reservation
	}{
		{"renewal of the reservation in force", second, first.MessageID, second},
		{"the same renewal again (a retry)", second, first.MessageID, second},
		{"renewal from an id no longer in force", with(first, 250), first.MessageID, second},
		{"renewal of a renewed reservation", third, second.MessageID, third},
		{"renewal from the first id again", with(first, 350), first.MessageID, third},
	}
	for _, st := range steps {
		got, err := s.RenewReservation(ctx, st.r, st.old)
		must(t, err, st.name)
		diff(t, got, st.want, st.name)
		got, err = s.Reserve(ctx, with(first, 999))
		must(t, err, "Reserve after: "+st.name)
		diff(t, got, st.want, "Reserve after: "+st.name)
	}
	got, err := s.Reserve(ctx, with(neighbour, 999))
	must(t, err, "Reserve of the neighbour")
	diff(t, got, neighbour, "a neighbouring reservation after the renewals")

	missing := with(first, 400)
	missing.ClientMsgID = "never-reserved"
	_, err = s.RenewReservation(ctx, missing, newID())
	wantErrIs(t, err, chat.ErrNotFound, "RenewReservation of a key never reserved")
	got, err = s.Reserve(ctx, missing)
	must(t, err, "Reserve after a renewal of nothing")
	diff(t, got, missing, "Reserve after a renewal of nothing (which must create nothing)")
}

func testRenewReservationRace(t *testing.T, s chat.MessageStore) {
	ctx := ctxFor(t)
	first := chat.Reservation{ConversationID: newConv(), SenderID: newUser("alice"), ClientMsgID: "same", MessageID: newID(), CreatedAt: 1}
	_, err := s.Reserve(ctx, first)
	must(t, err, "Reserve")
	candidates := make([]chat.Reservation, raceCallers)
	for i := range candidates {
		candidates[i] = first
		candidates[i].MessageID, candidates[i].CreatedAt = newID(), int64(100+i)
	}
	winner := raceForOne(t, "RenewReservation", candidates, func(r chat.Reservation) (chat.Reservation, error) {
		return s.RenewReservation(ctx, r, first.MessageID)
	})
	again, err := s.Reserve(ctx, first)
	must(t, err, "Reserve after the race")
	diff(t, again, winner, "Reserve after the race")
	late, err := s.RenewReservation(ctx, candidates[0], first.MessageID)
	must(t, err, "RenewReservation after the race")
	diff(t, late, winner, "RenewReservation after the race")
}

func testCountAfter(t *testing.T, s chat.MessageStore) {
	a, b := newUser("alice"), newUser("bob")
	conv, msgs, gaps := seedMessages(t, s, 12, a, b) // even indexes from a, odd from b
	id := func(i int) string { return msgs[i].MessageID }
	cases := []struct {
		name    string
		after   string
		exclude string
		max     int
		want    int
	}{
		{"all", "", "", 100, 12},
		{"all, exactly max", "", "", 12, 12},
		{"capped", "", "", 5, 5},
		{"capped at one", "", "", 1, 1},
		{"excluding alice", "", a, 100, 6},
		{"excluding bob, capped", "", b, 4, 4},
		{"excluding a stranger", "", newUser("x"), 100, 12},
		{"after the fifth", id(4), "", 100, 7},
		{"after the fifth, excluding alice", id(4), a, 100, 4}, // 5, 7, 9, 11
		{"after the fifth, excluding bob", id(4), b, 100, 3},   // 6, 8, 10
		{"after the fifth, capped", id(4), "", 3, 3},
		{"after the newest", id(11), "", 100, 0},
		{"after an id not stored", gaps[10], "", 100, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n, err := s.CountAfter(ctxFor(t), conv, tc.after, tc.exclude, tc.max)
			must(t, err, "CountAfter")
			if n != tc.want {
				t.Fatalf("CountAfter(after=%q, exclude=%q, max=%d) = %d, want %d", tc.after, tc.exclude, tc.max, n, tc.want)
			}
		})
	}
}

// joinAll makes users members of conv when s is also a conversation store: such stores
// keep cursors on membership items. Other stores keep cursors on their own.
func joinAll(t *testing.T, s chat.MessageStore, conv string, users ...string) {
	t.Helper()
	cs, ok := s.(chat.ConversationStore)
	if !ok {
		return
	}
	ms := make([]chat.Membership, len(users))
	for i, u := range users {
		ms[i] = chat.Membership{ConversationID: conv, UserID: u, Kind: chat.KindGroup, JoinedAt: 1}
	}
	must(t, cs.CreateConversation(ctxFor(t), chat.Conversation{ConversationID: conv, Kind: chat.KindGroup, CreatedBy: users[0], CreatedAt: 1}, ms), "CreateConversation for the cursor test")
}

func testAdvanceCursor(t *testing.T, s chat.MessageStore) {
	ctx := ctxFor(t)
	conv, u, other := newConv(), newUser("alice"), newUser("bob")
	joinAll(t, s, conv, u, other)
	ids := []string{newID(), newID(), newID(), newID()}

	steps := []struct {
		status, upTo string
		wantMoved    bool
		want         chat.Cursor
	}{
		{chat.StatusDelivered, ids[1], true, chat.Cursor{UserID: u, DeliveredUpTo: ids[1]}},
		{chat.StatusDelivered, ids[0], false, chat.Cursor{UserID: u, DeliveredUpTo: ids[1]}},
		{chat.StatusDelivered, ids[1], false, chat.Cursor{UserID: u, DeliveredUpTo: ids[1]}},
		{chat.StatusRead, ids[0], true, chat.Cursor{UserID: u, DeliveredUpTo: ids[1], ReadUpTo: ids[0]}},
		{chat.StatusRead, ids[0], false, chat.Cursor{UserID: u, DeliveredUpTo: ids[1], ReadUpTo: ids[0]}},
		{chat.StatusDelivered, ids[3], true, chat.Cursor{UserID: u, DeliveredUpTo: ids[3], ReadUpTo: ids[0]}},
		{chat.StatusRead, ids[2], true, chat.Cursor{UserID: u, DeliveredUpTo: ids[3], ReadUpTo: ids[2]}},
		{chat.StatusRead, ids[1], false, chat.Cursor{UserID: u, DeliveredUpTo: ids[3], ReadUpTo: ids[2]}},
	}
	for i, st := range steps {
		moved, err := s.AdvanceCursor(ctx, conv, u, st.status, st.upTo)
		must(t, err, fmt.Sprintf("step %d: AdvanceCursor", i))
		if moved != st.wantMoved {
			t.Fatalf("step %d: AdvanceCursor(%s, id%d) moved = %v, want %v", i, st.status, slices.Index(ids, st.upTo), moved, st.wantMoved)
		}
		got, err := s.Cursors(ctx, conv, []string{u, other})
		must(t, err, "Cursors")
		diff(t, got, []chat.Cursor{st.want, {UserID: other}}, fmt.Sprintf("step %d: cursors", i))
	}
	if _, err := s.AdvanceCursor(ctx, conv, u, "bogus", newID()); err == nil {
		t.Fatal("AdvanceCursor with an unknown status: no error")
	}
	if _, err := s.AdvanceCursor(ctx, conv, u, chat.StatusSent, newID()); err == nil {
		t.Fatal("AdvanceCursor of the sent status (not a cursor): no error")
	}
}

func testAdvanceCursorConcurrent(t *testing.T, s chat.MessageStore) {
	ctx := ctxFor(t)
	const n = 16
	conv, u := newConv(), newUser("alice")
	joinAll(t, s, conv, u)
	ids := make([]string, n)
	for i := range ids {
		ids[i] = newID()
	}
	highest := ids[n-1]
	moved := make([]bool, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, p := range rand.Perm(n) {
		wg.Go(func() {
			<-start
			moved[i], errs[i] = s.AdvanceCursor(ctx, conv, u, chat.StatusRead, ids[p])
			if ids[p] == highest && errs[i] == nil && !moved[i] {
				errs[i] = fmt.Errorf("advance to the highest id did not move the cursor")
			}
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		must(t, err, fmt.Sprintf("AdvanceCursor #%d", i))
	}
	got, err := s.Cursors(ctx, conv, []string{u})
	must(t, err, "Cursors")
	diff(t, got, []chat.Cursor{{UserID: u, ReadUpTo: highest}}, "cursor after concurrent advances")
	if m, err := s.AdvanceCursor(ctx, conv, u, chat.StatusRead, ids[n/2]); err != nil || m {
		t.Fatalf("AdvanceCursor backwards after the race = %v, %v; want false, nil", m, err)
	}
}

func testCursors(t *testing.T, s chat.MessageStore) {
	ctx := ctxFor(t)
	conv := newConv()
	a, b, c := newUser("a"), newUser("b"), newUser("c")
	joinAll(t, s, conv, a, b, c)
	ida, idb := newID(), newID()
	for _, step := range []struct{ user, status, upTo string }{
		{a, chat.StatusDelivered, idb},
		{a, chat.StatusRead, ida},
		{b, chat.StatusDelivered, ida},
	} {
		if _, err := s.AdvanceCursor(ctx, conv, step.user, step.status, step.upTo); err != nil {
			t.Fatalf("AdvanceCursor: %v", err)
		}
	}
	stranger := newUser("d")
	got, err := s.Cursors(ctx, conv, []string{c, b, stranger, a, b})
	must(t, err, "Cursors")
	diff(t, got, []chat.Cursor{
		{UserID: c},
		{UserID: b, DeliveredUpTo: ida},
		{UserID: stranger},
		{UserID: a, DeliveredUpTo: idb, ReadUpTo: ida},
		{UserID: b, DeliveredUpTo: ida},
	}, "Cursors in the order given")

	got, err = s.Cursors(ctx, newConv(), []string{a})
	must(t, err, "Cursors in another conversation")
	diff(t, got, []chat.Cursor{{UserID: a}}, "cursors are per conversation")

	got, err = s.Cursors(ctx, conv, nil)
	must(t, err, "Cursors of nobody")
	if len(got) != 0 {
		t.Fatalf("Cursors of nobody = %v, want none", got)
	}
}
