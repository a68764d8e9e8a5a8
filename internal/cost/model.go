package cost

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/topology"
)

// Time and API Gateway facts the model uses.
const (
	secondsPerDay = 86_400
	// DaysPerMonth is the month the bill is for.
	DaysPerMonth  = 30
	secondsPerMon = secondsPerDay * DaysPerMonth
	// IdleTimeout and MaxConnectionDuration are API Gateway's WebSocket limits (the
	// "Quotas for configuring and running a WebSocket API in API Gateway" page): a
	// connection idle for 10 minutes is closed, and none lives longer than 2 hours.
	IdleTimeout           = 10 * time.Minute
	MaxConnectionDuration = 2 * time.Hour
)

// Assumptions: what requests.json does not measure. Each is a named figure here and in
// docs/scale.md; change one and every figure that depends on it follows.
var (
	// BilledMS is the billed duration of one invocation of each function before its posts
	// (Lambda bills by the millisecond). Not measured on AWS: the figures docs/deploy.md
	// assumes (30 ms for a send, 10 ms for a fan-out that only reads the inline mark),
	// and similar guesses for the others. A function that posts adds PostRoundMS per round
	// of chat.DefaultPushConcurrency posts in flight.
	BilledMS = map[string]float64{
		"authorizer": 10, "connect": 30, "disconnect": 20, "send": 30, "receipts": 20,
		"history": 40, "conversations": 30, "presence": 10, "fanout": 10,
	}
)

const (
	// PostRoundMS is the billed time of one round of up to chat.DefaultPushConcurrency
	// Management API posts in flight (about one post's latency, ~20 ms on AWS).
	PostRoundMS = 20
	// LambdaLogBytes is the CloudWatch Logs a function writes per invocation (START, END,
	// REPORT lines and the handler's own, as docs/deploy.md estimates).
	LambdaLogBytes = 1024
	// AccessLogBytes is one access-log line of the stage (infra/stack/api.go's JSON
	// format, filled in) per route request, mock routes included.
	AccessLogBytes = 500
	// MessageItemBytes is a stored message (under 1 KB: 1 write unit); ReservationItemBytes
	// its idempotency reservation (kept); MemberItemBytes a member item (the member list
	// Query of a big group reads n of them, 4 KB per read unit).
	MessageItemBytes     = 500
	ReservationItemBytes = 200
	MemberItemBytes      = 200
	// PeakConnectionFactor is the ratio of connections (and their heartbeats, connects
	// and syncs) at the busiest hour to the day's average: a diurnal curve's 1.5×.
	// Message-driven traffic peaks at PeakRate instead.
	PeakConnectionFactor = 1.5
	// FrameRefreshWrites is how many presence refreshes (requests.json's action
	// "presence-refresh") each frame a user sends cost before the change: every frame
	// refreshed presence with a conditional UpdateItem, one write unit even when its
	// condition failed (docs/architecture.md before protocol 1.1). --liveness before adds
	// them to every frame.
	FrameRefreshWrites = 1
)

// Actions of the bill (Report.ByAction).
const (
	ActionSend        = "send"
	ActionReceipts    = "receipts"
	ActionLiveness    = "heartbeat/keepalive"
	ActionPresence    = "presence refresh"
	ActionConnect     = "connect/disconnect"
	ActionSync        = "sync"
	ActionChanges     = "changes"
	ActionNotify      = "offline notifications"
	ActionConnMinutes = "connection minutes"
	ActionStorage     = "storage"
)

// actionOrder is the order of the text report.
var actionOrder = []string{ActionSend, ActionReceipts, ActionChanges, ActionNotify, ActionLiveness, ActionPresence, ActionConnect, ActionSync, ActionConnMinutes, ActionStorage}

// livenessActions are keep-alive and presence: the "liveness share".
var livenessActions = []string{ActionLiveness, ActionPresence, ActionConnect}

// Components of the bill (Report.ByComponent).
const (
	CompAPIMessages = "API Gateway messages"
	CompAPIMinutes  = "API Gateway connection minutes"
	CompLambdaReq   = "Lambda requests"
	CompLambdaDur   = "Lambda duration"
	CompDDBWrites   = "DynamoDB writes"
	CompDDBReads    = "DynamoDB reads"
	CompDDBStreams  = "DynamoDB Streams"
	CompDDBStorage  = "DynamoDB storage"
	CompKSWrites    = "Keyspaces writes"
	CompKSReads     = "Keyspaces reads"
	CompEventBridge = "EventBridge"
	CompLogs        = "CloudWatch Logs"
)

var componentOrder = []string{CompAPIMessages, CompAPIMinutes, CompLambdaReq, CompLambdaDur, CompDDBWrites, CompDDBReads,
	CompDDBStreams, CompDDBStorage, CompKSWrites, CompKSReads, CompEventBridge, CompLogs}

// counts is one occurrence of an action in requests, as float64 so that sizes between
// the measured ones can be interpolated.
type counts struct {
	inv           map[string]float64
	reads, writes map[string]float64
	ksReads       float64
	ksWrites      float64
	posts, frames float64
	replies       float64
	// events are EventBridge events put (offline notifications).
	events float64
	// routeRequests are requests through the API's routes: frames, and $connect or
	// $disconnect themselves (access log lines, stage throttles).
	routeRequests float64
	// poster is the function making the posts (its duration grows with them).
	poster string
}

func fromRequests(r Requests) counts {
	c := counts{inv: map[string]float64{}, reads: map[string]float64{}, writes: map[string]float64{}}
	for k, v := range r.Invocations {
		c.inv[k] = float64(v)
	}
	for k, v := range r.Reads {
		c.reads[k] = float64(v)
	}
	for k, v := range r.Writes {
		c.writes[k] = float64(v)
	}
	c.posts, c.frames, c.replies, c.routeRequests = float64(r.Posts), float64(r.Frames), float64(r.Replies), float64(r.Frames)
	return c
}

func lerpMap(a, b map[string]float64, t float64) map[string]float64 {
	out := map[string]float64{}
	for k := range a {
		out[k] = 0
	}
	for k := range b {
		out[k] = 0
	}
	for k := range out {
		out[k] = max(0, a[k]+(b[k]-a[k])*t)
	}
	return out
}

// lerp interpolates (or extrapolates) every count linearly: a at t=0, b at t=1, never
// below zero.
func lerp(a, b counts, t float64) counts {
	f := func(x, y float64) float64 { return max(0, x+(y-x)*t) }
	return counts{
		inv: lerpMap(a.inv, b.inv, t), reads: lerpMap(a.reads, b.reads, t), writes: lerpMap(a.writes, b.writes, t),
		ksReads: f(a.ksReads, b.ksReads), ksWrites: f(a.ksWrites, b.ksWrites),
		posts: f(a.posts, b.posts), frames: f(a.frames, b.frames), replies: f(a.replies, b.replies),
		routeRequests: f(a.routeRequests, b.routeRequests), events: f(a.events, b.events), poster: b.poster,
	}
}

// sum adds m's values in key order, so that the same load always gives the same figures
// to the last digit (floating-point addition depends on the order).
func sum(m map[string]float64) float64 {
	var s float64
	for _, k := range slices.Sorted(maps.Keys(m)) {
		s += m[k]
	}
	return s
}

// add returns a + b (a's poster).
func add(a, b counts) counts {
	c := lerp(a, b, 0)
	for k, v := range b.inv {
		c.inv[k] += v
	}
	for k, v := range b.reads {
		c.reads[k] += v
	}
	for k, v := range b.writes {
		c.writes[k] += v
	}
	c.ksReads += b.ksReads
	c.ksWrites += b.ksWrites
	c.posts += b.posts
	c.frames += b.frames
	c.replies += b.replies
	c.routeRequests += b.routeRequests
	c.events += b.events
	return c
}

// scaled returns c with every count multiplied by k.
func scaled(c counts, k float64) counts {
	zero := counts{inv: map[string]float64{}, reads: map[string]float64{}, writes: map[string]float64{}}
	return lerp(zero, c, k)
}

// move takes up to n requests of op out of m and returns how many it took.
func move(m map[string]float64, op string, n float64) float64 {
	k := min(n, m[op])
	m[op] -= k
	return k
}

// line is one action of the bill: what one occurrence costs, how often it occurs in the
// month and how often per second at the peak.
type line struct {
	action     string
	what       string // e.g. "send/group100/inline at 57 members"
	c          counts
	perMonth   float64
	peakPerSec float64
	// connMinutes and storageGB are the lines that are not requests.
	connMinutes, storageGB float64
}

// model builds the lines of a load from the measured requests.
type model struct {
	load     Load
	measured RequestsFile
	msgPeak  float64 // peak rate / average rate of message-driven traffic
}

func (m *model) get(action string) (counts, error) {
	r, ok := m.measured.Actions[action]
	if !ok {
		return counts{}, fmt.Errorf("cost: requests.json has no action %q", action)
	}
	return fromRequests(r), nil
}

// group interpolates kind ("send/group%d/inline", …) at n members from the 10- and
// 100-member measurements.
func (m *model) group(format string, n int) (counts, error) {
	a, err := m.get(fmt.Sprintf(format, 10))
	if err != nil {
		return counts{}, err
	}
	b, err := m.get(fmt.Sprintf(format, 100))
	if err != nil {
		return counts{}, err
	}
	return lerp(a, b, float64(n-10)/90), nil
}

// routed reads action ("send", "react") in a conversation of n members (direct: 2) on
// the path INLINE_MAX_MEMBERS chooses: the measured direct counts, or the group counts
// interpolated at n. Its posts are made by send on the inline path, by fanout otherwise.
func (m *model) routed(action string, n int, direct bool) (counts, string, error) {
	path := "stream"
	if m.load.InlineMaxMembers > 0 && n <= m.load.InlineMaxMembers {
		path = "inline"
	}
	var c counts
	var err error
	what := action + "/direct/" + path
	if direct {
		c, err = m.get(what)
	} else {
		what = fmt.Sprintf("%s/group{10,100}/%s at %d members", action, path, n)
		c, err = m.group(action+"/group%d/"+path, n)
	}
	if err != nil {
		return counts{}, "", err
	}
	c.poster = "fanout"
	if path == "inline" {
		c.poster = "send"
	}
	return c, what, nil
}

// send is one message to a conversation of n members (direct: 2).
func (m *model) send(n int, direct bool) (counts, string, error) {
	c, what, err := m.routed("send", n, direct)
	if err != nil {
		return counts{}, "", err
	}
	if m.load.MessageStore == topology.StoreKeyspaces {
		// docs/keyspaces.md, "Costs": the reservation and the message are Keyspaces writes
		// (an LWT costs no extra), and an outbox item (one DynamoDB PutItem) feeds the
		// fan-out in place of the Messages stream.
		c.ksWrites += move(c.writes, "PutItem", 2)
		c.writes["PutItem"]++
	}
	return c, what, nil
}

// receipt is one receipt in a conversation of n members. Above chat.MaxReceiptFanout
// members no receipt event is pushed and no member is read: only the part of the
// measurement that does not grow with the members remains (the interpolation's value at
// 0 members, never below zero).
func (m *model) receipt(n int, direct bool) (counts, string, error) {
	var c counts
	var err error
	what := "receipt/direct"
	switch {
	case direct:
		c, err = m.get(what)
	case n <= chat.MaxReceiptFanout:
		what = fmt.Sprintf("receipt/group{10,100} at %d members", n)
		c, err = m.group("receipt/group%d", n)
	default:
		what = fmt.Sprintf("receipt/group{10,100}, fixed part only (%d > %d members: no events)", n, chat.MaxReceiptFanout)
		c, err = m.group("receipt/group%d", 0)
	}
	if err != nil {
		return counts{}, "", err
	}
	c.poster = "receipts"
	if m.load.MessageStore == topology.StoreKeyspaces {
		// The message read and the cursor move are Keyspaces requests (docs/keyspaces.md).
		c.ksReads += move(c.reads, "GetItem", 1)
		c.ksWrites += move(c.writes, "UpdateItem", 1)
	}
	return c, what, nil
}

// change is one change (priced as a reaction, requests.json's react/…) in a conversation
// of n members.
func (m *model) change(n int, direct bool) (counts, string, error) {
	c, what, err := m.routed("react", n, direct)
	if err != nil {
		return counts{}, "", err
	}
	if m.load.MessageStore == topology.StoreKeyspaces {
		// docs/keyspaces.md: the message read, its LWT update and the event's insert are
		// Keyspaces requests; an outbox item feeds the fan-out.
		c.ksReads += move(c.reads, "GetItem", 1)
		c.ksWrites += move(c.writes, "UpdateItem", 1) + move(c.writes, "PutItem", 1)
		c.writes["PutItem"]++
	}
	return c, what, nil
}

// lines lays the load out as the month's actions.
func (m *model) lines() ([]line, error) {
	l := m.load
	var out []line
	msgs := l.MessagesPerDay * DaysPerMonth
	avg := l.MessagesPerDay / secondsPerDay
	m.msgPeak = 1
	if avg > 0 {
		m.msgPeak = l.PeakRate / avg
	}
	perSecPeak := func(perMonth, factor float64) float64 { return perMonth / secondsPerMon * factor }
	// userFrames are the frames users send to Lambda routes a month (their activity),
	// peakFrames the same per second at the peak.
	var userFrames, peakFrames float64
	// addFrames adds a line of n actions a month that peak with factor and counts the
	// frames they send.
	addFrames := func(action, what string, c counts, n, factor float64) {
		out = append(out, line{action: action, what: what, c: c, perMonth: n, peakPerSec: perSecPeak(n, factor)})
		userFrames += n * c.frames
		peakFrames += perSecPeak(n, factor) * c.frames
	}

	type conv struct {
		n      int
		direct bool
		share  float64
	}
	convs := []conv{{2, true, l.DirectShare}}
	for _, g := range l.GroupSizes {
		convs = append(convs, conv{g.Members, false, (1 - l.DirectShare) * g.Share})
	}
	for _, cv := range convs {
		if cv.share == 0 {
			continue
		}
		n := msgs * cv.share
		c, what, err := m.send(cv.n, cv.direct)
		if err != nil {
			return nil, err
		}
		addFrames(ActionSend, what, c, n, m.msgPeak)
		if l.ChangesPerMessage > 0 {
			cc, what, err := m.change(cv.n, cv.direct)
			if err != nil {
				return nil, err
			}
			addFrames(ActionChanges, what, cc, n*l.ChangesPerMessage, m.msgPeak)
		}
		if l.Notifications && l.DAU > 0 {
			// A recipient is offline with probability p; a message makes an event when one
			// is, and one more per chat.MaxNotifyRecipients of them.
			p := math.Max(0, 1-l.Concurrent/l.DAU)
			k := float64(cv.n - 1)
			per := math.Max(1-math.Pow(1-p, k), k*p/chat.MaxNotifyRecipients)
			out = append(out, line{action: ActionNotify, what: fmt.Sprintf("EventBridge events of %d-member conversations (%.3g a message)", cv.n, per),
				c: counts{events: per}, perMonth: n, peakPerSec: perSecPeak(n, m.msgPeak)})
		}
		rn := n * float64(cv.n-1) * l.ReceiptsPerMessage
		if rn == 0 {
			continue
		}
		rc, what, err := m.receipt(cv.n, cv.direct)
		if err != nil {
			return nil, err
		}
		addFrames(ActionReceipts, what, rc, rn, m.msgPeak)
	}

	// Connections: each session is a connection, split again every 2 hours.
	sessions := l.DAU * l.SessionsPerDay
	connects := 0.0
	if sessions > 0 {
		length := l.Concurrent * secondsPerDay / sessions
		connects = sessions * math.Max(1, math.Ceil(length/MaxConnectionDuration.Seconds())) * DaysPerMonth
	}
	for _, a := range []string{"connect", "disconnect"} {
		c, err := m.get(a)
		if err != nil {
			return nil, err
		}
		c.routeRequests++ // $connect and $disconnect are route requests themselves
		out = append(out, line{action: ActionConnect, what: a, c: c, perMonth: connects, peakPerSec: perSecPeak(connects, PeakConnectionFactor)})
	}
	// A client syncs after every (re)connect (docs/protocol.md); measured with one
	// conversation.
	sc, err := m.get("sync/1conversation")
	if err != nil {
		return nil, err
	}
	if l.MessageStore == topology.StoreKeyspaces {
		sc.ksReads += move(sc.reads, "Query", 1) // the conversation's messages
	}
	addFrames(ActionSync, "sync/1conversation", sc, connects, PeakConnectionFactor)

	// Liveness (docs/protocol.md, "Presence and keep-alive"). Presence is the open
	// connection: written by connect and disconnect (counted above), by no other frame.
	// A version-1 heartbeat still runs the function serving the route, which reads and
	// writes nothing (requests.json's "heartbeat"); a version-1.1 keepalive is answered
	// by API Gateway's MOCK integration (internal/topology.MockRoutes): one frame.
	hb, err := m.get("heartbeat")
	if err != nil {
		return nil, err
	}
	// The presence refresh as measured on its own: one conditional UpdateItem.
	refresh, err := m.get("presence-refresh")
	if err != nil {
		return nil, err
	}
	connSeconds := l.Concurrent * secondsPerMon
	hbEvery := time.Duration(l.HeartbeatInterval).Seconds()
	kaEvery := time.Duration(l.KeepaliveInterval).Seconds()
	switch l.Liveness {
	case LivenessBefore:
		// Every heartbeat runs the function serving the route and refreshes presence.
		n := connSeconds / hbEvery
		out = append(out, line{action: ActionLiveness, what: "heartbeat (Lambda route + presence write)", c: add(hb, scaled(refresh, FrameRefreshWrites)), perMonth: n, peakPerSec: perSecPeak(n, PeakConnectionFactor)})
		// And so does every other frame a user sends.
		if userFrames > 0 {
			out = append(out, line{action: ActionPresence, what: "presence refresh of every other frame (send, receipt, sync)", c: scaled(refresh, FrameRefreshWrites), perMonth: userFrames, peakPerSec: peakFrames})
		}
	case LivenessAfter:
		if n := connSeconds * l.V1Share / hbEvery; n > 0 {
			out = append(out, line{action: ActionLiveness, what: "heartbeat, v1 (Lambda route, no database request)", c: hb, perMonth: n, peakPerSec: perSecPeak(n, PeakConnectionFactor)})
		}
		if n := connSeconds * (1 - l.V1Share) / kaEvery; n > 0 {
			mock := counts{frames: 1, routeRequests: 1}
			out = append(out, line{action: ActionLiveness, what: "keepalive, v1.1 (MOCK: one-way frame)", c: mock, perMonth: n, peakPerSec: perSecPeak(n, PeakConnectionFactor)})
		}
	}
	out = append(out, line{action: ActionConnMinutes, what: "connection minutes", connMinutes: l.Concurrent * secondsPerMon / 60})
	out = append(out, line{action: ActionStorage, what: "GB of messages and reservations stored this month", storageGB: msgs * (MessageItemBytes + ReservationItemBytes) / (1 << 30)})
	return out, nil
}

// billedMS is the billed duration of one invocation of fn in c.
func billedMS(fn string, c counts) (float64, error) {
	ms, ok := BilledMS[fn]
	if !ok {
		return 0, fmt.Errorf("cost: no billed duration assumed for function %q (add it to BilledMS)", fn)
	}
	if fn == c.poster && c.posts > 0 {
		ms += math.Ceil(c.posts/chat.DefaultPushConcurrency) * PostRoundMS
	}
	return ms, nil
}

// usage is a line's monthly quantities.
type usage struct {
	apiMessages, connMinutes, lambdaRequests, gbSeconds float64
	ddbWrites, ddbReads, ksWrites, ksReads, streamReads float64
	events, logGB, storageGB                            float64
}

func (ln line) usage() (usage, error) {
	c, n := ln.c, ln.perMonth
	u := usage{connMinutes: ln.connMinutes, storageGB: ln.storageGB}
	u.apiMessages = (c.frames + c.replies + c.posts) * n
	u.lambdaRequests = sum(c.inv) * n
	for _, fn := range slices.Sorted(maps.Keys(c.inv)) { // in order: see sum
		k := c.inv[fn]
		f, ok := topology.Lookup(fn)
		if !ok {
			return usage{}, fmt.Errorf("cost: requests.json names function %q, which internal/topology does not declare", fn)
		}
		ms, err := billedMS(fn, c)
		if err != nil {
			return usage{}, err
		}
		u.gbSeconds += k * float64(f.MemoryMB) / 1024 * ms / 1000 * n
	}
	u.ddbWrites, u.ddbReads = sum(c.writes)*n, sum(c.reads)*n
	u.ksWrites, u.ksReads = c.ksWrites*n, c.ksReads*n
	u.streamReads = c.inv["fanout"] * n // one batch read per fan-out invocation
	u.events = c.events * n
	u.logGB = (sum(c.inv)*LambdaLogBytes + c.routeRequests*AccessLogBytes) * n / (1 << 30)
	return u, nil
}

// Estimate prices load with the measured requests and the prices.
func Estimate(load Load, measured RequestsFile, prices Prices) (Report, error) {
	if err := load.Validate(); err != nil {
		return Report{}, err
	}
	m := &model{load: load, measured: measured}
	lines, err := m.lines()
	if err != nil {
		return Report{}, err
	}
	us := make([]usage, len(lines))
	var total usage
	for i, ln := range lines {
		u, err := ln.usage()
		if err != nil {
			return Report{}, err
		}
		us[i] = u
		total.apiMessages += u.apiMessages
	}
	// The message tier is on the month's total; each line pays the average price.
	perMessage := 0.0
	if total.apiMessages > 0 {
		perMessage = prices.APIGatewayMessagesUSD(total.apiMessages) / total.apiMessages
	}
	rep := Report{
		Load: load, Region: prices.Region, PricesDate: prices.Date,
		ByComponent: map[string]float64{}, ByAction: map[string]float64{}, Usage: map[string]float64{},
	}
	for _, c := range componentOrder {
		if (c == CompKSReads || c == CompKSWrites) && load.MessageStore != topology.StoreKeyspaces {
			continue
		}
		rep.ByComponent[c] = 0
	}
	for _, a := range actionOrder {
		// The protocol 1.1 actions appear only when the load asks for them, so that the
		// default report stays what it was.
		if (a == ActionChanges && load.ChangesPerMessage == 0) || (a == ActionNotify && !load.Notifications) {
			continue
		}
		rep.ByAction[a] = 0
	}
	for i, ln := range lines {
		u := us[i]
		comp := map[string]float64{
			CompAPIMessages: u.apiMessages * perMessage,
			CompAPIMinutes:  prices.APIGatewayConnectionMinutes.Of(u.connMinutes),
			CompLambdaReq:   prices.LambdaRequests.Of(u.lambdaRequests),
			CompLambdaDur:   prices.LambdaGBSeconds.Of(u.gbSeconds),
			CompDDBWrites:   prices.DynamoDBWrites.Of(u.ddbWrites),
			CompDDBReads:    prices.DynamoDBReads.Of(u.ddbReads),
			CompDDBStreams:  prices.DynamoDBStreamsLambdaReads.Of(u.streamReads),
			CompDDBStorage:  prices.DynamoDBStorage.Of(u.storageGB),
			CompKSWrites:    prices.KeyspacesWrites.Of(u.ksWrites),
			CompKSReads:     prices.KeyspacesReads.Of(u.ksReads),
			CompEventBridge: prices.EventBridgeEvents.Of(u.events),
			CompLogs:        prices.CloudWatchLogsIngestion.Of(u.logGB),
		}
		var lineUSD float64
		for _, k := range componentOrder { // in order: see sum
			v := comp[k]
			if _, ok := rep.ByComponent[k]; ok || v != 0 {
				rep.ByComponent[k] += v
			}
			lineUSD += v
		}
		rep.ByAction[ln.action] += lineUSD
		rep.MonthlyUSD += lineUSD
		shown := ln.perMonth + ln.connMinutes + ln.storageGB // the line's own quantity
		rep.Lines = append(rep.Lines, Line{Action: ln.action, What: ln.what, PerMonth: shown, PeakPerSecond: ln.peakPerSec, USD: lineUSD})
		for k, v := range map[string]float64{
			"apiGatewayMessages": u.apiMessages, "connectionMinutes": u.connMinutes, "lambdaRequests": u.lambdaRequests,
			"lambdaGBSeconds": u.gbSeconds, "dynamoDBWriteUnits": u.ddbWrites, "dynamoDBReadUnits": u.ddbReads,
			"keyspacesWriteUnits": u.ksWrites, "keyspacesReadUnits": u.ksReads, "streamReads": u.streamReads,
			"eventBridgeEvents": u.events, "logsGB": u.logGB, "storageGB": u.storageGB,
		} {
			rep.Usage[k] += v
		}
	}
	for _, a := range livenessActions {
		rep.LivenessUSD += rep.ByAction[a]
	}
	if rep.MonthlyUSD > 0 {
		rep.LivenessShare = rep.LivenessUSD / rep.MonthlyUSD
		rep.LivenessShareWithConnectionMinutes = (rep.LivenessUSD + rep.ByAction[ActionConnMinutes]) / rep.MonthlyUSD
	}
	rep.Quotas, rep.Peak, err = quotas(load, lines)
	if err != nil {
		return Report{}, err
	}
	return rep, nil
}

// Run prices load with the embedded requests.json and region's prices.
func Run(load Load, region string) (Report, error) {
	prices, err := LoadPrices(region)
	if err != nil {
		return Report{}, err
	}
	measured, err := Measured()
	if err != nil {
		return Report{}, err
	}
	return Estimate(load, measured, prices)
}

// sortedKeys returns m's keys in order, the known ones first.
func sortedKeys(m map[string]float64, order []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, k := range order {
		if _, ok := m[k]; ok {
			out = append(out, k)
			seen[k] = true
		}
	}
	var rest []string
	for k := range m {
		if !seen[k] {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	return append(out, rest...)
}
