package cost

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/topology"
)

// tinyMeasured is a requests file with round counts, for figures checkable by hand.
func tinyMeasured() RequestsFile {
	return RequestsFile{Actions: map[string]Requests{
		"send/direct/inline": {Invocations: map[string]int{"send": 1}, Writes: map[string]int{"PutItem": 1}, Posts: 1, Frames: 1},
		"receipt/direct":     {Invocations: map[string]int{"receipts": 1}, Reads: map[string]int{"GetItem": 1}, Frames: 1, Replies: 1},
		"connect":            {Invocations: map[string]int{"connect": 1}, Writes: map[string]int{"PutItem": 1}},
		"disconnect":         {Invocations: map[string]int{"disconnect": 1}, Writes: map[string]int{"DeleteItem": 1}},
		"sync/1conversation": {Invocations: map[string]int{"history": 1}, Reads: map[string]int{"Query": 1}, Frames: 1, Replies: 1},
		"heartbeat":          {Invocations: map[string]int{"presence": 1}, Frames: 1, Replies: 1},
		"presence-refresh":   {Writes: map[string]int{"UpdateItem": 1}},
	}}
}

// freePrices is every price at 0 (per 1 unit), the message tier out of reach.
func freePrices() Prices {
	z := Price{Per: 1, Unit: "u", Source: "test"}
	return Prices{Region: "test", Date: "2026-12-01", APIGatewayMessages: z, APIGatewayMessagesOverTier: z,
		APIGatewayTierMessages: 1e18, APIGatewayMessageUnitBytes: 32768, APIGatewayConnectionMinutes: z,
		LambdaRequests: z, LambdaGBSeconds: z, DynamoDBWrites: z, DynamoDBReads: z, DynamoDBStreamsLambdaReads: z,
		DynamoDBStorage: z, KeyspacesWrites: z, KeyspacesReads: z, EventBridgeEvents: z, CloudWatchLogsIngestion: z}
}

// tinyLoad: 100 direct messages a day, one receipt each, 10 users with one session a day
// of 8,640 s (so two connections: API Gateway ends one after 2 hours), one connection
// online, heartbeats every 30 s through Lambda.
func tinyLoad() Load {
	l := Defaults()
	l.Name, l.DAU, l.Concurrent, l.MessagesPerDay, l.PeakRate = "tiny", 10, 1, 100, 1
	l.DirectShare, l.ReceiptsPerMessage, l.SessionsPerDay = 1, 1, 1
	l.Liveness, l.HeartbeatInterval = LivenessBefore, Duration(30*time.Second)
	return l
}

func TestTinyLoadByHand(t *testing.T) {
	// A month: 3,000 sends, 3,000 receipts, 600 connects, disconnects and syncs (20 a day),
	// 86,400 heartbeats (2,592,000 s / 30 s), 43,200 connection minutes.
	one := func(set func(*Prices)) Prices {
		p := freePrices()
		set(&p)
		return p
	}
	unit := Price{USD: 1, Per: 1, Unit: "u", Source: "test"}
	tests := []struct {
		name   string
		prices Prices
		want   float64
	}{
		// sends 3000×(frame+post) + receipts 3000×2 + syncs 600×2 + heartbeats 86,400×2.
		{"API Gateway messages", one(func(p *Prices) { p.APIGatewayMessages = unit }), 6000 + 6000 + 1200 + 172_800},
		{"connection minutes", one(func(p *Prices) { p.APIGatewayConnectionMinutes = unit }), 43_200},
		// 3000 + 3000 + 600 × 3 + 86,400.
		{"Lambda requests", one(func(p *Prices) { p.LambdaRequests = unit }), 3000 + 3000 + 1800 + 86_400},
		// send 3000 × 0.5 GB × (30 + 20 ms for its one round of posts); receipts 3000 × 0.5 × 20 ms;
		// connect 600 × 0.25 × 30 ms; disconnect 600 × 0.25 × 20 ms; history 600 × 0.5 × 40 ms;
		// presence 86,400 × 0.25 × 10 ms.
		{"Lambda GB-seconds", one(func(p *Prices) { p.LambdaGBSeconds = unit }), 75 + 30 + 4.5 + 3 + 12 + 216},
		// sends, connects, disconnects; a presence refresh per heartbeat and per other
		// frame (3000 + 3000 + 600).
		{"DynamoDB writes", one(func(p *Prices) { p.DynamoDBWrites = unit }), 3000 + 600 + 600 + 86_400 + 6600},
		{"DynamoDB reads", one(func(p *Prices) { p.DynamoDBReads = unit }), 3000 + 600},
		// (invocations × 1 KB + route requests × 500 B) in GiB: route requests are the
		// frames and each $connect and $disconnect.
		{"logs", one(func(p *Prices) { p.CloudWatchLogsIngestion = unit }),
			((3000+3000+1800+86_400)*1024.0 + (3000+3000+600+600+600+86_400)*500.0) / (1 << 30)},
		// 3000 messages × 700 B in GiB.
		{"storage", one(func(p *Prices) { p.DynamoDBStorage = unit }), 3000 * 700.0 / (1 << 30)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := Estimate(tinyLoad(), tinyMeasured(), tt.prices)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(rep.MonthlyUSD-tt.want) > 1e-9*math.Max(1, tt.want) {
				t.Fatalf("monthly %v, want %v", rep.MonthlyUSD, tt.want)
			}
		})
	}
	t.Run("liveness share", func(t *testing.T) {
		p := freePrices()
		p.APIGatewayMessages = unit
		rep, err := Estimate(tinyLoad(), tinyMeasured(), p)
		if err != nil {
			t.Fatal(err)
		}
		if want := 172_800.0 / 186_000; math.Abs(rep.LivenessShare-want) > 1e-12 {
			t.Fatalf("liveness share %v, want %v", rep.LivenessShare, want)
		}
		if rep.ByAction[ActionLiveness] != 172_800 || rep.ByAction[ActionSend] != 6000 || rep.ByComponent[CompAPIMessages] != 186_000 {
			t.Fatalf("by action %v, by component %v", rep.ByAction, rep.ByComponent)
		}
	})
	t.Run("protocol 1.1: changes and offline notifications, only when asked for", func(t *testing.T) {
		p := freePrices()
		p.DynamoDBWrites, p.EventBridgeEvents = unit, unit
		m := tinyMeasured()
		m.Actions["react/direct/inline"] = Requests{Invocations: map[string]int{"send": 1}, Writes: map[string]int{"UpdateItem": 1, "PutItem": 1}, Frames: 1, Replies: 1}
		base, err := Estimate(tinyLoad(), m, p)
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := base.ByAction[ActionChanges]; ok || base.ByComponent[CompEventBridge] != 0 {
			t.Fatalf("a default load priced changes or notifications: %v", base.ByAction)
		}
		l := tinyLoad()
		l.ChangesPerMessage, l.Notifications = 0.5, true
		rep, err := Estimate(l, m, p)
		if err != nil {
			t.Fatal(err)
		}
		// 1,500 changes × 2 writes; 3,000 direct messages × the chance 1 − 1/10 that the
		// recipient is offline.
		if got := rep.ByAction[ActionChanges]; got != 3000 {
			t.Fatalf("changes %v, want 3000 writes", got)
		}
		if got, want := rep.ByComponent[CompEventBridge], 3000*0.9; math.Abs(got-want) > 1e-9 {
			t.Fatalf("EventBridge %v, want %v events", got, want)
		}
		// And, under the load's liveness "before", a presence refresh per change frame.
		if got := rep.MonthlyUSD - base.MonthlyUSD; math.Abs(got-(3000+2700+1500)) > 1e-6 {
			t.Fatalf("the two added %v, want 7200", got)
		}
	})
	t.Run("after: MOCK keepalive, v1 heartbeat without database, no presence refresh", func(t *testing.T) {
		p := freePrices()
		p.APIGatewayMessages, p.DynamoDBWrites = unit, unit
		l := tinyLoad()
		l.Liveness, l.V1Share, l.KeepaliveInterval = LivenessAfter, 0.5, Duration(60*time.Second)
		rep, err := Estimate(l, tinyMeasured(), p)
		if err != nil {
			t.Fatal(err)
		}
		// v1: 1,296,000 s / 30 s × 2 messages; v1.1: 1,296,000 s / 60 s × 1; no write.
		if got, want := rep.ByAction[ActionLiveness], 43_200*2+21_600.0; got != want {
			t.Fatalf("heartbeat/keepalive %v, want %v", got, want)
		}
		// Frames refresh no presence: only connect and disconnect write it.
		if got := rep.ByAction[ActionPresence]; got != 0 {
			t.Fatalf("presence refresh %v, want 0", got)
		}
	})
}

func TestMessageTier(t *testing.T) {
	p, err := LoadPrices("us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	if got := p.APIGatewayMessagesUSD(2e9); math.Abs(got-1800) > 1e-9 {
		t.Fatalf("2 billion messages cost %v, want $1,000 + $800", got)
	}
}

// TestRequestsDriveTheModel changes one measured count and watches the bill move by
// exactly its price.
func TestRequestsDriveTheModel(t *testing.T) {
	measured, err := Measured()
	if err != nil {
		t.Fatal(err)
	}
	prices, err := LoadPrices("us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	base, err := Estimate(Defaults(), measured, prices)
	if err != nil {
		t.Fatal(err)
	}
	changed := RequestsFile{Actions: map[string]Requests{}}
	for k, v := range measured.Actions {
		changed.Actions[k] = v
	}
	r := changed.Actions["send/direct/inline"]
	r.Posts++
	changed.Actions["send/direct/inline"] = r
	more, err := Estimate(Defaults(), changed, prices)
	if err != nil {
		t.Fatal(err)
	}
	// 500M × 0.7 × 30 direct messages, one more post each, all beyond the first billion.
	if d, want := more.MonthlyUSD-base.MonthlyUSD, 10.5e9*0.80/1e6; math.Abs(d-want) > 0.01 {
		t.Fatalf("one more post per direct message moved the bill by %v, want %v", d, want)
	}
	r = changed.Actions["presence-refresh"]
	r.Writes = map[string]int{"UpdateItem": 2}
	changed.Actions["presence-refresh"] = r
	before := Defaults()
	before.Liveness = LivenessBefore
	more, err = Estimate(before, measured, prices)
	if err != nil {
		t.Fatal(err)
	}
	twice, err := Estimate(before, changed, prices)
	if err != nil {
		t.Fatal(err)
	}
	if twice.ByAction[ActionPresence] <= more.ByAction[ActionPresence]*1.99 {
		t.Fatalf("a presence refresh of two writes: %v, one: %v", twice.ByAction[ActionPresence], more.ByAction[ActionPresence])
	}
	delete(changed.Actions, "heartbeat")
	if _, err := Estimate(Defaults(), changed, prices); err == nil || !strings.Contains(err.Error(), `"heartbeat"`) {
		t.Fatalf("without the heartbeat action: %v", err)
	}
}

func TestInterpolation(t *testing.T) {
	measured, err := Measured()
	if err != nil {
		t.Fatal(err)
	}
	l := Defaults()
	m := &model{load: l, measured: measured}
	at := func(c counts, err error) counts {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	g10, g100 := at(m.get("send/group10/stream")), at(m.get("send/group100/stream"))
	c, _, err := m.send(500, false)
	if err != nil {
		t.Fatal(err)
	}
	// Stream path (500 > INLINE_MAX_MEMBERS): members grow linearly, 10 → 100 → 500.
	slope := (g100.posts - g10.posts) / 90
	if want := g100.posts + 400*slope; c.posts != want || c.poster != "fanout" {
		t.Fatalf("500-member send: %v posts by %s, want %v by fanout", c.posts, c.poster, want)
	}
	c, _, err = m.send(55, false)
	if err != nil {
		t.Fatal(err)
	}
	if want := (at(m.get("send/group10/inline")).reads["Query"] + at(m.get("send/group100/inline")).reads["Query"]) / 2; c.reads["Query"] != want || c.poster != "send" {
		t.Fatalf("55-member send: %v queries by %s, want %v by send", c.reads["Query"], c.poster, want)
	}
	// Above MaxReceiptFanout no event is pushed.
	c, _, err = m.receipt(chat.MaxReceiptFanout+1, false)
	if err != nil {
		t.Fatal(err)
	}
	if c.posts != 0 || sum(c.inv) != 1 {
		t.Fatalf("receipt in a big group: %v posts, %v invocations", c.posts, sum(c.inv))
	}
	m.load.MessageStore = topology.StoreKeyspaces
	direct := at(m.get("send/direct/inline"))
	c, _, err = m.send(2, true)
	if err != nil {
		t.Fatal(err)
	}
	if c.ksWrites != 2 || c.writes["PutItem"] != direct.writes["PutItem"]-1 {
		t.Fatalf("keyspaces send: %v Keyspaces writes, %v PutItem (measured %v)", c.ksWrites, c.writes["PutItem"], direct.writes["PutItem"])
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		set  func(*Load)
		want string
	}{
		{"negative dau", func(l *Load) { l.DAU = -1 }, "--dau"},
		{"share over 1", func(l *Load) { l.DirectShare = 1.5 }, "--direct-share"},
		{"peak below average", func(l *Load) { l.PeakRate = 1 }, "--peak-rate"},
		{"keepalive past the idle timeout", func(l *Load) { l.KeepaliveInterval = Duration(11 * time.Minute) }, "idle"},
		{"liveness", func(l *Load) { l.Liveness = "sometimes" }, "--liveness"},
		{"store", func(l *Load) { l.MessageStore = "s3" }, "--message-store"},
		{"inline", func(l *Load) { l.InlineMaxMembers = 501 }, "--inline-max-members"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := Defaults()
			tt.set(&l)
			if err := l.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate: %v, want an error naming %s", err, tt.want)
			}
		})
	}
	if err := Defaults().Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestParseGroupSizes(t *testing.T) {
	g, err := ParseGroupSizes("100:0.25,10:0.7,500:0.05")
	if err != nil || len(g) != 3 || g[0].Members != 10 || math.Abs(g.Mean()-57) > 1e-9 {
		t.Fatalf("%v %v", g, err)
	}
	if g, err := ParseGroupSizes("42"); err != nil || len(g) != 1 || g[0] != (GroupSize{42, 1}) {
		t.Fatalf("%v %v", g, err)
	}
	for _, bad := range []string{"", "10:0.5", "1:1", "501:1", "x:1", "10:-1,20:2"} {
		if _, err := ParseGroupSizes(bad); err == nil {
			t.Errorf("ParseGroupSizes(%q) accepted", bad)
		}
	}
}

func TestPrices(t *testing.T) {
	if got := Regions(); len(got) != 1 || got[0] != "us-east-1" {
		t.Fatalf("regions %v", got)
	}
	p, err := LoadPrices("us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	if p.Date != "2026-12-01" || p.DynamoDBWrites.USD != 0.625 || p.LambdaGBSeconds.USD != 0.0000133334 {
		t.Fatalf("%+v", p)
	}
	if _, err := LoadPrices("eu-west-9"); err == nil || !strings.Contains(err.Error(), "us-east-1") {
		t.Fatalf("unknown region: %v", err)
	}
}

// TestPresets checks the presets and that the seed's liveness share meets the goal
// (at most 10% after the change) with the default mix.
func TestPresets(t *testing.T) {
	for _, name := range PresetNames() {
		l, err := Preset(name)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := Run(l, "us-east-1")
		if err != nil {
			t.Fatal(err)
		}
		if rep.MonthlyUSD <= 0 || rep.LivenessShare > 0.10 {
			t.Errorf("%s: $%v a month, liveness share %v", name, rep.MonthlyUSD, rep.LivenessShare)
		}
		var sum float64
		for _, v := range rep.ByComponent {
			sum += v
		}
		if math.Abs(sum-rep.MonthlyUSD) > 1e-6*rep.MonthlyUSD {
			t.Errorf("%s: components sum to %v, bill %v", name, sum, rep.MonthlyUSD)
		}
	}
	if _, err := Preset("huge"); err == nil {
		t.Fatal("Preset(huge) accepted")
	}
}
