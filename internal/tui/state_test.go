package tui

import (
	"slices"
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
			s.sent(&client.Ack{ConversationID: dmID, MessageID: "01B"})
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
		return func(s *state) { s.sent(&client.Ack{ConversationID: dmID, MessageID: id}) }
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
