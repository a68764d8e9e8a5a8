package bench

import (
	"context"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/auth"
	"github.com/parleychat/parley/internal/local"
	"github.com/parleychat/parley/internal/local/localtest"
)

func startLocal(t *testing.T, secret []byte) *local.Main {
	t.Helper()
	return localtest.Start(t, local.Config{JWTSecret: secret})
}

func TestBenchAgainstParleyLocal(t *testing.T) {
	if testing.Short() {
		t.Skip("starts parley local; run without -short")
	}
	secret := []byte("bench-e2e-secret")
	m := startLocal(t, secret)
	token := func(user string) (string, error) { return auth.Sign(secret, user, time.Hour) }
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"dm", Config{Users: 10, Scenario: ScenarioDM, Rate: 20}},
		{"group", Config{Users: 10, Scenario: ScenarioGroup, GroupSize: 10, Rate: 10}},
		// A few reactions a second per message: one message takes a limited rate of
		// changes (docs/benchmarks.md), which this test is not about.
		{"react", Config{Users: 10, Scenario: ScenarioDM, Rate: 20, Action: ActionReact}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.URL, cfg.Token = m.WebSocketURL(), token
			cfg.Warmup, cfg.Duration, cfg.Drain = 500*time.Millisecond, 2*time.Second, 20*time.Second
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			rep, err := Run(ctx, cfg)
			if err != nil {
				t.Fatalf("bench: %v", err)
			}
			wantSent := int64(cfg.Rate * cfg.Duration.Seconds())
			members := int64(2)
			if cfg.Scenario == ScenarioGroup {
				members = int64(cfg.GroupSize)
			}
			if rep.Sent != wantSent || rep.Acked != wantSent || rep.Failed != 0 || len(rep.Errors) != 0 {
				t.Fatalf("sent %d acked %d failed %d errors %v; want %d acked", rep.Sent, rep.Acked, rep.Failed, rep.Errors, wantSent)
			}
			if want := wantSent * (members - 1); rep.ExpectedDeliveries != want || rep.Deliveries != want || rep.MissingDeliveries != 0 {
				t.Fatalf("deliveries %d of %d (missing %d), want %d", rep.Deliveries, rep.ExpectedDeliveries, rep.MissingDeliveries, want)
			}
			if rep.E2E.Count != wantSent || rep.E2E.P50 <= 0 || rep.Ack.P50 <= 0 {
				t.Fatalf("latencies: ack %+v e2e %+v", rep.Ack, rep.E2E)
			}
			t.Logf("%s: ack p50 %.1f ms p99 %.1f ms; e2e p50 %.1f ms p99 %.1f ms", tc.name, rep.Ack.P50, rep.Ack.P99, rep.E2E.P50, rep.E2E.P99)
		})
	}
}
