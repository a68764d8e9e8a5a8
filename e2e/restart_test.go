package e2e

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/client"
	"github.com/parleychat/parley/internal/local"
)

// TestRestartKeepsData runs parley local on a data directory, stops it, and starts a new
// one on the same directory: conversations, messages, cursors and idempotency
// reservations survive, and the stream fan-out works again.
func TestRestartKeepsData(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	u := newUsers("alice", "bob", "carol")

	startOn := func() *system {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
		defer cancel()
		s, err := startSystem(ctx, local.Config{DataDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}

	// First run.
	start := time.Now()
	s1 := startOn()
	t.Logf("first run started in %v", time.Since(start).Round(time.Millisecond))
	closed := false
	t.Cleanup(func() {
		if !closed {
			_ = s1.m.Close()
		}
	})
	ctx := ctxFor(t, 2*time.Minute)
	alice, bob := s1.connect(t, u[0]), s1.connect(t, u[1])
	var dmIDs []string
	var firstAck *client.Ack
	for i, body := range []string{"one", "two", "three"} {
		ack, err := alice.SendDirect(ctx, u[1], "dm"+body, body)
		if err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		if firstAck == nil {
			firstAck = ack
		}
		dmIDs = append(dmIDs, ack.MessageID)
	}
	dm := firstAck.ConversationID
	bob.wait(t, "the third message", messageWith(dm, dmIDs[2]))
	if _, err := bob.Receipt(ctx, dm, dmIDs[1], client.StatusRead); err != nil {
		t.Fatalf("receipt: %v", err)
	}
	g, err := alice.CreateConversation(ctx, "Persistent", u[1], u[2])
	if err != nil {
		t.Fatalf("create group: %v", err)
	}
	var groupIDs []string
	for _, body := range []string{"g-one", "g-two"} {
		ack, err := alice.Send(ctx, g.ConversationID, body, body)
		if err != nil {
			t.Fatalf("group send: %v", err)
		}
		groupIDs = append(groupIDs, ack.MessageID)
	}
	bob.wait(t, "the last group message", messageWith(g.ConversationID, groupIDs[1]))

	start = time.Now()
	if err := s1.m.Close(); err != nil {
		t.Fatalf("close the first run: %v", err)
	}
	closed = true
	for _, d := range []*dev{alice, bob} {
		select {
		case <-d.Done():
		case <-time.After(eventTimeout):
			t.Fatalf("%s's connection still open after the server closed", d.user)
		}
	}

	// Second run on the same directory.
	s2 := startOn()
	t.Cleanup(func() {
		if err := s2.m.Close(); err != nil {
			t.Errorf("close the second run: %v", err)
		}
	})
	t.Logf("stopped and started again in %v", time.Since(start).Round(time.Millisecond))
	alice = s2.connect(t, u[0])

	list, err := alice.Conversations(ctx)
	if err != nil {
		t.Fatalf("conversations: %v", err)
	}
	if len(list) != 2 || list[0].ConversationID != g.ConversationID || list[0].Name != "Persistent" || list[0].MemberCount != 3 ||
		list[0].LastMessage == nil || list[0].LastMessage.MessageID != groupIDs[1] || list[1].ConversationID != dm {
		t.Fatalf("conversations after the restart = %+v", list)
	}
	page, err := alice.History(ctx, dm, "", 0)
	if err != nil {
		t.Fatalf("history: %v", err)
	}
	var statuses []string
	for _, m := range page.Messages {
		statuses = append(statuses, m.Body+":"+m.Status)
	}
	if !slices.Equal(statuses, []string{"three:sent", "two:read", "one:read"}) {
		t.Fatalf("history after the restart = %v", statuses)
	}
	// The idempotency reservation survived: a resend gets the first messageId.
	again, err := alice.SendDirect(ctx, u[1], "dmone", "one")
	if err != nil || again.MessageID != dmIDs[0] {
		t.Fatalf("resend after the restart = %+v, %v; want messageId %s", again, err, dmIDs[0])
	}
	// Connections of the first run are gone ($disconnect ran at shutdown).
	if ids := s2.connectionIDs(t, u[1]); len(ids) != 0 {
		t.Fatalf("bob's connection items after the restart = %v, want none", ids)
	}

	// Bob's cursors survived: sync gives what he had not acknowledged.
	bob = s2.connect(t, u[1])
	res, err := bob.Sync(ctx)
	bob.barrier(t)
	fresh, replayed := splitReplays(bob.takeMessages(), map[string]string{dm: dmIDs[1]})
	if err != nil || len(fresh) != 3 || res.Count != len(fresh)+len(replayed) {
		t.Fatalf("bob's sync after the restart = %+v, %v; %d after his cursors, want 3 (one direct, two group)", res, err, len(fresh))
	}
	got := ids(fresh)
	if want := []string{dmIDs[2], groupIDs[0], groupIDs[1]}; !slices.Equal(sorted(got...), sorted(want...)) {
		t.Fatalf("bob synced %v, want %v", got, want)
	}

	// The stream fan-out runs on the restarted system.
	ack, err := alice.Send(ctx, g.ConversationID, "after", "after the restart")
	if err != nil {
		t.Fatalf("send after the restart: %v", err)
	}
	bob.wait(t, "a message after the restart", messageWith(g.ConversationID, ack.MessageID))
}
