package config

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/parleychat/parley/internal/chat"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoad(t *testing.T) {
	full := map[string]string{
		"TABLE_MESSAGES": "m", "TABLE_CONVERSATIONS": "c", "TABLE_CONNECTIONS": "n",
		"MANAGEMENT_ENDPOINT": "https://abc.execute-api.eu-west-1.amazonaws.com/prod",
		"JWT_SECRET_ARN":      "arn:aws:secretsmanager:eu-west-1:1:secret:x",
		"LOG_LEVEL":           "debug", "PUSH_CONCURRENCY": "32", "RATE_LIMIT": "-1",
	}
	c, err := Load(env(full), NeedTables|NeedManagement|NeedAuth)
	if err != nil {
		t.Fatal(err)
	}
	if c.TableMessages != "m" || c.MessageStore != StoreDynamoDB || c.AuthMode != AuthHS256 || c.LogLevel != slog.LevelDebug || c.PushConcurrency != 32 || c.RateLimit != -1 || c.RateBurst != 200 {
		t.Fatalf("unexpected config %+v", c)
	}

	if c.InlineMaxMembers != chat.DefaultInlineMaxMembers {
		t.Errorf("InlineMaxMembers %d by default, want %d", c.InlineMaxMembers, chat.DefaultInlineMaxMembers)
	}
	for v, want := range map[string]int{"0": 0, "2": 2, "500": 500} {
		c, err := Load(env(map[string]string{"INLINE_MAX_MEMBERS": v}), 0)
		if err != nil || c.InlineMaxMembers != want {
			t.Errorf("INLINE_MAX_MEMBERS=%s: %d, %v; want %d", v, c.InlineMaxMembers, err, want)
		}
	}

	tests := []struct {
		name    string
		env     map[string]string
		need    Need
		wantErr []string // substrings of the error
	}{
		{"nothing needed", map[string]string{}, 0, nil},
		{"tables missing", map[string]string{}, NeedTables, []string{"TABLE_MESSAGES", "TABLE_CONVERSATIONS", "TABLE_CONNECTIONS"}},
		{"bad store", map[string]string{"TABLE_MESSAGES": "m", "TABLE_CONVERSATIONS": "c", "TABLE_CONNECTIONS": "n", "MESSAGE_STORE": "mongo"}, NeedTables, []string{"MESSAGE_STORE"}},
		{"keyspaces needs outbox not messages", map[string]string{"TABLE_CONVERSATIONS": "c", "TABLE_CONNECTIONS": "n", "MESSAGE_STORE": "keyspaces"}, NeedTables, []string{"TABLE_OUTBOX"}},
		{"management not a URL", map[string]string{"MANAGEMENT_ENDPOINT": "abc"}, NeedManagement, []string{"MANAGEMENT_ENDPOINT"}},
		{"hs256 without secret", map[string]string{}, NeedAuth, []string{"JWT_SECRET_ARN"}},
		{"oidc without issuer", map[string]string{"AUTH_MODE": "oidc"}, NeedAuth, []string{"OIDC_ISSUER"}},
		{"bad numbers", map[string]string{"PUSH_CONCURRENCY": "many", "RATE_BURST": "-3", "KEYSPACES_TLS": "maybe"}, 0, []string{"PUSH_CONCURRENCY", "RATE_BURST", "KEYSPACES_TLS"}},
		{"bad level", map[string]string{"LOG_LEVEL": "loud"}, 0, []string{"LOG_LEVEL"}},
		{"inline negative", map[string]string{"INLINE_MAX_MEMBERS": "-1"}, 0, []string{"INLINE_MAX_MEMBERS"}},
		{"inline above the group limit", map[string]string{"INLINE_MAX_MEMBERS": "501"}, 0, []string{"INLINE_MAX_MEMBERS"}},
		{"inline not a number", map[string]string{"INLINE_MAX_MEMBERS": "ten"}, 0, []string{"INLINE_MAX_MEMBERS"}},
		{"bad dynamodb endpoint", map[string]string{"DYNAMODB_ENDPOINT": "localhost"}, 0, []string{"DYNAMODB_ENDPOINT"}},
		{"notify bus with a space", map[string]string{"NOTIFY_BUS": "my bus"}, 0, []string{"NOTIFY_BUS"}},
		{"notify bus too long", map[string]string{"NOTIFY_BUS": strings.Repeat("b", 257)}, 0, []string{"NOTIFY_BUS"}},
		{"notify bus ARN of another service", map[string]string{"NOTIFY_BUS": "arn:aws:sns:eu-west-1:123456789012:topic"}, 0, []string{"NOTIFY_BUS"}},
		{"notify URL not http", map[string]string{"NOTIFY_URL": "ftp://example.com/x"}, 0, []string{"NOTIFY_URL"}},
		{"notify URL without a host", map[string]string{"NOTIFY_URL": "127.0.0.1:9000"}, 0, []string{"NOTIFY_URL"}},
		{"notify bus and URL", map[string]string{"NOTIFY_BUS": "default", "NOTIFY_URL": "http://127.0.0.1:9000/"}, 0, []string{"NOTIFY_BUS, NOTIFY_URL", "only one"}},
		{"notify URL and log", map[string]string{"NOTIFY_URL": "http://127.0.0.1:9000/", "NOTIFY_LOG": "true"}, 0, []string{"NOTIFY_URL, NOTIFY_LOG"}},
		{"notify log not a boolean", map[string]string{"NOTIFY_LOG": "loud"}, 0, []string{"NOTIFY_LOG"}},
		{"notify preview not a boolean", map[string]string{"NOTIFY_PREVIEW": "no"}, 0, []string{"NOTIFY_PREVIEW"}},
		{"bad eventbridge endpoint", map[string]string{"EVENTBRIDGE_ENDPOINT": "localhost"}, 0, []string{"EVENTBRIDGE_ENDPOINT"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(env(tt.env), tt.need)
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %s", err, w)
				}
			}
		})
	}
}

func TestLoadNotify(t *testing.T) {
	c, err := Load(env(map[string]string{}), 0)
	if err != nil {
		t.Fatal(err)
	}
	if c.NotifyBus != "" || c.NotifyURL != "" || c.NotifyLog || !c.NotifyPreview || c.EventBridgeEndpoint != "" {
		t.Errorf("defaults: bus %q URL %q log %v preview %v endpoint %q; want notifications off, previews on",
			c.NotifyBus, c.NotifyURL, c.NotifyLog, c.NotifyPreview, c.EventBridgeEndpoint)
	}
	tests := []struct {
		name string
		env  map[string]string
		want notifyFields
	}{
		{"default bus", map[string]string{"NOTIFY_BUS": "default"}, notifyFields{NotifyBus: "default", NotifyPreview: true}},
		{"the stack's bus", map[string]string{"NOTIFY_BUS": " parley-prod-notifications "}, notifyFields{NotifyBus: "parley-prod-notifications", NotifyPreview: true}},
		{"partner bus", map[string]string{"NOTIFY_BUS": "aws.partner/example.com/123/parley"}, notifyFields{NotifyBus: "aws.partner/example.com/123/parley", NotifyPreview: true}},
		{"bus ARN", map[string]string{"NOTIFY_BUS": "arn:aws:events:eu-west-1:123456789012:event-bus/chat"}, notifyFields{NotifyBus: "arn:aws:events:eu-west-1:123456789012:event-bus/chat", NotifyPreview: true}},
		{"previews off", map[string]string{"NOTIFY_BUS": "default", "NOTIFY_PREVIEW": "false"}, notifyFields{NotifyBus: "default"}},
		{"webhook", map[string]string{"NOTIFY_URL": "http://127.0.0.1:9000/notify"}, notifyFields{NotifyURL: "http://127.0.0.1:9000/notify", NotifyPreview: true}},
		{"log", map[string]string{"NOTIFY_LOG": "true", "NOTIFY_PREVIEW": "0"}, notifyFields{NotifyLog: true}},
		{"log false is unset", map[string]string{"NOTIFY_LOG": "false", "NOTIFY_BUS": "default"}, notifyFields{NotifyBus: "default", NotifyPreview: true}},
		{"endpoint", map[string]string{"NOTIFY_BUS": "b", "EVENTBRIDGE_ENDPOINT": "http://127.0.0.1:4566"}, notifyFields{NotifyBus: "b", NotifyPreview: true, EventBridgeEndpoint: "http://127.0.0.1:4566"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(env(tt.env), 0)
			if err != nil {
				t.Fatal(err)
			}
			got := notifyFields{NotifyBus: c.NotifyBus, NotifyURL: c.NotifyURL, NotifyLog: c.NotifyLog, NotifyPreview: c.NotifyPreview, EventBridgeEndpoint: c.EventBridgeEndpoint}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// notifyFields are Config's notification fields.
type notifyFields struct {
	NotifyBus, NotifyURL string
	NotifyLog            bool
	NotifyPreview        bool
	EventBridgeEndpoint  string
}
