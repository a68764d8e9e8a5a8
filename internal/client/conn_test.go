package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// fakeServer speaks a few protocol frames, enough to exercise the client. It is a unit-test
// fake; the real server is tested end to end elsewhere.
type fakeServer struct {
	t  *testing.T
	hs *httptest.Server

	handshakes  atomic.Int32
	failFirst   int32 // answer 503 to this many handshakes first
	heartbeats  chan struct{}
	keepalives  chan time.Time
	mu          sync.Mutex
	receipts    []map[string]any
	pendingSync []map[string]any // timeline items sync still has to send (see syncFrame)
	syncPage    int
	syncUpTo    bool           // synced frames carry lastMessageIds, as Parley's server sends
	liveInSync  map[string]any // an item pushed live in the middle of the first sync page
	lastToken   string
	push        chan map[string]any // frames to push unsolicited to the open connection
}

// syncFrame turns a timeline item of pendingSync or liveInSync into the frame sync sends and
// the id that item has in the timeline: a map with a "type" is a change frame, sent as it
// is; any other map is a message.
func syncFrame(item map[string]any) (map[string]any, string) {
	if _, ok := item["type"]; ok {
		return item, item["eventId"].(string)
	}
	return map[string]any{"type": "message", "message": item}, item["messageId"].(string)
}

func newFakeServer(t *testing.T) *fakeServer {
	t.Helper()
	f := &fakeServer{t: t, heartbeats: make(chan struct{}, 100), keepalives: make(chan time.Time, 100), syncPage: 1000,
		push: make(chan map[string]any, 100)}
	f.hs = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.hs.Close)
	return f
}

func (f *fakeServer) url() string { return "ws" + strings.TrimPrefix(f.hs.URL, "http") + "/ws" }

func (f *fakeServer) serve(w http.ResponseWriter, r *http.Request) {
	if f.handshakes.Add(1) <= f.failFirst {
		http.Error(w, "not yet", http.StatusServiceUnavailable)
		return
	}
	tok := r.URL.Query().Get("token")
	if h := r.Header.Get("Authorization"); h != "" {
		tok = strings.TrimPrefix(h, "Bearer ")
	}
	switch tok {
	case "":
		http.Error(w, "Unauthorized", http.StatusUnauthorized)
		return
	case "bad":
		http.Error(w, "Forbidden", http.StatusForbidden)
		return
	}
	f.mu.Lock()
	f.lastToken = tok
	f.mu.Unlock()
	ws, err := websocket.Accept(w, r, nil)
	if err != nil {
		f.t.Errorf("accept: %v", err)
		return
	}
	defer ws.CloseNow()
	ctx := r.Context()
	var wmu sync.Mutex
	reply := func(v map[string]any) {
		data, _ := json.Marshal(v)
		wmu.Lock()
		defer wmu.Unlock()
		_ = ws.Write(ctx, websocket.MessageText, data)
	}
	go func() {
		for {
			select {
			case v := <-f.push:
				reply(v)
			case <-ctx.Done():
				return
			}
		}
	}()
	for {
		_, data, err := ws.Read(ctx)
		if err != nil {
			return
		}
		var req map[string]any
		if err := json.Unmarshal(data, &req); err != nil {
			reply(map[string]any{"type": "error", "code": "bad_request", "message": "not JSON"})
			continue
		}
		rid, _ := req["requestId"].(string)
		switch req["action"] {
		case "send":
			// Answer sends concurrently and in a scrambled order, to test correlation.
			go func() {
				cmid, _ := req["clientMsgId"].(string)
				time.Sleep(time.Duration(len(cmid)%3) * time.Millisecond)
				if req["conversationId"] == "secret" {
					reply(map[string]any{"type": "error", "requestId": rid, "action": "send", "code": "forbidden", "message": "not a member"})
					return
				}
				msg := map[string]any{"conversationId": req["conversationId"], "messageId": "M" + cmid, "senderId": tok, "body": req["body"], "createdAt": 1700000000000, "clientMsgId": cmid}
				if to, ok := req["replyTo"].(string); ok {
					msg["replyTo"] = map[string]any{"messageId": to, "senderId": "bob", "preview": "quoted"}
				}
				reply(map[string]any{"type": "ack", "requestId": rid, "clientMsgId": cmid, "conversationId": req["conversationId"], "messageId": "M" + cmid, "createdAt": 1700000000000})
				reply(map[string]any{"type": "message", "message": msg})
			}()
		case "typing":
			reply(map[string]any{"type": "error", "action": "typing", "code": "forbidden", "message": "not a member"})
		case "receipt":
			f.mu.Lock()
			f.receipts = append(f.receipts, req)
			f.mu.Unlock()
			reply(map[string]any{"type": "receipt", "requestId": rid, "conversationId": req["conversationId"], "userId": tok, "status": req["status"], "upTo": req["messageId"], "at": 1700000000001})
		case "sync":
			f.mu.Lock()
			n := min(f.syncPage, len(f.pendingSync))
			page := f.pendingSync[:n]
			f.pendingSync = f.pendingSync[n:]
			more := len(f.pendingSync) > 0
			live := f.liveInSync
			f.liveInSync = nil
			upTo := map[string]any{}
			f.mu.Unlock()
			for i, item := range page {
				frame, id := syncFrame(item)
				reply(frame)
				upTo[item["conversationId"].(string)] = id
				if i == 0 && live != nil {
					frame, _ := syncFrame(live)
					reply(frame)
				}
			}
			synced := map[string]any{"type": "synced", "requestId": rid, "count": n, "more": more}
			if f.syncUpTo && n > 0 {
				synced["lastMessageIds"] = upTo
			}
			reply(synced)
		case "history":
			if req["conversationId"] == "slow" {
				continue // never answers
			}
			if req["conversationId"] == "v11" {
				reply(map[string]any{"type": "history", "requestId": rid, "conversationId": "v11", "messages": []any{
					map[string]any{"conversationId": "v11", "messageId": "M3", "senderId": "bob", "body": "sure", "createdAt": 3,
						"replyTo":   map[string]any{"messageId": "M1", "senderId": tok, "preview": "lunch?"},
						"reactions": []any{map[string]any{"emoji": "👍", "count": 2, "mine": true}, map[string]any{"emoji": "🎉", "count": 1, "mine": false}},
						"editedAt":  4, "lastEventId": "E5"},
					map[string]any{"conversationId": "v11", "messageId": "M2", "senderId": tok, "createdAt": 2, "deleted": true, "lastEventId": "E4"},
				}})
				continue
			}
			reply(map[string]any{"type": "history", "requestId": rid, "conversationId": req["conversationId"],
				"messages": []any{map[string]any{"conversationId": req["conversationId"], "messageId": "M2", "senderId": tok, "body": "b", "createdAt": 2, "status": "read"}},
				"next":     "M2"})
		case "conversations":
			reply(map[string]any{"type": "conversations", "requestId": rid, "conversations": []any{
				map[string]any{"conversationId": "c1", "kind": "group", "name": "Trip", "memberCount": 3, "lastMessage": nil, "unread": 4,
					"muted": true, "mutedUntil": 1767225600000}}})
		case "createConversation", "addMembers", "leave":
			reply(map[string]any{"type": "conversation", "requestId": rid, "conversation": map[string]any{
				"conversationId": "c1", "kind": "group", "name": req["name"], "members": req["members"], "createdBy": tok, "createdAt": 5}})
		case "edit":
			if req["messageId"] == "gone" {
				reply(map[string]any{"type": "error", "requestId": rid, "action": "edit", "code": "not_found", "message": "no such message"})
				continue
			}
			reply(map[string]any{"type": "edited", "requestId": rid, "conversationId": req["conversationId"], "messageId": req["messageId"],
				"eventId": "E1", "body": req["body"], "editedAt": 1700000000002})
		case "delete":
			reply(map[string]any{"type": "deleted", "requestId": rid, "conversationId": req["conversationId"], "messageId": req["messageId"],
				"eventId": "E2", "at": 1700000000003})
		case "react":
			r := map[string]any{"type": "reaction", "requestId": rid, "conversationId": req["conversationId"], "messageId": req["messageId"],
				"userId": tok, "emoji": req["emoji"], "state": req["state"], "at": 1700000000004}
			if req["messageId"] != "noop" { // a react that changes nothing has no eventId
				r["eventId"] = "E3"
			}
			reply(r)
		case "mute", "unmute":
			r := map[string]any{"type": "muted", "requestId": rid, "conversationId": req["conversationId"], "muted": req["action"] == "mute"}
			if until, ok := req["until"]; ok {
				r["until"] = until
			}
			reply(r)
		case "presence":
			reply(map[string]any{"type": "presence", "requestId": rid, "users": []any{map[string]any{"userId": "bob", "online": true, "lastSeen": 7}}})
		case "keepalive": // one-way: no reply
			select {
			case f.keepalives <- time.Now():
			default:
			}
		case "heartbeat":
			select {
			case f.heartbeats <- struct{}{}:
			default:
			}
			reply(map[string]any{"type": "heartbeat", "requestId": rid, "at": 1700000000000})
		case "kick":
			ws.Close(websocket.StatusPolicyViolation, "kicked")
			return
		default:
			reply(map[string]any{"type": "error", "requestId": rid, "action": req["action"], "code": "unknown_action", "message": "no such route"})
		}
	}
}

func dialFake(t *testing.T, f *fakeServer, opts *Options) *Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Dial(ctx, f.url(), "alice", opts)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// nextEvent waits for the next event of type typ, skipping others, with a deadline.
func nextEvent(t *testing.T, c *Conn, typ string) Event {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case ev, ok := <-c.Events():
			if !ok {
				t.Fatalf("events closed while waiting for %s: %v", typ, c.Err())
			}
			if ev.Type == typ {
				return ev
			}
		case <-deadline:
			t.Fatalf("no %s event within 5s", typ)
		}
	}
}

func TestDialAuthentication(t *testing.T) {
	t.Parallel()
	f := newFakeServer(t)
	tests := []struct {
		name     string
		token    string
		header   bool
		wantCode int
	}{
		{"query param", "alice", false, 0},
		{"header", "alice", true, 0},
		{"bad token", "bad", false, 403},
		{"bad token in header", "bad", true, 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Dial(testCtx(t), f.url(), tt.token, &Options{TokenInHeader: tt.header})
			if tt.wantCode == 0 {
				if err != nil {
					t.Fatalf("dial: %v", err)
				}
				c.Close()
				return
			}
			var he *HandshakeError
			if !errors.As(err, &he) || he.StatusCode != tt.wantCode {
				t.Fatalf("err = %v, want HandshakeError with HTTP %d", err, tt.wantCode)
			}
		})
	}
}

func TestDialRejectsBadInput(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ url, token, want string }{
		{"http://127.0.0.1:1/ws", "x", "scheme must be ws or wss"},
		{"ws://127.0.0.1:1/ws", "", "empty token"},
		{"ws://[::1", "x", "parse url"},
	} {
		_, err := Dial(testCtx(t), tt.url, tt.token, nil)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Dial(%q, %q) = %v, want error containing %q", tt.url, tt.token, err, tt.want)
		}
	}
}

func TestSendAckAndMessageEvent(t *testing.T) {
	t.Parallel()
	c := dialFake(t, newFakeServer(t), nil)
	before := time.Now()
	ack, err := c.Send(testCtx(t), "c1", "m1", "hello")
	if err != nil {
		t.Fatalf("send: %v", err)
	}
	if ack.MessageID != "Mm1" || ack.ClientMsgID != "m1" || ack.ConversationID != "c1" || ack.CreatedAt != 1700000000000 {
		t.Fatalf("ack = %+v", ack)
	}
	ev := nextEvent(t, c, TypeMessage)
	if ev.Message.Body != "hello" || ev.Message.SenderID != "alice" || ev.Message.MessageID != "Mm1" {
		t.Fatalf("message = %+v", ev.Message)
	}
	if ev.Received.Before(before) {
		t.Fatalf("Received %v is before the send at %v", ev.Received, before)
	}
}

func TestErrorReplies(t *testing.T) {
	t.Parallel()
	c := dialFake(t, newFakeServer(t), nil)
	_, err := c.Send(testCtx(t), "secret", "m1", "hello")
	var pe *Error
	if !errors.As(err, &pe) || pe.Code != CodeForbidden || pe.Action != "send" || pe.Message != "not a member" {
		t.Fatalf("err = %#v, want forbidden *Error", err)
	}
	if ErrorCode(err) != CodeForbidden {
		t.Fatalf("ErrorCode = %q", ErrorCode(err))
	}
	// An error for a frame without requestId arrives as an event; the connection stays open.
	if err := c.Typing("secret", TypingStart); err != nil {
		t.Fatalf("typing: %v", err)
	}
	ev := nextEvent(t, c, TypeError)
	if ev.Err.Code != CodeForbidden || ev.Err.Action != "typing" {
		t.Fatalf("error event = %+v", ev.Err)
	}
	if _, err := c.Heartbeat(testCtx(t)); err != nil {
		t.Fatalf("heartbeat after errors: %v", err)
	}
	if err := c.Typing("c1", "dancing"); err == nil {
		t.Fatal("typing with a bad state: no error")
	}
	if _, err := c.Receipt(testCtx(t), "c1", "M1", "seen"); err == nil {
		t.Fatal("receipt with a bad status: no error")
	}
	if _, err := c.Send(testCtx(t), "", "m", "x"); err == nil {
		t.Fatal("send without conversation: no error")
	}
}

func TestConcurrentRequestsAreCorrelated(t *testing.T) {
	t.Parallel()
	c := dialFake(t, newFakeServer(t), nil)
	ctx := testCtx(t)
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmid := fmt.Sprintf("m%d", i)
			ack, err := c.Send(ctx, "c1", cmid, "x")
			if err != nil {
				errs <- err
				return
			}
			if ack.ClientMsgID != cmid || ack.MessageID != "M"+cmid {
				errs <- fmt.Errorf("send %s got ack %+v", cmid, ack)
			}
		}()
	}
	// Drain the echoed message events so the reader never waits.
	go func() {
		for range c.Events() {
		}
	}()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestActions(t *testing.T) {
	t.Parallel()
	c := dialFake(t, newFakeServer(t), nil)
	ctx := testCtx(t)
	page, err := c.History(ctx, "c1", "M9", 10)
	if err != nil || len(page.Messages) != 1 || page.Next != "M2" || page.Messages[0].Status != StatusRead {
		t.Fatalf("history = %+v, %v", page, err)
	}
	convs, err := c.Conversations(ctx)
	if err != nil || len(convs) != 1 || convs[0].Unread != 4 || convs[0].LastMessage != nil || convs[0].Name != "Trip" {
		t.Fatalf("conversations = %+v, %v", convs, err)
	}
	conv, err := c.CreateConversation(ctx, "Trip", "bob", "carol")
	if err != nil || conv.Name != "Trip" || len(conv.Members) != 2 || conv.CreatedBy != "alice" {
		t.Fatalf("createConversation = %+v, %v", conv, err)
	}
	if _, err := c.AddMembers(ctx, "c1", "dave"); err != nil {
		t.Fatalf("addMembers: %v", err)
	}
	if _, err := c.Leave(ctx, "c1"); err != nil {
		t.Fatalf("leave: %v", err)
	}
	users, err := c.Presence(ctx, "bob")
	if err != nil || len(users) != 1 || !users[0].Online || users[0].LastSeen != 7 {
		t.Fatalf("presence = %+v, %v", users, err)
	}
	r, err := c.Receipt(ctx, "c1", "M5", StatusRead)
	if err != nil || r.UpTo != "M5" || r.UserID != "alice" || r.Status != StatusRead {
		t.Fatalf("receipt = %+v, %v", r, err)
	}
	at, err := c.Heartbeat(ctx)
	if err != nil || at.UnixMilli() != 1700000000000 {
		t.Fatalf("heartbeat = %v, %v", at, err)
	}
}

func TestRequestTimeoutLeavesConnectionUsable(t *testing.T) {
	t.Parallel()
	c := dialFake(t, newFakeServer(t), nil)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := c.History(ctx, "slow", "", 0)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
	if _, err := c.Heartbeat(testCtx(t)); err != nil {
		t.Fatalf("heartbeat after a timed-out request: %v", err)
	}
}

func TestHeartbeatLoop(t *testing.T) {
	t.Parallel()
	f := newFakeServer(t)
	dialFake(t, f, &Options{HeartbeatInterval: 10 * time.Millisecond})
	for i := range 3 {
		select {
		case <-f.heartbeats:
		case <-time.After(5 * time.Second):
			t.Fatalf("heartbeat %d did not arrive", i+1)
		}
	}
}

// An idle connection sends a keepalive every KeepaliveInterval; one that sends other
// frames meanwhile sends none; by default no heartbeat is sent.
func TestKeepaliveLoop(t *testing.T) {
	t.Parallel()
	f := newFakeServer(t)
	const every = 200 * time.Millisecond
	c := dialFake(t, f, &Options{KeepaliveInterval: every})
	for i := range 2 {
		select {
		case <-f.keepalives:
		case <-time.After(5 * time.Second):
			t.Fatalf("keepalive %d did not arrive", i+1)
		}
	}
	// Busy: a frame every every/4 for 3 intervals; no keepalive may come.
	for len(f.keepalives) > 0 {
		<-f.keepalives
	}
	busyUntil := time.Now().Add(3 * every)
	for time.Now().Before(busyUntil) {
		if _, err := c.Presence(testCtx(t), "bob"); err != nil {
			t.Fatal(err)
		}
		time.Sleep(every / 4)
	}
	if n := len(f.keepalives); n != 0 {
		t.Errorf("%d keepalives while frames were being sent, want 0", n)
	}
	if n := len(f.heartbeats); n != 0 {
		t.Errorf("%d heartbeats by default, want 0", n)
	}
}

func TestServerCloseEndsConnection(t *testing.T) {
	t.Parallel()
	c := dialFake(t, newFakeServer(t), nil)
	_, err := c.request(testCtx(t), "kick", TypeHeartbeat, map[string]any{})
	if !errors.Is(err, ErrClosed) {
		t.Fatalf("request on a kicked connection: %v, want ErrClosed", err)
	}
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("Done not closed")
	}
	if err := c.Err(); !errors.Is(err, ErrClosed) || !strings.Contains(err.Error(), "1008") {
		t.Fatalf("Err = %v, want ErrClosed with status 1008", err)
	}
	if _, ok := <-c.Events(); ok {
		t.Fatal("Events still open")
	}
	if _, err := c.Send(testCtx(t), "c1", "m", "x"); !errors.Is(err, ErrClosed) {
		t.Fatalf("send after close: %v", err)
	}
}

func TestSyncAllSendsReceiptsUntilNoMore(t *testing.T) {
	t.Parallel()
	f := newFakeServer(t)
	for i := range 5 {
		conv := "A"
		if i%2 == 1 {
			conv = "B"
		}
		f.pendingSync = append(f.pendingSync, map[string]any{"conversationId": conv, "messageId": fmt.Sprintf("M%d", i), "senderId": "bob", "body": "x", "createdAt": i})
	}
	f.syncPage = 3
	c := dialFake(t, f, nil)
	got := make(chan string, 10)
	go func() {
		for ev := range c.Events() {
			if ev.Type == TypeMessage {
				got <- ev.Message.MessageID
			}
		}
	}()
	n, err := c.SyncAll(testCtx(t))
	if err != nil || n != 5 {
		t.Fatalf("SyncAll = %d, %v; want 5", n, err)
	}
	for range 5 {
		select {
		case <-got:
		case <-time.After(5 * time.Second):
			t.Fatal("a synced message did not reach Events")
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	// Round 1 had M0,M1,M2 (A up to M2, B up to M1); round 2 had M3,M4 (B up to M3, A up to M4).
	want := map[string]bool{"A/M2": true, "B/M1": true, "B/M3": true, "A/M4": true}
	if len(f.receipts) != len(want) {
		t.Fatalf("receipts = %v, want %v", f.receipts, want)
	}
	for _, r := range f.receipts {
		key := fmt.Sprint(r["conversationId"], "/", r["messageId"])
		if !want[key] || r["status"] != StatusDelivered {
			t.Errorf("unexpected receipt %v", r)
		}
	}
}

func TestReconnect(t *testing.T) {
	t.Parallel()
	f := newFakeServer(t)
	f.failFirst = 2
	tokens := 0
	c, err := Reconnect(testCtx(t), f.url(), func(context.Context) (string, error) {
		tokens++
		return fmt.Sprintf("alice%d", tokens), nil
	}, nil, 10*time.Second)
	if err != nil {
		t.Fatalf("reconnect: %v", err)
	}
	defer c.Close()
	if got := f.handshakes.Load(); got != 3 {
		t.Fatalf("handshakes = %d, want 3", got)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.lastToken != "alice3" {
		t.Fatalf("token used = %q, want a fresh one per attempt", f.lastToken)
	}
}

func TestReconnectDoesNotRetryForbidden(t *testing.T) {
	t.Parallel()
	f := newFakeServer(t)
	_, err := Reconnect(testCtx(t), f.url(), func(context.Context) (string, error) { return "bad", nil }, nil, 10*time.Second)
	var he *HandshakeError
	if !errors.As(err, &he) || he.StatusCode != 403 {
		t.Fatalf("err = %v, want 403 HandshakeError", err)
	}
	if got := f.handshakes.Load(); got != 1 {
		t.Fatalf("handshakes = %d, want 1", got)
	}
}

// TestSyncAllAcknowledgesOnlyReplayedWhileMore: a live message that arrives while sync
// still has older messages of its conversation to replay must not be acknowledged before
// them, or the server would skip them; it is acknowledged after the last round.
func TestSyncAllAcknowledgesOnlyReplayedWhileMore(t *testing.T) {
	t.Parallel()
	f := newFakeServer(t)
	msg := func(conv, id string) map[string]any {
		return map[string]any{"conversationId": conv, "messageId": id, "senderId": "bob", "body": "x", "createdAt": 1}
	}
	f.pendingSync = []map[string]any{msg("A", "M1"), msg("B", "M2"), msg("B", "M3"), msg("A", "M4")}
	f.syncPage = 2
	f.syncUpTo = true
	f.liveInSync = msg("B", "M9") // newer than B/M3, which round 2 has still to replay
	c := dialFake(t, f, nil)
	go func() {
		for range c.Events() {
		}
	}()
	if n, err := c.SyncAll(testCtx(t)); err != nil || n != 4 {
		t.Fatalf("SyncAll = %d, %v; want 4", n, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var got []string
	for _, r := range f.receipts {
		got = append(got, fmt.Sprint(r["conversationId"], "/", r["messageId"]))
	}
	sort.Strings(got[:2]) // within a round the order is a map's
	sort.Strings(got[2:])
	want := []string{"A/M1", "B/M2", "A/M4", "B/M9"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("receipts %v, want %v (round 1 acknowledges only what it replayed)", got, want)
	}
}
