package chat_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/chat"
)

// TestPresencePrivacy checks who may see whom: the caller sees themself and the users
// they share a conversation with now (direct or group); everyone else reads exactly as a
// user never seen, whether online, offline or unknown.
func TestPresencePrivacy(t *testing.T) {
	f := newFixture(t, setup{})
	// alice: a direct conversation with bob, a group with carol, a group dan left. erin
	// and gail share a group that alice is not in; frank was never seen.
	f.dm("alice", "bob")
	f.group("alice", "carol")
	left := f.group("alice", "dan")
	_, err := f.svc.Leave(f.ctx, as("dan"), left)
	must(t, err, "leave")
	f.group("erin", "gail")
	for _, u := range []string{"alice", "bob", "carol", "dan", "erin", "gail"} {
		f.connect(u)
	}
	// bob and erin go offline a little later: both have a lastSeen.
	f.clock.Advance(5 * time.Second)
	must(t, f.svc.Disconnect(f.ctx, "bob", "bob-conn-2"), "disconnect bob")
	must(t, f.svc.Disconnect(f.ctx, "erin", "erin-conn-5"), "disconnect erin")
	f.clock.Advance(time.Second)

	now := t0.UnixMilli()
	online := func(u string) chat.Presence { return chat.Presence{UserID: u, Online: true, LastSeen: now} }
	offline := func(u string) chat.Presence { return chat.Presence{UserID: u, LastSeen: now + 5000} }
	hidden := func(u string) chat.Presence { return chat.Presence{UserID: u} }
	cases := []struct {
		name   string
		caller string
		ask    []string
		want   []chat.Presence
	}{
		{"oneself", "alice", []string{"alice"}, []chat.Presence{online("alice")}},
		{"a direct peer, offline with lastSeen", "alice", []string{"bob"}, []chat.Presence{offline("bob")}},
		{"a fellow group member", "alice", []string{"carol"}, []chat.Presence{online("carol")}},
		{"a former fellow member", "alice", []string{"dan"}, []chat.Presence{hidden("dan")}},
		{"a stranger online", "alice", []string{"gail"}, []chat.Presence{hidden("gail")}},
		{"a stranger offline", "alice", []string{"erin"}, []chat.Presence{hidden("erin")}},
		{"never seen", "alice", []string{"frank"}, []chat.Presence{hidden("frank")}},
		{"mixed, in the order asked, duplicates kept", "alice", []string{"gail", "bob", "carol", "bob", "alice", "dan"},
			[]chat.Presence{hidden("gail"), offline("bob"), online("carol"), offline("bob"), online("alice"), hidden("dan")}},
		{"the other way round", "carol", []string{"alice", "bob"}, []chat.Presence{online("alice"), hidden("bob")}},
		{"a stranger asking", "erin", []string{"alice", "bob", "carol", "gail"},
			[]chat.Presence{hidden("alice"), hidden("bob"), hidden("carol"), online("gail")}},
		{"someone who left asking", "dan", []string{"alice"}, []chat.Presence{hidden("alice")}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ps, err := f.svc.Presence(f.ctx, chat.Caller{UserID: tc.caller, RequestID: "r"}, tc.ask)
			must(t, err, "presence")
			if ps.Type != chat.TypePresence || ps.RequestID != "r" {
				t.Fatalf("frame %+v, want a presence reply to r", ps)
			}
			if fmt.Sprint(ps.Users) != fmt.Sprint(tc.want) {
				t.Fatalf("%s sees %+v, want %+v", tc.caller, ps.Users, tc.want)
			}
		})
	}

	// On the wire a hidden user is byte for byte a user never seen.
	t.Run("hidden reads as never seen", func(t *testing.T) {
		ps, err := f.svc.Presence(f.ctx, as("alice"), []string{"gail", "erin", "frank"})
		must(t, err, "presence")
		var wire []string
		for _, p := range ps.Users {
			p.UserID = "x"
			b, err := json.Marshal(p)
			must(t, err, "marshal")
			wire = append(wire, string(b))
		}
		if wire[0] != wire[2] || wire[1] != wire[2] || wire[2] != `{"userId":"x","online":false}` {
			t.Fatalf("online stranger %s, offline stranger %s, never seen %s: want all alike", wire[0], wire[1], wire[2])
		}
	})

	t.Run("validation", func(t *testing.T) {
		many := make([]string, chat.MaxPresenceQuery+1)
		for i := range many {
			many[i] = fmt.Sprint("u", i)
		}
		for _, tc := range []struct {
			name string
			ask  []string
			want chat.Code
		}{
			{"none", nil, chat.CodeBadRequest},
			{"too many", many, chat.CodeTooLarge},
			{"the most", many[:chat.MaxPresenceQuery], ""},
			{"a bad id", []string{"bob", "not valid"}, chat.CodeBadRequest},
		} {
			_, err := f.svc.Presence(f.ctx, as("alice"), tc.ask)
			wantCode(t, err, tc.want, tc.name)
		}
	})
}

// countingConversations counts the conversation reads presence makes.
type countingConversations struct {
	chat.ConversationStore
	calls *counter
}

func (s countingConversations) UserConversations(ctx context.Context, userID string) ([]chat.Membership, error) {
	s.calls.add("UserConversations")
	return s.ConversationStore.UserConversations(ctx, userID)
}

func (s countingConversations) Members(ctx context.Context, conversationID string) ([]chat.Membership, error) {
	s.calls.add("Members")
	return s.ConversationStore.Members(ctx, conversationID)
}

// countingConnections counts presence reads.
type countingConnections struct {
	chat.ConnectionStore
	calls *counter
}

func (s countingConnections) Presence(ctx context.Context, userIDs []string, now int64) ([]chat.Presence, error) {
	s.calls.add("Presence")
	return s.ConnectionStore.Presence(ctx, userIDs, now)
}

// TestPresenceCost checks the store reads of a presence query (see chat.Service.Presence):
// one read of the caller's conversations settles the direct peers; only users who are
// not direct peers cost more, min(groups, such users) reads; the presence itself is one
// read of the visible users, none when there are none.
func TestPresenceCost(t *testing.T) {
	calls := &counter{}
	f := newFixture(t, setup{
		conversations: func(s chat.ConversationStore) chat.ConversationStore { return countingConversations{s, calls} },
		connections:   func(s chat.ConnectionStore) chat.ConnectionStore { return countingConnections{s, calls} },
	})
	// "few" is in 2 groups, "many" in 6; both have two direct peers.
	for _, u := range []string{"few", "many"} {
		f.dm(u, u+"-peer1")
		f.dm(u, u+"-peer2")
	}
	for i := range 2 {
		f.group("few", fmt.Sprint("few-member", i))
	}
	for i := range 6 {
		f.group("many", fmt.Sprint("many-member", i))
	}
	// Everyone but the strangers x, y and z is online, so that an answer shows who was
	// found visible.
	for _, u := range []string{"few", "few-peer1", "few-member1", "many", "many-peer1", "many-peer2"} {
		f.connect(u)
	}
	for i := range 6 {
		f.connect(fmt.Sprint("many-member", i))
	}
	type reads = map[string]int
	cases := []struct {
		name   string
		caller string
		ask    []string
		want   reads
	}{
		{"only oneself", "few", []string{"few", "few"}, reads{"Presence": 1}},
		{"direct peers", "many", []string{"many-peer1", "many-peer2", "many"}, reads{"UserConversations": 1, "Presence": 1}},
		{"a stranger, 2 groups: the stranger's conversations", "few", []string{"x"}, reads{"UserConversations": 2}},
		{"2 strangers, 2 groups: the groups' members", "few", []string{"x", "y"}, reads{"UserConversations": 1, "Members": 2}},
		{"3 strangers, 2 groups: the groups' members", "few", []string{"x", "y", "z", "few-peer1"}, reads{"UserConversations": 1, "Members": 2, "Presence": 1}},
		{"a member and a stranger, 2 groups: the groups' members", "few", []string{"few-member1", "x"}, reads{"UserConversations": 1, "Members": 2, "Presence": 1}},
		{"a stranger, 6 groups: the stranger's conversations", "many", []string{"x"}, reads{"UserConversations": 2}},
		{"a member, 6 groups: the member's conversations", "many", []string{"many-member3", "many-peer1"}, reads{"UserConversations": 2, "Presence": 1}},
		{"6 members, 6 groups: the groups' members", "many", []string{"many-member0", "many-member1", "many-member2", "many-member3", "many-member4", "many-member5"},
			reads{"UserConversations": 1, "Members": 6, "Presence": 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			calls.take()
			ps, err := f.svc.Presence(f.ctx, as(tc.caller), tc.ask)
			must(t, err, "presence")
			if got := calls.take(); !maps.Equal(got, tc.want) {
				t.Fatalf("reads %v, want %v", got, tc.want)
			}
			if len(ps.Users) != len(tc.ask) {
				t.Fatalf("%d users answered for %d asked", len(ps.Users), len(tc.ask))
			}
			for i, p := range ps.Users {
				stranger := len(tc.ask[i]) == 1
				if p.UserID != tc.ask[i] || p.Online == stranger {
					t.Fatalf("answer %d = %+v for %s; want online exactly when not a stranger", i, p, tc.ask[i])
				}
			}
		})
	}
}
