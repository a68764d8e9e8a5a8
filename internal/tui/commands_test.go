package tui

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/parleychat/parley/internal/client"
)

// fakeServer answers the actions the terminal client's message commands send, as Parley
// does, and records the requests. A unit-test fake; local_test.go runs the real server.
type fakeServer struct {
	mu   sync.Mutex
	reqs []map[string]any
}

// dial starts the fake and connects to it as alice.
func (f *fakeServer) dial(t *testing.T) *client.Conn {
	t.Helper()
	hs := httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(hs.Close)
	conn, err := client.Dial(context.Background(), "ws"+strings.TrimPrefix(hs.URL, "http"), "alice", nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// last returns the last request recorded, nil when there is none.
func (f *fakeServer) last() map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.reqs) == 0 {
		return nil
	}
	return f.reqs[len(f.reqs)-1]
}

func (f *fakeServer) serve(w http.ResponseWriter, r *http.Request) {
	ws, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer ws.CloseNow()
	ctx := r.Context()
	for {
		_, data, err := ws.Read(ctx)
		if err != nil {
			return
		}
		var req map[string]any
		if json.Unmarshal(data, &req) != nil {
			return
		}
		f.mu.Lock()
		f.reqs = append(f.reqs, req)
		f.mu.Unlock()
		for _, frame := range answer(req) {
			if _, set := frame["requestId"]; !set {
				frame["requestId"] = req["requestId"]
			}
			out, _ := json.Marshal(frame)
			if ws.Write(ctx, websocket.MessageText, out) != nil {
				return
			}
		}
	}
}

// answer is the fake's reply to req. History has three messages (alice's 01A, bob's 01B
// with a reaction, alice's 01C); a send gets the ack and, like the real server, the echo
// of the message (without requestId, set to nil here).
func answer(req map[string]any) []map[string]any {
	const at = 1700000000000
	conv := req["conversationId"]
	switch req["action"] {
	case "history":
		return []map[string]any{{"type": "history", "conversationId": conv, "messages": []any{
			map[string]any{"conversationId": conv, "messageId": "01C", "senderId": "alice", "body": "at noon", "createdAt": at, "status": "sent"},
			map[string]any{"conversationId": conv, "messageId": "01B", "senderId": "bob", "body": "lunch?", "createdAt": at, "lastEventId": "01BB",
				"reactions": []any{map[string]any{"emoji": "👍", "count": 1, "mine": false}}},
			map[string]any{"conversationId": conv, "messageId": "01A", "senderId": "alice", "body": "hi", "createdAt": at, "status": "read"},
		}}}
	case "receipt":
		return []map[string]any{{"type": "receipt", "conversationId": conv, "userId": "alice", "status": req["status"], "upTo": req["messageId"], "at": at}}
	case "send":
		msg := map[string]any{"conversationId": conv, "messageId": "01F", "senderId": "alice", "body": req["body"], "createdAt": at, "clientMsgId": req["clientMsgId"]}
		if to, ok := req["replyTo"]; ok {
			msg["replyTo"] = map[string]any{"messageId": to, "senderId": "bob", "preview": "lunch?"}
		}
		return []map[string]any{
			{"type": "ack", "conversationId": conv, "messageId": "01F", "clientMsgId": req["clientMsgId"], "createdAt": at},
			{"type": "message", "message": msg, "requestId": nil},
		}
	case "edit":
		if req["messageId"] == "01A" {
			return []map[string]any{{"type": "error", "action": "edit", "code": "not_found", "message": "no such message"}}
		}
		return []map[string]any{{"type": "edited", "conversationId": conv, "messageId": req["messageId"], "eventId": "01D", "body": req["body"], "editedAt": at}}
	case "delete":
		return []map[string]any{{"type": "deleted", "conversationId": conv, "messageId": req["messageId"], "eventId": "01G", "at": at}}
	case "react":
		r := map[string]any{"type": "reaction", "conversationId": conv, "messageId": req["messageId"], "userId": "alice", "emoji": req["emoji"], "state": req["state"], "at": at}
		if req["emoji"] != "🎉" { // 🎉: the server finds alice's reaction as asked already
			r["eventId"] = "01E" + req["state"].(string)
		}
		return []map[string]any{r}
	}
	return []map[string]any{{"type": "error", "action": req["action"], "code": "unknown_action", "message": "no such route"}}
}

// TestMessageCommands runs /reply, /edit, /delete and /react against the fake: the
// message each names, the request it sends, and what it shows.
func TestMessageCommands(t *testing.T) {
	t.Parallel()
	c, out := newTestChat()
	f := &fakeServer{}
	c.conn = f.dial(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	steps := []struct {
		line string
		req  map[string]any // fields of the request sent; nil: none sent
		want string
	}{
		{"/open " + dmID, map[string]any{"action": "receipt", "messageId": "01C", "status": "read"},
			"── " + dmID + " ──\n#1 [22:13] you: hi ✓✓ read\n#2 [22:13] bob: lunch?  [👍 1]\n#3 [22:13] you: at noon ✓\n"},
		// Without a number, /edit changes your last message here.
		{"/edit at  1pm", map[string]any{"action": "edit", "conversationId": dmID, "messageId": "01C", "body": "at  1pm"},
			"✎ #3 [22:13] you: at  1pm (edited)\n"},
		{"/edit 2 nope", nil, "! edit: #2 is bob's message, not yours\n"},
		{"/edit #9 nope", nil, "! edit: no message #9\n"},
		{"/edit 1 hello", map[string]any{"action": "edit", "messageId": "01A"},
			"! edit: parley: edit: not_found: no such message\n"},
		// /react toggles: add, then take back.
		{"/react 2 👍", map[string]any{"action": "react", "messageId": "01B", "emoji": "👍", "state": "add"},
			"you reacted 👍: #2 [22:13] bob: lunch?  [👍 2]\n"},
		{"/react #2 👍", map[string]any{"action": "react", "messageId": "01B", "emoji": "👍", "state": "remove"},
			"you took back 👍: #2 [22:13] bob: lunch?  [👍 1]\n"},
		{"/react 2 🎉", map[string]any{"action": "react", "messageId": "01B", "emoji": "🎉", "state": "add"},
			"(you had reacted 🎉 to #2 already)\n"},
		// Without a number, the last message here.
		{"/react 👍", map[string]any{"action": "react", "messageId": "01C", "emoji": "👍", "state": "add"},
			"you reacted 👍: #3 [22:13] you: at  1pm (edited)  [👍 1]\n"},
		{"/reply 2 see  you", map[string]any{"action": "send", "conversationId": dmID, "replyTo": "01B", "body": "see  you"},
			"#4 [22:13] you: (re #2 bob: \"lunch?\") see  you ✓\n"},
		{"/delete", map[string]any{"action": "delete", "conversationId": dmID, "messageId": "01F"},
			"✗ #4 [22:13] you: (re #2 bob: \"lunch?\") (message deleted)\n"},
		{"/delete 4", nil, "! delete: #4 is deleted\n"},
		{"/reply 4 what?", nil, "! reply: #4 is deleted\n"},
	}
	for _, s := range steps {
		out.Reset()
		before := f.last()
		c.handleLine(ctx, s.line)
		if got := out.String(); got != s.want {
			t.Errorf("%s: output %q, want %q", s.line, got, s.want)
		}
		got := f.last()
		if s.req == nil {
			if len(got) != len(before) || got["requestId"] != before["requestId"] {
				t.Errorf("%s: sent %v, want nothing", s.line, got)
			}
			continue
		}
		for k, v := range s.req {
			if got[k] != v {
				t.Errorf("%s: request %v, want %s %v", s.line, got, k, v)
			}
		}
	}
	// The echo of the reply is dropped: the ack showed it.
	for {
		select {
		case ev := <-c.conn.Events():
			if ev.Type != client.TypeMessage {
				continue
			}
			out.Reset()
			c.handleEvent(ctx, ev)
			if out.Len() != 0 {
				t.Errorf("the echo of a sent message shows %q", out.String())
			}
			if ev.Message.ReplyTo == nil {
				continue
			}
			return
		case <-ctx.Done():
			t.Fatal("the echo of the reply never came")
		}
	}
}

// TestRenderChangeEvents: each change event updates the message it changes, shown again
// with its number; changes already applied, and changes of messages not shown, show
// nothing. (The fake answers the receipts that bob's messages call for.)
func TestRenderChangeEvents(t *testing.T) {
	t.Parallel()
	c, out := newTestChat()
	c.conn = (&fakeServer{}).dial(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c.st.setOpen(dmID)
	c.st.remember(&client.Conversation{ConversationID: "g:1", Kind: client.KindGroup, Name: "Trip"})
	const at = 1700000000000
	steps := []struct {
		ev   client.Event
		want string
	}{
		{client.Event{Type: client.TypeMessage, Message: &client.Message{ConversationID: dmID, MessageID: "01B", SenderID: "bob", Body: "lunch?", CreatedAt: at}},
			"#1 [22:13] bob: lunch?\n"},
		{client.Event{Type: client.TypeEdited, Edited: &client.Edited{ConversationID: dmID, MessageID: "01B", EventID: "01C", Body: "lunch at 1?", EditedAt: at}},
			"✎ #1 [22:13] bob: lunch at 1? (edited)\n"},
		// The same edit again (live, then from sync): nothing.
		{client.Event{Type: client.TypeEdited, Edited: &client.Edited{ConversationID: dmID, MessageID: "01B", EventID: "01C", Body: "lunch at 1?", EditedAt: at}}, ""},
		{client.Event{Type: client.TypeReaction, Reaction: &client.Reaction{ConversationID: dmID, MessageID: "01B", EventID: "01D", UserID: "carol", Emoji: "👍", State: "add"}},
			"carol reacted 👍: #1 [22:13] bob: lunch at 1? (edited)  [👍 1]\n"},
		// Own reaction from another device.
		{client.Event{Type: client.TypeReaction, Reaction: &client.Reaction{ConversationID: dmID, MessageID: "01B", EventID: "01E", UserID: "alice", Emoji: "🎉", State: "add"}},
			"you reacted 🎉: #1 [22:13] bob: lunch at 1? (edited)  [👍 1 🎉 1]\n"},
		// Most frequent first.
		{client.Event{Type: client.TypeReaction, Reaction: &client.Reaction{ConversationID: dmID, MessageID: "01B", EventID: "01F", UserID: "bob", Emoji: "🎉", State: "add"}},
			"bob reacted 🎉: #1 [22:13] bob: lunch at 1? (edited)  [🎉 2 👍 1]\n"},
		{client.Event{Type: client.TypeReaction, Reaction: &client.Reaction{ConversationID: dmID, MessageID: "01B", EventID: "01G", UserID: "carol", Emoji: "👍", State: "remove"}},
			"carol took back 👍: #1 [22:13] bob: lunch at 1? (edited)  [🎉 2]\n"},
		// A reply quoting #1.
		{client.Event{Type: client.TypeMessage, Message: &client.Message{ConversationID: dmID, MessageID: "01H", SenderID: "bob", Body: "or 2", CreatedAt: at,
			ReplyTo: &client.ReplyRef{MessageID: "01B", SenderID: "bob", Preview: "lunch at 1? Or maybe a bit later, if that suits everyone better"}}},
			"#2 [22:13] bob: (re #1 bob: \"lunch at 1? Or maybe a bit later, if tha…\") or 2\n"},
		{client.Event{Type: client.TypeDeleted, Deleted: &client.Deleted{ConversationID: dmID, MessageID: "01B", EventID: "01I", At: at}},
			"✗ #1 [22:13] bob: (message deleted)  [🎉 2]\n"},
		// A reply to a message not shown, quoting it as it was (deleted then).
		{client.Event{Type: client.TypeMessage, Message: &client.Message{ConversationID: dmID, MessageID: "01J", SenderID: "bob", Body: "?", CreatedAt: at,
			ReplyTo: &client.ReplyRef{MessageID: "00Z", SenderID: "alice"}}},
			"#3 [22:13] bob: (re you: a deleted message) ?\n"},
		// A change of a message never shown: nothing.
		{client.Event{Type: client.TypeEdited, Edited: &client.Edited{ConversationID: dmID, MessageID: "00Z", EventID: "01K", Body: "x", EditedAt: at}}, ""},
		// Another conversation's changes carry its name.
		{client.Event{Type: client.TypeMessage, Message: &client.Message{ConversationID: "g:1", MessageID: "01L", SenderID: "carol", Body: "hi", CreatedAt: at}},
			"[Trip] #4 [22:13] carol: hi\n"},
		{client.Event{Type: client.TypeEdited, Edited: &client.Edited{ConversationID: "g:1", MessageID: "01L", EventID: "01M", Body: "hi all", EditedAt: at}},
			"[Trip] ✎ #4 [22:13] carol: hi all (edited)\n"},
		{client.Event{Type: client.TypeReaction, Reaction: &client.Reaction{ConversationID: "g:1", MessageID: "01L", EventID: "01N", UserID: "bob", Emoji: "👋", State: "add"}},
			"[Trip] bob reacted 👋: #4 [22:13] carol: hi all (edited)  [👋 1]\n"},
	}
	for i, s := range steps {
		out.Reset()
		c.handleEvent(ctx, s.ev)
		if out.String() != s.want {
			t.Errorf("step %d (%s): output %q, want %q", i, s.ev.Type, out.String(), s.want)
		}
	}
}
