package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/google/go-cmp/cmp"

	"github.com/parleychat/parley/internal/chat"
)

// putEventsRequest is a PutEvents request body as the AWS JSON 1.1 protocol carries it.
type putEventsRequest struct {
	Entries []struct {
		Source, DetailType, Detail, EventBusName string
		Time                                     *float64 // epoch seconds
	}
}

// resultEntry is one entry of a PutEvents response.
type resultEntry struct {
	EventId      string `json:",omitempty"`
	ErrorCode    string `json:",omitempty"`
	ErrorMessage string `json:",omitempty"`
}

// fakeEventBridge speaks PutEvents (AWSEvents.PutEvents, application/x-amz-json-1.1) on
// 127.0.0.1. answer decides each call's per-entry results (nil: all accepted); status,
// when set, fails the whole call with that HTTP status and error type.
type fakeEventBridge struct {
	t   *testing.T
	srv *httptest.Server

	mu     sync.Mutex
	calls  []putEventsRequest
	answer func(call int, req putEventsRequest) []resultEntry
	status int
	errTyp string
}

func newFakeEventBridge(t *testing.T) *fakeEventBridge {
	t.Helper()
	f := &fakeEventBridge{t: t}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	if !strings.HasPrefix(f.srv.URL, "http://127.0.0.1:") {
		t.Fatalf("test server at %s, want 127.0.0.1", f.srv.URL)
	}
	return f
}

func (f *fakeEventBridge) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.Header.Get("X-Amz-Target") != "AWSEvents.PutEvents" ||
		r.Header.Get("Content-Type") != "application/x-amz-json-1.1" {
		f.t.Errorf("request %s %s, X-Amz-Target %q, Content-Type %q", r.Method, r.URL, r.Header.Get("X-Amz-Target"), r.Header.Get("Content-Type"))
		http.Error(w, "not PutEvents", http.StatusBadRequest)
		return
	}
	if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
		f.t.Errorf("request not signed with SigV4: %q", r.Header.Get("Authorization"))
	}
	body, _ := io.ReadAll(r.Body)
	var req putEventsRequest
	if err := json.Unmarshal(body, &req); err != nil {
		f.t.Errorf("request body %s: %v", body, err)
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.calls = append(f.calls, req)
	call := len(f.calls)
	answer, status, errTyp := f.answer, f.status, f.errTyp
	f.mu.Unlock()

	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	if status != 0 {
		w.Header().Set("X-Amzn-ErrorType", errTyp)
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"__type":%q,"message":"refused by the test"}`, errTyp)
		return
	}
	var results []resultEntry
	if answer != nil {
		results = answer(call, req)
	}
	if results == nil {
		results = make([]resultEntry, len(req.Entries))
	}
	failed := 0
	for i := range results {
		if results[i].ErrorCode != "" {
			failed++
		} else if results[i].EventId == "" {
			results[i].EventId = fmt.Sprintf("event-%d-%d", call, i)
		}
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"FailedEntryCount": failed, "Entries": results})
}

func (f *fakeEventBridge) requests() []putEventsRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]putEventsRequest(nil), f.calls...)
}

// client is the real SDK client pointed at the fake, without the SDK's own retries.
func (f *fakeEventBridge) client() *eventbridge.Client {
	return eventbridge.NewFromConfig(aws.Config{
		Region:           "eu-west-1",
		Credentials:      credentials.NewStaticCredentialsProvider("test", "test", ""),
		RetryMaxAttempts: 1,
	}, func(o *eventbridge.Options) { o.BaseEndpoint = aws.String(f.srv.URL) })
}

// now fires at once: tests do not wait out the backoff.
func now(time.Duration) <-chan time.Time {
	c := make(chan time.Time, 1)
	c <- time.Now()
	return c
}

func notification(id string, recipients ...string) chat.Notification {
	return chat.Notification{
		ConversationID: "g:01KA0SZ7Q0J3N5W8X2Y4Z6A8B0", ConversationKind: chat.KindGroup, MessageID: id, SenderID: "alice",
		CreatedAt: 1764600000123, Recipients: recipients, Preview: "lunch at <noon> & then?",
	}
}

func detailIDs(req putEventsRequest) []string {
	var ids []string
	for _, e := range req.Entries {
		var d Document
		if err := json.Unmarshal([]byte(e.Detail), &d); err != nil {
			return append(ids, "bad detail: "+err.Error())
		}
		ids = append(ids, d.MessageID)
	}
	return ids
}

func TestEventBridgeNotify(t *testing.T) {
	f := newFakeEventBridge(t)
	eb := NewEventBridge(f.client(), EventBridgeOptions{Bus: "parley-prod-notifications", After: now})
	n := notification("01KA0000000000000000000001", "bob", "carol")
	if err := eb.Notify(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	reqs := f.requests()
	if len(reqs) != 1 || len(reqs[0].Entries) != 1 {
		t.Fatalf("requests %+v, want one with one entry", reqs)
	}
	e := reqs[0].Entries[0]
	if e.Source != Source || e.DetailType != DetailType || e.EventBusName != "parley-prod-notifications" {
		t.Errorf("entry source %q detail type %q bus %q", e.Source, e.DetailType, e.EventBusName)
	}
	if e.Time == nil || math.Abs(*e.Time-1764600000.123) > 0.001 {
		t.Errorf("entry time %v, want the message's createdAt 1764600000.123", e.Time)
	}
	want := `{"schemaVersion":1,"conversationId":"g:01KA0SZ7Q0J3N5W8X2Y4Z6A8B0","conversationKind":"group","messageId":"01KA0000000000000000000001",` +
		`"senderId":"alice","createdAt":1764600000123,"recipients":["bob","carol"],"preview":"lunch at <noon> & then?"}`
	if e.Detail != want {
		t.Errorf("detail\n%s\nwant\n%s", e.Detail, want)
	}
	// The detail decodes back into the notification.
	var d Document
	if err := json.Unmarshal([]byte(e.Detail), &d); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(n, d.Notification); diff != "" || d.SchemaVersion != SchemaVersion {
		t.Errorf("decoded detail (-sent +got):\n%s (schema %d)", diff, d.SchemaVersion)
	}

	// The default bus, and no preview.
	f2 := newFakeEventBridge(t)
	n.Preview = ""
	if err := NewEventBridge(f2.client(), EventBridgeOptions{}).Notify(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	e2 := f2.requests()[0].Entries[0]
	if e2.EventBusName != "default" || strings.Contains(e2.Detail, "preview") {
		t.Errorf("bus %q detail %s: want the default bus and no preview", e2.EventBusName, e2.Detail)
	}
}

func TestEventBridgePartialFailure(t *testing.T) {
	tests := []struct {
		name string
		// answer fails entries of some calls; the fake accepts the rest.
		answer    func(call int, req putEventsRequest) []resultEntry
		attempts  int
		wantCalls [][]string // message ids of each call
		wantErr   []string   // substrings of the error; none: success
		permanent bool
	}{
		{
			name: "throttled entry retried alone, then accepted",
			answer: func(call int, req putEventsRequest) []resultEntry {
				if call == 1 {
					return []resultEntry{{}, {ErrorCode: "ThrottlingException", ErrorMessage: "Rate exceeded"}, {}}
				}
				return nil
			},
			wantCalls: [][]string{{"m1", "m2", "m3"}, {"m2"}},
		},
		{
			name: "two failures, retried twice",
			answer: func(call int, req putEventsRequest) []resultEntry {
				switch call {
				case 1:
					return []resultEntry{{ErrorCode: "InternalFailure"}, {}, {ErrorCode: "ThrottlingException"}}
				case 2:
					return []resultEntry{{}, {ErrorCode: "InternalFailure"}}
				}
				return nil
			},
			wantCalls: [][]string{{"m1", "m2", "m3"}, {"m1", "m3"}, {"m3"}},
		},
		{
			name: "still failing after every attempt",
			answer: func(call int, req putEventsRequest) []resultEntry {
				out := make([]resultEntry, len(req.Entries))
				for i := range req.Entries {
					if detailIDs(req)[i] == "m3" {
						out[i] = resultEntry{ErrorCode: "InternalFailure", ErrorMessage: "try again"}
					}
				}
				return out
			},
			attempts:  3,
			wantCalls: [][]string{{"m1", "m2", "m3"}, {"m3"}, {"m3"}},
			wantErr:   []string{"message m3", "InternalFailure: try again", "after 3 attempts"},
		},
		{
			name: "a non-retryable code is not retried",
			answer: func(call int, req putEventsRequest) []resultEntry {
				if call == 1 {
					return []resultEntry{{}, {ErrorCode: "NotAuthorizedForSourceException", ErrorMessage: "no"}, {ErrorCode: "ThrottlingException"}}
				}
				return nil
			},
			wantCalls: [][]string{{"m1", "m2", "m3"}, {"m3"}},
			wantErr:   []string{"message m2", "NotAuthorizedForSourceException"},
			permanent: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeEventBridge(t)
			f.answer = tt.answer
			eb := NewEventBridge(f.client(), EventBridgeOptions{Attempts: tt.attempts, After: now})
			err := eb.NotifyAll(context.Background(), []chat.Notification{notification("m1", "bob"), notification("m2", "carol"), notification("m3", "dave")})
			var got [][]string
			for _, r := range f.requests() {
				got = append(got, detailIDs(r))
			}
			if diff := cmp.Diff(tt.wantCalls, got); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatalf("NotifyAll: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("NotifyAll succeeded, want an error")
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if errors.Is(err, ErrPermanent) != tt.permanent {
				t.Errorf("errors.Is(err, ErrPermanent) = %v, want %v: %v", !tt.permanent, tt.permanent, err)
			}
		})
	}
}

func TestEventBridgeBackoff(t *testing.T) {
	f := newFakeEventBridge(t)
	f.answer = func(int, putEventsRequest) []resultEntry { return []resultEntry{{ErrorCode: "ThrottlingException"}} }
	var waits []time.Duration
	eb := NewEventBridge(f.client(), EventBridgeOptions{Backoff: 40 * time.Millisecond, After: func(d time.Duration) <-chan time.Time {
		waits = append(waits, d)
		return now(d)
	}})
	if err := eb.Notify(context.Background(), notification("m1", "bob")); err == nil || errors.Is(err, ErrPermanent) {
		t.Fatalf("Notify = %v, want a transient error", err)
	}
	if len(f.requests()) != 4 || len(waits) != 3 {
		t.Fatalf("%d calls and waits %v, want 4 calls (the default attempts) and 3 waits", len(f.requests()), waits)
	}
	for i, w := range waits {
		base := 40 * time.Millisecond << i
		if w < base/2 || w > base {
			t.Errorf("wait %d = %v, want %v to %v", i, w, base/2, base)
		}
	}

	// A cancelled context ends the wait.
	ctx, cancel := context.WithCancel(context.Background())
	eb = NewEventBridge(f.client(), EventBridgeOptions{After: func(time.Duration) <-chan time.Time { cancel(); return nil }})
	if err := eb.Notify(ctx, notification("m2", "bob")); err == nil || !errors.Is(err, context.Canceled) {
		t.Errorf("Notify with a cancelled context = %v, want context.Canceled", err)
	}
}

func TestEventBridgeBatches(t *testing.T) {
	f := newFakeEventBridge(t)
	eb := NewEventBridge(f.client(), EventBridgeOptions{After: now})
	var ns []chat.Notification
	for i := range 25 {
		ns = append(ns, notification(fmt.Sprintf("m%02d", i), "bob"))
	}
	if err := eb.NotifyAll(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	var sizes []int
	for _, r := range f.requests() {
		sizes = append(sizes, len(r.Entries))
	}
	if diff := cmp.Diff([]int{10, 10, 5}, sizes); diff != "" {
		t.Errorf("entries per call (-want +got):\n%s", diff)
	}

	// Entries of 100 KB: two fit in one call's 256 KB, not three.
	f2 := newFakeEventBridge(t)
	eb = NewEventBridge(f2.client(), EventBridgeOptions{After: now})
	big := func(id string) chat.Notification {
		n := notification(id, "bob")
		n.Preview = strings.Repeat("x", 100*1024)
		return n
	}
	if err := eb.NotifyAll(context.Background(), []chat.Notification{big("a"), big("b"), big("c")}); err != nil {
		t.Fatal(err)
	}
	sizes = nil
	for _, r := range f2.requests() {
		sizes = append(sizes, len(r.Entries))
	}
	if diff := cmp.Diff([]int{2, 1}, sizes); diff != "" {
		t.Errorf("entries per call (-want +got):\n%s", diff)
	}
}

func TestEventBridgeTooLarge(t *testing.T) {
	f := newFakeEventBridge(t)
	eb := NewEventBridge(f.client(), EventBridgeOptions{After: now})
	n := notification("m1", "bob")
	n.Preview = strings.Repeat("é", 130*1024) // 260 KB of UTF-8
	err := eb.Notify(context.Background(), n)
	if !errors.Is(err, ErrTooLarge) || !errors.Is(err, ErrPermanent) || !strings.Contains(err.Error(), "message m1") {
		t.Errorf("Notify = %v, want ErrTooLarge naming the message", err)
	}
	if len(f.requests()) != 0 {
		t.Errorf("%d calls, want none", len(f.requests()))
	}

	// The largest notification chat makes is far below the limit.
	n = notification("01KA0000000000000000000001")
	for i := range chat.MaxNotifyRecipients {
		n.Recipients = append(n.Recipients, fmt.Sprintf("%064d", i))
	}
	n.Preview = strings.Repeat("\u0001", chat.MaxPreviewRunes) // the longest escape: \u0001
	en, err := eb.entry(n)
	if err != nil {
		t.Fatal(err)
	}
	if en.size > 16*1024 {
		t.Errorf("largest notification's entry is %d bytes, want under 16 KB", en.size)
	}
}

func TestEventBridgeCallErrors(t *testing.T) {
	for _, tt := range []struct {
		status    int
		errTyp    string
		permanent bool
	}{
		{http.StatusBadRequest, "AccessDeniedException", true},
		{http.StatusBadRequest, "ResourceNotFoundException", true},
		{http.StatusBadRequest, "ThrottlingException", false},
		{http.StatusInternalServerError, "InternalException", false},
	} {
		t.Run(tt.errTyp, func(t *testing.T) {
			f := newFakeEventBridge(t)
			f.status, f.errTyp = tt.status, tt.errTyp
			err := NewEventBridge(f.client(), EventBridgeOptions{Bus: "b", After: now}).Notify(context.Background(), notification("m1", "bob"))
			if err == nil || !strings.Contains(err.Error(), tt.errTyp) || !strings.Contains(err.Error(), "bus b") {
				t.Fatalf("Notify = %v, want an error naming %s and the bus", err, tt.errTyp)
			}
			if errors.Is(err, ErrPermanent) != tt.permanent {
				t.Errorf("permanent %v, want %v: %v", !tt.permanent, tt.permanent, err)
			}
			if n := len(f.requests()); n != 1 {
				t.Errorf("%d calls, want 1 (a failed call is the SDK retryer's to retry)", n)
			}
		})
	}
}

func TestEntrySize(t *testing.T) {
	n := notification("m1", "bob")
	en, err := NewEventBridge(nil, EventBridgeOptions{}).entry(n)
	if err != nil {
		t.Fatal(err)
	}
	detail, _ := Marshal(n)
	if want := 14 + len(Source) + len(DetailType) + len(detail); en.size != want {
		t.Errorf("size %d, want %d", en.size, want)
	}
	n.CreatedAt = 0
	detail, _ = Marshal(n)
	en, _ = NewEventBridge(nil, EventBridgeOptions{}).entry(n)
	if en.req.Time != nil || en.size != len(Source)+len(DetailType)+len(detail) {
		t.Errorf("without createdAt: time %v size %d", en.req.Time, en.size)
	}
}
