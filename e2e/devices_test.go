package e2e

import (
	"testing"
	"time"

	"github.com/parleychat/parley/internal/client"
)

// TestSeveralDevices covers a user with several connections: every event for the user
// reaches all of them, and the user's own messages come back to every device, the
// sending one included.
func TestSeveralDevices(t *testing.T) {
	t.Parallel()
	s := defaultSystem(t)
	u := newUsers("alice", "bob", "carol")
	alice := []*dev{s.connect(t, u[0]), s.connect(t, u[0]), s.connect(t, u[0])}
	bob := []*dev{s.connect(t, u[1]), s.connect(t, u[1])}
	carol := s.connect(t, u[2])
	all := append(append([]*dev{}, alice...), bob...)
	ctx := ctxFor(t, time.Minute)

	if ids := s.connectionIDs(t, u[0]); len(ids) != 3 {
		t.Fatalf("alice's connection items = %v, want 3", ids)
	}

	// A message from bob reaches alice's three devices and bob's two.
	ack, err := bob[0].SendDirect(ctx, u[0], "b1", "to all your devices")
	if err != nil {
		t.Fatalf("bob sends: %v", err)
	}
	dm := ack.ConversationID
	for _, d := range all {
		d.wait(t, "bob's message", messageWith(dm, ack.MessageID))
	}

	// Alice's own message comes back to every device of hers, the sending one included.
	mine, err := alice[1].Send(ctx, dm, "a1", "from my second device")
	if err != nil {
		t.Fatalf("alice sends: %v", err)
	}
	for _, d := range all {
		ev := d.wait(t, "alice's message", messageWith(dm, mine.MessageID))
		if ev.Message.SenderID != u[0] || ev.Message.ClientMsgID != "a1" {
			t.Fatalf("%s got %+v", d.user, ev.Message)
		}
	}

	// A receipt from one device reaches the user's other devices and the peer's; the
	// device that sent it gets only the reply.
	if _, err := alice[0].Receipt(ctx, dm, ack.MessageID, client.StatusRead); err != nil {
		t.Fatalf("receipt: %v", err)
	}
	for _, d := range append([]*dev{alice[1], alice[2]}, bob...) {
		d.wait(t, "alice's read receipt", receiptOf(dm, u[0], client.StatusRead, ack.MessageID))
	}
	alice[0].expectNone(t, "its own receipt as an event", anyReceipt(dm))

	// Typing goes to the peer's devices only.
	if err := alice[2].Typing(dm, client.TypingStart); err != nil {
		t.Fatalf("typing: %v", err)
	}
	for _, d := range bob {
		d.wait(t, "alice typing", typingOf(dm, u[0], client.TypingStart))
	}
	alice[2].barrier(t) // the typing invocation, and its pushes, are done
	for _, d := range alice {
		d.expectNone(t, "alice's own typing", anyTyping(dm))
	}

	// A new conversation is announced to every device of every other member.
	g, err := carol.CreateConversation(ctx, "devices", u[0], u[1])
	if err != nil {
		t.Fatalf("create group: %v", err)
	}
	for _, d := range all {
		d.wait(t, "the new group", conversationEvent(g.ConversationID, 3))
	}

	// A device that closed is left out; the others still get everything.
	if err := alice[2].Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	eventually(t, "alice's third connection item deleted", func() bool { return len(s.connectionIDs(t, u[0])) == 2 })
	late := s.connect(t, u[0]) // and a device that opens later is included
	gm, err := carol.Send(ctx, g.ConversationID, "c1", "after the close")
	if err != nil {
		t.Fatalf("carol sends: %v", err)
	}
	for _, d := range []*dev{alice[0], alice[1], late, bob[0], bob[1], carol} {
		d.wait(t, "carol's message", messageWith(g.ConversationID, gm.MessageID))
	}
}
