package verify_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/parleychat/parley/internal/auth"
	"github.com/parleychat/parley/internal/local"
	"github.com/parleychat/parley/internal/local/localtest"
	"github.com/parleychat/parley/internal/verify"
)

var secret = []byte("verify-test-secret-verify-test-secret")

func config(m *local.Main, users int, d time.Duration) verify.Config {
	return verify.Config{
		URL:      m.WebSocketURL(),
		Users:    users,
		Duration: d,
		Rate:     float64(users),
		Drain:    3 * time.Second,
		Offline:  time.Second,
		Drops:    6,
		Token:    func(u string) (string, error) { return auth.Sign(secret, u, time.Hour) },
	}
}

// TestVerifyParleyLocal runs the checker against a healthy parley local: no violation, and
// a run that did what it says (messages acked, drops, adds and leaves, syncs).
func TestVerifyParleyLocal(t *testing.T) {
	t.Parallel()
	m := localtest.Start(t, local.Config{JWTSecret: secret})
	rep, err := verify.Run(context.Background(), config(m, 8, 6*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	_ = rep.WriteText(&text)
	t.Log(text.String())
	if rep.Violations() != 0 {
		t.Fatalf("violations against a healthy runtime:\n%s", text.String())
	}
	if rep.Acked < 20 || rep.Stats.Deliveries < rep.Acked || rep.Stats.Drops == 0 || rep.Stats.Syncs == 0 {
		t.Fatalf("the run did too little to prove anything: %+v %+v", *rep, rep.Stats)
	}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var keys map[string]any
	_ = json.Unmarshal(b, &keys)
	if len(keys) != 7 {
		t.Fatalf("--json keys %v, want exactly lost, storedDuplicates, orderViolations, leaks, duplicateDeliveries, acked, sent", keys)
	}
}

// TestVerifyCatchesLoss runs the checker against a runtime that breaks the promise: every
// fifth send is acknowledged without being stored. The checker must see the loss.
func TestVerifyCatchesLoss(t *testing.T) {
	t.Parallel()
	var sends atomic.Int64
	m := localtest.Start(t, local.Config{JWTSecret: secret, Wire: func(ctx context.Context, wc local.WireConfig) (local.Handlers, error) {
		h, err := local.WireApp(ctx, wc)
		if err != nil {
			return h, err
		}
		route := h.Route
		h.Route = func(ctx context.Context, req events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
			var f struct{ Action, RequestID, ClientMsgID, ConversationID, To string }
			_ = json.Unmarshal([]byte(req.Body), &f)
			if f.Action != "send" || sends.Add(1)%5 != 0 {
				return route(ctx, req)
			}
			conv := f.ConversationID
			if conv == "" {
				conv = "dm:x"
			}
			body := fmt.Sprintf(`{"type":"ack","requestId":%q,"clientMsgId":%q,"conversationId":%q,"messageId":"01ZZZZZZZZZZZZZZZZZZ%06d","createdAt":1}`,
				f.RequestID, f.ClientMsgID, conv, sends.Load())
			return events.APIGatewayProxyResponse{StatusCode: 200, Body: body}, nil
		}
		return h, nil
	}, Logger: slog.New(slog.DiscardHandler)})
	cfg := config(m, 5, 4*time.Second)
	cfg.MembershipEvery = -1
	rep, err := verify.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Lost == 0 || rep.OrderViolations == 0 {
		var text strings.Builder
		_ = rep.WriteText(&text)
		t.Fatalf("acks without a stored message went unnoticed:\n%s", text.String())
	}
}
