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
	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/faults"
	"github.com/parleychat/parley/internal/local"
	"github.com/parleychat/parley/internal/local/localtest"
	"github.com/parleychat/parley/internal/timing"
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

// TestVerifyUnderChaos is the reliability check of `make test`: `parley verify` with 30
// users for 30 s against parley local injecting every kind of fault (--faults chaos)
// must find nothing lost, duplicated in storage, out of order or leaked.
func TestVerifyUnderChaos(t *testing.T) {
	t.Parallel()
	rep, counts := verifyUnderChaos(t, local.Config{}, 30, 30*time.Second, 20)
	kinds, total := 0, int64(0)
	for _, n := range counts {
		total += n
		if n > 0 {
			kinds++
		}
	}
	// The rare kinds (a fan-out crash is rolled once a batch) may miss a 30 s run; the
	// run must still have been a run under faults.
	if rep.Acked < 200 || total < 100 || kinds < len(faults.Kinds)-3 {
		t.Fatalf("the run proves too little: %d acked, %d faults of %d kinds", rep.Acked, total, kinds)
	}
}

// TestVerifyFastPathUnderChaos: the same check with AWS's timing model (the stream
// mappings' 250 ms poll, so the inline path delivers most messages and the stream only
// what it did not finish) and every kind of fault; smaller, to keep make test short.
func TestVerifyFastPathUnderChaos(t *testing.T) {
	t.Parallel()
	rep, _ := verifyUnderChaos(t, local.Config{Timings: timing.AWS()}, 16, 20*time.Second, 15)
	if rep.Acked < 100 {
		t.Fatalf("the run proves too little: %d acked", rep.Acked)
	}
}

// verifyUnderChaos runs the checker with users for d at rate msg/s against parley local
// configured by lc and injecting every kind of fault, fails the test on any violation, and
// returns the report and the faults injected.
func verifyUnderChaos(t *testing.T, lc local.Config, users int, d time.Duration, rate float64) (*verify.Report, map[faults.Kind]int64) {
	t.Helper()
	spec, err := faults.Parse("chaos")
	if err != nil {
		t.Fatal(err)
	}
	lc.JWTSecret, lc.Faults = secret, spec
	m := localtest.Start(t, lc)
	cfg := config(m, users, d)
	cfg.Rate, cfg.Drops, cfg.Offline, cfg.Drain = rate, 3, 3*time.Second, 10*time.Second
	rep, err := verify.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	_ = rep.WriteText(&text)
	counts := m.Faults()
	t.Logf("%s\nfaults injected: %v", text.String(), counts)
	if rep.Violations() != 0 {
		t.Fatalf("violations under chaos:\n%s", text.String())
	}
	return rep, counts
}

// TestVerifyManyInstances runs the checker against parley local with four instances whose
// clocks are up to 2 s apart, as many Lambda instances make ids at once on AWS: a message
// can then be stored after one with a later id. With the settling window off (sync
// strictly after the cursor, as before it) the checker must find messages lost; with it
// on, none. Both run the stream path only (INLINE_MAX_MEMBERS=0): the inline push reaches
// online members whatever their cursor, which hides the loss from a run this short, while
// members who were offline still depend on the window.
func TestVerifyManyInstances(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		window time.Duration
		lossy  bool
	}{
		{"without the settling window messages are lost", -1, true},
		{"with it nothing is", 0, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			off := 0
			m := localtest.Start(t, local.Config{JWTSecret: secret, Instances: 4, ClockSkew: 2 * time.Second,
				Service: chat.Options{SettleWindow: tt.window}, InlineMaxMembers: &off})
			cfg := config(m, 10, 15*time.Second)
			cfg.Rate, cfg.Drops, cfg.Offline, cfg.GroupSize, cfg.Groups = 20, 12, 2*time.Second, 6, 2
			rep, err := verify.Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			var text strings.Builder
			_ = rep.WriteText(&text)
			t.Log(text.String())
			if tt.lossy && rep.Lost == 0 {
				t.Fatalf("skewed instances without the settling window lost nothing: the run cannot tell\n%s", text.String())
			}
			if !tt.lossy && rep.Violations() != 0 {
				t.Fatalf("violations with skewed instances:\n%s", text.String())
			}
		})
	}
}
