package chat_test

import (
	"slices"
	"testing"

	"github.com/parleychat/parley/internal/chat"
)

// TestAuthorization runs every conversation action as a user who may not take it — a
// user who never was a member of a group, a member who left it, an outsider to a direct
// conversation — and on conversations that do not exist, and checks the code
// (docs/protocol.md: forbidden for an existing conversation, not_found for none) and that
// the action changed nothing and pushed nothing.
func TestAuthorization(t *testing.T) {
	f := newFixture(t, setup{})
	alice, bob, dave, eve := "alice", "bob", "dave", "eve"
	group := f.group(alice, bob, dave)
	dm := f.dm(alice, bob)
	if _, err := f.svc.Leave(f.ctx, as(dave), group); err != nil {
		t.Fatalf("dave leaves: %v", err)
	}
	inGroup := f.send(alice, group, "in the group")
	inDM := f.send(alice, dm, "in private")
	// Everyone is connected, so that a leak of an event would show as a push.
	for _, u := range []string{alice, bob, dave, eve} {
		f.connect(u)
	}

	actors := []struct {
		name       string
		user, conv string
		msg        string // a message of conv to name in receipts
		want       chat.Code
	}{
		{"never a member of the group", eve, group, inGroup.MessageID, chat.CodeForbidden},
		{"left the group", dave, group, inGroup.MessageID, chat.CodeForbidden},
		{"outsider to a direct conversation", eve, dm, inDM.MessageID, chat.CodeForbidden},
		{"a group that does not exist", eve, chat.GroupID(f.ids.New(f.clock.Now())), inGroup.MessageID, chat.CodeNotFound},
		{"a direct conversation that does not exist", eve, chat.DirectID(eve, "zed"), inDM.MessageID, chat.CodeNotFound},
	}
	actions := []struct {
		name string
		do   func(c chat.Caller, conv, msg string) error
	}{
		{"send", func(c chat.Caller, conv, _ string) error {
			body := "let me in"
			_, err := f.svc.Send(f.ctx, c, chat.SendInput{ConversationID: conv, ClientMsgID: "x1", Body: &body})
			return err
		}},
		{"typing", func(c chat.Caller, conv, _ string) error { return f.svc.Typing(f.ctx, c, conv, "start") }},
		{"receipt delivered", func(c chat.Caller, conv, msg string) error {
			_, err := f.svc.Receipt(f.ctx, c, conv, msg, chat.StatusDelivered)
			return err
		}},
		{"receipt read", func(c chat.Caller, conv, msg string) error {
			_, err := f.svc.Receipt(f.ctx, c, conv, msg, chat.StatusRead)
			return err
		}},
		{"receipt of a message that does not exist", func(c chat.Caller, conv, _ string) error {
			_, err := f.svc.Receipt(f.ctx, c, conv, f.ids.New(f.clock.Now()), chat.StatusRead)
			return err
		}},
		{"history", func(c chat.Caller, conv, _ string) error {
			_, err := f.svc.History(f.ctx, c, conv, "", nil)
			return err
		}},
		{"addMembers", func(c chat.Caller, conv, _ string) error {
			_, err := f.svc.AddMembers(f.ctx, c, conv, []string{c.UserID, "mallory"})
			return err
		}},
		{"leave", func(c chat.Caller, conv, _ string) error {
			_, err := f.svc.Leave(f.ctx, c, conv)
			return err
		}},
	}
	for _, a := range actors {
		for _, act := range actions {
			t.Run(a.name+"/"+act.name, func(t *testing.T) {
				f.push.Reset()
				err := act.do(as(a.user), a.conv, a.msg)
				wantCode(t, err, a.want, act.name)
				if p := f.push.Pushed(); len(p) != 0 {
					t.Fatalf("a refused %s pushed %d frames, first to %s: %s", act.name, len(p), p[0].ConnectionID, p[0].Data)
				}
			})
		}
	}

	// Nothing the refused actions tried is visible to the members.
	t.Run("nothing changed", func(t *testing.T) {
		for conv, want := range map[string][]string{group: {alice, bob}, dm: {alice, bob}} {
			ms, err := f.store.Members(f.ctx, conv)
			must(t, err, "members")
			var got []string
			for _, m := range ms {
				got = append(got, m.UserID)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("members of %s = %v, want %v", conv, got, want)
			}
			h, err := f.svc.History(f.ctx, as(alice), conv, "", nil)
			must(t, err, "history")
			if len(h.Messages) != 1 {
				t.Fatalf("history of %s has %d messages, want only alice's", conv, len(h.Messages))
			}
			cs, err := f.store.Cursors(f.ctx, conv, []string{eve, dave})
			must(t, err, "cursors")
			if cs[0] != (chat.Cursor{UserID: eve}) || cs[1] != (chat.Cursor{UserID: dave}) {
				t.Fatalf("cursors of eve and dave in %s = %+v, want none: refused receipts moved them", conv, cs)
			}
		}
	})

	// Listing shows only the conversations one is a member of now.
	t.Run("conversations", func(t *testing.T) {
		for _, tc := range []struct {
			user string
			want []string
		}{
			{eve, nil},
			{dave, nil},
			{bob, []string{dm, group}},
		} {
			list, err := f.svc.Conversations(f.ctx, as(tc.user))
			must(t, err, "conversations of "+tc.user)
			var got []string
			for _, c := range list.Conversations {
				got = append(got, c.ConversationID)
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Fatalf("conversations of %s = %v, want %v", tc.user, got, tc.want)
			}
		}
	})

	// Presence: the group's and the direct conversation's members are strangers to eve,
	// and to dave since he left; the members still see each other.
	t.Run("presence", func(t *testing.T) {
		for _, tc := range []struct {
			name    string
			caller  string
			ask     string
			visible bool
		}{
			{"eve asks for a group member", eve, bob, false},
			{"eve asks for a direct conversation's member", eve, alice, false},
			{"dave asks for a member of the group he left", dave, bob, false},
			{"bob asks for dave, who left their only group", bob, dave, false},
			{"bob asks for alice", bob, alice, true},
		} {
			t.Run(tc.name, func(t *testing.T) {
				ps, err := f.svc.Presence(f.ctx, as(tc.caller), []string{tc.ask})
				must(t, err, "presence")
				got := ps.Users[0]
				hidden := chat.Presence{UserID: tc.ask}
				if tc.visible != (got != hidden) {
					t.Fatalf("%s sees %+v; visible = %v, want %v", tc.caller, got, got != hidden, tc.visible)
				}
				if tc.visible && (!got.Online || got.LastSeen == 0) {
					t.Fatalf("%s sees %+v, want online with lastSeen (%s is connected)", tc.caller, got, tc.ask)
				}
			})
		}
	})
}
