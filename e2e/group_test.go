package e2e

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/client"
)

// TestGroupOf100 connects 100 members, creates their group, and measures how long one
// message takes to reach every member, then one receipt every other member.
func TestGroupOf100(t *testing.T) {
	t.Parallel()
	s := defaultSystem(t)
	const size = 100
	names := make([]string, size)
	for i := range names {
		names[i] = fmt.Sprintf("member%d", i)
	}
	u := newUsers(names...)
	ctx := ctxFor(t, 2*time.Minute)

	tokens := make([]string, size)
	for i := range tokens {
		tokens[i] = token(t, u[i])
	}
	start := time.Now()
	members := make([]*dev, size)
	var mu sync.Mutex
	var dialErrs []error
	var wg sync.WaitGroup
	slots := make(chan struct{}, 16)
	for i := range members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			slots <- struct{}{}
			defer func() { <-slots }()
			c, err := client.Dial(ctx, s.m.WebSocketURL(), tokens[i], clientOptions())
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				dialErrs = append(dialErrs, fmt.Errorf("connect %s: %w", u[i], err))
				return
			}
			members[i] = &dev{Conn: c, user: u[i]}
		}()
	}
	wg.Wait()
	for _, d := range members {
		if d != nil {
			t.Cleanup(func() { _ = d.Close() })
		}
	}
	if err := errors.Join(dialErrs...); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d members connected in %v", size, time.Since(start).Round(time.Millisecond))

	// waitAll waits, in parallel, for an event on every device but skip, returning the
	// latest arrival.
	waitAll := func(what string, skip *dev, match func(client.Event) bool) time.Time {
		t.Helper()
		var mu sync.Mutex
		var last time.Time
		var errs []error
		var wg sync.WaitGroup
		wctx, cancel := context.WithTimeout(ctx, eventTimeout)
		defer cancel()
		for _, d := range members {
			if d == skip {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				ev, err := d.next(wctx, match)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, err)
					return
				}
				if ev.Received.After(last) {
					last = ev.Received
				}
			}()
		}
		wg.Wait()
		if len(errs) > 0 {
			t.Fatalf("%d of %d members never received %s; first: %v", len(errs), size, what, errs[0])
		}
		return last
	}

	owner := members[0]
	start = time.Now()
	g, err := owner.CreateConversation(ctx, "a hundred", u[1:]...)
	if err != nil {
		t.Fatalf("create group: %v", err)
	}
	if len(g.Members) != size {
		t.Fatalf("group has %d members, want %d", len(g.Members), size)
	}
	last := waitAll("the new group", owner, conversationEvent(g.ConversationID, size))
	t.Logf("group of %d created and announced to the other %d in %v", size, size-1, last.Sub(start).Round(time.Millisecond))

	sender := members[size/2]
	start = time.Now()
	ack, err := sender.Send(ctx, g.ConversationID, "hello-100", "hello, all hundred of you")
	if err != nil {
		t.Fatalf("send: %v", err)
	}
	acked := time.Since(start)
	var latencies []time.Duration
	var latMu sync.Mutex
	last = waitAll("the message", nil, func(ev client.Event) bool {
		ok := messageWith(g.ConversationID, ack.MessageID)(ev)
		if ok {
			latMu.Lock()
			latencies = append(latencies, ev.Received.Sub(start))
			latMu.Unlock()
		}
		return ok
	})
	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	t.Logf("one message to %d connected members: ack after %v; delivered to the first after %v, the median after %v, all %d after %v",
		size, acked.Round(time.Millisecond), latencies[0].Round(time.Millisecond), latencies[len(latencies)/2].Round(time.Millisecond),
		len(latencies), last.Sub(start).Round(time.Millisecond))
	if len(latencies) != size {
		t.Fatalf("%d deliveries, want %d", len(latencies), size)
	}

	// A group of 100 is within the live receipt limit: the other 99 hear of a read.
	reader := members[size-1]
	start = time.Now()
	if _, err := reader.Receipt(ctx, g.ConversationID, ack.MessageID, client.StatusRead); err != nil {
		t.Fatalf("receipt: %v", err)
	}
	last = waitAll("the read receipt", reader, receiptOf(g.ConversationID, reader.user, client.StatusRead, ack.MessageID))
	t.Logf("one receipt to the other %d members in %v", size-1, last.Sub(start).Round(time.Millisecond))

	page, err := sender.History(ctx, g.ConversationID, "", 1)
	if err != nil || len(page.Messages) != 1 || page.Messages[0].ReadBy == nil || *page.Messages[0].ReadBy != 1 {
		t.Fatalf("sender's history = %+v, %v; want the message read by 1", page, err)
	}
}

// TestLargeGroup covers the 500-member limit (a group of 500 in all is allowed, adding a
// 501st is too_large) and receipts in a group over 100 members: no live receipt events,
// but history carries the counts.
func TestLargeGroup(t *testing.T) {
	t.Parallel()
	s := defaultSystem(t)
	u := newUsers("owner", "reader", "extra")
	owner, reader := s.connect(t, u[0]), s.connect(t, u[1])
	ctx := ctxFor(t, time.Minute)
	others := []string{u[1]}
	for i := range 498 {
		others = append(others, fmt.Sprintf("%s-m%d", u[0], i))
	}
	start := time.Now()
	g, err := owner.CreateConversation(ctx, "five hundred", others...)
	if err != nil {
		t.Fatalf("create a group of 500: %v", err)
	}
	t.Logf("group of 500 created in %v", time.Since(start).Round(time.Millisecond))
	if len(g.Members) != 500 {
		t.Fatalf("group has %d members, want 500", len(g.Members))
	}
	if _, err := reader.AddMembers(ctx, g.ConversationID, u[2]); client.ErrorCode(err) != client.CodeTooLarge {
		t.Fatalf("adding a 501st member: %v, want too_large", err)
	}
	reader.wait(t, "the group", conversationEvent(g.ConversationID, 500))

	ack, err := owner.Send(ctx, g.ConversationID, "big", "to five hundred")
	if err != nil {
		t.Fatalf("send: %v", err)
	}
	reader.wait(t, "the message", messageWith(g.ConversationID, ack.MessageID))
	if _, err := reader.Receipt(ctx, g.ConversationID, ack.MessageID, client.StatusRead); err != nil {
		t.Fatalf("receipt: %v", err)
	}
	// The receipt's reply follows its (absent) pushes.
	owner.expectNone(t, "a live receipt in a group of 500", anyReceipt(g.ConversationID))
	page, err := owner.History(ctx, g.ConversationID, "", 1)
	if err != nil || len(page.Messages) != 1 || page.Messages[0].ReadBy == nil || *page.Messages[0].ReadBy != 1 ||
		page.Messages[0].DeliveredTo == nil || *page.Messages[0].DeliveredTo != 1 {
		t.Fatalf("owner's history = %+v, %v; want the message delivered to and read by 1", page, err)
	}
}
