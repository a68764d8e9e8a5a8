package bench

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
)

func TestLatencyHistogramPercentiles(t *testing.T) {
	t.Parallel()
	h := newLatencyHistogram()
	for i := 1; i <= 1000; i++ {
		h.record(time.Duration(i) * time.Millisecond)
	}
	s := h.summary()
	near := func(name string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > want*0.001+0.001 { // 3 significant figures
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	if s.Count != 1000 {
		t.Fatalf("count = %d", s.Count)
	}
	near("p50", s.P50, 500)
	near("p90", s.P90, 900)
	near("p99", s.P99, 990)
	near("p99.9", s.P999, 999)
	near("max", s.Max, 1000)
	near("mean", s.Mean, 500.5)
}

func TestLatencyHistogramClampsOutOfRange(t *testing.T) {
	t.Parallel()
	h := newLatencyHistogram()
	h.record(-time.Second)     // clock went backwards: counts as the minimum
	h.record(10 * time.Minute) // over range: clamped
	s := h.summary()
	if s.Count != 2 || s.Clamped != 1 {
		t.Fatalf("summary = %+v, want 2 values, 1 clamped", s)
	}
	if s.Max < 119_000 || s.Max > 121_000 {
		t.Fatalf("max = %v ms, want about 2 minutes", s.Max)
	}
	if empty := newLatencyHistogram().summary(); empty != (Latency{}) {
		t.Fatalf("empty summary = %+v", empty)
	}
}

func TestTrackerCountsDeliveriesAckAndMissing(t *testing.T) {
	t.Parallel()
	tr := newTracker()
	t0 := time.Now()
	// A warm-up message: not measured.
	tr.add("w", t0, false, 0, 3, 0)
	tr.acknowledged("w", t0.Add(time.Millisecond))
	tr.delivered("w", 1, t0.Add(time.Millisecond))
	tr.delivered("w", 2, t0.Add(time.Millisecond))

	// Measured, group of 3, sender at 0: delivery before ack, a duplicate, the sender's echo.
	tr.add("a", t0, true, 0, 3, 2*time.Millisecond)
	tr.delivered("a", 1, t0.Add(10*time.Millisecond))
	tr.delivered("a", 1, t0.Add(11*time.Millisecond)) // duplicate
	tr.delivered("a", 0, t0.Add(12*time.Millisecond)) // sender's own echo: ignored
	tr.acknowledged("a", t0.Add(5*time.Millisecond))
	tr.delivered("a", 2, t0.Add(20*time.Millisecond)) // last recipient: e2e 20 ms

	// Measured, acked, one of two deliveries missing.
	tr.add("b", t0, true, 1, 3, 0)
	tr.acknowledged("b", t0.Add(7*time.Millisecond))
	tr.delivered("b", 0, t0.Add(8*time.Millisecond))

	// Measured, failed with a protocol code; and one never answered.
	tr.add("c", t0, true, 0, 3, 0)
	tr.failure("c", "rate_limited")
	tr.add("d", t0, true, 0, 3, 0)

	tr.delivered("unknown", 1, t0) // not ours: ignored

	tr.stop()
	select {
	case <-tr.drained:
		t.Fatal("drained with messages outstanding")
	default:
	}

	r := &Report{DurationSeconds: 2}
	tr.fill(r)
	want := Report{DurationSeconds: 2, Sent: 4, Acked: 2, Failed: 1, Unacked: 1,
		ExpectedDeliveries: 4, Deliveries: 3, MissingDeliveries: 1, Duplicates: 1,
		Throughput: 1, DeliveriesPerSec: 1.5, SchedulerLagMaxMs: 2}
	if r.Sent != want.Sent || r.Acked != want.Acked || r.Failed != want.Failed || r.Unacked != want.Unacked ||
		r.ExpectedDeliveries != want.ExpectedDeliveries || r.Deliveries != want.Deliveries ||
		r.MissingDeliveries != want.MissingDeliveries || r.Duplicates != want.Duplicates ||
		r.Throughput != want.Throughput || r.DeliveriesPerSec != want.DeliveriesPerSec || r.SchedulerLagMaxMs != want.SchedulerLagMaxMs {
		t.Fatalf("report = %+v\nwant     %+v", r, want)
	}
	if r.Errors["rate_limited"] != 1 || len(r.Errors) != 1 {
		t.Fatalf("errors = %v", r.Errors)
	}
	if r.Ack.Count != 2 || r.E2E.Count != 1 || r.Delivery.Count != 3 {
		t.Fatalf("counts: ack %d e2e %d delivery %d", r.Ack.Count, r.E2E.Count, r.Delivery.Count)
	}
	if r.E2E.Max < 19.9 || r.E2E.Max > 20.1 {
		t.Fatalf("e2e max = %v ms, want 20", r.E2E.Max)
	}

	// Completing the outstanding messages drains the tracker.
	tr.delivered("b", 2, t0.Add(30*time.Millisecond))
	tr.failure("d", "timeout")
	select {
	case <-tr.drained:
	case <-time.After(time.Second):
		t.Fatal("not drained after the last message completed")
	}
}

func TestLayoutAndPick(t *testing.T) {
	t.Parallel()
	users, convs := layout("p", 6, 3)
	if len(users) != 6 || len(convs) != 2 {
		t.Fatalf("layout: %d users, %d conversations", len(users), len(convs))
	}
	for i, u := range users {
		if u.id != "p-"+string(rune('0'+i)) || u.conv != convs[i/3] || u.pos != i%3 || u.conv.members[u.pos] != u {
			t.Fatalf("user %d = %+v", i, u)
		}
	}
	// Conversations alternate; senders rotate within each.
	wantSenders := []string{"p-0", "p-3", "p-1", "p-4", "p-2", "p-5", "p-0"}
	for k, want := range wantSenders {
		c, s := pick(convs, k)
		if s.id != want || s.conv != c {
			t.Errorf("pick(%d) = %s in %p, want %s", k, s.id, c, want)
		}
	}
}

func TestConfigValidation(t *testing.T) {
	t.Parallel()
	tok := func(string) (string, error) { return "t", nil }
	base := func() Config {
		return Config{URL: "ws://127.0.0.1:1/ws", Users: 4, Scenario: ScenarioDM, Rate: 10, Duration: time.Second, Token: tok}
	}
	tests := []struct {
		name   string
		change func(*Config)
		want   string
	}{
		{"ok", func(*Config) {}, ""},
		{"http url", func(c *Config) { c.URL = "http://x/ws" }, "must start with ws://"},
		{"no token", func(c *Config) { c.Token = nil }, "no token source"},
		{"one user", func(c *Config) { c.Users = 1 }, "at least 2"},
		{"odd dm", func(c *Config) { c.Users = 5 }, "must be even"},
		{"bad scenario", func(c *Config) { c.Scenario = "mesh" }, `scenario "mesh"`},
		{"group too big", func(c *Config) { c.Scenario = ScenarioGroup; c.Users = 1002; c.GroupSize = 501 }, "2 to 500"},
		{"group remainder", func(c *Config) { c.Scenario = ScenarioGroup; c.GroupSize = 3 }, "multiple of the group size"},
		{"group default size", func(c *Config) { c.Scenario = ScenarioGroup }, ""},
		{"zero rate", func(c *Config) { c.Rate = 0 }, "rate"},
		{"zero duration", func(c *Config) { c.Duration = 0 }, "duration"},
		{"negative warmup", func(c *Config) { c.Warmup = -time.Second }, "warmup"},
		{"huge body", func(c *Config) { c.BodyBytes = 20000 }, "body size"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := base()
			tt.change(&c)
			err := c.validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("validate: %v", err)
				}
				if c.UserPrefix == "" || c.Drain == 0 || c.BodyBytes != 100 {
					t.Fatalf("defaults not applied: %+v", c)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("validate = %v, want error containing %q", err, tt.want)
			}
		})
	}
}

func TestReportOutput(t *testing.T) {
	t.Parallel()
	r := &Report{URL: "ws://127.0.0.1:8080/ws", Scenario: "group", Users: 100, Conversations: 1, Members: 100,
		TargetRate: 5, DurationSeconds: 10, Sent: 50, Acked: 49, Failed: 1, Deliveries: 4851, ExpectedDeliveries: 4851,
		Throughput: 4.9, DeliveriesPerSec: 485.1, Ack: Latency{Count: 49, P50: 12.5, Max: 40},
		Errors: map[string]int64{"timeout": 1}}
	var text bytes.Buffer
	if err := r.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"group scenario", "sent 50, acked 49, failed 1", "deliveries 4851 of 4851 expected, missing 0",
		"485.1 deliveries/s", "end-to-end", "12.50", "errors: timeout=1"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, text.String())
		}
	}
	data, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if back["deliveriesPerSec"] != 485.1 || back["ackLatency"].(map[string]any)["p50Ms"] != 12.5 {
		t.Fatalf("json = %s", data)
	}
}

// TestTrackerEndToEndIsTheLatestReceive: deliveries are processed in whatever order the
// connections' readers get to them; end-to-end is up to the latest receive time, not the
// receive time of the delivery processed last.
func TestTrackerEndToEndIsTheLatestReceive(t *testing.T) {
	tr := newTracker()
	t0 := time.Now()
	tr.add("m", t0, true, 0, 4, 0)
	tr.delivered("m", 2, t0.Add(30*time.Millisecond))
	tr.delivered("m", 1, t0.Add(10*time.Millisecond))
	tr.delivered("m", 3, t0.Add(20*time.Millisecond)) // processed last, received second
	var r Report
	tr.fill(&r)
	if r.E2E.Count != 1 || r.E2E.Max < 29.9 || r.E2E.Max > 30.1 {
		t.Fatalf("e2e %+v, want one sample of 30 ms", r.E2E)
	}
}

func TestSeedsNeeded(t *testing.T) {
	for _, tc := range []struct {
		total          float64
		convs, members int
		want           int
	}{
		{0, 1, 2, 1},
		{36, 1, 2, 1},     // 18 each, plus one: 19 ≤ 20
		{40, 1, 2, 2},     // 20 each, plus one: 21 > 20
		{100, 1, 4, 2},    // 25 each + 1 = 26: two messages of up to 20
		{1000, 1, 500, 1}, // 2 + 1 each; a message holds 3000 / 500 = 6 per member
		{3500, 1, 500, 2}, // 7 + 1 each: two messages of 6
	} {
		if got := seedsNeeded(tc.total, tc.convs, tc.members); got != tc.want {
			t.Errorf("seedsNeeded(%g, %d, %d) = %d, want %d", tc.total, tc.convs, tc.members, got, tc.want)
		}
	}
}
