package bench

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
)

// fanoutServer is a unit-test fake of a Parley endpoint that knows createConversation and
// send, pushing each message to every member's connection (dropping those to dropUser).
// The real endpoint is exercised by the end-to-end test against parley local.
type fanoutServer struct {
	mu       sync.Mutex
	conns    map[string]func(any) // user -> write
	convs    map[string][]string
	dropUser string
	rejectTo string // answer sends to this conversation with rate_limited
}

func (s *fanoutServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	user := r.URL.Query().Get("token")
	ctx := r.Context()
	// The connection is registered before the handshake completes: the client's Dial returns
	// on the 101, and another member's send may come before this goroutine would register it
	// after Accept. Writes wait until the connection is there.
	var (
		wmu   sync.Mutex
		ws    *websocket.Conn
		ready = make(chan struct{})
	)
	write := func(v any) {
		<-ready
		if ws == nil {
			return
		}
		data, _ := json.Marshal(v)
		wmu.Lock()
		defer wmu.Unlock()
		_ = ws.Write(ctx, websocket.MessageText, data)
	}
	s.mu.Lock()
	s.conns[user] = write
	s.mu.Unlock()
	var err error
	ws, err = websocket.Accept(w, r, nil)
	close(ready) // on error ws is nil, and writes are dropped
	if err != nil {
		return
	}
	defer ws.CloseNow()
	for seq := 0; ; seq++ {
		_, data, err := ws.Read(ctx)
		if err != nil {
			return
		}
		var req struct {
			Action, RequestID, ConversationID, ClientMsgID, Body, Name string
			Members                                                    []string
		}
		_ = json.Unmarshal(data, &req)
		switch req.Action {
		case "createConversation":
			id := "c-" + user
			s.mu.Lock()
			s.convs[id] = append([]string{user}, req.Members...)
			s.mu.Unlock()
			write(map[string]any{"type": "conversation", "requestId": req.RequestID, "conversation": map[string]any{"conversationId": id, "members": s.convs[id]}})
		case "send":
			if req.ConversationID == s.rejectTo {
				write(map[string]any{"type": "error", "requestId": req.RequestID, "code": "rate_limited", "message": "slow down"})
				continue
			}
			mid := req.ClientMsgID
			write(map[string]any{"type": "ack", "requestId": req.RequestID, "clientMsgId": req.ClientMsgID, "conversationId": req.ConversationID, "messageId": mid})
			msg := map[string]any{"type": "message", "message": map[string]any{"conversationId": req.ConversationID, "messageId": mid, "senderId": user, "body": req.Body, "clientMsgId": req.ClientMsgID}}
			s.mu.Lock()
			var targets []func(any)
			for _, m := range s.convs[req.ConversationID] {
				if m != s.dropUser {
					targets = append(targets, s.conns[m])
				}
			}
			s.mu.Unlock()
			for _, t := range targets {
				t(msg)
			}
		}
	}
}

func runAgainst(t *testing.T, s *fanoutServer, cfg Config) *Report {
	t.Helper()
	s.conns, s.convs = map[string]func(any){}, map[string][]string{}
	hs := httptest.NewServer(s)
	t.Cleanup(hs.Close)
	cfg.URL = "ws" + strings.TrimPrefix(hs.URL, "http") + "/ws"
	cfg.UserPrefix = "u"
	cfg.Token = func(user string) (string, error) { return user, nil }
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rep, err := Run(ctx, cfg)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return rep
}

func TestRunGroupDeliversToEveryMember(t *testing.T) {
	t.Parallel()
	rep := runAgainst(t, &fanoutServer{}, Config{Users: 8, Scenario: ScenarioGroup, GroupSize: 4,
		Rate: 200, Warmup: 100 * time.Millisecond, Duration: 500 * time.Millisecond, Drain: 5 * time.Second})
	if rep.Conversations != 2 || rep.Members != 4 {
		t.Fatalf("layout: %+v", rep)
	}
	// 200 msg/s for 0.5 s is 100 scheduled sends in the window.
	if rep.Sent != 100 || rep.Acked != 100 || rep.Failed != 0 || rep.Unacked != 0 {
		t.Fatalf("sent %d acked %d failed %d unacked %d, want 100/100/0/0", rep.Sent, rep.Acked, rep.Failed, rep.Unacked)
	}
	if rep.ExpectedDeliveries != 300 || rep.Deliveries != 300 || rep.MissingDeliveries != 0 {
		t.Fatalf("deliveries %d of %d, missing %d; want 300 of 300", rep.Deliveries, rep.ExpectedDeliveries, rep.MissingDeliveries)
	}
	if rep.Ack.Count != 100 || rep.E2E.Count != 100 || rep.Delivery.Count != 300 {
		t.Fatalf("histogram counts ack %d e2e %d delivery %d", rep.Ack.Count, rep.E2E.Count, rep.Delivery.Count)
	}
	if rep.E2E.P50 < rep.Delivery.P50 || rep.E2E.Max <= 0 {
		t.Fatalf("e2e p50 %v below per-delivery p50 %v", rep.E2E.P50, rep.Delivery.P50)
	}
}

func TestRunReportsMissingDeliveriesAndErrors(t *testing.T) {
	t.Parallel()
	// u-1 never receives anything; conversation c-u-2 (the second pair) is rate limited.
	rep := runAgainst(t, &fanoutServer{dropUser: "u-1", rejectTo: "c-u-2"}, Config{Users: 4, Scenario: ScenarioDM,
		Rate: 100, Duration: 200 * time.Millisecond, Drain: 200 * time.Millisecond})
	// 20 sends alternate between the pairs: 10 to c-u-0 (5 by u-0, 5 by u-1), 10 rejected.
	if rep.Sent != 20 || rep.Acked != 10 || rep.Failed != 10 || rep.Errors["rate_limited"] != 10 {
		t.Fatalf("sent %d acked %d failed %d errors %v", rep.Sent, rep.Acked, rep.Failed, rep.Errors)
	}
	// u-0's 5 messages never reach u-1; u-1's 5 reach u-0.
	if rep.ExpectedDeliveries != 10 || rep.Deliveries != 5 || rep.MissingDeliveries != 5 {
		t.Fatalf("deliveries %d of %d, missing %d; want 5 of 10, 5 missing", rep.Deliveries, rep.ExpectedDeliveries, rep.MissingDeliveries)
	}
}
