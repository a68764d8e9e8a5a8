package tui

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/client"
)

const dmID = "dm:alice:bob"

func testMessage(id, sender string) *client.Message {
	return &client.Message{ConversationID: dmID, MessageID: id, SenderID: sender, Body: "b"}
}

func TestStateApplyMessage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		setup     func(s *state)
		m         *client.Message
		want      bool
		wantMine  string // lastMine of dmID afterwards
		typingEnd bool   // bob's typing indicator is gone afterwards
	}{
		{name: "nil", m: nil, want: false},
		{name: "new message from bob", m: testMessage("01B", "bob"), want: true},
		{name: "duplicate", setup: func(s *state) { s.applyMessage(testMessage("01B", "bob")) },
			m: testMessage("01B", "bob"), want: false},
		{name: "echo of an acked send", setup: func(s *state) {
			s.sent(client.Message{ConversationID: dmID, MessageID: "01B", SenderID: "alice"})
		}, m: testMessage("01B", "alice"), want: false, wantMine: "01B"},
		{name: "already shown in a history page", setup: func(s *state) {
			s.addPage(&client.HistoryPage{Messages: []client.Message{*testMessage("01B", "bob")}})
		}, m: testMessage("01B", "bob"), want: false},
		{name: "own message from another device becomes the newest own", m: testMessage("01B", "alice"),
			want: true, wantMine: "01B"},
		{name: "an older own message does not replace the newest", setup: func(s *state) {
			s.applyMessage(testMessage("01C", "alice"))
		}, m: testMessage("01B", "alice"), want: true, wantMine: "01C"},
		{name: "a message ends its sender's typing", setup: func(s *state) {
			s.applyTyping(&client.Typing{ConversationID: dmID, UserID: "bob", State: client.TypingStart}, time.Now())
		}, m: testMessage("01B", "bob"), want: true, typingEnd: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newState("alice")
			if tt.setup != nil {
				tt.setup(s)
			}
			if got := s.applyMessage(tt.m); got != tt.want {
				t.Errorf("applyMessage = %v, want %v", got, tt.want)
			}
			if got := s.lastMine[dmID]; got != tt.wantMine {
				t.Errorf("newest own message %q, want %q", got, tt.wantMine)
			}
			if _, typing := s.typing[typingKey(dmID, "bob")]; tt.typingEnd && typing {
				t.Error("bob still shows as typing")
			}
		})
	}
}

func TestStateApplyTyping(t *testing.T) {
	t.Parallel()
	start := time.Now()
	typing := func(user, state string) *client.Typing {
		return &client.Typing{ConversationID: dmID, UserID: user, State: state}
	}
	tests := []struct {
		name  string
		setup func(s *state)
		t     *client.Typing
		want  bool
	}{
		{name: "nil", t: nil, want: false},
		{name: "first start shows", t: typing("bob", client.TypingStart), want: true},
		{name: "own typing is ignored", t: typing("alice", client.TypingStart), want: false},
		{name: "repeated start is silent", setup: func(s *state) {
			s.applyTyping(typing("bob", client.TypingStart), start)
		}, t: typing("bob", client.TypingStart), want: false},
		{name: "stop is silent", setup: func(s *state) {
			s.applyTyping(typing("bob", client.TypingStart), start)
		}, t: typing("bob", client.TypingStop), want: false},
		{name: "start after stop shows again", setup: func(s *state) {
			s.applyTyping(typing("bob", client.TypingStart), start)
			s.applyTyping(typing("bob", client.TypingStop), start)
		}, t: typing("bob", client.TypingStart), want: true},
		{name: "start after expiry shows again", setup: func(s *state) {
			s.applyTyping(typing("bob", client.TypingStart), start)
			s.expireTyping(start.Add(typingTimeout + time.Millisecond))
		}, t: typing("bob", client.TypingStart), want: true},
		{name: "not yet expired stays silent", setup: func(s *state) {
			s.applyTyping(typing("bob", client.TypingStart), start)
			s.expireTyping(start.Add(typingTimeout))
		}, t: typing("bob", client.TypingStart), want: false},
		{name: "another member shows alongside", setup: func(s *state) {
			s.applyTyping(typing("bob", client.TypingStart), start)
		}, t: typing("carol", client.TypingStart), want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newState("alice")
			if tt.setup != nil {
				tt.setup(s)
			}
			if got := s.applyTyping(tt.t, start.Add(time.Second)); got != tt.want {
				t.Errorf("applyTyping = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestStateApplyReceipt(t *testing.T) {
	t.Parallel()
	receipt := func(user, status, upTo string) *client.Receipt {
		return &client.Receipt{ConversationID: dmID, UserID: user, Status: status, UpTo: upTo}
	}
	sent := func(id string) func(s *state) {
		return func(s *state) { s.sent(client.Message{ConversationID: dmID, MessageID: id, SenderID: "alice"}) }
	}
	tests := []struct {
		name  string
		setup []func(s *state)
		r     *client.Receipt
		want  bool
	}{
		{name: "nil", r: nil, want: false},
		{name: "no own message yet", r: receipt("bob", client.StatusDelivered, "01B"), want: false},
		{name: "behind the newest own message", setup: []func(*state){sent("01B")},
			r: receipt("bob", client.StatusDelivered, "01A"), want: false},
		{name: "covers the newest own message", setup: []func(*state){sent("01B")},
			r: receipt("bob", client.StatusDelivered, "01C"), want: true},
		{name: "own receipt from another device", setup: []func(*state){sent("01B")},
			r: receipt("alice", client.StatusRead, "01B"), want: false},
		{name: "same receipt again", setup: []func(*state){sent("01B"), func(s *state) {
			s.applyReceipt(receipt("bob", client.StatusDelivered, "01B"))
		}}, r: receipt("bob", client.StatusDelivered, "01B"), want: false},
		{name: "read after delivered", setup: []func(*state){sent("01B"), func(s *state) {
			s.applyReceipt(receipt("bob", client.StatusDelivered, "01B"))
		}}, r: receipt("bob", client.StatusRead, "01B"), want: true},
		{name: "delivered after read", setup: []func(*state){sent("01B"), func(s *state) {
			s.applyReceipt(receipt("bob", client.StatusRead, "01B"))
		}}, r: receipt("bob", client.StatusDelivered, "01B"), want: false},
		{name: "another member's receipt", setup: []func(*state){sent("01B"), func(s *state) {
			s.applyReceipt(receipt("bob", client.StatusRead, "01B"))
		}}, r: receipt("carol", client.StatusRead, "01B"), want: true},
		{name: "a newer own message shows the receipt again", setup: []func(*state){sent("01B"), func(s *state) {
			s.applyReceipt(receipt("bob", client.StatusRead, "01B"))
		}, sent("01C")}, r: receipt("bob", client.StatusRead, "01C"), want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newState("alice")
			for _, f := range tt.setup {
				f(s)
			}
			if got := s.applyReceipt(tt.r); got != tt.want {
				t.Errorf("applyReceipt = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestStateNamesAndOpen(t *testing.T) {
	t.Parallel()
	s := newState("alice")
	s.remember(&client.Conversation{ConversationID: dmID, Kind: client.KindDirect, Members: []string{"alice", "bob"}})
	s.remember(&client.Conversation{ConversationID: "g:1", Kind: "group", Name: "Trip", Members: []string{"alice", "bob"}})
	names := s.setList([]client.ConversationSummary{
		{ConversationID: "g:2", Name: "Ski"}, {ConversationID: dmID}, {ConversationID: "g:3"},
	})
	for _, tt := range []struct{ id, want string }{
		{dmID, "@bob"}, {"g:1", "Trip"}, {"g:2", "Ski"}, {"g:3", "g:3"},
	} {
		t.Run("name "+tt.id, func(t *testing.T) {
			if got := s.name(tt.id); got != tt.want {
				t.Errorf("name(%q) = %q, want %q", tt.id, got, tt.want)
			}
		})
	}
	if want := []string{"Ski", "@bob", "g:3"}; !slices.Equal(names, want) {
		t.Errorf("setList names %q, want %q", names, want)
	}
	for _, tt := range []struct{ arg, want, wantErr string }{
		{"1", "g:2", ""},
		{"3", "g:3", ""},
		{"0", "", "no conversation number 0 in the last /list"},
		{"4", "", "no conversation number 4 in the last /list"},
		{"g:9", "g:9", ""},
	} {
		t.Run("open "+tt.arg, func(t *testing.T) {
			got, err := s.conversationID(tt.arg)
			if got != tt.want || (err == nil) != (tt.wantErr == "") || (err != nil && err.Error() != tt.wantErr) {
				t.Errorf("conversationID(%q) = %q, %v; want %q, %q", tt.arg, got, err, tt.want, tt.wantErr)
			}
		})
	}

	t.Run("open, page, close", func(t *testing.T) {
		if _, err := s.requireOpen(); err == nil {
			t.Fatal("requireOpen with nothing open: no error")
		}
		s.setOpen(dmID)
		s.addPage(&client.HistoryPage{Next: "01A"})
		if id, err := s.requireOpen(); id != dmID || err != nil || s.older() != "01A" {
			t.Fatalf("open %q (%v), older %q; want %q, 01A", id, err, s.older(), dmID)
		}
		s.setOpen("g:1")
		if s.current() != "g:1" || s.older() != "" {
			t.Fatalf("after setOpen: open %q, older %q", s.current(), s.older())
		}
		s.closeOpen()
		if s.current() != "" || s.isOpen("g:1") {
			t.Fatalf("after closeOpen: open %q", s.current())
		}
	})
}

func TestStateTimelineChanges(t *testing.T) {
	t.Parallel()
	msg := func(id, sender, body string) *client.Message {
		return &client.Message{ConversationID: dmID, MessageID: id, SenderID: sender, Body: body}
	}
	edit := func(eventID, body string, at int64) *client.Edited {
		return &client.Edited{ConversationID: dmID, MessageID: "01B", EventID: eventID, Body: body, EditedAt: at}
	}
	del := func(eventID string) *client.Deleted {
		return &client.Deleted{ConversationID: dmID, MessageID: "01B", EventID: eventID}
	}
	react := func(eventID, user, emoji, state string) *client.Reaction {
		return &client.Reaction{ConversationID: dmID, MessageID: "01B", EventID: eventID, UserID: user, Emoji: emoji, State: state}
	}
	add, remove := client.ReactionAdd, client.ReactionRemove
	page := func(m client.Message) func(s *state) {
		return func(s *state) { s.addPage(&client.HistoryPage{ConversationID: dmID, Messages: []client.Message{m}}) }
	}
	shownBob := func(s *state) { s.applyMessage(msg("01B", "bob", "hello")) }
	tests := []struct {
		name  string
		setup []func(s *state)
		apply func(s *state) bool
		want  bool           // what apply reports: something new to show
		shown client.Message // 01B afterwards (ids and sender left out); zero: not shown
	}{
		{name: "nil events", setup: []func(*state){shownBob}, apply: func(s *state) bool {
			return s.applyEdited(nil) || s.applyDeleted(nil) || s.applyReaction(nil)
		}, want: false, shown: client.Message{Body: "hello"}},
		{name: "edit", setup: []func(*state){shownBob}, apply: func(s *state) bool { return s.applyEdited(edit("01C", "hi", 7)) },
			want: true, shown: client.Message{Body: "hi", EditedAt: 7}},
		{name: "the same edit again", setup: []func(*state){shownBob, func(s *state) { s.applyEdited(edit("01C", "hi", 7)) }},
			apply: func(s *state) bool { return s.applyEdited(edit("01C", "hi", 7)) },
			want:  false, shown: client.Message{Body: "hi", EditedAt: 7}},
		{name: "an older edit arriving late changes nothing", setup: []func(*state){shownBob, func(s *state) { s.applyEdited(edit("01D", "new", 8)) }},
			apply: func(s *state) bool { return s.applyEdited(edit("01C", "old", 7)) },
			want:  true, shown: client.Message{Body: "new", EditedAt: 8}},
		{name: "delete", setup: []func(*state){shownBob, func(s *state) { s.applyEdited(edit("01C", "hi", 7)) }},
			apply: func(s *state) bool { return s.applyDeleted(del("01D")) },
			want:  true, shown: client.Message{Deleted: true, EditedAt: 7}},
		{name: "an edit arriving after the delete that followed it", setup: []func(*state){shownBob, func(s *state) { s.applyDeleted(del("01D")) }},
			apply: func(s *state) bool { return s.applyEdited(edit("01C", "hi", 7)) },
			want:  true, shown: client.Message{Deleted: true, EditedAt: 7}},
		{name: "a change of a message not shown is kept for it", apply: func(s *state) bool { return s.applyEdited(edit("01C", "hi", 7)) },
			want: false},
		{name: "the message arrives after its change", setup: []func(*state){func(s *state) { s.applyEdited(edit("01C", "hi", 7)) }},
			apply: func(s *state) bool { return s.applyMessage(msg("01B", "bob", "hello")) },
			want:  true, shown: client.Message{Body: "hi", EditedAt: 7}},
		{name: "reactions add up, own ones are mine", setup: []func(*state){shownBob,
			func(s *state) { s.applyReaction(react("01C", "bob", "👍", add)) },
			func(s *state) { s.applyReaction(react("01D", "carol", "🎉", add)) },
			func(s *state) { s.applyReaction(react("01E", "carol", "👍", add)) }},
			apply: func(s *state) bool { return s.applyReaction(react("01F", "alice", "🎉", add)) },
			want:  true, shown: client.Message{Body: "hello", Reactions: []client.ReactionCount{{Emoji: "👍", Count: 2}, {Emoji: "🎉", Count: 2, Mine: true}}}},
		{name: "a reaction taken back", setup: []func(*state){shownBob,
			func(s *state) { s.applyReaction(react("01C", "alice", "👍", add)) },
			func(s *state) { s.applyReaction(react("01D", "bob", "🎉", add)) }},
			apply: func(s *state) bool { return s.applyReaction(react("01E", "alice", "👍", remove)) },
			want:  true, shown: client.Message{Body: "hello", Reactions: []client.ReactionCount{{Emoji: "🎉", Count: 1}}}},
		{name: "the same reaction twice (live and from sync)", setup: []func(*state){shownBob,
			func(s *state) { s.applyReaction(react("01C", "bob", "👍", add)) }},
			apply: func(s *state) bool { return s.applyReaction(react("01C", "bob", "👍", add)) },
			want:  false, shown: client.Message{Body: "hello", Reactions: []client.ReactionCount{{Emoji: "👍", Count: 1}}}},
		{name: "a reaction reply that changed nothing has no eventId", setup: []func(*state){shownBob},
			apply: func(s *state) bool { return s.applyReaction(react("", "alice", "👍", add)) },
			want:  false, shown: client.Message{Body: "hello"}},
		{name: "history folds changes up to its lastEventId", setup: []func(*state){
			page(client.Message{ConversationID: dmID, MessageID: "01B", SenderID: "bob", Body: "hi", EditedAt: 7, LastEventID: "01E",
				Reactions: []client.ReactionCount{{Emoji: "👍", Count: 1, Mine: true}}})},
			apply: func(s *state) bool {
				return s.applyEdited(edit("01C", "hi", 7)) || s.applyReaction(react("01E", "alice", "👍", add))
			},
			want: false, shown: client.Message{Body: "hi", EditedAt: 7, LastEventID: "01E", Reactions: []client.ReactionCount{{Emoji: "👍", Count: 1, Mine: true}}}},
		{name: "history counts plus the reactions after it", setup: []func(*state){
			page(client.Message{ConversationID: dmID, MessageID: "01B", SenderID: "bob", Body: "hello", LastEventID: "01E",
				Reactions: []client.ReactionCount{{Emoji: "👍", Count: 1}}})},
			apply: func(s *state) bool { return s.applyReaction(react("01F", "alice", "👍", add)) },
			want:  true, shown: client.Message{Body: "hello", LastEventID: "01E", Reactions: []client.ReactionCount{{Emoji: "👍", Count: 2, Mine: true}}}},
		{name: "a change that came before a history page older than it stays", setup: []func(*state){shownBob,
			func(s *state) { s.applyEdited(edit("01F", "later", 9)) }},
			apply: func(s *state) bool {
				page(client.Message{ConversationID: dmID, MessageID: "01B", SenderID: "bob", Body: "hi", EditedAt: 7, LastEventID: "01C"})(s)
				return true
			},
			want: true, shown: client.Message{Body: "later", EditedAt: 9, LastEventID: "01C"}},
		{name: "a replayed message's lastEventId folds edits, not reactions", setup: []func(*state){func(s *state) {
			s.applyMessage(&client.Message{ConversationID: dmID, MessageID: "01B", SenderID: "bob", Body: "hi", EditedAt: 7, LastEventID: "01D"})
		}},
			apply: func(s *state) bool {
				return !s.applyEdited(edit("01C", "hi", 7)) && s.applyReaction(react("01D", "carol", "👍", add))
			},
			want: true, shown: client.Message{Body: "hi", EditedAt: 7, LastEventID: "01D", Reactions: []client.ReactionCount{{Emoji: "👍", Count: 1}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newState("alice")
			for _, f := range tt.setup {
				f(s)
			}
			if got := tt.apply(s); got != tt.want {
				t.Errorf("apply = %v, want %v", got, tt.want)
			}
			m, n, ok := s.shown("01B")
			if zero := tt.shown.Body == "" && !tt.shown.Deleted; zero {
				if ok {
					t.Fatalf("01B shown as #%d %+v, want not shown", n, m)
				}
				return
			}
			if !ok || n != 1 {
				t.Fatalf("01B shown %v as #%d, want #1", ok, n)
			}
			want := tt.shown
			want.ConversationID, want.MessageID, want.SenderID = dmID, "01B", "bob"
			if !reflect.DeepEqual(m, want) {
				t.Errorf("01B shown as\n%+v\nwant\n%+v", m, want)
			}
		})
	}
}

func TestStateTarget(t *testing.T) {
	t.Parallel()
	s := newState("alice")
	// #1 alice, #2 bob, #3 alice (deleted), #4 bob in another conversation.
	s.addPage(&client.HistoryPage{ConversationID: dmID, Messages: []client.Message{
		{ConversationID: dmID, MessageID: "01C", SenderID: "alice", Deleted: true},
		{ConversationID: dmID, MessageID: "01B", SenderID: "bob", Body: "b"},
		{ConversationID: dmID, MessageID: "01A", SenderID: "alice", Body: "a"},
	}})
	s.applyMessage(&client.Message{ConversationID: "g:1", MessageID: "01D", SenderID: "bob", Body: "d"})
	if _, err := s.target(0, false); err == nil || err.Error() != "no open conversation" {
		t.Fatalf("default target with nothing open: %v", err)
	}
	s.setOpen(dmID)
	for _, tt := range []struct {
		name    string
		n       int
		own     bool
		want    string
		wantErr string
	}{
		{name: "your last message here skips the deleted one", own: true, want: "01A"},
		{name: "the last message here", want: "01B"},
		{name: "by number", n: 2, want: "01B"},
		{name: "by number in another conversation", n: 4, want: "01D"},
		{name: "your own by number", n: 1, own: true, want: "01A"},
		{name: "someone else's is not yours", n: 2, own: true, wantErr: "#2 is bob's message, not yours"},
		{name: "deleted", n: 3, wantErr: "#3 is deleted"},
		{name: "no such number", n: 5, wantErr: "no message #5"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m, err := s.target(tt.n, tt.own)
			if (err == nil) != (tt.wantErr == "") || (err != nil && err.Error() != tt.wantErr) || m.MessageID != tt.want {
				t.Errorf("target(%d, %v) = %q, %v; want %q, %q", tt.n, tt.own, m.MessageID, err, tt.want, tt.wantErr)
			}
		})
	}
	s.setOpen("g:2")
	if _, err := s.target(0, true); err == nil {
		t.Error("default target in a conversation with nothing shown: no error")
	}
	if got, want := *quoteOf(client.Message{MessageID: "01B", SenderID: "bob", Body: strings.Repeat("é", previewRunes+5)}),
		(client.ReplyRef{MessageID: "01B", SenderID: "bob", Preview: strings.Repeat("é", previewRunes)}); got != want {
		t.Errorf("quoteOf = %+v, want %+v", got, want)
	}
}
