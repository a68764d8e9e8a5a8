package local_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/parleychat/parley/internal/local"
)

func TestLocalEndToEnd(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	m := local.New(local.Config{Addr: "127.0.0.1:0", JWTSecret: []byte("test-secret-test-secret-test-secret")})
	if err := m.Start(ctx); err != nil {
		m.Close()
		t.Fatalf("start: %v", err)
	}
	defer func() {
		if err := m.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	}()

	// Without a token: 401, as on API Gateway.
	if _, resp, err := websocket.Dial(ctx, m.WebSocketURL(), nil); err == nil || resp == nil || resp.StatusCode != 401 {
		t.Fatalf("dial without token: %v %v, want 401", resp, err)
	}

	dial := func(user string) *websocket.Conn { return dialRaw(ctx, t, m, user) }
	send := func(c *websocket.Conn, v any) { t.Helper(); sendRaw(ctx, t, c, v) }
	next := func(c *websocket.Conn, typ string) map[string]any { t.Helper(); return nextRaw(ctx, t, c, typ) }

	alice, bob := dial("alice"), dial("bob")
	send(alice, map[string]any{"action": "heartbeat"})
	next(alice, "heartbeat")

	// A direct message reaches bob through the Messages stream and the fan-out mapping.
	send(alice, map[string]any{"action": "send", "to": "bob", "clientMsgId": "c1", "body": "hi bob", "requestId": "r1"})
	ack := next(alice, "ack")
	msg := next(bob, "message")["message"].(map[string]any)
	if msg["body"] != "hi bob" || msg["senderId"] != "alice" || msg["messageId"] != ack["messageId"] {
		t.Fatalf("bob got %v, ack %v", msg, ack)
	}
}

// dialRaw opens a raw WebSocket of user on m with a token from /local/token.
func dialRaw(ctx context.Context, t *testing.T, m *local.Main, user string) *websocket.Conn {
	t.Helper()
	resp, err := http.Get("http://" + m.Addr() + "/local/token?user=" + url.QueryEscape(user))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct{ Token, User string }
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.Token == "" || tok.User != user {
		t.Fatalf("token: %+v %v", tok, err)
	}
	c, _, err := websocket.Dial(ctx, m.WebSocketURL()+"?token="+url.QueryEscape(tok.Token), nil)
	if err != nil {
		t.Fatalf("dial %s: %v", user, err)
	}
	c.SetReadLimit(1 << 20)
	t.Cleanup(func() { _ = c.CloseNow() })
	return c
}

// sendRaw writes v as one JSON text frame.
func sendRaw(ctx context.Context, t *testing.T, c *websocket.Conn, v any) {
	t.Helper()
	b, _ := json.Marshal(v)
	if err := c.Write(ctx, websocket.MessageText, b); err != nil {
		t.Fatal(err)
	}
}

// nextRaw reads frames until one of the given type arrives.
func nextRaw(ctx context.Context, t *testing.T, c *websocket.Conn, typ string) map[string]any {
	t.Helper()
	for {
		_, b, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("waiting for %s: %v", typ, err)
		}
		var f map[string]any
		if err := json.Unmarshal(b, &f); err != nil {
			t.Fatalf("frame %q: %v", b, err)
		}
		if f["type"] == typ {
			return f
		}
	}
}
