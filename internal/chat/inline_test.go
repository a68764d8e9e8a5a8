package chat_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/parleychat/parley/internal/chat"
)

// recMetrics records what the service reports to chat.Metrics.
type recMetrics struct {
	mu      sync.Mutex
	posted  map[chat.Path]map[chat.Outcome]int
	fanned  int
	skipped int
}

func (m *recMetrics) Posted(p chat.Path, o chat.Outcome, attempts int, lag time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.posted == nil {
		m.posted = map[chat.Path]map[chat.Outcome]int{}
	}
	if m.posted[p] == nil {
		m.posted[p] = map[chat.Outcome]int{}
	}
	m.posted[p][o]++
}

func (m *recMetrics) FannedOut(skipped bool, took time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.fanned++
	if skipped {
		m.skipped++
	}
}

// frameTypes returns the "type" of each frame pushed to a connection, in order.
func (f *fixture) frameTypes(connectionID string) []string {
	f.t.Helper()
	var out []string
	for _, d := range f.push.To(connectionID) {
		var v struct{ Type string }
		must(f.t, json.Unmarshal(d, &v), "decode pushed frame")
		out = append(out, v.Type)
	}
	slices.Sort(out)
	return out
}

// sendFrom sends body from a connected caller and returns the ack.
func (f *fixture) sendFrom(c chat.Caller, conversationID, body string) chat.AckFrame {
	f.t.Helper()
	f.clock.Advance(time.Millisecond)
	ack, err := f.svc.Send(f.ctx, c, chat.SendInput{ConversationID: conversationID, ClientMsgID: "c-" + f.ids.New(f.clock.Now()), Body: &body})
	must(f.t, err, "send")
	return ack
}

// stored returns the stored message of an ack.
func (f *fixture) stored(ack chat.AckFrame) chat.Message {
	f.t.Helper()
	m, err := f.store.GetMessage(f.ctx, ack.ConversationID, ack.MessageID)
	must(f.t, err, "read the message sent")
	return m
}

// marked reports whether the message of ack carries an inline mark.
func (f *fixture) marked(ack chat.AckFrame) bool {
	f.t.Helper()
	ref := chat.MessageRef{ConversationID: ack.ConversationID, MessageID: ack.MessageID}
	got, err := f.store.InlineMarked(f.ctx, []chat.MessageRef{ref})
	must(f.t, err, "read inline mark")
	return got[ref]
}

func TestInlineDirectMessage(t *testing.T) {
	met := &recMetrics{}
	f := newFixture(t, setup{opts: chat.Options{InlineMaxMembers: 2, Metrics: met}})
	alice, bob := f.connect("alice"), f.connect("bob")
	bob2 := f.connect("bob")
	dm := f.dm("alice", "bob")
	f.push.Reset()

	ack := f.sendFrom(alice, dm, "hi")
	if !ack.Posted {
		t.Error("the ack was not posted: the route response would carry it")
	}
	diff(t, f.frameTypes(alice.ConnectionID), []string{chat.TypeAck, chat.TypeMessage}, "frames to the sender's connection")
	diff(t, f.frameTypes(bob.ConnectionID), []string{chat.TypeMessage}, "frames to bob")
	diff(t, f.frameTypes(bob2.ConnectionID), []string{chat.TypeMessage}, "frames to bob's second device")
	m := f.stored(ack)
	if !m.Inline || !f.marked(ack) {
		t.Fatalf("stored Inline=%v, marked=%v: want both", m.Inline, f.marked(ack))
	}
	if met.posted[chat.PathInline][chat.OutcomeDelivered] != 3 {
		t.Errorf("inline deliveries counted %v, want 3", met.posted)
	}

	// The stream path then skips it: no post.
	f.push.Reset()
	d := f.svc.NewDeliverer()
	d.Prefetch(f.ctx, []chat.Message{m})
	must(t, d.Deliver(f.ctx, m), "deliver")
	if n := len(f.push.Pushed()); n != 0 {
		t.Errorf("the stream path pushed %d frames of a message the inline path finished", n)
	}
	if met.fanned != 1 || met.skipped != 1 {
		t.Errorf("fan-out counted %d records, %d skipped; want 1 and 1", met.fanned, met.skipped)
	}
	// Without a prefetch too (the mark is read then).
	must(t, f.svc.NewDeliverer().Deliver(f.ctx, m), "deliver")
	if n := len(f.push.Pushed()); n != 0 {
		t.Errorf("the stream path pushed %d frames of a message the inline path finished", n)
	}
}

func TestInlineOff(t *testing.T) {
	f := newFixture(t, setup{})
	alice, bob := f.connect("alice"), f.connect("bob")
	dm := f.dm("alice", "bob")
	f.push.Reset()
	ack := f.sendFrom(alice, dm, "hi")
	if ack.Posted || len(f.push.Pushed()) != 0 {
		t.Fatalf("with the inline path off, send posted (ack posted %v, %d frames)", ack.Posted, len(f.push.Pushed()))
	}
	m := f.stored(ack)
	if m.Inline {
		t.Error("a message of a send without the inline path is flagged Inline")
	}
	must(t, f.svc.NewDeliverer().Deliver(f.ctx, m), "deliver")
	diff(t, f.frameTypes(bob.ConnectionID), []string{chat.TypeMessage}, "frames to bob from the stream path")
}

func TestInlineGroupLimit(t *testing.T) {
	for _, size := range []int{3, 4} {
		t.Run(fmt.Sprint("members=", size), func(t *testing.T) {
			f := newFixture(t, setup{opts: chat.Options{InlineMaxMembers: 3}})
			owner := f.connect("owner")
			var others []string
			var conns []chat.Caller
			for i := range size - 1 {
				u := fmt.Sprint("m", i)
				others = append(others, u)
				conns = append(conns, f.connect(u))
			}
			g := f.group("owner", others...)
			f.push.Reset()
			ack := f.sendFrom(owner, g, "hello")
			inline := size <= 3
			if ack.Posted != inline || f.stored(ack).Inline != inline || f.marked(ack) != inline {
				t.Fatalf("posted %v, flagged %v, marked %v; want all %v", ack.Posted, f.stored(ack).Inline, f.marked(ack), inline)
			}
			for _, c := range conns {
				want := []string(nil)
				if inline {
					want = []string{chat.TypeMessage}
				}
				diff(t, f.frameTypes(c.ConnectionID), want, "frames to "+c.UserID)
			}
		})
	}
}

// A post that still fails after its retries leaves the message unmarked: the stream path
// delivers it to everyone (members served already get it twice).
func TestInlineFailureLeavesItToTheStream(t *testing.T) {
	met := &recMetrics{}
	f := newFixture(t, setup{opts: chat.Options{InlineMaxMembers: 10, Metrics: met, After: func(time.Duration) <-chan time.Time { return closedTime }}})
	alice, bob, carol := f.connect("alice"), f.connect("bob"), f.connect("carol")
	g := f.group("alice", "bob", "carol")
	fail := true
	var mu sync.Mutex
	f.push.Fail = func(id string, _ int) error {
		mu.Lock()
		defer mu.Unlock()
		if fail && id == carol.ConnectionID {
			return errors.New("throttled")
		}
		return nil
	}
	f.push.Reset()
	ack := f.sendFrom(alice, g, "hello")
	if f.marked(ack) {
		t.Fatal("marked although carol's post failed")
	}
	if got := f.push.Attempts(carol.ConnectionID); got != 4 {
		t.Errorf("carol's post tried %d times, want 4 (PushAttempts)", got)
	}
	if met.posted[chat.PathInline][chat.OutcomeFailed] != 1 {
		t.Errorf("failed inline posts counted %v, want 1", met.posted)
	}
	mu.Lock()
	fail = false
	mu.Unlock()
	f.push.Reset()
	must(t, f.svc.NewDeliverer().Deliver(f.ctx, f.stored(ack)), "deliver")
	for _, c := range []chat.Caller{alice, bob, carol} {
		diff(t, f.frameTypes(c.ConnectionID), []string{chat.TypeMessage}, "stream frames to "+c.UserID)
	}
}

var closedTime = func() <-chan time.Time {
	c := make(chan time.Time)
	close(c)
	return c
}()

// When the ack cannot be posted, it is the route response.
func TestInlineAckPostFails(t *testing.T) {
	f := newFixture(t, setup{opts: chat.Options{InlineMaxMembers: 2}})
	alice, bob := f.connect("alice"), f.connect("bob")
	dm := f.dm("alice", "bob")
	f.push.Reset()
	f.push.Fail = func(id string, attempt int) error {
		if id == alice.ConnectionID && attempt == 1 {
			return errors.New("500")
		}
		return nil
	}
	ack := f.sendFrom(alice, dm, "hi")
	if ack.Posted {
		t.Error("Posted although the ack's post failed")
	}
	diff(t, f.frameTypes(bob.ConnectionID), []string{chat.TypeMessage}, "frames to bob")
	// alice's message frame was retried and delivered: the mark is made.
	if !f.marked(ack) {
		t.Error("not marked")
	}
}

// A resend of a stored message pushes nothing again.
func TestInlineResendPushesNothing(t *testing.T) {
	f := newFixture(t, setup{opts: chat.Options{InlineMaxMembers: 2}})
	alice, _ := f.connect("alice"), f.connect("bob")
	dm := f.dm("alice", "bob")
	f.push.Reset()
	body := "hi"
	in := chat.SendInput{ConversationID: dm, ClientMsgID: "c-1", Body: &body}
	first, err := f.svc.Send(f.ctx, alice, in)
	must(t, err, "send")
	f.push.Reset()
	again, err := f.svc.Send(f.ctx, alice, in)
	must(t, err, "resend")
	if again.MessageID != first.MessageID || again.Posted {
		t.Errorf("resend: id %s (first %s), posted %v; want the same id, answered as the route response", again.MessageID, first.MessageID, again.Posted)
	}
	if n := len(f.push.Pushed()); n != 0 {
		t.Errorf("a resend pushed %d frames", n)
	}
}

// orderStore records the order of the message put and the connection reads.
type orderStore struct {
	mu  sync.Mutex
	log []string
}

func (o *orderStore) add(s string) {
	o.mu.Lock()
	o.log = append(o.log, s)
	o.mu.Unlock()
}

type putRecorder struct {
	chat.MessageStore
	o *orderStore
}

func (p putRecorder) PutMessage(ctx context.Context, m chat.Message) error {
	time.Sleep(5 * time.Millisecond) // give an early reader the chance to overtake
	err := p.MessageStore.PutMessage(ctx, m)
	p.o.add("put")
	return err
}

type connRecorder struct {
	chat.ConnectionStore
	o *orderStore
}

func (c connRecorder) Connections(ctx context.Context, user string, now int64) ([]chat.Connection, error) {
	c.o.add("connections")
	return c.ConnectionStore.Connections(ctx, user, now)
}

// The connections are read only once the message is stored (see internal/chat/inline.go:
// a device connecting meanwhile gets it from the push or from its sync).
func TestInlineReadsConnectionsAfterThePut(t *testing.T) {
	o := &orderStore{}
	f := newFixture(t, setup{
		opts:        chat.Options{InlineMaxMembers: 10},
		messages:    func(s chat.MessageStore) chat.MessageStore { return putRecorder{s, o} },
		connections: func(s chat.ConnectionStore) chat.ConnectionStore { return connRecorder{s, o} },
	})
	alice := f.connect("alice")
	f.connect("bob")
	g := f.group("alice", "bob")
	o.mu.Lock()
	o.log = nil
	o.mu.Unlock()
	f.sendFrom(alice, g, "hi")
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.log) == 0 || o.log[0] != "put" {
		t.Errorf("calls %v: the connections were read before the message was stored", o.log)
	}
}

// diff fails the test when got and want differ.
func diff(t *testing.T, got, want any, what string) {
	t.Helper()
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("%s (-want +got):\n%s", what, d)
	}
}

// A stream record that overtakes its send (no mark yet) waits out InlineGrace, reads the
// mark again and then skips the message; with no mark by then it delivers.
func TestStreamWaitsForTheInlineMark(t *testing.T) {
	for _, markMeanwhile := range []bool{true, false} {
		t.Run(fmt.Sprint("marked meanwhile=", markMeanwhile), func(t *testing.T) {
			var f *fixture
			var m chat.Message
			var waited []time.Duration
			f = newFixture(t, setup{opts: chat.Options{InlineMaxMembers: 2, After: func(d time.Duration) <-chan time.Time {
				waited = append(waited, d)
				if markMeanwhile {
					must(t, f.store.MarkInline(f.ctx, chat.MessageRef{ConversationID: m.ConversationID, MessageID: m.MessageID}), "mark")
				}
				f.clock.Advance(d)
				return closedTime
			}}})
			f.connect("alice")
			bob := f.connect("bob")
			dm := f.dm("alice", "bob")
			// A message flagged Inline whose send has not marked it (yet).
			now := f.clock.Now()
			m = chat.Message{ConversationID: dm, MessageID: f.ids.New(now), SenderID: "alice", Body: "hi", CreatedAt: now.UnixMilli(), Inline: true}
			must(t, f.store.PutMessage(f.ctx, m), "put")
			f.clock.Advance(100 * time.Millisecond)
			f.push.Reset()
			d := f.svc.NewDeliverer()
			d.Prefetch(f.ctx, []chat.Message{m})
			must(t, d.Deliver(f.ctx, m), "deliver")
			diff(t, waited, []time.Duration{chat.InlineGrace - 100*time.Millisecond}, "waits")
			want := []string{chat.TypeMessage}
			if markMeanwhile {
				want = nil
			}
			diff(t, f.frameTypes(bob.ConnectionID), want, "frames to bob")

			// An old record does not wait.
			waited = nil
			f.push.Reset()
			must(t, f.svc.NewDeliverer().Deliver(f.ctx, m), "deliver again")
			diff(t, waited, []time.Duration(nil), "waits for an old record")
		})
	}
}

// A 410 that removes a user's last connection (a device that vanished without
// $disconnect) makes the user offline and tells their direct peers; one that leaves
// another connection open changes nothing.
func TestGoneLastConnectionGoesOffline(t *testing.T) {
	for _, devices := range []int{1, 2} {
		t.Run(fmt.Sprint("devices=", devices), func(t *testing.T) {
			f := newFixture(t, setup{})
			alice := f.connect("alice")
			bob := f.connect("bob")
			if devices == 2 {
				f.connect("bob")
			}
			dm := f.dm("alice", "bob")
			f.clock.Advance(chat.GoneGrace + time.Second)
			f.push.Fail = func(id string, _ int) error {
				if id == bob.ConnectionID {
					return chat.ErrGone
				}
				return nil
			}
			m := f.send("alice", dm, "hi")
			f.push.Reset()
			must(t, f.svc.NewDeliverer().Deliver(f.ctx, m), "deliver")
			ps, err := f.svc.Presence(f.ctx, as("alice"), []string{"bob"})
			must(t, err, "presence")
			wantOnline := devices == 2
			if len(ps.Users) != 1 || ps.Users[0].Online != wantOnline {
				t.Fatalf("bob's presence %+v, want online %v", ps.Users, wantOnline)
			}
			var offlineEvents int
			for _, d := range f.push.To(alice.ConnectionID) {
				var ev struct {
					Type  string
					Users []chat.Presence
				}
				must(t, json.Unmarshal(d, &ev), "decode")
				if ev.Type == chat.TypePresence && len(ev.Users) == 1 && !ev.Users[0].Online {
					offlineEvents++
				}
			}
			if want := map[bool]int{true: 0, false: 1}[wantOnline]; offlineEvents != want {
				t.Errorf("alice got %d offline events for bob, want %d", offlineEvents, want)
			}
		})
	}
}
