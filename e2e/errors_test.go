package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/golang-jwt/jwt/v5"

	"github.com/parleychat/parley/internal/client"
	"github.com/parleychat/parley/internal/local"
)

// TestHandshake covers authentication: 401 without a token, 403 for a bad one, with the
// token in the query and in an Authorization header; nothing is stored for a refused
// handshake.
func TestHandshake(t *testing.T) {
	t.Parallel()
	s := defaultSystem(t)
	u := newUsers("mallory", "header")
	ctx := ctxFor(t, time.Minute)

	sign := func(claims jwt.MapClaims, key []byte) string {
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(key)
		if err != nil {
			t.Fatalf("sign: %v", err)
		}
		return tok
	}
	exp := time.Now().Add(time.Hour).Unix()
	wrongKey := sign(jwt.MapClaims{"sub": u[0], "exp": exp}, []byte("not-the-secret-not-the-secret-00"))
	expired := sign(jwt.MapClaims{"sub": u[0], "exp": time.Now().Add(-time.Minute).Unix()}, secret)
	badUser := sign(jwt.MapClaims{"sub": "mallory has spaces", "exp": exp}, secret)
	noExp := sign(jwt.MapClaims{"sub": u[0]}, secret)
	notYet := sign(jwt.MapClaims{"sub": u[0], "exp": exp, "nbf": time.Now().Add(time.Hour).Unix()}, secret)

	// Without any token: 401.
	for _, tc := range []struct {
		query  string
		header http.Header
	}{
		{"", nil},
		{"?token=", nil},
		{"", http.Header{"Authorization": {"Bearer "}}},
		{"", http.Header{"Authorization": {"Basic dXNlcjpwYXNz"}}},
	} {
		_, resp, err := websocket.Dial(ctx, s.m.WebSocketURL()+tc.query, &websocket.DialOptions{HTTPHeader: tc.header})
		if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("dial without a token (query %q, header %v): resp %v, err %v; want HTTP 401", tc.query, tc.header, resp, err)
		}
	}

	for _, tc := range []struct {
		name, token string
	}{
		{"wrong key", wrongKey},
		{"expired", expired},
		{"bad user id", badUser},
		{"no exp", noExp},
		{"not yet valid", notYet},
		{"not a JWT", "not-a-jwt"},
	} {
		for _, header := range []bool{false, true} {
			_, err := client.Dial(ctx, s.m.WebSocketURL(), tc.token, &client.Options{TokenInHeader: header, HeartbeatInterval: -1})
			var he *client.HandshakeError
			if !errors.As(err, &he) || he.StatusCode != http.StatusForbidden {
				t.Errorf("%s (token in header: %v): %v, want HTTP 403", tc.name, header, err)
			}
		}
	}
	// A refused handshake stores nothing: no connection, no presence.
	if n := s.partitionSize(t, u[0]); n != 0 {
		t.Fatalf("%d Connections items for the refused user, want none", n)
	}

	// A good token in the Authorization header connects.
	d := s.connectWith(t, u[1], &client.Options{TokenInHeader: true, HeartbeatInterval: -1})
	if _, err := d.Heartbeat(ctx); err != nil {
		t.Fatalf("heartbeat over a connection authenticated by header: %v", err)
	}
	if ids := s.connectionIDs(t, u[1]); len(ids) != 1 {
		t.Fatalf("connection items = %v, want one", ids)
	}
}

// TestErrorCodes sends every kind of bad frame a client can send and checks the error's
// code, the echo of requestId and action, and that the connection stays open.
func TestErrorCodes(t *testing.T) {
	t.Parallel()
	s := defaultSystem(t)
	u := newUsers("alice", "bob", "carol")
	bob, carol := s.connect(t, u[1]), s.connect(t, u[2])
	ctx := ctxFor(t, time.Minute)
	dmAck, err := bob.SendDirect(ctx, u[0], "x1", "hi alice")
	if err != nil {
		t.Fatalf("bob sends: %v", err)
	}
	dm := dmAck.ConversationID
	other, err := bob.CreateConversation(ctx, "without alice", u[2])
	if err != nil {
		t.Fatalf("create group: %v", err)
	}
	otherAck, err := carol.Send(ctx, other.ConversationID, "c1", "private")
	if err != nil {
		t.Fatalf("carol sends: %v", err)
	}
	missing := "g_01J00000000000000000000000"     // a group that does not exist
	unknownMsg := "01J00000000000000000000000"    // a message id that is in no conversation
	many := func(n int, prefix string) []string { // n distinct user ids
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("%s%d", prefix, i)
		}
		return out
	}

	alice := s.dialRaw(t, u[0])
	cases := []struct {
		name   string
		binary bool
		frame  any // a string is sent as is, anything else as JSON
		code   string
		rid    string // the requestId the error must echo ("" for none)
		action string // the action the error must echo ("" for none)
	}{
		{"binary frame", true, `{"action":"heartbeat","requestId":"b"}`, client.CodeBadRequest, "", ""},
		{"not JSON", false, "hello there", client.CodeBadRequest, "", ""},
		{"JSON array", false, `[{"action":"heartbeat"}]`, client.CodeBadRequest, "", ""},
		{"JSON string", false, `"heartbeat"`, client.CodeBadRequest, "", ""},
		{"truncated JSON", false, `{"action":"send","requestId":"r-trunc"`, client.CodeBadRequest, "", ""},
		{"no action", false, map[string]any{"requestId": "r-noaction"}, client.CodeBadRequest, "r-noaction", ""},
		{"requestId too long", false, map[string]any{"action": "heartbeat", "requestId": strings.Repeat("r", 65)}, client.CodeBadRequest, "", "heartbeat"},
		{"requestId not a string", false, `{"action":"heartbeat","requestId":7}`, client.CodeBadRequest, "", "heartbeat"},
		{"unknown action", false, map[string]any{"action": "fly", "requestId": "r-fly"}, client.CodeUnknownAction, "r-fly", "fly"},
		{"the $disconnect route as an action", false, map[string]any{"action": "$disconnect", "requestId": "r-disc"}, client.CodeUnknownAction, "r-disc", "$disconnect"},
		{"the $connect route as an action", false, map[string]any{"action": "$connect", "requestId": "r-conn"}, client.CodeUnknownAction, "r-conn", "$connect"},
		{"action of the wrong type", false, `{"action":5,"requestId":"r-act5"}`, client.CodeBadRequest, "r-act5", ""},

		{"send without clientMsgId", false, map[string]any{"action": "send", "requestId": "s1", "to": u[1], "body": "x"}, client.CodeBadRequest, "s1", "send"},
		{"send without body", false, map[string]any{"action": "send", "requestId": "s2", "to": u[1], "clientMsgId": "m"}, client.CodeBadRequest, "s2", "send"},
		{"send with an empty body", false, map[string]any{"action": "send", "requestId": "s3", "to": u[1], "clientMsgId": "m", "body": ""}, client.CodeBadRequest, "s3", "send"},
		{"send without a target", false, map[string]any{"action": "send", "requestId": "s4", "clientMsgId": "m", "body": "x"}, client.CodeBadRequest, "s4", "send"},
		{"send with conversationId and to", false, map[string]any{"action": "send", "requestId": "s5", "conversationId": dm, "to": u[1], "clientMsgId": "m", "body": "x"}, client.CodeBadRequest, "s5", "send"},
		{"send to oneself", false, map[string]any{"action": "send", "requestId": "s6", "to": u[0], "clientMsgId": "m", "body": "x"}, client.CodeBadRequest, "s6", "send"},
		{"send to a bad user id", false, map[string]any{"action": "send", "requestId": "s7", "to": "no spaces allowed", "clientMsgId": "m", "body": "x"}, client.CodeBadRequest, "s7", "send"},
		{"send with a long clientMsgId", false, map[string]any{"action": "send", "requestId": "s8", "to": u[1], "clientMsgId": strings.Repeat("m", 65), "body": "x"}, client.CodeBadRequest, "s8", "send"},
		{"send, body of the wrong type", false, `{"action":"send","requestId":"s9","to":"` + u[1] + `","clientMsgId":"m","body":5}`, client.CodeBadRequest, "s9", "send"},
		{"send, not a member", false, map[string]any{"action": "send", "requestId": "s10", "conversationId": other.ConversationID, "clientMsgId": "m", "body": "x"}, client.CodeForbidden, "s10", "send"},
		{"send, no such conversation", false, map[string]any{"action": "send", "requestId": "s11", "conversationId": missing, "clientMsgId": "m", "body": "x"}, client.CodeNotFound, "s11", "send"},
		{"send, body over 16384 bytes", false, map[string]any{"action": "send", "requestId": "s12", "to": u[1], "clientMsgId": "m", "body": strings.Repeat("é", 8193)}, client.CodeTooLarge, "s12", "send"},

		{"typing, not a member", false, map[string]any{"action": "typing", "conversationId": other.ConversationID}, client.CodeForbidden, "", "typing"},
		{"typing, not a member, with requestId", false, map[string]any{"action": "typing", "requestId": "t1", "conversationId": other.ConversationID}, client.CodeForbidden, "t1", "typing"},
		{"typing, no such conversation", false, map[string]any{"action": "typing", "requestId": "t2", "conversationId": missing}, client.CodeNotFound, "t2", "typing"},
		{"typing, bad state", false, map[string]any{"action": "typing", "requestId": "t3", "conversationId": dm, "state": "dancing"}, client.CodeBadRequest, "t3", "typing"},

		{"receipt, no such message", false, map[string]any{"action": "receipt", "requestId": "r1", "conversationId": dm, "messageId": unknownMsg, "status": "read"}, client.CodeNotFound, "r1", "receipt"},
		{"receipt, message of another conversation", false, map[string]any{"action": "receipt", "requestId": "r2", "conversationId": dm, "messageId": otherAck.MessageID, "status": "read"}, client.CodeNotFound, "r2", "receipt"},
		{"receipt, bad status", false, map[string]any{"action": "receipt", "requestId": "r3", "conversationId": dm, "messageId": dmAck.MessageID, "status": "seen"}, client.CodeBadRequest, "r3", "receipt"},
		{"receipt, an id that names no message", false, map[string]any{"action": "receipt", "requestId": "r4", "conversationId": dm, "messageId": "nope", "status": "read"}, client.CodeNotFound, "r4", "receipt"},
		{"receipt, message id over 64 characters", false, map[string]any{"action": "receipt", "requestId": "r4b", "conversationId": dm, "messageId": strings.Repeat("x", 65), "status": "read"}, client.CodeBadRequest, "r4b", "receipt"},
		{"receipt, no message id", false, map[string]any{"action": "receipt", "requestId": "r4c", "conversationId": dm, "status": "read"}, client.CodeBadRequest, "r4c", "receipt"},
		{"receipt, not a member", false, map[string]any{"action": "receipt", "requestId": "r5", "conversationId": other.ConversationID, "messageId": otherAck.MessageID, "status": "read"}, client.CodeForbidden, "r5", "receipt"},
		{"receipt, no such conversation", false, map[string]any{"action": "receipt", "requestId": "r6", "conversationId": missing, "messageId": unknownMsg, "status": "read"}, client.CodeNotFound, "r6", "receipt"},

		{"history, not a member", false, map[string]any{"action": "history", "requestId": "h1", "conversationId": other.ConversationID}, client.CodeForbidden, "h1", "history"},
		{"history, no such conversation", false, map[string]any{"action": "history", "requestId": "h2", "conversationId": missing}, client.CodeNotFound, "h2", "history"},
		{"history, limit 0", false, map[string]any{"action": "history", "requestId": "h3", "conversationId": dm, "limit": 0}, client.CodeBadRequest, "h3", "history"},
		{"history, limit 101", false, map[string]any{"action": "history", "requestId": "h4", "conversationId": dm, "limit": 101}, client.CodeBadRequest, "h4", "history"},
		{"history, bad before", false, map[string]any{"action": "history", "requestId": "h5", "conversationId": dm, "before": "yesterday"}, client.CodeBadRequest, "h5", "history"},
		{"history, no conversationId", false, map[string]any{"action": "history", "requestId": "h6"}, client.CodeBadRequest, "h6", "history"},

		{"createConversation, no members", false, map[string]any{"action": "createConversation", "requestId": "c1", "members": []string{}}, client.CodeBadRequest, "c1", "createConversation"},
		{"createConversation, only oneself", false, map[string]any{"action": "createConversation", "requestId": "c2", "members": []string{u[0]}}, client.CodeBadRequest, "c2", "createConversation"},
		{"createConversation, bad member", false, map[string]any{"action": "createConversation", "requestId": "c3", "members": []string{"bad id!"}}, client.CodeBadRequest, "c3", "createConversation"},
		{"createConversation, 501 members", false, map[string]any{"action": "createConversation", "requestId": "c4", "members": many(500, "m")}, client.CodeTooLarge, "c4", "createConversation"},
		{"createConversation, name over 100 characters", false, map[string]any{"action": "createConversation", "requestId": "c5", "members": []string{u[1], u[2]}, "name": strings.Repeat("n", 101)}, client.CodeTooLarge, "c5", "createConversation"},

		{"addMembers, not a member", false, map[string]any{"action": "addMembers", "requestId": "a1", "conversationId": other.ConversationID, "members": []string{u[0]}}, client.CodeForbidden, "a1", "addMembers"},
		{"addMembers, no such conversation", false, map[string]any{"action": "addMembers", "requestId": "a2", "conversationId": missing, "members": []string{u[1]}}, client.CodeNotFound, "a2", "addMembers"},
		{"addMembers, no members", false, map[string]any{"action": "addMembers", "requestId": "a3", "conversationId": dm, "members": []string{}}, client.CodeBadRequest, "a3", "addMembers"},
		{"addMembers, to a direct conversation", false, map[string]any{"action": "addMembers", "requestId": "a4", "conversationId": dm, "members": []string{u[2]}}, client.CodeBadRequest, "a4", "addMembers"},

		{"leave, not a member", false, map[string]any{"action": "leave", "requestId": "l1", "conversationId": other.ConversationID}, client.CodeForbidden, "l1", "leave"},
		{"leave, no such conversation", false, map[string]any{"action": "leave", "requestId": "l2", "conversationId": missing}, client.CodeNotFound, "l2", "leave"},

		{"presence, no ids", false, map[string]any{"action": "presence", "requestId": "p1", "userIds": []string{}}, client.CodeBadRequest, "p1", "presence"},
		{"presence, 101 ids", false, map[string]any{"action": "presence", "requestId": "p2", "userIds": many(101, "p")}, client.CodeTooLarge, "p2", "presence"},
		{"presence, bad id", false, map[string]any{"action": "presence", "requestId": "p3", "userIds": []string{"not valid"}}, client.CodeBadRequest, "p3", "presence"},
	}
	for _, tc := range cases {
		switch f := tc.frame.(type) {
		case string:
			if tc.binary {
				alice.write(websocket.MessageBinary, []byte(f))
			} else {
				alice.writeText(f)
			}
		case map[string]any:
			alice.send(f)
		}
		got := alice.readUntil("the error for "+tc.name, func(f map[string]any) bool { return f["type"] == "error" })
		rid, _ := got["requestId"].(string)
		action, _ := got["action"].(string)
		msg, _ := got["message"].(string)
		if got["code"] != tc.code || rid != tc.rid || action != tc.action || msg == "" {
			t.Errorf("%s: got %v, want code %q, requestId %q, action %q and a message", tc.name, got, tc.code, tc.rid, tc.action)
		}
		if strings.Contains(strings.ToLower(msg), "dynamodb") || strings.Contains(msg, "127.0.0.1") {
			t.Errorf("%s: the message leaks internals: %q", tc.name, msg)
		}
	}

	// After all these errors the connection is still open and serves.
	alice.send(map[string]any{"action": "heartbeat", "requestId": "still-open"})
	if f := alice.reply("still-open"); f["type"] != "heartbeat" {
		t.Fatalf("after the errors: %v, want a heartbeat", f)
	}
	if ids := s.connectionIDs(t, u[0]); len(ids) != 1 {
		t.Fatalf("alice's connection items after the errors = %v, want her one connection", ids)
	}
	// Nothing was stored by the refused sends: bob's direct conversation holds one message.
	page, err := bob.History(ctx, dm, "", 0)
	if err != nil || len(page.Messages) != 1 {
		t.Fatalf("history after the refused sends = %+v, %v; want bob's one message", page, err)
	}
}

// TestOversizeFrame covers the 32 KiB frame limit: a frame of exactly 32 KiB is read (and
// answered), a larger one closes the connection with 1009 and runs $disconnect.
func TestOversizeFrame(t *testing.T) {
	t.Parallel()
	s := defaultSystem(t)
	u := newUsers("big")
	r := s.dialRaw(t, u[0])

	// Exactly 32768 bytes: within the frame limit, its body over the body limit.
	head := `{"action":"send","requestId":"at-limit","to":"someone","clientMsgId":"m","body":"`
	tail := `"}`
	exact := head + strings.Repeat("x", 32768-len(head)-len(tail)) + tail
	if len(exact) != 32768 {
		t.Fatalf("test frame is %d bytes", len(exact))
	}
	r.writeText(exact)
	if f := r.reply("at-limit"); f["type"] != "error" || f["code"] != client.CodeTooLarge {
		t.Fatalf("frame of 32768 bytes: %v, want a too_large error", f)
	}
	if ids := s.connectionIDs(t, u[0]); len(ids) != 1 {
		t.Fatalf("connection items = %v, want one", ids)
	}

	r.writeText(exact + " ") // 32769 bytes
	ctx, cancel := context.WithTimeout(context.Background(), eventTimeout)
	defer cancel()
	for {
		_, b, err := r.ws.Read(ctx)
		if err == nil {
			t.Logf("frame before the close: %s", b)
			continue
		}
		if got := websocket.CloseStatus(err); got != websocket.StatusMessageTooBig {
			t.Fatalf("after a frame of 32769 bytes: %v (status %d), want a close with 1009", err, got)
		}
		break
	}
	eventually(t, "the connection item deleted by $disconnect", func() bool { return len(s.connectionIDs(t, u[0])) == 0 })
}

// TestRequestIDEcho sends every action with a requestId and checks that each reply echoes
// it and has the fields PROTOCOL.md gives it, and that the events other members get carry
// no requestId.
func TestRequestIDEcho(t *testing.T) {
	t.Parallel()
	s := defaultSystem(t)
	u := newUsers("alice", "bob", "carol")
	alice, bob := s.dialRaw(t, u[0]), s.dialRaw(t, u[1])

	do := func(rid, wantType string, frame map[string]any, keys ...string) map[string]any {
		t.Helper()
		frame["requestId"] = rid
		alice.send(frame)
		f := alice.reply(rid)
		if f["type"] != wantType {
			t.Fatalf("reply to %s: %v, want type %q", rid, f, wantType)
		}
		hasKeys(t, "reply to "+rid, f, keys...)
		return f
	}
	event := func(what, typ string, keys ...string) map[string]any {
		t.Helper()
		f := bob.readUntil(what, func(f map[string]any) bool { return f["type"] == typ })
		if _, ok := f["requestId"]; ok {
			t.Fatalf("%s carries a requestId: %v", what, f)
		}
		hasKeys(t, what, f, keys...)
		return f
	}

	ack := do("q-send", "ack", map[string]any{"action": "send", "to": u[1], "clientMsgId": "e1", "body": "echo"},
		"clientMsgId", "conversationId", "messageId", "createdAt")
	dm, _ := ack["conversationId"].(string)
	msgID, _ := ack["messageId"].(string)
	msg := event("bob's message event", "message", "message")
	hasKeys(t, "the message", msg["message"].(map[string]any), "conversationId", "messageId", "senderId", "body", "createdAt", "clientMsgId")
	do("q-send-conv", "ack", map[string]any{"action": "send", "conversationId": dm, "clientMsgId": "e2", "body": "echo 2"})
	conv := do("q-create", "conversation", map[string]any{"action": "createConversation", "members": []string{u[1]}, "name": "echo"}, "conversation")
	c := conv["conversation"].(map[string]any)
	hasKeys(t, "the conversation", c, "conversationId", "kind", "name", "members", "createdBy", "createdAt")
	gid, _ := c["conversationId"].(string)
	event("bob's conversation event", "conversation", "conversation")
	do("q-add", "conversation", map[string]any{"action": "addMembers", "conversationId": gid, "members": []string{u[2]}}, "conversation")
	bob.send(map[string]any{"action": "receipt", "requestId": "bob-r", "conversationId": dm, "messageId": msgID, "status": "read"})
	if f := bob.reply("bob-r"); f["type"] != "receipt" {
		t.Fatalf("bob's receipt: %v", f)
	}
	r := alice.readUntil("bob's receipt", func(f map[string]any) bool { return f["type"] == "receipt" })
	if _, ok := r["requestId"]; ok {
		t.Fatalf("alice's receipt event carries a requestId: %v", r)
	}
	hasKeys(t, "the receipt event", r, "conversationId", "userId", "status", "upTo", "at")
	do("q-receipt", "receipt", map[string]any{"action": "receipt", "conversationId": dm, "messageId": msgID, "status": "read"},
		"conversationId", "userId", "status", "upTo", "at")
	h := do("q-history", "history", map[string]any{"action": "history", "conversationId": dm, "limit": 1}, "conversationId", "messages", "next")
	if ms, _ := h["messages"].([]any); len(ms) != 1 {
		t.Fatalf("history page of 1 = %v", h)
	} else {
		hasKeys(t, "a history message", ms[0].(map[string]any), "conversationId", "messageId", "senderId", "body", "createdAt", "status")
	}
	do("q-sync", "synced", map[string]any{"action": "sync"}, "count", "more")
	list := do("q-list", "conversations", map[string]any{"action": "conversations"}, "conversations")
	convs, _ := list["conversations"].([]any)
	if len(convs) != 2 {
		t.Fatalf("conversations = %v, want 2", list)
	}
	for _, c := range convs {
		hasKeys(t, "a conversation summary", c.(map[string]any), "conversationId", "kind", "memberCount", "lastMessage", "unread")
	}
	p := do("q-presence", "presence", map[string]any{"action": "presence", "userIds": []string{u[1]}}, "users")
	if users, _ := p["users"].([]any); len(users) != 1 {
		t.Fatalf("presence = %v", p)
	} else {
		hasKeys(t, "a presence", users[0].(map[string]any), "userId", "online", "lastSeen")
	}
	do("q-heartbeat", "heartbeat", map[string]any{"action": "heartbeat"}, "at")
	do("q-leave", "conversation", map[string]any{"action": "leave", "conversationId": gid}, "conversation")
	do("q-error", "error", map[string]any{"action": "nope"}, "action", "code", "message")
	// Typing has no reply even with a requestId; bob's event carries none.
	alice.send(map[string]any{"action": "typing", "requestId": "q-typing", "conversationId": dm})
	event("bob's typing event", "typing", "conversationId", "userId", "state")
	do("q-after-typing", "heartbeat", map[string]any{"action": "heartbeat"})
	do(strings.Repeat("L", 64), "heartbeat", map[string]any{"action": "heartbeat"}) // the longest requestId
}

// hasKeys fails the test unless frame has every key (with any value, null included).
func hasKeys(t testing.TB, what string, frame map[string]any, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if _, ok := frame[k]; !ok {
			t.Fatalf("%s has no %q: %v", what, k, frame)
		}
	}
}

// TestRateLimited covers rate_limited: a user over the limit gets the error, the
// connection stays open, and a later frame succeeds. The system runs with a limit of 1
// frame per second and a burst of 5.
func TestRateLimited(t *testing.T) {
	t.Parallel()
	s := tunedSystem(t)
	u := newUsers("chatty")
	r := s.dialRaw(t, u[0])

	const n = 12
	for i := range n {
		r.send(map[string]any{"action": "heartbeat", "requestId": fmt.Sprintf("h%d", i)})
	}
	start := time.Now()
	ok, limited := 0, 0
	for i := range n {
		f := r.reply(fmt.Sprintf("h%d", i))
		switch {
		case f["type"] == "heartbeat":
			ok++
		case f["type"] == "error" && f["code"] == client.CodeRateLimited && f["action"] == "heartbeat":
			limited++
		default:
			t.Fatalf("reply %d: %v", i, f)
		}
	}
	// At most the burst plus what refilled while the frames were handled.
	if limited == 0 || ok > tunedBurst+int(time.Since(start).Seconds()*tunedRate)+1 {
		t.Fatalf("%d answered, %d rate limited; want the burst of %d answered and the rest limited", ok, limited, tunedBurst)
	}
	// The connection stays open, and once the bucket refills a frame goes through.
	deadline := time.Now().Add(eventTimeout)
	for i := 0; ; i++ {
		rid := fmt.Sprintf("retry%d", i)
		r.send(map[string]any{"action": "heartbeat", "requestId": rid})
		f := r.reply(rid)
		if f["type"] == "heartbeat" {
			break
		}
		if f["code"] != client.CodeRateLimited || time.Now().After(deadline) {
			t.Fatalf("retry: %v", f)
		}
		time.Sleep(time.Duration(float64(time.Second) / tunedRate / 4)) // back off, as a client would
	}
}

// The tuned system: a low rate limit and a fast TTL sweeper.
const (
	tunedRate  = 1.0
	tunedBurst = 5
)

func tunedSystem(t *testing.T) *system {
	return shared(t, "tuned", func() local.Config {
		cfg := local.Config{TTLInterval: 200 * time.Millisecond}
		cfg.Service.RateLimit = tunedRate
		cfg.Service.RateBurst = tunedBurst
		return cfg
	})
}
