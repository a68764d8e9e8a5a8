package chattest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/parleychat/parley/internal/chat"
)

// RunConversationStoreTests runs the chat.ConversationStore contract against the stores
// newStore returns.
func RunConversationStoreTests(t *testing.T, newStore func(t *testing.T) chat.ConversationStore) {
	runContract(t, newStore, []contract[chat.ConversationStore]{
		{"CreateGet", testCreateGet},
		{"CreateExists", testCreateExists},
		{"GetMissing", testGetConversationMissing},
		{"GetConversations", testGetConversations},
		{"AddMembers", testAddMembers},
		{"AddMembersLimit", testAddMembersLimit},
		{"AddMembersConcurrentLimit", testAddMembersConcurrentLimit},
		{"AddMembersConcurrentSame", testAddMembersConcurrentSame},
		{"RemoveMember", testRemoveMember},
		{"UserConversations", testUserConversations},
		{"SetLastMessage", testSetLastMessage},
		{"SetLastMessageConcurrent", testSetLastMessageConcurrent},
		{"InlineMarks", testInlineMarks},
		{"SetMuted", testSetMuted},
		{"SetLastMessageFolded", testSetLastMessageFolded},
	})
}

// group returns a new group conversation and its memberships for users.
func group(users ...string) (chat.Conversation, []chat.Membership) {
	c := chat.Conversation{ConversationID: newConv(), Kind: chat.KindGroup, Name: "the group", CreatedBy: users[0], CreatedAt: 1_700_000_000_000}
	return c, memberships(c.ConversationID, 1_700_000_000_000, users...)
}

func memberships(conv string, joinedAt int64, users ...string) []chat.Membership {
	ms := make([]chat.Membership, len(users))
	for i, u := range users {
		ms[i] = chat.Membership{ConversationID: conv, UserID: u, Kind: chat.KindGroup, JoinedAt: joinedAt}
	}
	return ms
}

func byUser(ms []chat.Membership) []chat.Membership {
	return sortedBy(ms, func(m chat.Membership) string { return m.UserID })
}

// checkMembers checks the members and the member count of conv.
func checkMembers(t *testing.T, s chat.ConversationStore, conv string, want []chat.Membership) {
	t.Helper()
	ctx := ctxFor(t)
	got, err := s.Members(ctx, conv)
	must(t, err, "Members")
	diff(t, byUser(got), byUser(want), "Members")
	c, err := s.GetConversation(ctx, conv)
	must(t, err, "GetConversation")
	if c.MemberCount != len(want) {
		t.Fatalf("MemberCount = %d, want %d", c.MemberCount, len(want))
	}
}

func testCreateGet(t *testing.T, s chat.ConversationStore) {
	ctx := ctxFor(t)
	alice, bob := newUser("alice"), newUser("bob")
	dm := chat.Conversation{ConversationID: chat.DirectID(alice, bob), Kind: chat.KindDirect, CreatedBy: alice, CreatedAt: 42}
	dmMembers := []chat.Membership{
		{ConversationID: dm.ConversationID, UserID: alice, Kind: chat.KindDirect, Peer: bob, JoinedAt: 42},
		{ConversationID: dm.ConversationID, UserID: bob, Kind: chat.KindDirect, Peer: alice, JoinedAt: 42},
	}
	g, gMembers := group(alice, bob, newUser("carol"))
	for _, tc := range []struct {
		name    string
		conv    chat.Conversation
		members []chat.Membership
	}{
		{"direct", dm, dmMembers},
		{"group", g, gMembers},
	} {
		t.Run(tc.name, func(t *testing.T) {
			must(t, s.CreateConversation(ctx, tc.conv, tc.members), "CreateConversation")
			got, err := s.GetConversation(ctx, tc.conv.ConversationID)
			must(t, err, "GetConversation")
			want := tc.conv
			want.MemberCount = len(tc.members)
			diff(t, got, want, "GetConversation")
			checkMembers(t, s, tc.conv.ConversationID, tc.members)
			for _, m := range tc.members {
				got, err := s.Member(ctx, tc.conv.ConversationID, m.UserID)
				must(t, err, "Member")
				diff(t, got, m, "Member")
			}
			_, err = s.Member(ctx, tc.conv.ConversationID, newUser("stranger"))
			wantErrIs(t, err, chat.ErrNotFound, "Member of a stranger")
		})
	}
}

func testCreateExists(t *testing.T, s chat.ConversationStore) {
	ctx := ctxFor(t)
	c, ms := group(newUser("a"), newUser("b"))
	must(t, s.CreateConversation(ctx, c, ms), "CreateConversation")

	// A retried create: same id, later times. Nothing is overwritten.
	again := c
	again.Name, again.CreatedAt = "other name", c.CreatedAt+1000
	err := s.CreateConversation(ctx, again, memberships(c.ConversationID, c.CreatedAt+1000, ms[0].UserID, ms[1].UserID))
	wantErrIs(t, err, chat.ErrExists, "CreateConversation of an existing id")
	got, err := s.GetConversation(ctx, c.ConversationID)
	must(t, err, "GetConversation")
	want := c
	want.MemberCount = 2
	diff(t, got, want, "conversation after a second create")
	checkMembers(t, s, c.ConversationID, ms)
}

func testGetConversationMissing(t *testing.T, s chat.ConversationStore) {
	_, err := s.GetConversation(ctxFor(t), newConv())
	wantErrIs(t, err, chat.ErrNotFound, "GetConversation of an unknown id")
}

func testGetConversations(t *testing.T, s chat.ConversationStore) {
	ctx := ctxFor(t)
	var want []chat.Conversation
	var ids []string
	for range 3 {
		c, ms := group(newUser("a"))
		must(t, s.CreateConversation(ctx, c, ms), "CreateConversation")
		c.MemberCount = 1
		want = append(want, c)
		ids = append(ids, c.ConversationID)
	}
	got, err := s.GetConversations(ctx, append(ids, newConv(), ids[0]))
	must(t, err, "GetConversations")
	// The duplicate id may or may not be returned twice: compare distinct conversations.
	byID := func(c chat.Conversation) string { return c.ConversationID }
	got = slices.CompactFunc(sortedBy(got, byID), func(a, b chat.Conversation) bool { return a.ConversationID == b.ConversationID })
	diff(t, got, sortedBy(want, byID), "GetConversations")

	got, err = s.GetConversations(ctx, nil)
	must(t, err, "GetConversations of none")
	if len(got) != 0 {
		t.Fatalf("GetConversations of none = %v", got)
	}
	got, err = s.GetConversations(ctx, []string{newConv()})
	must(t, err, "GetConversations of an unknown id")
	if len(got) != 0 {
		t.Fatalf("GetConversations of an unknown id = %v", got)
	}
}

func testAddMembers(t *testing.T, s chat.ConversationStore) {
	ctx := ctxFor(t)
	a, b, c, d := newUser("a"), newUser("b"), newUser("c"), newUser("d")
	conv, ms := group(a, b)
	must(t, s.CreateConversation(ctx, conv, ms), "CreateConversation")
	id := conv.ConversationID

	all := slices.Clone(ms)
	steps := []struct {
		name string
		add  []chat.Membership
		want []chat.Membership // added
	}{
		{"one new", memberships(id, 10, c), memberships(id, 10, c)},
		{"one existing, one new, one repeated", append(memberships(id, 20, c, d), memberships(id, 20, d)...), memberships(id, 20, d)},
		{"only existing", memberships(id, 30, a, b), nil},
		{"none", nil, nil},
	}
	for _, st := range steps {
		added, err := s.AddMembers(ctx, id, st.add, 10)
		must(t, err, st.name+": AddMembers")
		diff(t, byUser(added), byUser(st.want), st.name+": added")
		all = append(all, st.want...)
		checkMembers(t, s, id, all)
	}
	// Existing members keep their join time.
	got, err := s.Member(ctx, id, c)
	must(t, err, "Member")
	if got.JoinedAt != 10 {
		t.Fatalf("JoinedAt of a member added twice = %d, want the first, 10", got.JoinedAt)
	}
}

func testAddMembersLimit(t *testing.T, s chat.ConversationStore) {
	ctx := ctxFor(t)
	conv, ms := group(newUser("a"), newUser("b"))
	must(t, s.CreateConversation(ctx, conv, ms), "CreateConversation")
	id := conv.ConversationID
	x, y, z := newUser("x"), newUser("y"), newUser("z")

	cases := []struct {
		name    string
		add     []chat.Membership
		max     int
		wantErr error
		members []chat.Membership // after the step
	}{
		{"two over a max of three", memberships(id, 1, x, y), 3, chat.ErrLimit, ms},
		{"one up to the max", memberships(id, 1, x), 3, nil, append(slices.Clone(ms), memberships(id, 1, x)...)},
		{"one over the max", memberships(id, 1, y), 3, chat.ErrLimit, append(slices.Clone(ms), memberships(id, 1, x)...)},
		{"an existing member at the max", memberships(id, 1, x), 3, nil, append(slices.Clone(ms), memberships(id, 1, x)...)},
		{"two up to a larger max", memberships(id, 1, y, z), 5, nil, append(slices.Clone(ms), memberships(id, 1, x, y, z)...)},
	}
	for _, tc := range cases {
		added, err := s.AddMembers(ctx, id, tc.add, tc.max)
		if tc.wantErr != nil {
			wantErrIs(t, err, tc.wantErr, tc.name)
			if len(added) != 0 {
				t.Fatalf("%s: added %v along with %v", tc.name, added, err)
			}
		} else {
			must(t, err, tc.name)
		}
		checkMembers(t, s, id, tc.members)
		for _, m := range tc.add {
			if !slices.ContainsFunc(tc.members, func(w chat.Membership) bool { return w.UserID == m.UserID }) {
				_, err := s.Member(ctx, id, m.UserID)
				wantErrIs(t, err, chat.ErrNotFound, tc.name+": Member refused by the limit")
			}
		}
	}
}

// testAddMembersConcurrentLimit races many single adds against a limit: exactly the room
// left is filled, the rest get ErrLimit, and the count stays exact.
func testAddMembersConcurrentLimit(t *testing.T, s chat.ConversationStore) {
	ctx := ctxFor(t)
	const max, racers = 8, 20
	conv, ms := group(newUser("owner"))
	must(t, s.CreateConversation(ctx, conv, ms), "CreateConversation")
	id := conv.ConversationID

	results := make([][]chat.Membership, racers)
	errs := make([]error, racers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range racers {
		wg.Go(func() {
			<-start
			results[i], errs[i] = s.AddMembers(ctx, id, memberships(id, 1, newUser(fmt.Sprintf("u%d", i))), max)
		})
	}
	close(start)
	wg.Wait()
	want := slices.Clone(ms)
	limited := 0
	for i, err := range errs {
		switch {
		case errors.Is(err, chat.ErrLimit):
			limited++
		case err != nil:
			t.Fatalf("AddMembers #%d: %v", i, err)
		default:
			if len(results[i]) != 1 {
				t.Fatalf("AddMembers #%d added %v, want its one member", i, results[i])
			}
			want = append(want, results[i]...)
		}
	}
	// Every racer adds a distinct newcomer, so the group fills exactly to max.
	if len(want) != max || limited != racers-(max-1) {
		t.Fatalf("%d members and %d ErrLimit after %d concurrent adds, want %d and %d", len(want), limited, racers, max, racers-(max-1))
	}
	checkMembers(t, s, id, want)
}

// testAddMembersConcurrentSame races adds of the same users: each is added exactly once.
func testAddMembersConcurrentSame(t *testing.T, s chat.ConversationStore) {
	ctx := ctxFor(t)
	const racers = 8
	conv, ms := group(newUser("owner"))
	must(t, s.CreateConversation(ctx, conv, ms), "CreateConversation")
	id := conv.ConversationID
	newcomers := memberships(id, 7, newUser("x"), newUser("y"), newUser("z"))

	results := make([][]chat.Membership, racers)
	errs := make([]error, racers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range racers {
		wg.Go(func() {
			<-start
			results[i], errs[i] = s.AddMembers(ctx, id, newcomers, chat.MaxGroupMembers)
		})
	}
	close(start)
	wg.Wait()
	var added []chat.Membership
	for i, err := range errs {
		must(t, err, fmt.Sprintf("AddMembers #%d", i))
		added = append(added, results[i]...)
	}
	diff(t, byUser(added), byUser(newcomers), "members added across all racers")
	checkMembers(t, s, id, append(slices.Clone(ms), newcomers...))
}

func testRemoveMember(t *testing.T, s chat.ConversationStore) {
	ctx := ctxFor(t)
	a, b, c := newUser("a"), newUser("b"), newUser("c")
	conv, ms := group(a, b, c)
	must(t, s.CreateConversation(ctx, conv, ms), "CreateConversation")
	id := conv.ConversationID

	steps := []struct {
		name   string
		remove string
		want   []chat.Membership
	}{
		{"a member", b, []chat.Membership{ms[0], ms[2]}},
		{"the same again", b, []chat.Membership{ms[0], ms[2]}},
		{"a stranger", newUser("x"), []chat.Membership{ms[0], ms[2]}},
		{"another member", a, []chat.Membership{ms[2]}},
	}
	for _, st := range steps {
		must(t, s.RemoveMember(ctx, id, st.remove), st.name+": RemoveMember")
		checkMembers(t, s, id, st.want)
	}
	_, err := s.Member(ctx, id, b)
	wantErrIs(t, err, chat.ErrNotFound, "Member after removal")
	eventually(t, "UserConversations after removal", func() error {
		got, err := s.UserConversations(ctx, b)
		if err != nil {
			return err
		}
		if len(got) != 0 {
			return fmt.Errorf("removed member still lists %v", got)
		}
		return nil
	})

	// Concurrent removals of one member decrement once.
	var wg sync.WaitGroup
	errs := make([]error, 6)
	for i := range errs {
		wg.Go(func() { errs[i] = s.RemoveMember(ctx, id, c) })
	}
	wg.Wait()
	for _, err := range errs {
		must(t, err, "concurrent RemoveMember")
	}
	checkMembers(t, s, id, nil)
}

func testUserConversations(t *testing.T, s chat.ConversationStore) {
	ctx := ctxFor(t)
	alice, bob := newUser("alice"), newUser("bob")
	var want []chat.Membership
	for range 3 {
		c, ms := group(alice, newUser("x"))
		must(t, s.CreateConversation(ctx, c, ms), "CreateConversation")
		want = append(want, ms[0])
	}
	dm := chat.Conversation{ConversationID: chat.DirectID(alice, bob), Kind: chat.KindDirect, CreatedBy: bob, CreatedAt: 9}
	dmMembers := []chat.Membership{
		{ConversationID: dm.ConversationID, UserID: alice, Kind: chat.KindDirect, Peer: bob, JoinedAt: 9},
		{ConversationID: dm.ConversationID, UserID: bob, Kind: chat.KindDirect, Peer: alice, JoinedAt: 9},
	}
	must(t, s.CreateConversation(ctx, dm, dmMembers), "CreateConversation")
	want = append(want, dmMembers[0])
	g, gms := group(newUser("y"))
	must(t, s.CreateConversation(ctx, g, gms), "CreateConversation")
	added, err := s.AddMembers(ctx, g.ConversationID, memberships(g.ConversationID, 11, alice), 10)
	must(t, err, "AddMembers")
	want = append(want, added...)

	byConv := func(m chat.Membership) string { return m.ConversationID }
	eventually(t, "UserConversations", func() error {
		got, err := s.UserConversations(ctx, alice)
		if err != nil {
			return err
		}
		if len(got) != len(want) {
			return fmt.Errorf("got %d memberships, want %d", len(got), len(want))
		}
		diff(t, sortedBy(got, byConv), sortedBy(want, byConv), "UserConversations")
		return nil
	})
	got, err := s.UserConversations(ctx, newUser("nobody"))
	must(t, err, "UserConversations of a stranger")
	if len(got) != 0 {
		t.Fatalf("UserConversations of a stranger = %v", got)
	}
}

func testSetLastMessage(t *testing.T, s chat.ConversationStore) {
	ctx := ctxFor(t)
	conv, ms := group(newUser("a"))
	must(t, s.CreateConversation(ctx, conv, ms), "CreateConversation")
	id := conv.ConversationID
	msg := func(body string) chat.Message {
		return chat.Message{ConversationID: id, MessageID: newID(), SenderID: ms[0].UserID, Body: body, CreatedAt: 77, ClientMsgID: "c-" + body}
	}
	m1, m2, m3 := msg("one"), msg("two"), msg("three")

	got, err := s.GetConversation(ctx, id)
	must(t, err, "GetConversation")
	if got.LastMessage != nil {
		t.Fatalf("LastMessage of a new conversation = %+v, want nil", got.LastMessage)
	}
	steps := []struct {
		set, want chat.Message
	}{
		{m2, m2},
		{m1, m2}, // older: ignored
		{m2, m2},
		{m3, m3},
	}
	for i, st := range steps {
		must(t, s.SetLastMessage(ctx, st.set), "SetLastMessage")
		got, err := s.GetConversation(ctx, id)
		must(t, err, "GetConversation")
		if got.LastMessage == nil {
			t.Fatalf("step %d: LastMessage = nil, want %s", i, st.want.Body)
		}
		diff(t, *got.LastMessage, st.want, fmt.Sprintf("step %d: LastMessage", i))
		if got.MemberCount != 1 || got.Name != conv.Name {
			t.Fatalf("step %d: SetLastMessage changed the conversation: %+v", i, got)
		}
	}
}

func testSetLastMessageConcurrent(t *testing.T, s chat.ConversationStore) {
	ctx := ctxFor(t)
	conv, ms := group(newUser("a"))
	must(t, s.CreateConversation(ctx, conv, ms), "CreateConversation")
	id := conv.ConversationID
	msgs := make([]chat.Message, 12)
	for i := range msgs {
		msgs[i] = chat.Message{ConversationID: id, MessageID: newID(), SenderID: ms[0].UserID, Body: fmt.Sprint(i), CreatedAt: int64(i)}
	}
	var wg sync.WaitGroup
	errs := make([]error, len(msgs))
	for i := range msgs {
		wg.Go(func() { errs[i] = s.SetLastMessage(ctx, msgs[len(msgs)-1-i]) })
	}
	wg.Wait()
	for _, err := range errs {
		must(t, err, "SetLastMessage")
	}
	got, err := s.GetConversation(ctx, id)
	must(t, err, "GetConversation")
	if got.LastMessage == nil {
		t.Fatal("LastMessage = nil after concurrent sets")
	}
	diff(t, *got.LastMessage, msgs[len(msgs)-1], "LastMessage after concurrent sets")
}

// testInlineMarks: a mark is found once made, only for its own message, marking twice is
// fine, and a read of many refs (more than one batch) finds exactly the marked ones.
func testInlineMarks(t *testing.T, s chat.ConversationStore) {
	ctx := ctxFor(t)
	conv, other := newConv(), newConv()
	a, b := chat.MessageRef{ConversationID: conv, MessageID: newID()}, chat.MessageRef{ConversationID: conv, MessageID: newID()}
	got, err := s.InlineMarked(ctx, []chat.MessageRef{a, b})
	must(t, err, "inline marks before marking")
	diff(t, got, map[chat.MessageRef]bool{}, "marks before marking")
	must(t, s.MarkInline(ctx, a), "mark a")
	must(t, s.MarkInline(ctx, a), "mark a again")
	got, err = s.InlineMarked(ctx, []chat.MessageRef{a, b, a, {ConversationID: other, MessageID: a.MessageID}})
	must(t, err, "inline marks")
	diff(t, got, map[chat.MessageRef]bool{a: true}, "marks after marking a")

	var refs []chat.MessageRef
	want := map[chat.MessageRef]bool{}
	for i := range 150 {
		r := chat.MessageRef{ConversationID: conv, MessageID: newID()}
		refs = append(refs, r)
		if i%7 == 0 {
			must(t, s.MarkInline(ctx, r), "mark")
			want[r] = true
		}
	}
	got, err = s.InlineMarked(ctx, refs)
	must(t, err, "inline marks of 150")
	diff(t, got, want, "marks of 150")
	if _, err := s.InlineMarked(ctx, []chat.MessageRef{{ConversationID: conv}}); err == nil {
		t.Error("InlineMarked with an empty message id: no error")
	}
	if err := s.MarkInline(ctx, chat.MessageRef{MessageID: newID()}); err == nil {
		t.Error("MarkInline with an empty conversation id: no error")
	}
	// The marks are not members: the conversation's members are untouched.
	ms, err := s.Members(ctx, conv)
	must(t, err, "members")
	if len(ms) != 0 {
		t.Errorf("marks show up as %d members", len(ms))
	}
}

func testSetMuted(t *testing.T, s chat.ConversationStore) {
	ctx := ctxFor(t)
	a, b := newUser("a"), newUser("b")
	conv, ms := group(a, b)
	must(t, s.CreateConversation(ctx, conv, ms), "CreateConversation")
	id := conv.ConversationID
	mutedOf := func(user string) (fromMember, fromMembers, fromUser int64) {
		t.Helper()
		m, err := s.Member(ctx, id, user)
		must(t, err, "Member")
		all, err := s.Members(ctx, id)
		must(t, err, "Members")
		for _, x := range all {
			if x.UserID == user {
				fromMembers = x.MutedUntil
			}
		}
		mine, err := s.UserConversations(ctx, user)
		must(t, err, "UserConversations")
		for _, x := range mine {
			if x.ConversationID == id {
				fromUser = x.MutedUntil
			}
		}
		return m.MutedUntil, fromMembers, fromUser
	}
	for _, until := range []int64{chat.MutedForever, 1_800_000_000_000, 0} {
		must(t, s.SetMuted(ctx, id, a, until), "SetMuted")
		m1, m2, m3 := mutedOf(a)
		if m1 != until || m2 != until || m3 != until {
			t.Fatalf("after SetMuted(%d): Member %d, Members %d, UserConversations %d", until, m1, m2, m3)
		}
		if other, _, _ := mutedOf(b); other != 0 {
			t.Fatalf("SetMuted of %s muted %s too (%d)", a, b, other)
		}
	}
	wantErrIs(t, s.SetMuted(ctx, id, newUser("stranger"), chat.MutedForever), chat.ErrNotFound, "SetMuted of a non-member")
	if _, err := s.Member(ctx, id, "stranger"); err == nil {
		t.Fatal("SetMuted of a non-member made a membership")
	}
}

// testSetLastMessageFolded: recording the same message again (edited, then deleted)
// replaces it.
func testSetLastMessageFolded(t *testing.T, s chat.ConversationStore) {
	ctx := ctxFor(t)
	conv, ms := group(newUser("a"))
	must(t, s.CreateConversation(ctx, conv, ms), "CreateConversation")
	m := chat.Message{ConversationID: conv.ConversationID, MessageID: newID(), SenderID: ms[0].UserID, Body: "first", CreatedAt: 5, ClientMsgID: "c",
		ReplyTo: &chat.ReplyRef{MessageID: newID(), SenderID: "x", Preview: "quoted"}}
	edited := m
	edited.Body, edited.EditedAt = "second", 9
	deleted := edited
	deleted.Body, deleted.Deleted = "", true
	for _, st := range []chat.Message{m, edited, deleted} {
		must(t, s.SetLastMessage(ctx, st), "SetLastMessage")
		got, err := s.GetConversation(ctx, conv.ConversationID)
		must(t, err, "GetConversation")
		if got.LastMessage == nil {
			t.Fatal("LastMessage = nil")
		}
		diff(t, *got.LastMessage, st, "LastMessage")
	}
}
