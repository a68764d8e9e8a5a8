package app

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/config"
	"github.com/parleychat/parley/internal/notify"
)

func loadConfig(t *testing.T, env map[string]string) config.Config {
	t.Helper()
	cfg, err := config.Load(func(k string) string { return env[k] }, 0)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestNotifier(t *testing.T) {
	awsCfg := aws.Config{Region: "eu-west-1", Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")}
	for _, tt := range []struct {
		name string
		env  map[string]string
		want string // the notifier's type; "" for none
	}{
		{"off", map[string]string{}, ""},
		{"bus", map[string]string{"NOTIFY_BUS": "parley-prod-notifications"}, "*notify.EventBridge"},
		{"webhook", map[string]string{"NOTIFY_URL": "http://127.0.0.1:9/notify"}, "*notify.Webhook"},
		{"log", map[string]string{"NOTIFY_LOG": "true"}, "*notify.Log"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			n, err := Notifier(awsCfg, loadConfig(t, tt.env), nil)
			if err != nil {
				t.Fatal(err)
			}
			switch got := n.(type) {
			case nil:
				if tt.want != "" {
					t.Errorf("no notifier, want %s", tt.want)
				}
			case *notify.EventBridge:
				if tt.want != "*notify.EventBridge" || got.Bus() != tt.env["NOTIFY_BUS"] {
					t.Errorf("EventBridge on %q, want %s", got.Bus(), tt.want)
				}
			case *notify.Webhook:
				if tt.want != "*notify.Webhook" || got.URL() != tt.env["NOTIFY_URL"] {
					t.Errorf("webhook to %q, want %s", got.URL(), tt.want)
				}
			case *notify.Log:
				if tt.want != "*notify.Log" {
					t.Errorf("log, want %s", tt.want)
				}
			default:
				t.Errorf("notifier %T, want %s", n, tt.want)
			}
		})
	}
}

// TestNotifierEventBridge puts a notification through the client Notifier builds: the
// configured endpoint, bus and region, signed for EventBridge.
func TestNotifierEventBridge(t *testing.T) {
	var got struct {
		auth string
		body map[string][]map[string]any
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.auth = r.Header.Get("Authorization")
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &got.body); err != nil {
			t.Errorf("body %s: %v", b, err)
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		_, _ = io.WriteString(w, `{"FailedEntryCount":0,"Entries":[{"EventId":"e1"}]}`)
	}))
	defer srv.Close()
	cfg := loadConfig(t, map[string]string{"NOTIFY_BUS": "default", "EVENTBRIDGE_ENDPOINT": srv.URL})
	awsCfg := aws.Config{Region: "eu-west-1", Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")}
	n, err := Notifier(awsCfg, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Notify(context.Background(), chat.Notification{ConversationID: "dm:alice:bob", ConversationKind: chat.KindDirect,
		MessageID: "m1", SenderID: "alice", CreatedAt: 1, Recipients: []string{"bob"}}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(got.auth, "/eu-west-1/events/aws4_request") {
		t.Errorf("Authorization %q: want a signature for events in eu-west-1", got.auth)
	}
	entries := got.body["Entries"]
	if len(entries) != 1 || entries[0]["EventBusName"] != "default" || entries[0]["Source"] != notify.Source {
		t.Errorf("entries %v", entries)
	}
}
