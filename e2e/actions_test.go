package e2e

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/client"
)

// TestSendDirect covers send with "to" and with conversationId, the ack, the message
// event to every member (the sender included) and idempotent resends.
func TestSendDirect(t *testing.T) {
	t.Parallel()
	s := defaultSystem(t)
	u := newUsers("alice", "bob")
	alice, bob := s.connect(t, u[0]), s.connect(t, u[1])
	ctx := ctxFor(t, time.Minute)

	before := time.Now().UnixMilli()
	ack, err := alice.SendDirect(ctx, u[1], "c-1", "hello bob")
	if err != nil {
		t.Fatalf("send to bob: %v", err)
	}
	after := time.Now().UnixMilli()
	if ack.ConversationID == "" || len(ack.MessageID) != 26 || ack.ClientMsgID != "c-1" || ack.CreatedAt < before-1000 || ack.CreatedAt > after+1000 {
		t.Fatalf("ack = %+v (sent between %d and %d)", ack, before, after)
	}
	for _, d := range []*dev{alice, bob} {
		ev := d.wait(t, "the message", messageWith(ack.ConversationID, ack.MessageID))
		m := ev.Message
		if m.Body != "hello bob" || m.SenderID != u[0] || m.ClientMsgID != "c-1" || m.CreatedAt != ack.CreatedAt {
			t.Fatalf("%s got %+v, want alice's message of the ack %+v", d.user, m, ack)
		}
	}

	// A resend with the same clientMsgId is acknowledged with the same messageId.
	again, err := alice.SendDirect(ctx, u[1], "c-1", "hello bob")
	if err != nil {
		t.Fatalf("resend: %v", err)
	}
	if again.MessageID != ack.MessageID || again.ConversationID != ack.ConversationID {
		t.Fatalf("resend ack = %+v, want the first ack %+v", again, ack)
	}

	// The reply uses conversationId.
	back, err := bob.Send(ctx, ack.ConversationID, "b-1", "hi alice")
	if err != nil {
		t.Fatalf("bob replies: %v", err)
	}
	if back.ConversationID != ack.ConversationID || back.MessageID <= ack.MessageID {
		t.Fatalf("reply ack = %+v, want a later message of %s", back, ack.ConversationID)
	}
	alice.wait(t, "bob's reply", messageWith(back.ConversationID, back.MessageID))

	// A body of exactly 16384 bytes (8192 two-byte characters) is accepted and delivered whole.
	big := strings.Repeat("é", 8192)
	bigAck, err := alice.Send(ctx, ack.ConversationID, "big", big)
	if err != nil {
		t.Fatalf("send a body of 16384 bytes: %v", err)
	}
	if ev := bob.wait(t, "the largest message", messageWith(bigAck.ConversationID, bigAck.MessageID)); ev.Message.Body != big {
		t.Fatalf("bob got a body of %d bytes, want the 16384 sent", len(ev.Message.Body))
	}

	// Exactly three messages exist: the resend stored nothing new.
	page, err := alice.History(ctx, ack.ConversationID, "", 0)
	if err != nil {
		t.Fatalf("history: %v", err)
	}
	if got := ids(page.Messages); !slices.Equal(got, []string{bigAck.MessageID, back.MessageID, ack.MessageID}) {
		t.Fatalf("history = %v, want [%s %s %s]", got, bigAck.MessageID, back.MessageID, ack.MessageID)
	}

	// The direct conversation has a deterministic id: creating it gives the same one.
	conv, err := bob.CreateConversation(ctx, "", u[0])
	if err != nil {
		t.Fatalf("create the direct conversation: %v", err)
	}
	if conv.ConversationID != ack.ConversationID || conv.Kind != client.KindDirect {
		t.Fatalf("createConversation = %+v, want the direct conversation %s", conv, ack.ConversationID)
	}
}

// TestTyping covers typing start and stop, the default state, and that the typist's own
// connections do not get the event.
func TestTyping(t *testing.T) {
	t.Parallel()
	s := defaultSystem(t)
	u := newUsers("alice", "bob", "carol")
	alice, alice2, bob := s.connect(t, u[0]), s.connect(t, u[0]), s.connect(t, u[1])
	ctx := ctxFor(t, time.Minute)
	g, err := alice.CreateConversation(ctx, "typing", u[1], u[2])
	if err != nil {
		t.Fatalf("create group: %v", err)
	}

	if err := alice.Typing(g.ConversationID, client.TypingStart); err != nil {
		t.Fatalf("typing: %v", err)
	}
	bob.wait(t, "alice typing", typingOf(g.ConversationID, u[0], client.TypingStart))
	// The heartbeat's reply follows the typing invocation, pushes included.
	alice.barrier(t)
	alice.expectNone(t, "her own typing", anyTyping(g.ConversationID))
	alice2.expectNone(t, "her own typing on another device", anyTyping(g.ConversationID))

	if err := alice.Typing(g.ConversationID, client.TypingStop); err != nil {
		t.Fatalf("typing stop: %v", err)
	}
	bob.wait(t, "alice stopped typing", typingOf(g.ConversationID, u[0], client.TypingStop))

	// Without a state, typing means start.
	carol := s.dialRaw(t, u[2])
	carol.send(map[string]any{"action": "typing", "conversationId": g.ConversationID})
	for _, d := range []*dev{alice, alice2, bob} {
		d.wait(t, "carol typing", typingOf(g.ConversationID, u[2], client.TypingStart))
	}
}

// TestReceiptsAndStatus covers receipts (delivered and read, events to the other members,
// cursors that only move forward) and the status of one's own messages in history, in a
// direct conversation and in a group.
func TestReceiptsAndStatus(t *testing.T) {
	t.Parallel()
	s := defaultSystem(t)
	u := newUsers("alice", "bob", "carol")
	alice, bob, carol := s.connect(t, u[0]), s.connect(t, u[1]), s.connect(t, u[2])
	ctx := ctxFor(t, time.Minute)

	var sent []*client.Ack
	for i := range 3 {
		ack, err := alice.SendDirect(ctx, u[1], fmt.Sprintf("m%d", i), fmt.Sprintf("message %d", i))
		if err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		sent = append(sent, ack)
	}
	dm := sent[0].ConversationID
	bob.wait(t, "the last message", messageWith(dm, sent[2].MessageID))

	status := func(want ...string) {
		t.Helper()
		page, err := alice.History(ctx, dm, "", 0)
		if err != nil {
			t.Fatalf("history: %v", err)
		}
		var got []string
		for _, m := range page.Messages { // newest first
			got = append(got, m.Status)
		}
		slices.Reverse(got)
		if !slices.Equal(got, want) {
			t.Fatalf("statuses oldest first = %v, want %v", got, want)
		}
	}
	status("sent", "sent", "sent")

	r, err := bob.Receipt(ctx, dm, sent[1].MessageID, client.StatusDelivered)
	if err != nil {
		t.Fatalf("receipt delivered: %v", err)
	}
	if r.UserID != u[1] || r.Status != client.StatusDelivered || r.UpTo != sent[1].MessageID || r.ConversationID != dm || r.At == 0 {
		t.Fatalf("receipt reply = %+v", r)
	}
	alice.wait(t, "bob's delivered receipt", receiptOf(dm, u[1], client.StatusDelivered, sent[1].MessageID))
	status("delivered", "delivered", "sent")

	if _, err := bob.Receipt(ctx, dm, sent[2].MessageID, client.StatusRead); err != nil {
		t.Fatalf("receipt read: %v", err)
	}
	alice.wait(t, "bob's read receipt", receiptOf(dm, u[1], client.StatusRead, sent[2].MessageID))
	status("read", "read", "read")

	// A receipt behind the cursor is accepted and changes nothing: no event.
	if _, err := bob.Receipt(ctx, dm, sent[0].MessageID, client.StatusDelivered); err != nil {
		t.Fatalf("receipt behind the cursor: %v", err)
	}
	alice.expectNone(t, "a receipt for a cursor that did not move", receiptOf(dm, u[1], client.StatusDelivered, sent[0].MessageID))
	status("read", "read", "read")

	// Bob's history shows no status on messages he did not send.
	page, err := bob.History(ctx, dm, "", 0)
	if err != nil {
		t.Fatalf("bob's history: %v", err)
	}
	for _, m := range page.Messages {
		if m.Status != "" || m.DeliveredTo != nil || m.ReadBy != nil {
			t.Fatalf("bob sees a status on alice's message: %+v", m)
		}
	}

	// In a group, one's own messages carry counts of the other members.
	g, err := alice.CreateConversation(ctx, "receipts", u[1], u[2])
	if err != nil {
		t.Fatalf("create group: %v", err)
	}
	ack, err := alice.Send(ctx, g.ConversationID, "g1", "to the group")
	if err != nil {
		t.Fatalf("send to group: %v", err)
	}
	if _, err := bob.Receipt(ctx, g.ConversationID, ack.MessageID, client.StatusRead); err != nil {
		t.Fatalf("bob read: %v", err)
	}
	if _, err := carol.Receipt(ctx, g.ConversationID, ack.MessageID, client.StatusDelivered); err != nil {
		t.Fatalf("carol delivered: %v", err)
	}
	// Every member hears of the others' receipts.
	carol.wait(t, "bob's read receipt", receiptOf(g.ConversationID, u[1], client.StatusRead, ack.MessageID))
	bob.wait(t, "carol's delivered receipt", receiptOf(g.ConversationID, u[2], client.StatusDelivered, ack.MessageID))
	alice.wait(t, "carol's delivered receipt", receiptOf(g.ConversationID, u[2], client.StatusDelivered, ack.MessageID))
	gp, err := alice.History(ctx, g.ConversationID, "", 0)
	if err != nil {
		t.Fatalf("group history: %v", err)
	}
	if len(gp.Messages) != 1 || gp.Messages[0].DeliveredTo == nil || gp.Messages[0].ReadBy == nil ||
		*gp.Messages[0].DeliveredTo != 2 || *gp.Messages[0].ReadBy != 1 || gp.Messages[0].Status != "" {
		t.Fatalf("group history = %+v, want one message delivered to 2 and read by 1", gp.Messages)
	}
}

// TestHistoryPaging pages through a conversation newest first with next.
func TestHistoryPaging(t *testing.T) {
	t.Parallel()
	s := defaultSystem(t)
	u := newUsers("alice", "bob")
	alice := s.connect(t, u[0])
	ctx := ctxFor(t, time.Minute)

	var want []string // oldest first
	for i := range 7 {
		ack, err := alice.SendDirect(ctx, u[1], fmt.Sprintf("p%d", i), fmt.Sprintf("page message %d", i))
		if err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		want = append(want, ack.MessageID)
	}
	conv := mustDirect(t, alice, u[1])

	var got []string
	before := ""
	var sizes []int
	for range 10 {
		page, err := alice.History(ctx, conv, before, 3)
		if err != nil {
			t.Fatalf("history before %q: %v", before, err)
		}
		if page.ConversationID != conv {
			t.Fatalf("page of %q, want %q", page.ConversationID, conv)
		}
		sizes = append(sizes, len(page.Messages))
		got = append(got, ids(page.Messages)...)
		if page.Next == "" {
			break
		}
		if page.Next != page.Messages[len(page.Messages)-1].MessageID {
			t.Fatalf("next = %q, want the oldest message of the page %q", page.Next, page.Messages[len(page.Messages)-1].MessageID)
		}
		before = page.Next
	}
	slices.Reverse(got)
	if !slices.Equal(got, want) {
		t.Fatalf("paged history oldest first = %v, want %v", got, want)
	}
	if !slices.Equal(sizes, []int{3, 3, 1}) {
		t.Fatalf("page sizes = %v, want [3 3 1]", sizes)
	}
	if !sort.StringsAreSorted(want) {
		t.Fatalf("message ids do not sort in the order they were accepted: %v", want)
	}

	// A page that reaches the oldest message has no next; one that stops short has.
	if page, err := alice.History(ctx, conv, "", 7); err != nil || len(page.Messages) != 7 || page.Next != "" {
		t.Fatalf("page of 7 of 7 = %d messages, next %q, %v; want no next", len(page.Messages), page.Next, err)
	}
	if page, err := alice.History(ctx, conv, "", 6); err != nil || len(page.Messages) != 6 || page.Next != want[1] {
		t.Fatalf("page of 6 of 7 = %d messages, next %q, %v; want next %s", len(page.Messages), page.Next, err, want[1])
	}

	// The default page holds all seven, newest first.
	page, err := alice.History(ctx, conv, "", 0)
	if err != nil {
		t.Fatalf("history: %v", err)
	}
	if len(page.Messages) != 7 || page.Next != "" || page.Messages[0].MessageID != want[6] || page.Messages[0].Body != "page message 6" {
		t.Fatalf("default page = %d messages, next %q, first %+v", len(page.Messages), page.Next, page.Messages[0])
	}
}

// TestConversationsUnread covers the conversation list: kinds, names, member counts,
// last messages, unread counts of others' messages, and most recent activity first.
func TestConversationsUnread(t *testing.T) {
	t.Parallel()
	s := defaultSystem(t)
	u := newUsers("alice", "bob", "carol", "dave")
	alice, bob, carol := s.connect(t, u[0]), s.connect(t, u[1]), s.connect(t, u[2])
	ctx := ctxFor(t, time.Minute)

	var last *client.Ack
	for i := range 3 {
		ack, err := bob.SendDirect(ctx, u[0], fmt.Sprintf("b%d", i), fmt.Sprintf("bob %d", i))
		if err != nil {
			t.Fatalf("bob sends: %v", err)
		}
		last = ack
	}
	dm := last.ConversationID
	g, err := carol.CreateConversation(ctx, "Trip", u[0], u[1])
	if err != nil {
		t.Fatalf("create group: %v", err)
	}
	for i := range 2 {
		if _, err := carol.Send(ctx, g.ConversationID, fmt.Sprintf("c%d", i), fmt.Sprintf("carol %d", i)); err != nil {
			t.Fatalf("carol sends: %v", err)
		}
	}
	mine, err := alice.Send(ctx, g.ConversationID, "a0", "alice in the group")
	if err != nil {
		t.Fatalf("alice sends: %v", err)
	}
	// A conversation without messages: its activity is its creation, the latest here.
	empty, err := alice.CreateConversation(ctx, "", u[3])
	if err != nil {
		t.Fatalf("create an empty direct conversation: %v", err)
	}

	list, err := alice.Conversations(ctx)
	if err != nil {
		t.Fatalf("conversations: %v", err)
	}
	if len(list) != 3 {
		t.Fatalf("conversations = %+v, want 3", list)
	}
	e, gr, d := list[0], list[1], list[2]
	if e.ConversationID != empty.ConversationID || e.Kind != client.KindDirect || e.LastMessage != nil || e.Unread != 0 || e.MemberCount != 2 {
		t.Fatalf("first (most recent) = %+v, want the empty direct conversation %s", e, empty.ConversationID)
	}
	if gr.ConversationID != g.ConversationID || gr.Kind != client.KindGroup || gr.Name != "Trip" || gr.MemberCount != 3 ||
		gr.Unread != 2 || gr.LastMessage == nil || gr.LastMessage.MessageID != mine.MessageID || gr.LastMessage.Body != "alice in the group" {
		t.Fatalf("second = %+v (last %+v), want the group with 2 unread and alice's message last", gr, gr.LastMessage)
	}
	if d.ConversationID != dm || d.Kind != client.KindDirect || d.MemberCount != 2 || d.Unread != 3 ||
		d.LastMessage == nil || d.LastMessage.MessageID != last.MessageID || d.LastMessage.SenderID != u[1] {
		t.Fatalf("third = %+v (last %+v), want the direct conversation with bob, 3 unread", d, d.LastMessage)
	}

	// Reading moves unread to zero.
	if _, err := alice.Receipt(ctx, dm, last.MessageID, client.StatusRead); err != nil {
		t.Fatalf("read: %v", err)
	}
	list, err = alice.Conversations(ctx)
	if err != nil {
		t.Fatalf("conversations: %v", err)
	}
	for _, c := range list {
		if c.ConversationID == dm && c.Unread != 0 {
			t.Fatalf("after reading, unread = %d", c.Unread)
		}
	}
}

// TestConversationLifecycle covers createConversation (direct and group), addMembers and
// leave, and the conversation events each sends.
func TestConversationLifecycle(t *testing.T) {
	t.Parallel()
	s := defaultSystem(t)
	u := newUsers("alice", "bob", "carol", "dave")
	alice, alice2 := s.connect(t, u[0]), s.connect(t, u[0])
	bob, carol, carol2, dave := s.connect(t, u[1]), s.connect(t, u[2]), s.connect(t, u[2]), s.connect(t, u[3])
	ctx := ctxFor(t, time.Minute)

	// Direct: the same conversation every time, announced to the peer.
	dm, err := alice.CreateConversation(ctx, "", u[1])
	if err != nil {
		t.Fatalf("create direct: %v", err)
	}
	if dm.Kind != client.KindDirect || !slices.Equal(dm.Members, sorted(u[0], u[1])) || dm.CreatedBy != u[0] || dm.CreatedAt == 0 || dm.Name != "" {
		t.Fatalf("direct conversation = %+v", dm)
	}
	dm2, err := alice.CreateConversation(ctx, "", u[1])
	if err != nil || dm2.ConversationID != dm.ConversationID || dm2.CreatedAt != dm.CreatedAt {
		t.Fatalf("second create = %+v, %v; want the same conversation %+v", dm2, err, dm)
	}
	bob.wait(t, "the direct conversation", conversationEvent(dm.ConversationID, 2))

	// Group: the caller plus members, announced to every other connection.
	g, err := alice.CreateConversation(ctx, "Trip", u[1], u[2], u[1])
	if err != nil {
		t.Fatalf("create group: %v", err)
	}
	if g.Kind != client.KindGroup || g.Name != "Trip" || !slices.Equal(g.Members, sorted(u[0], u[1], u[2])) || g.CreatedBy != u[0] {
		t.Fatalf("group = %+v", g)
	}
	for _, d := range []*dev{alice2, bob, carol, carol2} {
		ev := d.wait(t, "the new group", conversationEvent(g.ConversationID, 3))
		if ev.Conversation.Name != "Trip" || ev.Conversation.Kind != client.KindGroup {
			t.Fatalf("%s got %+v", d.user, ev.Conversation)
		}
	}
	// A name with one member makes a group too.
	pair, err := alice.CreateConversation(ctx, "Pair", u[3])
	if err != nil || pair.Kind != client.KindGroup || pair.ConversationID == dm.ConversationID {
		t.Fatalf("named conversation of two = %+v, %v; want a group", pair, err)
	}

	// addMembers: any member may add; old and new members hear of it.
	added, err := bob.AddMembers(ctx, g.ConversationID, u[3])
	if err != nil {
		t.Fatalf("add dave: %v", err)
	}
	if !slices.Equal(added.Members, sorted(u[0], u[1], u[2], u[3])) || added.ConversationID != g.ConversationID {
		t.Fatalf("after addMembers = %+v", added)
	}
	for _, d := range []*dev{alice, alice2, carol, dave} {
		d.wait(t, "the group with dave", conversationEvent(g.ConversationID, 4))
	}
	if _, err := dave.Send(ctx, g.ConversationID, "d1", "hello all"); err != nil {
		t.Fatalf("dave sends to the group he joined: %v", err)
	}

	// leave: the rest and the leaver's other devices hear of it; the leaver may no longer post.
	left, err := carol.Leave(ctx, g.ConversationID)
	if err != nil {
		t.Fatalf("carol leaves: %v", err)
	}
	if !slices.Equal(left.Members, sorted(u[0], u[1], u[3])) {
		t.Fatalf("after leave = %+v", left)
	}
	for _, d := range []*dev{alice, bob, dave, carol2} {
		d.wait(t, "the group without carol", conversationEvent(g.ConversationID, 3))
	}
	if _, err := carol.Send(ctx, g.ConversationID, "c1", "still here?"); client.ErrorCode(err) != client.CodeForbidden {
		t.Fatalf("send after leaving: %v, want forbidden", err)
	}
	if _, err := carol.History(ctx, g.ConversationID, "", 0); client.ErrorCode(err) != client.CodeForbidden {
		t.Fatalf("history after leaving: %v, want forbidden", err)
	}
	if list, err := carol.Conversations(ctx); err != nil || len(list) != 0 {
		t.Fatalf("carol's conversations after leaving = %+v, %v; want none", list, err)
	}

	// Direct conversations cannot change members.
	if _, err := alice.AddMembers(ctx, dm.ConversationID, u[2]); client.ErrorCode(err) != client.CodeBadRequest {
		t.Fatalf("addMembers to a direct conversation: %v, want bad_request", err)
	}
	if _, err := alice.Leave(ctx, dm.ConversationID); client.ErrorCode(err) != client.CodeBadRequest {
		t.Fatalf("leave a direct conversation: %v, want bad_request", err)
	}
}

// TestPresenceAndHeartbeat covers presence queries, the online and offline events to
// direct-conversation peers (not to group members, not for a second device), and
// heartbeat.
func TestPresenceAndHeartbeat(t *testing.T) {
	t.Parallel()
	s := defaultSystem(t)
	u := newUsers("alice", "bob", "carol", "nobody")
	alice, carol := s.connect(t, u[0]), s.connect(t, u[2])
	ctx := ctxFor(t, time.Minute)
	if _, err := alice.CreateConversation(ctx, "", u[1]); err != nil {
		t.Fatalf("create direct: %v", err)
	}
	if _, err := carol.CreateConversation(ctx, "group only", u[1]); err != nil {
		t.Fatalf("create group: %v", err)
	}

	ps, err := alice.Presence(ctx, u[1], u[3])
	if err != nil {
		t.Fatalf("presence: %v", err)
	}
	if len(ps) != 2 || ps[0].UserID != u[1] || ps[0].Online || ps[1].UserID != u[3] || ps[1].Online || ps[1].LastSeen != 0 {
		t.Fatalf("presence before bob connects = %+v", ps)
	}

	bob := s.connect(t, u[1])
	alice.wait(t, "bob online", presenceOf(u[1], true))
	ps, err = alice.Presence(ctx, u[1])
	if err != nil || len(ps) != 1 || !ps[0].Online || ps[0].LastSeen == 0 {
		t.Fatalf("presence of bob online = %+v, %v", ps, err)
	}

	// A second device is no news; closing one of two is no news either.
	bob2 := s.connect(t, u[1])
	if err := bob.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	eventually(t, "bob's first connection item deleted by $disconnect", func() bool { return len(s.connectionIDs(t, u[1])) == 1 })
	alice.expectNone(t, "an offline event while bob still has a device", presenceOf(u[1], false))

	// The last connection closing is.
	closedAt := time.Now().UnixMilli()
	if err := bob2.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	ev := alice.wait(t, "bob offline", presenceOf(u[1], false))
	if lastSeen := ev.Presence[0].LastSeen; lastSeen < closedAt-1000 {
		t.Fatalf("offline event lastSeen = %d, before the close at %d", lastSeen, closedAt)
	}
	alice.expectNone(t, "a second online event for bob's second device", func(ev client.Event) bool {
		return presenceOf(u[1], true)(ev)
	})
	ps, err = alice.Presence(ctx, u[1])
	if err != nil || len(ps) != 1 || ps[0].Online || ps[0].LastSeen == 0 {
		t.Fatalf("presence of bob after he left = %+v, %v", ps, err)
	}
	// Carol shares only a group with bob: no presence events.
	carol.expectNone(t, "presence of a group member", anyPresenceOf(u[1]))

	before := time.Now()
	at, err := alice.Heartbeat(ctx)
	if err != nil {
		t.Fatalf("heartbeat: %v", err)
	}
	if at.Before(before.Add(-time.Second)) || at.After(time.Now().Add(time.Second)) {
		t.Fatalf("heartbeat at %v, want about %v", at, before)
	}
}

func ids(ms []client.Message) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.MessageID
	}
	return out
}

func sorted(s ...string) []string {
	out := slices.Clone(s)
	sort.Strings(out)
	return out
}

// mustDirect returns the id of the direct conversation of d's user and peer.
func mustDirect(t testing.TB, d *dev, peer string) string {
	t.Helper()
	c, err := d.CreateConversation(ctxFor(t, eventTimeout), "", peer)
	if err != nil {
		t.Fatalf("direct conversation with %s: %v", peer, err)
	}
	return c.ConversationID
}
