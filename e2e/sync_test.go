package e2e

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/client"
)

// takeMessages removes and returns the message events d has received but no test has
// claimed, in arrival order.
func (d *dev) takeMessages() []client.Message {
	d.mu.Lock()
	defer d.mu.Unlock()
	var msgs []client.Message
	rest := d.pending[:0]
	for _, ev := range d.pending {
		if ev.Type == client.TypeMessage {
			msgs = append(msgs, *ev.Message)
		} else {
			rest = append(rest, ev)
		}
	}
	d.pending = rest
	return msgs
}

// TestOfflineThenSync covers a user who was offline: the messages sent meanwhile arrive
// through sync, oldest first within each conversation, followed by synced; after the
// delivered receipts a second sync has nothing.
func TestOfflineThenSync(t *testing.T) {
	t.Parallel()
	s := defaultSystem(t)
	u := newUsers("alice", "bob", "carol", "dave")
	alice, carol := s.connect(t, u[0]), s.connect(t, u[2])
	ctx := ctxFor(t, time.Minute)

	want := map[string][]string{} // conversation -> message ids, oldest first

	// Bob connected once, sent a message and left; dave never connected. Sync gives the
	// caller's own messages too (they are after his delivered cursor).
	first := s.connect(t, u[1])
	own, err := first.SendDirect(ctx, u[0], "own", "before I go")
	if err != nil {
		t.Fatalf("bob sends: %v", err)
	}
	want[own.ConversationID] = append(want[own.ConversationID], own.MessageID)
	alice.wait(t, "bob's message", messageWith(own.ConversationID, own.MessageID))
	if err := first.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	for i := range 5 {
		ack, err := alice.SendDirect(ctx, u[1], fmt.Sprintf("a%d", i), fmt.Sprintf("while you were away %d", i))
		if err != nil {
			t.Fatalf("alice sends: %v", err)
		}
		want[ack.ConversationID] = append(want[ack.ConversationID], ack.MessageID)
	}
	dm := mustDirect(t, alice, u[1])
	g, err := carol.CreateConversation(ctx, "offline", u[0], u[1], u[3])
	if err != nil {
		t.Fatalf("create group: %v", err)
	}
	for i, d := range []*dev{carol, carol, alice, carol} {
		ack, err := d.Send(ctx, g.ConversationID, fmt.Sprintf("g%d", i), fmt.Sprintf("group %d", i))
		if err != nil {
			t.Fatalf("group send: %v", err)
		}
		want[g.ConversationID] = append(want[g.ConversationID], ack.MessageID)
	}
	// Alice has every group message live; when she has them, the fan-out is done.
	alice.wait(t, "the last group message", messageWith(g.ConversationID, want[g.ConversationID][3]))

	bob := s.connect(t, u[1])
	res, err := bob.Sync(ctx)
	if err != nil {
		t.Fatalf("sync: %v", err)
	}
	if res.Count != 10 || res.More {
		t.Fatalf("synced = %+v, want count 10, more false", res)
	}
	// The messages came before synced: they are on Events already.
	bob.barrier(t)
	got := map[string][]string{}
	for _, m := range bob.takeMessages() {
		got[m.ConversationID] = append(got[m.ConversationID], m.MessageID)
		if m.Body == "" || m.SenderID == "" || m.CreatedAt == 0 {
			t.Fatalf("synced message without its fields: %+v", m)
		}
	}
	for conv, ids := range want {
		if !slices.Equal(got[conv], ids) {
			t.Fatalf("synced messages of %s = %v, want %v oldest first", conv, got[conv], ids)
		}
	}

	// The receipts move bob's delivered cursors; the senders hear of them.
	for conv, ids := range want {
		if _, err := bob.Receipt(ctx, conv, ids[len(ids)-1], client.StatusDelivered); err != nil {
			t.Fatalf("receipt: %v", err)
		}
	}
	alice.wait(t, "bob's delivered receipt", receiptOf(dm, u[1], client.StatusDelivered, want[dm][5]))
	carol.wait(t, "bob's delivered receipt", receiptOf(g.ConversationID, u[1], client.StatusDelivered, want[g.ConversationID][3]))
	page, err := alice.History(ctx, dm, "", 0)
	if err != nil || len(page.Messages) != 6 || page.Messages[0].Status != client.StatusDelivered {
		t.Fatalf("alice's history after bob's receipt = %+v, %v; want her 5 messages delivered", page, err)
	}

	// A second sync sends nothing new: at most the settling window's replays of what
	// bob has (all of it was sent within the window before his cursors).
	res, err = bob.Sync(ctx)
	if err != nil || res.More {
		t.Fatalf("second sync = %+v, %v; want more false", res, err)
	}
	bob.barrier(t)
	cursors := map[string]string{}
	for conv, ids := range want {
		cursors[conv] = ids[len(ids)-1]
	}
	msgs := bob.takeMessages()
	if fresh, _ := splitReplays(msgs, cursors); len(fresh) != 0 || res.Count != len(msgs) {
		t.Fatalf("second sync sent %d messages after the cursors (count %d of %d frames), want none", len(fresh), res.Count, len(msgs))
	}

	// Dave, who never connected, catches up with the client's SyncAll (sync, receipts,
	// again while more).
	dave := s.connect(t, u[3])
	n, err := dave.SyncAll(ctx)
	if err != nil || n != 4 {
		t.Fatalf("dave's SyncAll = %d, %v; want the 4 group messages", n, err)
	}
	dave.barrier(t)
	if got := ids(dave.takeMessages()); !slices.Equal(got, want[g.ConversationID]) {
		t.Fatalf("dave's messages = %v, want %v", got, want[g.ConversationID])
	}
	res, err = dave.Sync(ctx)
	dave.barrier(t)
	if fresh, _ := splitReplays(dave.takeMessages(), map[string]string{g.ConversationID: want[g.ConversationID][3]}); err != nil || len(fresh) != 0 {
		t.Fatalf("dave's next sync = %+v, %v; %d messages after his cursor, want none", res, err, len(fresh))
	}
}

// TestSyncMoreThan1000 covers sync's page limit: more than 1000 missed messages come in
// two calls, the first with more=true.
func TestSyncMoreThan1000(t *testing.T) {
	t.Parallel()
	s := defaultSystem(t)
	const senders, each = 26, 39 // 1014 messages; each sender within the rate limit's burst
	u := newUsers("offline")
	ctx := ctxFor(t, 2*time.Minute)

	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, senders)
	for i := range senders {
		sender := newUsers(fmt.Sprintf("sender%d", i))[0]
		d := s.connect(t, sender)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range each {
				if _, err := d.SendDirect(ctx, u[0], fmt.Sprintf("m%d", j), fmt.Sprintf("message %d of %s", j, sender)); err != nil {
					errs <- fmt.Errorf("%s sends %d: %w", sender, j, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	t.Logf("%d messages sent by %d senders in %v", senders*each, senders, time.Since(start).Round(time.Millisecond))

	start = time.Now()
	d := s.connect(t, u[0])
	res, err := d.Sync(ctx)
	if err != nil || res.Count != 1000 || !res.More {
		t.Fatalf("first sync = %+v, %v; want 1000 and more", res, err)
	}
	d.barrier(t)
	first := d.takeMessages()
	if len(first) != 1000 {
		t.Fatalf("first sync sent %d messages, want 1000", len(first))
	}
	// Acknowledge what arrived, as SyncAll does, then sync again.
	newest := map[string]string{}
	for _, m := range first {
		if m.MessageID > newest[m.ConversationID] {
			newest[m.ConversationID] = m.MessageID
		}
	}
	for conv, id := range newest {
		if _, err := d.Receipt(ctx, conv, id, client.StatusDelivered); err != nil {
			t.Fatalf("receipt: %v", err)
		}
	}
	res, err = d.Sync(ctx)
	d.barrier(t)
	second, replayed := splitReplays(d.takeMessages(), newest)
	if err != nil || len(second) != senders*each-1000 || res.More || res.Count != len(second)+len(replayed) {
		t.Fatalf("second sync = %+v, %v: %d messages after the cursors (and %d replayed); want %d and no more", res, err, len(second), len(replayed), senders*each-1000)
	}
	seen := map[string]bool{}
	for _, m := range append(first, second...) {
		if seen[m.MessageID] {
			t.Fatalf("message %s synced twice after the cursors", m.MessageID)
		}
		seen[m.MessageID] = true
	}
	if len(seen) != senders*each {
		t.Fatalf("synced %d distinct messages, want %d", len(seen), senders*each)
	}
	t.Logf("synced %d messages in two calls in %v", len(seen), time.Since(start).Round(time.Millisecond))
}
