package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/parleychat/parley/internal/chat"
)

func TestWebhook(t *testing.T) {
	var (
		mu     sync.Mutex
		bodies [][]byte
		status = http.StatusNoContent
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/hook" || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s %s Content-Type %q", r.Method, r.URL, r.Header.Get("Content-Type"))
		}
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		bodies = append(bodies, b)
		st := status
		mu.Unlock()
		if st == http.StatusNoContent {
			w.WriteHeader(st)
			return
		}
		http.Error(w, "no such user", st)
	}))
	defer srv.Close()

	w, err := NewWebhook(srv.URL+"/hook?secret=s3cret", WebhookOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n := notification("01KA0000000000000000000001", "bob", "carol")
	if err := w.Notify(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	// The body is the document the EventBridge event carries as its detail.
	want, _ := Marshal(n)
	if len(bodies) != 1 || !bytes.Equal(bodies[0], want) {
		t.Errorf("posted %q, want %q", bodies, want)
	}
	var d Document
	if err := json.Unmarshal(bodies[0], &d); err != nil || d.SchemaVersion != SchemaVersion {
		t.Fatalf("body %s: %v", bodies[0], err)
	}
	if diff := cmp.Diff(n, d.Notification); diff != "" {
		t.Errorf("decoded body (-sent +got):\n%s", diff)
	}

	for _, tt := range []struct {
		status    int
		permanent bool
	}{
		{http.StatusNotFound, true},
		{http.StatusTooManyRequests, false},
		{http.StatusInternalServerError, false},
		{http.StatusFound, false},
	} {
		mu.Lock()
		status = tt.status
		mu.Unlock()
		err := w.Notify(context.Background(), n)
		if err == nil || !strings.Contains(err.Error(), http.StatusText(tt.status)) {
			t.Errorf("status %d: Notify = %v, want an error naming the status", tt.status, err)
			continue
		}
		if errors.Is(err, ErrPermanent) != tt.permanent {
			t.Errorf("status %d: permanent %v, want %v", tt.status, !tt.permanent, tt.permanent)
		}
		if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("status %d: error %q shows the URL's query", tt.status, err)
		}
	}
}

func TestWebhookTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	w, err := NewWebhook(srv.URL+"/?token=s3cret", WebhookOptions{Timeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = w.Notify(context.Background(), notification("m1", "bob"))
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Notify = %v, want a deadline error", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Notify took %v, want about the 50 ms timeout", d)
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error %q shows the URL's query", err)
	}
}

func TestCheckURL(t *testing.T) {
	for _, tt := range []struct {
		url string
		ok  bool
	}{
		{"http://127.0.0.1:9000/notify", true},
		{"https://hooks.example.com/parley", true},
		{"127.0.0.1:9000", false},
		{"ftp://example.com/", false},
		{"http:///path", false},
		{"", false},
	} {
		err := CheckURL(tt.url)
		if (err == nil) != tt.ok {
			t.Errorf("CheckURL(%q) = %v, want ok %v", tt.url, err, tt.ok)
		}
		if _, err := NewWebhook(tt.url, WebhookOptions{}); (err == nil) != tt.ok {
			t.Errorf("NewWebhook(%q) = %v, want ok %v", tt.url, err, tt.ok)
		}
	}
}

func TestLog(t *testing.T) {
	var buf bytes.Buffer
	l := NewLog(slog.New(slog.NewJSONHandler(&buf, nil)))
	if err := l.Notify(context.Background(), notification("m1", "bob", "carol")); err != nil {
		t.Fatal(err)
	}
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("log %q: %v", buf.String(), err)
	}
	for k, want := range map[string]any{
		"level": "INFO", "msg": "offline notification", "messageId": "m1", "conversationId": "g:01KA0SZ7Q0J3N5W8X2Y4Z6A8B0",
		"senderId": "alice", "recipients": []any{"bob", "carol"}, "preview": "lunch at <noon> & then?",
	} {
		if !cmp.Equal(rec[k], want) {
			t.Errorf("%s = %v, want %v", k, rec[k], want)
		}
	}
	buf.Reset()
	n := notification("m2", "bob")
	n.Preview = ""
	_ = l.Notify(context.Background(), n)
	if strings.Contains(buf.String(), "preview") {
		t.Errorf("log without a preview has one: %s", buf.String())
	}
}

func TestMarshal(t *testing.T) {
	b, err := Marshal(chat.Notification{ConversationID: "dm:a:b", ConversationKind: chat.KindDirect, MessageID: "m", SenderID: "a"})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"schemaVersion":1,"conversationId":"dm:a:b","conversationKind":"dm","messageId":"m","senderId":"a","createdAt":0,"recipients":[]}`
	if string(b) != want {
		t.Errorf("Marshal = %s, want %s", b, want)
	}
}
