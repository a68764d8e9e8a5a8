package chat_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/parleychat/parley/internal/chat"
)

// sendStore wraps the message store of a fixture for the resend tests: it counts the
// calls on send's path, and put, when set, runs before each PutMessage (an error fails it).
type sendStore struct {
	chat.MessageStore
	calls *counter
	put   func(ctx context.Context, m chat.Message) error
}

func (s *sendStore) Reserve(ctx context.Context, r chat.Reservation) (chat.Reservation, error) {
	s.calls.add("Reserve")
	return s.MessageStore.Reserve(ctx, r)
}

func (s *sendStore) RenewReservation(ctx context.Context, r chat.Reservation, old string) (chat.Reservation, error) {
	s.calls.add("RenewReservation")
	return s.MessageStore.RenewReservation(ctx, r, old)
}

func (s *sendStore) GetMessage(ctx context.Context, conversationID, messageID string) (chat.Message, error) {
	s.calls.add("GetMessage")
	return s.MessageStore.GetMessage(ctx, conversationID, messageID)
}

func (s *sendStore) PutMessage(ctx context.Context, m chat.Message) error {
	s.calls.add("PutMessage")
	if s.put != nil {
		if err := s.put(ctx, m); err != nil {
			return err
		}
	}
	return s.MessageStore.PutMessage(ctx, m)
}

func (s *sendStore) Republish(ctx context.Context, m chat.Message) error {
	s.calls.add("Republish")
	return s.MessageStore.Republish(ctx, m)
}

// errPut is the failure of a put that a test injects.
var errPut = errors.New("injected: put message failed")

// resendFixture is a fixture whose message store is a sendStore and whose Options.After
// moves the clock (backoffLog), with a group of alice, bob and carol.
type resendFixture struct {
	*fixture
	store *sendStore
	waits *backoffLog
	conv  string
	// duringWait, when set, runs at each wait of the service (Options.After).
	duringWait func()
}

func newResendFixture(t *testing.T) *resendFixture {
	t.Helper()
	rf := &resendFixture{store: &sendStore{calls: &counter{}}, waits: &backoffLog{}}
	rf.fixture = newFixture(t, setup{
		opts: chat.Options{After: func(d time.Duration) <-chan time.Time {
			if rf.duringWait != nil {
				rf.duringWait()
			}
			return rf.waits.after(d)
		}},
		messages: func(s chat.MessageStore) chat.MessageStore { rf.store.MessageStore = s; return rf.store },
	})
	rf.waits.clock = rf.clock
	rf.conv = rf.group("alice", "bob", "carol")
	rf.store.calls.take()
	return rf
}

// sendAs sends body as alice's message cmid.
func (rf *resendFixture) sendAs(cmid, body string) (chat.AckFrame, error) {
	return rf.svc.Send(rf.ctx, as("alice"), chat.SendInput{ConversationID: rf.conv, ClientMsgID: cmid, Body: &body})
}

// failFirstSend sends alice's message cmid with its put failing, and returns the
// reservation it left.
func (rf *resendFixture) failFirstSend(cmid string) chat.Reservation {
	rf.t.Helper()
	rf.store.put = func(context.Context, chat.Message) error { return errPut }
	_, err := rf.sendAs(cmid, "hello")
	if !errors.Is(err, errPut) {
		rf.t.Fatalf("send with a failing put: error %v, want %v", err, errPut)
	}
	rf.store.put = nil
	r, err := rf.fixture.store.Reserve(rf.ctx, chat.Reservation{ConversationID: rf.conv, SenderID: "alice", ClientMsgID: cmid, MessageID: "probe"})
	must(rf.t, err, "read the reservation left")
	if _, err := rf.fixture.store.GetMessage(rf.ctx, rf.conv, r.MessageID); !errors.Is(err, chat.ErrNotFound) {
		rf.t.Fatalf("the failed send stored its message (%v)", err)
	}
	rf.store.calls.take()
	return r
}

// only returns the one stored message of the conversation with clientMsgId cmid, and
// fails unless there is exactly one.
func (rf *resendFixture) only(cmid string) chat.Message {
	rf.t.Helper()
	all, _, err := rf.fixture.store.After(rf.ctx, rf.conv, "", 1000)
	must(rf.t, err, "read the conversation")
	var found []chat.Message
	for _, m := range all {
		if m.ClientMsgID == cmid {
			found = append(found, m)
		}
	}
	if len(found) != 1 {
		rf.t.Fatalf("%d stored messages with clientMsgId %s, want 1: %+v", len(found), cmid, found)
	}
	return found[0]
}

// idTime returns the time of a message id.
func idTime(t *testing.T, id string) time.Time {
	t.Helper()
	u, err := ulid.ParseStrict(id)
	must(t, err, "parse message id")
	return ulid.Time(u.Time())
}

// TestResendLongAfterFailedPut is the case the renewal exists for: a send reserves an id
// and fails before storing its message; while the sender is away, other messages are
// stored and a member's delivered cursor passes them; a minute later the sender sends
// again. The message must be stored with a fresh id of the resend's time, so that sync
// brings it to that member; under the old id it would sort a minute behind the cursor,
// beyond the settling window.
func TestResendLongAfterFailedPut(t *testing.T) {
	rf := newResendFixture(t)
	old := rf.failFirstSend("c-1")

	rf.clock.Advance(30 * time.Second)
	var between []chat.Message
	for i := range 3 {
		between = append(between, rf.send("carol", rf.conv, fmt.Sprint("meanwhile ", i)))
	}
	cursor := between[len(between)-1].MessageID
	_, err := rf.svc.Receipt(rf.ctx, as("bob"), rf.conv, cursor, chat.StatusDelivered)
	must(t, err, "bob's delivered receipt")
	if gap := idTime(t, cursor).Sub(idTime(t, old.MessageID)); old.MessageID >= cursor || gap <= chat.DefaultSettleWindow {
		t.Fatalf("set-up: the old id is %v before bob's cursor; want it below the cursor by more than the settling window %v", gap, chat.DefaultSettleWindow)
	}

	rf.clock.Advance(30 * time.Second)
	rf.store.calls.take()
	resentAt := rf.clock.Now()
	ack, err := rf.sendAs("c-1", "hello")
	must(t, err, "resend a minute later")
	if ack.MessageID == old.MessageID {
		t.Fatalf("resend a minute later kept the old id %s", old.MessageID)
	}
	if got := idTime(t, ack.MessageID); !got.Equal(resentAt) || ack.CreatedAt != resentAt.UnixMilli() {
		t.Fatalf("renewed id's time %v, createdAt %d; want the resend's time %v", got, ack.CreatedAt, resentAt)
	}
	stored := rf.only("c-1")
	if stored.MessageID != ack.MessageID || stored.CreatedAt != ack.CreatedAt || stored.Body != "hello" {
		t.Fatalf("stored %+v, want the acknowledged message %s", stored, ack.MessageID)
	}
	wantCalls(t, rf.store.calls.take(), map[string]int{"Reserve": 1, "GetMessage": 1, "RenewReservation": 1, "PutMessage": 1})

	bob := rf.connect("bob")
	rf.push.Reset()
	_, err = rf.svc.Sync(rf.ctx, bob)
	must(t, err, "bob's sync")
	found := false
	for _, m := range pushedMessages(t, rf.fixture, bob.ConnectionID) {
		found = found || m.MessageID == ack.MessageID
	}
	if !found {
		t.Fatalf("bob's sync after his cursor %s did not bring the resent message %s", cursor, ack.MessageID)
	}

	// The renewed reservation holds: a further resend acknowledges the same message.
	again, err := rf.sendAs("c-1", "hello")
	must(t, err, "resend after the renewal")
	if again.MessageID != ack.MessageID || again.CreatedAt != ack.CreatedAt {
		t.Fatalf("resend after the renewal acknowledged %s at %d, want %s at %d", again.MessageID, again.CreatedAt, ack.MessageID, ack.CreatedAt)
	}
	rf.only("c-1")
}

// TestResendAfterFailedPut checks which id a resend stores under after an attempt that
// reserved one and failed to store: the reserved one while the reservation is younger
// than ReserveStale (10 s), else a fresh one, made only once the reservation is
// ReserveStale plus the 1 s margin old (the resend waits out what is left of that, then
// looks for the message again).
func TestResendAfterFailedPut(t *testing.T) {
	tests := []struct {
		name      string
		delay     time.Duration // from the failed send to the resend
		renewed   bool
		wantWaits []time.Duration
		wantReads int // GetMessage calls: a second one after a wait
	}{
		{"at once: the reserved id", 0, false, nil, 1},
		{"within the stale age: the reserved id", 9 * time.Second, false, nil, 1},
		{"at the stale age: renewed after the margin", 10 * time.Second, true, []time.Duration{time.Second}, 2},
		{"within the margin: renewed after the rest of it", 10*time.Second + 300*time.Millisecond, true, []time.Duration{700 * time.Millisecond}, 2},
		{"after the margin: renewed at once", 11 * time.Second, true, nil, 1},
		{"an hour later: renewed at once", time.Hour, true, nil, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rf := newResendFixture(t)
			old := rf.failFirstSend("c-1")
			rf.clock.Advance(tt.delay)
			ack, err := rf.sendAs("c-1", "hello")
			must(t, err, "resend")
			stored := rf.only("c-1")
			if stored.MessageID != ack.MessageID || stored.CreatedAt != ack.CreatedAt {
				t.Fatalf("stored %s at %d, acknowledged %s at %d", stored.MessageID, stored.CreatedAt, ack.MessageID, ack.CreatedAt)
			}
			if d := cmpWaits(rf.waits, tt.wantWaits); d != "" {
				t.Fatal(d)
			}
			calls := rf.store.calls.take()
			if !tt.renewed {
				if ack.MessageID != old.MessageID || ack.CreatedAt != old.CreatedAt {
					t.Fatalf("resend after %v acknowledged %s at %d, want the reserved %s at %d", tt.delay, ack.MessageID, ack.CreatedAt, old.MessageID, old.CreatedAt)
				}
				wantCalls(t, calls, map[string]int{"Reserve": 1, "GetMessage": tt.wantReads, "PutMessage": 1})
				return
			}
			// The fresh id is made after the wait, from the clock as it is then.
			if ack.MessageID == old.MessageID || !idTime(t, ack.MessageID).Equal(rf.clock.Now()) || ack.CreatedAt != rf.clock.Now().UnixMilli() {
				t.Fatalf("resend after %v acknowledged %s at %d; want a fresh id of the time %v", tt.delay, ack.MessageID, ack.CreatedAt, rf.clock.Now())
			}
			if age := rf.clock.Now().Sub(time.UnixMilli(old.CreatedAt)); age < chat.DefaultReserveStale+time.Second {
				t.Fatalf("renewed a reservation %v old, want at least %v", age, chat.DefaultReserveStale+time.Second)
			}
			wantCalls(t, calls, map[string]int{"Reserve": 1, "GetMessage": tt.wantReads, "RenewReservation": 1, "PutMessage": 1})
		})
	}
}

// TestResendFindsLatePut is why a resend waits out the margin and looks again: a put of
// the reserved id that was in flight at its deadline lands during the wait, and the
// resend then acknowledges that message instead of storing a second one.
func TestResendFindsLatePut(t *testing.T) {
	rf := newResendFixture(t)
	old := rf.failFirstSend("c-1")
	late := chat.Message{ConversationID: rf.conv, MessageID: old.MessageID, SenderID: "alice", Body: "hello", CreatedAt: old.CreatedAt, ClientMsgID: "c-1"}
	rf.duringWait = func() { must(t, rf.fixture.store.PutMessage(rf.ctx, late), "the late put") }
	rf.clock.Advance(chat.DefaultReserveStale + 200*time.Millisecond)
	ack, err := rf.sendAs("c-1", "hello")
	must(t, err, "resend")
	if ack.MessageID != old.MessageID {
		t.Fatalf("resend acknowledged %s, want the late-stored %s", ack.MessageID, old.MessageID)
	}
	rf.only("c-1")
	wantCalls(t, rf.store.calls.take(), map[string]int{"Reserve": 1, "GetMessage": 2, "Republish": 1})
}

// TestResendOfStoredMessage checks that a resend of a message that is stored, soon or
// long after, acknowledges that message as it was stored (even with another body) and
// stores nothing new; and that a first send only reserves and puts.
func TestResendOfStoredMessage(t *testing.T) {
	for _, delay := range []time.Duration{0, 5 * time.Second, 10*time.Second + 500*time.Millisecond, time.Hour} {
		t.Run(fmt.Sprint("after ", delay), func(t *testing.T) {
			rf := newResendFixture(t)
			first, err := rf.sendAs("c-1", "hello")
			must(t, err, "first send")
			wantCalls(t, rf.store.calls.take(), map[string]int{"Reserve": 1, "PutMessage": 1})

			rf.clock.Advance(delay)
			again, err := rf.sendAs("c-1", "hello, edited")
			must(t, err, "resend")
			if again != first {
				t.Fatalf("resend acknowledged %+v, want the first ack %+v", again, first)
			}
			stored := rf.only("c-1")
			if stored.MessageID != first.MessageID || stored.Body != "hello" {
				t.Fatalf("stored %s with body %q, want %s with the first body", stored.MessageID, stored.Body, first.MessageID)
			}
			// The stored copy is not written again (that could undo a change made since):
			// it is republished, for stores whose put has a second half to redo (Keyspaces'
			// outbox); there is no renewal and no wait.
			wantCalls(t, rf.store.calls.take(), map[string]int{"Reserve": 1, "GetMessage": 1, "Republish": 1})
			if len(rf.waits.waits) != 0 {
				t.Fatalf("resend of a stored message waited %v", rf.waits.waits)
			}
		})
	}
}

// TestSendPutDeadline checks the deadline of a put under a reserved id: the id's time plus
// ReserveStale. A first send gets all of it; a resend that reuses an id gets what is left.
func TestSendPutDeadline(t *testing.T) {
	rf := newResendFixture(t)
	var left []time.Duration
	var mu sync.Mutex
	record := func(ctx context.Context, _ chat.Message) error {
		deadline, ok := ctx.Deadline()
		if !ok {
			return errors.New("put without a deadline")
		}
		mu.Lock()
		left = append(left, time.Until(deadline))
		mu.Unlock()
		return errPut
	}
	rf.store.put = record
	if _, err := rf.sendAs("c-1", "hello"); !errors.Is(err, errPut) {
		t.Fatalf("first send: %v, want %v", err, errPut)
	}
	rf.clock.Advance(7 * time.Second)
	if _, err := rf.sendAs("c-1", "hello"); !errors.Is(err, errPut) {
		t.Fatalf("resend: %v, want %v", err, errPut)
	}
	const slack = 2 * time.Second // real time between the put and the check, generously
	for i, want := range []time.Duration{chat.DefaultReserveStale, chat.DefaultReserveStale - 7*time.Second} {
		if left[i] > want || left[i] < want-slack {
			t.Fatalf("put %d had %v left before its deadline, want %v", i, left[i], want)
		}
	}
}

// TestConcurrentResends sends one stale message again from many connections at once:
// exactly one renews, all acknowledge the same fresh id, one message is stored.
func TestConcurrentResends(t *testing.T) {
	rf := newResendFixture(t)
	old := rf.failFirstSend("c-1")
	rf.clock.Advance(time.Minute)
	const n = 8
	acks := make([]chat.AckFrame, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			acks[i], errs[i] = rf.sendAs("c-1", "hello")
		})
	}
	close(start)
	wg.Wait()
	for i := range n {
		must(t, errs[i], fmt.Sprint("resend ", i))
		if acks[i] != acks[0] {
			t.Fatalf("resend %d acknowledged %+v, resend 0 %+v: want one message for all", i, acks[i], acks[0])
		}
	}
	if acks[0].MessageID == old.MessageID {
		t.Fatalf("concurrent resends kept the stale id %s", old.MessageID)
	}
	if stored := rf.only("c-1"); stored.MessageID != acks[0].MessageID {
		t.Fatalf("stored %s, acknowledged %s", stored.MessageID, acks[0].MessageID)
	}
}

// wantCalls fails the test unless the store calls counted are exactly want.
func wantCalls(t *testing.T, got, want map[string]int) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("store calls %v, want %v", got, want)
	}
}

// cmpWaits returns a description of how the waits recorded differ from want, or "".
func cmpWaits(b *backoffLog, want []time.Duration) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if fmt.Sprint(b.waits) != fmt.Sprint(want) {
		return fmt.Sprintf("waited %v, want %v", b.waits, want)
	}
	return ""
}
