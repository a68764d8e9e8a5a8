package tui

import (
	"bytes"
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/client"
)

func TestParseLine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		line    string
		want    Command
		wantErr string
	}{
		{"", Command{}, ""},
		{"   ", Command{}, ""},
		{"hello there", Command{Name: "send", Text: "hello there"}, ""},
		{"//slash at start", Command{Name: "send", Text: "/slash at start"}, ""},
		{"/list", Command{Name: "list", Args: []string{}}, ""},
		{"/LIST", Command{Name: "list", Args: []string{}}, ""},
		{"/open 3", Command{Name: "open", Args: []string{"3"}}, ""},
		{"/dm bob", Command{Name: "dm", Args: []string{"bob"}}, ""},
		{"/group Trip bob carol", Command{Name: "group", Args: []string{"Trip", "bob", "carol"}}, ""},
		{"/add dave  erin", Command{Name: "add", Args: []string{"dave", "erin"}}, ""},
		{"/who bob", Command{Name: "who", Args: []string{"bob"}}, ""},
		{"/quit", Command{Name: "quit", Args: []string{}}, ""},
		{"/edit 3 new  text ", Command{Name: "edit", Args: []string{"new", "text"}, Text: "new  text ", Ref: 3}, ""},
		{"/edit  #3\tfixed", Command{Name: "edit", Args: []string{"fixed"}, Text: "fixed", Ref: 3}, ""},
		{"/edit fixed  typo", Command{Name: "edit", Args: []string{"fixed", "typo"}, Text: "fixed  typo"}, ""},
		{"/edit 3", Command{}, "usage: /edit [N] TEXT"},
		{"/edit", Command{}, "usage: /edit [N] TEXT"},
		{"/delete", Command{Name: "delete", Args: []string{}}, ""},
		{"/delete #2", Command{Name: "delete", Args: []string{}, Ref: 2}, ""},
		{"/delete 2 3", Command{}, "usage: /delete [N]"},
		{"/delete two", Command{}, "usage: /delete [N]"},
		{"/react 👍", Command{Name: "react", Args: []string{"👍"}}, ""},
		{"/react 12 🎉", Command{Name: "react", Args: []string{"🎉"}, Ref: 12}, ""},
		{"/react 3", Command{}, "usage: /react [N] EMOJI"},
		{"/react 3 👍 🎉", Command{}, "usage: /react [N] EMOJI"},
		{"/reply 2 sure, at 1", Command{Name: "reply", Args: []string{"sure,", "at", "1"}, Text: "sure, at 1", Ref: 2}, ""},
		{"/reply #-1 no", Command{Name: "reply", Args: []string{"#-1", "no"}, Text: "#-1 no"}, ""},
		{"/reply", Command{}, "usage: /reply [N] TEXT"},
		{"/open", Command{}, "usage: /open ID|N"},
		{"/dm bob carol", Command{}, "usage: /dm USER"},
		{"/group Trip", Command{}, "usage: /group NAME USER..."},
		{"/list extra", Command{}, "usage: /list"},
		{"/frobnicate", Command{}, "unknown command /frobnicate"},
		{"/", Command{}, "empty command"},
	}
	for _, tt := range tests {
		got, err := ParseLine(tt.line)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseLine(%q) error = %v, want %q", tt.line, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseLine(%q) = %#v, %v; want %#v", tt.line, got, err, tt.want)
		}
	}
}

func newTestChat() (*Chat, *bytes.Buffer) {
	var out bytes.Buffer
	return New(Config{User: "alice", Location: time.UTC}, &out), &out
}

func TestRenderEvents(t *testing.T) {
	t.Parallel()
	c, out := newTestChat()
	ctx := context.Background()
	c.st.setOpen("dm:alice:bob")
	now := time.Now()
	steps := []struct {
		ev   client.Event
		want string
	}{
		{client.Event{Type: client.TypeConversation, Conversation: &client.Conversation{ConversationID: "dm:alice:bob", Kind: "dm", Members: []string{"alice", "bob"}}},
			"* @bob: members alice, bob\n"},
		{client.Event{Type: client.TypeTyping, Received: now, Typing: &client.Typing{ConversationID: "dm:alice:bob", UserID: "bob", State: "start"}},
			"bob is typing…\n"},
		// A repeated start while the indicator shows prints nothing.
		{client.Event{Type: client.TypeTyping, Received: now, Typing: &client.Typing{ConversationID: "dm:alice:bob", UserID: "bob", State: "start"}}, ""},
		// Own message from another device, in the open conversation: shown, no receipt needed.
		{client.Event{Type: client.TypeMessage, Message: &client.Message{ConversationID: "dm:alice:bob", MessageID: "01B", SenderID: "alice", Body: "hi bob", CreatedAt: 1700000000000}},
			"#1 [22:13] you: hi bob\n"},
		// The same message again (at-least-once): dropped.
		{client.Event{Type: client.TypeMessage, Message: &client.Message{ConversationID: "dm:alice:bob", MessageID: "01B", SenderID: "alice", Body: "hi bob", CreatedAt: 1700000000000}}, ""},
		// A receipt behind the newest own message: nothing to show.
		{client.Event{Type: client.TypeReceipt, Receipt: &client.Receipt{ConversationID: "dm:alice:bob", UserID: "bob", Status: "delivered", UpTo: "01A"}}, ""},
		{client.Event{Type: client.TypeReceipt, Receipt: &client.Receipt{ConversationID: "dm:alice:bob", UserID: "bob", Status: "delivered", UpTo: "01B"}},
			"  ✓✓ delivered to bob\n"},
		{client.Event{Type: client.TypeReceipt, Receipt: &client.Receipt{ConversationID: "dm:alice:bob", UserID: "bob", Status: "read", UpTo: "01B"}},
			"  ✓✓ read by bob\n"},
		{client.Event{Type: client.TypeReceipt, Receipt: &client.Receipt{ConversationID: "dm:alice:bob", UserID: "bob", Status: "read", UpTo: "01B"}}, ""},
		{client.Event{Type: client.TypePresence, Presence: []client.Presence{{UserID: "bob", Online: true}, {UserID: "carol", LastSeen: 1700000000000}, {UserID: "dave"}}},
			"● bob is online\n○ carol is offline (last seen Nov 14 22:13)\n○ dave is offline\n"},
		{client.Event{Type: client.TypeError, Err: &client.Error{Action: "typing", Code: "forbidden", Message: "not a member"}},
			"! parley: typing: forbidden: not a member\n"},
	}
	for i, s := range steps {
		out.Reset()
		c.handleEvent(ctx, s.ev)
		if out.String() != s.want {
			t.Errorf("step %d (%s): output %q, want %q", i, s.ev.Type, out.String(), s.want)
		}
	}
}

func TestTypingExpires(t *testing.T) {
	t.Parallel()
	c, out := newTestChat()
	start := time.Now()
	ev := client.Event{Type: client.TypeTyping, Received: start, Typing: &client.Typing{ConversationID: "g:1", UserID: "bob", State: "start"}}
	c.handleEvent(context.Background(), ev)
	if got := out.String(); got != "bob is typing… in g:1\n" {
		t.Fatalf("output %q", got)
	}
	c.st.expireTyping(start.Add(typingTimeout + time.Millisecond))
	out.Reset()
	ev.Received = start.Add(4 * time.Second)
	c.handleEvent(context.Background(), ev)
	if got := out.String(); got != "bob is typing… in g:1\n" {
		t.Fatalf("after expiry, a new start shows again; output %q", got)
	}
}

func TestStatusMarkAndList(t *testing.T) {
	t.Parallel()
	three, one := 3, 1
	for _, tt := range []struct {
		m    client.Message
		want string
	}{
		{client.Message{Status: "sent"}, "✓"},
		{client.Message{Status: "delivered"}, "✓✓"},
		{client.Message{Status: "read"}, "✓✓ read"},
		{client.Message{DeliveredTo: &three, ReadBy: &one}, "✓✓ 3, read by 1"},
	} {
		if got := statusMark(tt.m); got != tt.want {
			t.Errorf("statusMark(%+v) = %q, want %q", tt.m, got, tt.want)
		}
	}
	c, out := newTestChat()
	c.view.list(c.st, nil, c.st.setList(nil))
	if !strings.Contains(out.String(), "no conversations yet") {
		t.Fatalf("empty list: %q", out.String())
	}
	out.Reset()
	convs := []client.ConversationSummary{
		{ConversationID: "g:1", Kind: "group", Name: "Trip", MemberCount: 3, Unread: 2,
			LastMessage: &client.Message{SenderID: "bob", Body: "see you", CreatedAt: 1700000000000}},
		{ConversationID: "dm:alice:carol", Kind: "dm", MemberCount: 2, Unread: 100},
	}
	c.view.list(c.st, convs, c.st.setList(convs))
	want := " 1. Trip [group, 3 members] g:1 (2 unread) — [22:13] bob: see you\n" +
		" 2. dm:alice:carol [dm, 2 members] dm:alice:carol (100+ unread)\n"
	if out.String() != want {
		t.Fatalf("list:\n%q\nwant\n%q", out.String(), want)
	}
}

func TestHelpNamesEveryCommand(t *testing.T) {
	t.Parallel()
	h := helpText()
	for name := range commandSpecs {
		if !strings.Contains(h, "/"+name) {
			t.Errorf("help lacks /%s", name)
		}
	}
}
