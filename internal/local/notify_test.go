package local_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/parleychat/parley/internal/local"
	"github.com/parleychat/parley/internal/notify"
	"github.com/parleychat/parley/internal/schema"
)

// TestNotifyEnv: the notifier settings reach the functions as the environment variables
// internal/config reads (in process and under --lambda-rie alike).
func TestNotifyEnv(t *testing.T) {
	off := false
	for _, tt := range []struct {
		name string
		wc   local.WireConfig
		want map[string]string // "" means absent
	}{
		{"none", local.WireConfig{}, map[string]string{"NOTIFY_URL": "", "NOTIFY_LOG": "", "NOTIFY_PREVIEW": "", "NOTIFY_BUS": ""}},
		{"log", local.WireConfig{NotifyLog: true}, map[string]string{"NOTIFY_URL": "", "NOTIFY_LOG": "true", "NOTIFY_PREVIEW": ""}},
		{"webhook without previews", local.WireConfig{NotifyURL: "http://127.0.0.1:9000/hook", NotifyPreview: &off},
			map[string]string{"NOTIFY_URL": "http://127.0.0.1:9000/hook", "NOTIFY_LOG": "", "NOTIFY_PREVIEW": "false"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			env := tt.wc.Env()
			for k, want := range tt.want {
				if got, ok := env[k]; got != want || ok != (want != "") {
					t.Errorf("%s = %q (set %v), want %q", k, got, ok, want)
				}
			}
		})
	}
}

// TestWireAppNotifyConfig: WireApp builds the notifier from that environment, and a bad
// setting fails it with the variable's name (building needs no running DynamoDB).
func TestWireAppNotifyConfig(t *testing.T) {
	base := local.WireConfig{
		DynamoDBEndpoint:   "http://127.0.0.1:9",
		ManagementEndpoint: "http://127.0.0.1:9",
		Tables:             map[string]string{schema.MessagesID: "m", schema.ConversationsID: "c", schema.ConnectionsID: "n"},
		JWTSecret:          []byte("0123456789abcdef0123456789abcdef"),
	}
	for _, tt := range []struct {
		name    string
		mutate  func(*local.WireConfig)
		wantErr string
	}{
		{"log", func(wc *local.WireConfig) { wc.NotifyLog = true }, ""},
		{"webhook", func(wc *local.WireConfig) { wc.NotifyURL = "http://127.0.0.1:9/hook" }, ""},
		{"bad webhook", func(wc *local.WireConfig) { wc.NotifyURL = "127.0.0.1:9" }, "NOTIFY_URL"},
		{"webhook and log", func(wc *local.WireConfig) { wc.NotifyURL = "http://127.0.0.1:9/hook"; wc.NotifyLog = true }, "only one"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			wc := base
			tt.mutate(&wc)
			h, err := local.WireApp(context.Background(), wc)
			if err == nil && h.Close != nil {
				h.Close()
			}
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("WireApp: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("WireApp = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

// TestNotifyWebhookEndToEnd: with NotifyURL, a message to a member with no open
// connection is POSTed to the webhook as the notify.Document; a member who is connected
// gets the message live and no notification.
func TestNotifyWebhookEndToEnd(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var (
		mu   sync.Mutex
		docs []notify.Document
		got  = make(chan struct{}, 16)
	)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var d notify.Document
		if err := json.Unmarshal(b, &d); err != nil || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("webhook got %q (%s): %v", b, r.Header.Get("Content-Type"), err)
		}
		mu.Lock()
		docs = append(docs, d)
		mu.Unlock()
		got <- struct{}{}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer hook.Close()

	m := local.New(local.Config{Addr: "127.0.0.1:0", JWTSecret: []byte("test-secret-test-secret-test-secret"), NotifyURL: hook.URL + "/notify"})
	if err := m.Start(ctx); err != nil {
		m.Close()
		t.Fatalf("start: %v", err)
	}
	defer func() {
		if err := m.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	}()
	dial := func(user string) *websocket.Conn { return dialRaw(ctx, t, m, user) }
	send := func(c *websocket.Conn, v any) { t.Helper(); sendRaw(ctx, t, c, v) }
	next := func(c *websocket.Conn, typ string) map[string]any { t.Helper(); return nextRaw(ctx, t, c, typ) }

	// bob has never connected: he is offline.
	alice := dial("alice")
	send(alice, map[string]any{"action": "send", "to": "bob", "clientMsgId": "c1", "body": "hi bob", "requestId": "r1"})
	ack := next(alice, "ack")
	select {
	case <-got:
	case <-ctx.Done():
		t.Fatal("no notification for offline bob")
	}
	mu.Lock()
	d := docs[0]
	mu.Unlock()
	if d.SchemaVersion != notify.SchemaVersion || d.MessageID != ack["messageId"] || d.SenderID != "alice" ||
		d.ConversationKind != "dm" || d.Preview != "hi bob" || len(d.Recipients) != 1 || d.Recipients[0] != "bob" {
		t.Errorf("notification %+v, want bob told of message %v with its preview", d, ack["messageId"])
	}

	// bob online: the message reaches him live, and nobody is notified.
	bob := dial("bob")
	send(bob, map[string]any{"action": "heartbeat"})
	next(bob, "heartbeat")
	send(alice, map[string]any{"action": "send", "to": "bob", "clientMsgId": "c2", "body": "there?", "requestId": "r2"})
	ack2 := next(alice, "ack")
	for {
		msg := next(bob, "message")["message"].(map[string]any)
		if msg["messageId"] == ack2["messageId"] {
			break
		}
	}
	time.Sleep(1500 * time.Millisecond) // the stream fan-out's turn too
	mu.Lock()
	defer mu.Unlock()
	for _, d := range docs {
		if d.MessageID == ack2["messageId"] {
			t.Errorf("notification %+v for a message bob got live", d)
		}
	}
}
