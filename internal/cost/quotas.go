package cost

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/topology"
)

// Throttle is a steady rate (requests per second) and a burst, as infra/stack declares one.
type Throttle struct {
	Rate, Burst float64
}

// Parley's own limits in the deployed stack. The CDK app is its own module (infra/), so
// these are copies: StageThrottle is Props.Throttle's default in infra/stack/props.go
// (context throttleRate/throttleBurst), RouteThrottles is RouteThrottles in
// infra/stack/api.go. TestInfraThrottles reads both files and fails when they differ.
var (
	StageThrottle  = Throttle{Rate: 500, Burst: 1000}
	RouteThrottles = map[string]Throttle{
		"$connect":           {Rate: 100, Burst: 200},
		"sync":               {Rate: 50, Burst: 100},
		"history":            {Rate: 200, Burst: 400},
		"createConversation": {Rate: 50, Burst: 100},
		"addMembers":         {Rate: 50, Burst: 100},
	}
)

// AWS defaults, each from the page named in its quota's Source.
const (
	apiNewConnectionsPerSecond = 500
	apiAccountRPS              = 10_000
	lambdaConcurrency          = 1_000
	lambdaScalingPer10s        = 1_000
	ddbTableUnits              = 40_000
	ddbPartitionWCU            = 1_000
	ddbPartitionRCU            = 3_000
	// RequestHeadroom is how much above the need a quota request asks for.
	RequestHeadroom = 1.5
)

// Which of a conversation's requests land on its Conversations partition (pk CONV#id),
// from docs/architecture.md ("Data", "The path of one message"): requests.json counts
// requests by operation, not by key.
const (
	convWritesPerSend      = 2 // the reservation (CLIENTMSG#…) and the last message (META)
	convMarkWrites         = 1 // the inline path's INLINE# mark
	convWritesPerReceipt   = 1 // the member's cursor (MEMBER#user)
	convReadsPerSendInline = 2 // membership and META (member count), then the member Query
	convReadsPerSendStream = 1 // membership; the fan-out's member Query besides
	convReadsPerReceipt    = 2 // membership and META, then the member Query up to MaxReceiptFanout
)

// Quota is one limit the load meets at its peak.
type Quota struct {
	Name    string `json:"name"`
	Service string `json:"service"`
	// Needed is the load's figure at its peak, Default the limit as deployed or as AWS
	// sets it for a new account, both in Unit.
	Needed     float64 `json:"needed"`
	Default    float64 `json:"default"`
	Unit       string  `json:"unit"`
	Adjustable bool    `json:"adjustable"`
	Exceeded   bool    `json:"exceeded"`
	// Request is what to ask for (or do) when Exceeded; Note explains the figure.
	Request string `json:"request,omitempty"`
	Note    string `json:"note,omitempty"`
	Source  string `json:"source"`
}

// niceCeil rounds x up to two significant digits.
func niceCeil(x float64) float64 {
	if x <= 0 {
		return 0
	}
	p := math.Pow(10, math.Floor(math.Log10(x))-1)
	return math.Ceil(x/p) * p
}

func ask(x float64) string { return fmtCount(niceCeil(x * RequestHeadroom)) }

// askArg is ask without separators, for a command line.
func askArg(x float64) string { return fmt.Sprintf("%.0f", niceCeil(x*RequestHeadroom)) }

// routeOf names the route key a line's frames arrive on.
func routeOf(ln line) string {
	switch {
	case ln.action == ActionSend:
		return "send"
	case ln.action == ActionReceipts:
		return "receipt"
	case ln.action == ActionSync:
		return "sync"
	case ln.what == "connect":
		return topology.RouteConnect
	case ln.what == "disconnect":
		return topology.RouteDisconnect
	case strings.HasPrefix(ln.what, "keepalive"):
		return "keepalive"
	case strings.HasPrefix(ln.what, "heartbeat"):
		return "heartbeat"
	}
	return ""
}

// quotas lists the limits the load meets at its peak, and the peak rates.
func quotas(l Load, lines []line) ([]Quota, map[string]float64, error) {
	var routeReq, posts, wcu, rcu, inv, conc float64
	byRoute := map[string]float64{}
	fnConc := map[string]float64{}
	for _, ln := range lines {
		c, r := ln.c, ln.peakPerSec
		routeReq += c.routeRequests * r
		posts += c.posts * r
		wcu += sum(c.writes) * r
		rcu += sum(c.reads) * r
		inv += sum(c.inv) * r
		if rt := routeOf(ln); rt != "" {
			byRoute[rt] += c.routeRequests * r
		}
		for fn, k := range c.inv {
			ms, err := billedMS(fn, c)
			if err != nil {
				return nil, nil, err
			}
			fnConc[fn] += k * r * ms / 1000
			conc += k * r * ms / 1000
		}
	}
	peak := map[string]float64{
		"messagesPerSecond": l.PeakRate, "routeRequestsPerSecond": routeReq, "postsPerSecond": posts,
		"connectsPerSecond": byRoute[topology.RouteConnect], "lambdaInvocationsPerSecond": inv,
		"lambdaConcurrency": conc, "dynamoDBWriteUnitsPerSecond": wcu, "dynamoDBReadUnitsPerSecond": rcu,
	}
	var qs []Quota
	add := func(q Quota) { qs = append(qs, q) }
	const apiPage = "API Gateway developer guide: Quotas for configuring and running a WebSocket API in API Gateway"
	const acctPage = "API Gateway developer guide: Amazon API Gateway quotas (account-level quotas, per Region)"
	add(Quota{
		Name: "New connections per second per account (across all WebSocket APIs) per Region", Service: "Amazon API Gateway",
		Needed: byRoute[topology.RouteConnect], Default: apiNewConnectionsPerSecond, Unit: "connections/s", Adjustable: true,
		Request: "Service Quotas → Amazon API Gateway → this quota: request " + ask(byRoute[topology.RouteConnect]) + " (and plan for reconnect storms: every client reconnecting within a minute is concurrent/60 per second)",
		Note:    fmt.Sprintf("connects at the busiest hour (%.1f× the day's average); sessions split every %v", PeakConnectionFactor, MaxConnectionDuration),
		Source:  apiPage,
	})
	add(Quota{
		Name: "Throttle quota per account, per Region across HTTP APIs, REST APIs, WebSocket APIs, and WebSocket callback APIs", Service: "Amazon API Gateway",
		Needed: routeReq + posts, Default: apiAccountRPS, Unit: "requests/s", Adjustable: true,
		Request: "Service Quotas → Amazon API Gateway → this quota: request " + ask(routeReq+posts),
		Note:    fmt.Sprintf("route requests %s/s (frames, $connect, $disconnect) + Management API posts %s/s (callback API calls count here; no separate PostToConnection rate is documented)", fmtCount(routeReq), fmtCount(posts)),
		Source:  acctPage,
	})
	busiest, busiestRate := "", 0.0
	for rt, v := range byRoute {
		if _, own := RouteThrottles[rt]; !own && (v > busiestRate || v == busiestRate && rt < busiest) {
			busiest, busiestRate = rt, v
		}
	}
	add(Quota{
		Name: "Parley stage default route throttle (rate)", Service: "Parley stack (infra/stack)",
		Needed: busiestRate, Default: StageThrottle.Rate, Unit: "requests/s per route", Adjustable: true,
		Request: fmt.Sprintf("deploy with -c throttleRate=%s -c throttleBurst=%s (infra/stack props)", askArg(busiestRate), askArg(2*busiestRate)),
		Note:    fmt.Sprintf("busiest route without its own throttle: %q; the default applies to each route", busiest),
		Source:  "infra/stack/props.go (Props.Throttle default)",
	})
	for _, rt := range []string{topology.RouteConnect, "sync"} {
		add(Quota{
			Name: fmt.Sprintf("Parley route throttle %s (rate)", rt), Service: "Parley stack (infra/stack)",
			Needed: byRoute[rt], Default: RouteThrottles[rt].Rate, Unit: "requests/s", Adjustable: true,
			Request: fmt.Sprintf("raise RouteThrottles[%q] in infra/stack/api.go to %s (burst %s) and redeploy", rt, ask(byRoute[rt]), ask(2*byRoute[rt])),
			Source:  "infra/stack/api.go (RouteThrottles)",
		})
	}
	userRate := l.HotGroupRate * l.ReceiptsPerMessage
	note := fmt.Sprintf("a member of the busiest group (%d members, %g msg/s) sending %g receipts per message", l.HotGroupMembers, l.HotGroupRate, l.ReceiptsPerMessage)
	if l.Liveness == LivenessBefore {
		userRate += 1 / time.Duration(l.HeartbeatInterval).Seconds()
		note += ", plus heartbeats"
	}
	add(Quota{
		Name: "Parley per-user rate limit (RATE_LIMIT)", Service: "Parley functions (internal/chat)",
		Needed: userRate, Default: chat.DefaultRateLimit, Unit: "frames/s per user per instance", Adjustable: true,
		Request: fmt.Sprintf("set RATE_LIMIT=%s (and RATE_BURST) on the functions", ask(userRate)),
		Note:    note + "; receipts move a cursor up to a message, so a client may send one per burst instead",
		Source:  "internal/chat/service.go (DefaultRateLimit)",
	})
	add(Quota{
		Name: "Concurrent executions", Service: "AWS Lambda",
		Needed: conc, Default: lambdaConcurrency, Unit: "executions", Adjustable: true,
		Request: "Service Quotas → AWS Lambda → Concurrent executions: request " + ask(conc),
		Note:    fmt.Sprintf("peak invocations %s/s × billed duration (BilledMS + PostRoundMS per post round)", fmtCount(inv)),
		Source:  "Lambda developer guide: Lambda quotas; Lambda scaling behavior",
	})
	topFn, topConc := "", 0.0
	for fn, v := range fnConc {
		if v > topConc || v == topConc && fn < topFn {
			topFn, topConc = fn, v
		}
	}
	add(Quota{
		Name: "Concurrency scaling rate (per function)", Service: "AWS Lambda",
		Needed: topConc, Default: lambdaScalingPer10s, Unit: "execution environments added per 10 s", Adjustable: false,
		Request: fmt.Sprintf("not adjustable: %s needs %s environments, %.0f s of scaling from idle; ramp traffic (or use provisioned concurrency) rather than switch it on at once", topFn, fmtCount(topConc), math.Ceil(topConc/lambdaScalingPer10s)*10),
		Note:    fmt.Sprintf("busiest function: %s", topFn),
		Source:  "Lambda developer guide: Lambda scaling behavior (1,000 environments every 10 s per function)",
	})
	// Fan-out: one batch per shard per parallelization slot. Shards follow the stream's
	// table partitions: estimated from the message writes alone (1,000 WCU each), a lower
	// bound (storage splits partitions too).
	mapping := "messages"
	if l.MessageStore == topology.StoreKeyspaces {
		mapping = "outbox"
	}
	pf := 1
	for _, mp := range topology.Mappings {
		if mp.Name == mapping {
			pf = mp.Parallelization
		}
	}
	msgWCU := l.PeakRate * math.Ceil(MessageItemBytes/1024.0)
	shards := math.Max(1, math.Ceil(msgWCU/ddbPartitionWCU))
	add(Quota{
		Name: "Fan-out batches in flight (stream shards × ParallelizationFactor)", Service: "DynamoDB Streams / Lambda event source mapping",
		Needed: fnConc["fanout"], Default: shards * float64(pf), Unit: "concurrent fan-out invocations", Adjustable: true,
		Request: fmt.Sprintf("raise the %q mapping's Parallelization in internal/topology (up to 10)", mapping),
		Note:    fmt.Sprintf("about %s shards (message writes %s WCU/s at 1,000 per partition) × parallelization %d; batches of one record, as measured", fmtCount(shards), fmtCount(msgWCU), pf),
		Source:  "Lambda developer guide: Lambda parameters for Amazon DynamoDB event source mappings (ParallelizationFactor, maximum 10)",
	})
	const ddbPage = "DynamoDB developer guide: DynamoDB maximum throughput for on-demand tables; Quotas in Amazon DynamoDB"
	for _, t := range []struct {
		kind   string
		needed float64
	}{{"write", wcu}, {"read", rcu}} {
		add(Quota{
			Name: "Table-level " + t.kind + " throughput (on-demand)", Service: "Amazon DynamoDB",
			Needed: t.needed, Default: ddbTableUnits, Unit: t.kind + " units/s", Adjustable: true,
			Request: fmt.Sprintf("Service Quotas → Amazon DynamoDB → Table-level %s throughput limit: request %s", t.kind, ask(t.needed)),
			Note:    "all tables together: an upper bound for the busiest (Connections takes most reads: one connection Query per member)",
			Source:  ddbPage,
		})
	}
	qs = append(qs, hotSpots(l)...)
	for i := range qs {
		qs[i].Exceeded = qs[i].Needed > qs[i].Default
		if !qs[i].Exceeded {
			qs[i].Request = ""
		}
	}
	return qs, peak, nil
}

// hotSpots are the per-partition limits of the busiest conversation.
func hotSpots(l Load) []Quota {
	n, g, r := l.HotGroupMembers, l.HotGroupRate, l.ReceiptsPerMessage
	inline := l.InlineMaxMembers > 0 && n <= l.InlineMaxMembers
	memberRCU := math.Ceil(float64(n) * MemberItemBytes / 4096)
	writes := float64(convWritesPerSend)
	reads := convReadsPerSendStream + memberRCU
	if inline {
		writes += convMarkWrites
		reads = convReadsPerSendInline + memberRCU
	}
	receipts := float64(n-1) * r
	rReads := float64(convReadsPerReceipt)
	if n <= chat.MaxReceiptFanout {
		rReads += memberRCU
	}
	writes += receipts * convWritesPerReceipt
	reads += receipts * rReads
	parts := fmt.Sprintf("the Conversations table (reservation, META, %g receipts' cursors)", receipts)
	if l.MessageStore == topology.StoreKeyspaces {
		// The reservation and the cursors are Keyspaces rows; META and the mark stay.
		writes -= 1 + receipts*convWritesPerReceipt
		parts = "the Conversations table (Keyspaces mode: META and the inline mark only)"
	}
	const page = "DynamoDB developer guide: Understanding DynamoDB warm throughput (each partition 1,000 write and 3,000 read units per second)"
	what := fmt.Sprintf("a %d-member group at %g msg/s", n, g)
	return []Quota{
		{
			Name: "Partition writes: Conversations CONV#<busiest group>", Service: "Amazon DynamoDB",
			Needed: g * writes, Default: ddbPartitionWCU, Unit: "write units/s", Adjustable: false,
			Request: fmt.Sprintf("not a quota: at most %.3g msg/s fit; send fewer receipts in big groups (one per burst), or keep cursors under the user's key", ddbPartitionWCU/writes),
			Note:    fmt.Sprintf("%s: %g writes per message on %s", what, writes, parts),
			Source:  page,
		},
		{
			Name: "Partition reads: Conversations CONV#<busiest group>", Service: "Amazon DynamoDB",
			Needed: g * reads, Default: ddbPartitionRCU, Unit: "read units/s", Adjustable: false,
			Request: fmt.Sprintf("not a quota: at most %.3g msg/s fit; cache membership and the member list in the functions", ddbPartitionRCU/reads),
			Note:    fmt.Sprintf("%s: %g strongly consistent read units per message (membership, META, member list of %g RCU, per receipt %g)", what, reads, memberRCU, rReads),
			Source:  page,
		},
		{
			Name: "Item writes: Conversations CONV#<group>/META (last message, every send)", Service: "Amazon DynamoDB",
			Needed: g, Default: ddbPartitionWCU, Unit: "write units/s", Adjustable: false,
			Request: "not a quota: any one conversation is capped by its partition; write lastMessage at most once a second per conversation",
			Note:    "one UpdateItem per message on a single item",
			Source:  page,
		},
		{
			Name: "Partition writes: Messages <busiest group>", Service: "Amazon DynamoDB",
			Needed: g * math.Ceil(MessageItemBytes/1024.0), Default: ddbPartitionWCU, Unit: "write units/s", Adjustable: false,
			Request: "not a quota: split the conversation's partition key by time bucket",
			Note:    fmt.Sprintf("one write unit per message of up to 1 KB (assumed %d B; a 16 KB body is 16)", MessageItemBytes),
			Source:  page,
		},
	}
}
