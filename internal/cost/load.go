package cost

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/topology"
)

// Liveness contracts: how clients keep their connections and presence alive.
const (
	// LivenessBefore is today's contract: every client sends `heartbeat` every
	// HeartbeatInterval, and each is an invocation of the function serving the route
	// (presence) with its DynamoDB write, as requests.json's action "heartbeat" measures.
	LivenessBefore = "before"
	// LivenessAfter is the contract of protocol 1.1 (docs/protocol.md): presence is having
	// an open connection (written at $connect and $disconnect, by no other frame); the
	// one-way `keepalive` of version-1.1 clients is answered by API Gateway's MOCK
	// integration (no Lambda, no DynamoDB); a version-1 `heartbeat` still runs its function,
	// which reads and writes nothing.
	LivenessAfter = "after"
)

// Duration is a time.Duration that reads and writes JSON as a string such as "30s".
type Duration time.Duration

// MarshalJSON writes the duration as its String form.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// GroupSize is one bucket of the group-size distribution: Share of group messages go to
// conversations of Members members.
type GroupSize struct {
	Members int     `json:"members"`
	Share   float64 `json:"share"`
}

// GroupSizes is the distribution of group messages over conversation sizes.
type GroupSizes []GroupSize

// String renders the distribution as ParseGroupSizes reads it.
func (g GroupSizes) String() string {
	parts := make([]string, len(g))
	for i, b := range g {
		parts[i] = strconv.Itoa(b.Members) + ":" + strconv.FormatFloat(b.Share, 'g', -1, 64)
	}
	return strings.Join(parts, ",")
}

// Mean returns the share-weighted mean size.
func (g GroupSizes) Mean() float64 {
	var m float64
	for _, b := range g {
		m += float64(b.Members) * b.Share
	}
	return m
}

// ParseGroupSizes reads "N" (every group message goes to N members) or
// "N:SHARE,N:SHARE,…" whose shares sum to 1. Sizes are 2 to chat.MaxGroupMembers.
func ParseGroupSizes(s string) (GroupSizes, error) {
	s = strings.TrimSpace(s)
	if n, err := strconv.Atoi(s); err == nil {
		s = fmt.Sprintf("%d:1", n)
	}
	var out GroupSizes
	var sum float64
	for _, part := range strings.Split(s, ",") {
		size, share, ok := strings.Cut(strings.TrimSpace(part), ":")
		n, err1 := strconv.Atoi(size)
		f, err2 := strconv.ParseFloat(share, 64)
		if !ok || err1 != nil || err2 != nil {
			return nil, fmt.Errorf("group size %q: want N or N:SHARE,N:SHARE,… (e.g. 10:0.7,100:0.25,500:0.05)", part)
		}
		if n < 2 || n > chat.MaxGroupMembers {
			return nil, fmt.Errorf("group size %d: a group has 2 to %d members", n, chat.MaxGroupMembers)
		}
		if f < 0 || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("group size %q: the share must be ≥ 0", part)
		}
		out = append(out, GroupSize{Members: n, Share: f})
		sum += f
	}
	if math.Abs(sum-1) > 1e-6 {
		return nil, fmt.Errorf("group sizes %q: the shares sum to %g, want 1", s, sum)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Members < out[j].Members })
	return out, nil
}

// Load is what `parley cost` prices: the traffic, its mix, the clients' liveness and the
// deployment's settings. Rates are per day unless named otherwise.
type Load struct {
	// Name is the preset it started from ("small", "mid", "seed"), "" for none.
	Name string `json:"name,omitempty"`
	// DAU is daily active users; Concurrent the connections open at once, on average.
	DAU        float64 `json:"dau"`
	Concurrent float64 `json:"concurrent"`
	// MessagesPerDay is chat messages sent a day; PeakRate the busiest second's messages/s.
	MessagesPerDay float64 `json:"messagesPerDay"`
	PeakRate       float64 `json:"peakRate"`
	// DirectShare is the fraction of messages sent in direct conversations, the rest in
	// groups of GroupSizes.
	DirectShare float64    `json:"directShare"`
	GroupSizes  GroupSizes `json:"groupSizes"`
	// ReceiptsPerMessage is receipts (delivered, read) sent per recipient per message.
	ReceiptsPerMessage float64 `json:"receiptsPerMessage"`
	// HeartbeatInterval is version-1 clients' heartbeat, KeepaliveInterval version 1.1's
	// keepalive; V1Share the fraction of connections on version-1 clients (after only:
	// before, every client is version 1).
	HeartbeatInterval Duration `json:"heartbeatInterval"`
	KeepaliveInterval Duration `json:"keepaliveInterval"`
	V1Share           float64  `json:"v1Share"`
	// Liveness is LivenessBefore or LivenessAfter.
	Liveness string `json:"liveness"`
	// MessageStore is topology.StoreDynamoDB or topology.StoreKeyspaces.
	MessageStore string `json:"messageStore"`
	// InlineMaxMembers is INLINE_MAX_MEMBERS: conversations up to this size take the
	// measured inline send path, larger ones the stream path.
	InlineMaxMembers int `json:"inlineMaxMembers"`
	// SessionsPerDay is connects per DAU a day.
	SessionsPerDay float64 `json:"sessionsPerDay"`
	// HotGroupMembers and HotGroupRate describe the busiest conversation: its size and
	// its messages per second at its peak (the hot-spot quotas).
	HotGroupMembers int     `json:"hotGroupMembers"`
	HotGroupRate    float64 `json:"hotGroupRate"`
	// ChangesPerMessage is edits, deletes and reactions (protocol 1.1) made per message,
	// each priced as a reaction (requests.json's react/…; an edit or a delete makes one or
	// two writes more). Default 0, so that the default bills stay those of docs/scale.md.
	ChangesPerMessage float64 `json:"changesPerMessage,omitempty"`
	// Notifications prices the offline notifications (the stack puts them on EventBridge by
	// default): one event per message and per 100 of its recipients who are offline, a
	// member being offline with probability 1 − Concurrent/DAU. Default off, for the same
	// reason.
	Notifications bool `json:"notifications,omitempty"`
}

// Load presets (`parley cost --load`). Each keeps the seed's 10 messages per DAU a day and
// its ratio of peak to average rate (50,000 msg/s against 500M/86,400 s ≈ 5,787 msg/s: ×8.64),
// rounded; the busiest conversation (a 500-member group) peaks at 1, 5 and 10 msg/s.
var presets = map[string]Load{
	"small": {Name: "small", DAU: 10_000, Concurrent: 2_000, MessagesPerDay: 100_000, PeakRate: 10, HotGroupRate: 1},
	"mid":   {Name: "mid", DAU: 1_000_000, Concurrent: 100_000, MessagesPerDay: 10_000_000, PeakRate: 1_000, HotGroupRate: 5},
	"seed":  {Name: "seed", DAU: 50_000_000, Concurrent: 10_000_000, MessagesPerDay: 500_000_000, PeakRate: 50_000, HotGroupRate: 10},
}

// PresetNames lists the presets from the smallest.
func PresetNames() []string { return []string{"small", "mid", "seed"} }

// Preset returns the named load with the defaults of every setting it does not name.
func Preset(name string) (Load, error) {
	p, ok := presets[name]
	if !ok {
		return Load{}, fmt.Errorf("unknown load %q (want %s)", name, strings.Join(PresetNames(), ", "))
	}
	l := Defaults()
	l.Name, l.DAU, l.Concurrent, l.MessagesPerDay, l.PeakRate = p.Name, p.DAU, p.Concurrent, p.MessagesPerDay, p.PeakRate
	l.HotGroupRate = p.HotGroupRate
	return l, nil
}

// Defaults is the seed with every setting at its default.
func Defaults() Load {
	s := presets["seed"]
	return Load{
		Name: s.Name, DAU: s.DAU, Concurrent: s.Concurrent, MessagesPerDay: s.MessagesPerDay, PeakRate: s.PeakRate,
		DirectShare:        0.7,
		GroupSizes:         GroupSizes{{10, 0.7}, {100, 0.25}, {500, 0.05}},
		ReceiptsPerMessage: 1,
		HeartbeatInterval:  Duration(30 * time.Second),
		KeepaliveInterval:  Duration(9 * time.Minute),
		V1Share:            0,
		Liveness:           LivenessAfter,
		MessageStore:       topology.StoreDynamoDB,
		InlineMaxMembers:   chat.DefaultInlineMaxMembers,
		SessionsPerDay:     3,
		HotGroupMembers:    chat.MaxGroupMembers,
		HotGroupRate:       10,
	}
}

// Validate reports the first setting that is out of range, naming its flag.
func (l Load) Validate() error {
	nonNeg := []struct {
		flag string
		v    float64
	}{
		{"dau", l.DAU}, {"concurrent", l.Concurrent}, {"messages-per-day", l.MessagesPerDay},
		{"peak-rate", l.PeakRate}, {"receipts-per-message", l.ReceiptsPerMessage},
		{"sessions-per-day", l.SessionsPerDay}, {"hot-group-rate", l.HotGroupRate},
		{"changes-per-message", l.ChangesPerMessage},
	}
	for _, f := range nonNeg {
		if f.v < 0 || math.IsNaN(f.v) || math.IsInf(f.v, 0) {
			return fmt.Errorf("--%s must be a number ≥ 0 (got %g)", f.flag, f.v)
		}
	}
	for _, f := range []struct {
		flag string
		v    float64
	}{{"direct-share", l.DirectShare}, {"v1-share", l.V1Share}} {
		if f.v < 0 || f.v > 1 || math.IsNaN(f.v) {
			return fmt.Errorf("--%s must be a fraction from 0 to 1 (got %g)", f.flag, f.v)
		}
	}
	if l.DAU > 0 && l.SessionsPerDay == 0 && l.Concurrent > 0 {
		return fmt.Errorf("--sessions-per-day must be > 0 when users connect")
	}
	if avg := l.MessagesPerDay / secondsPerDay; l.PeakRate < avg {
		return fmt.Errorf("--peak-rate %g msg/s is below the day's average %.4g msg/s (--messages-per-day %g)", l.PeakRate, avg, l.MessagesPerDay)
	}
	for _, iv := range []struct {
		flag string
		d    Duration
	}{{"heartbeat-interval", l.HeartbeatInterval}, {"keepalive-interval", l.KeepaliveInterval}} {
		if iv.d <= 0 {
			return fmt.Errorf("--%s must be > 0 (got %v)", iv.flag, time.Duration(iv.d))
		}
		if time.Duration(iv.d) >= IdleTimeout {
			return fmt.Errorf("--%s %v: API Gateway closes a connection idle for %v, so a client must send more often", iv.flag, time.Duration(iv.d), IdleTimeout)
		}
	}
	switch l.Liveness {
	case LivenessBefore, LivenessAfter:
	default:
		return fmt.Errorf("--liveness %q: want %s or %s", l.Liveness, LivenessBefore, LivenessAfter)
	}
	if err := topology.CheckMessageStore(l.MessageStore); err != nil {
		return fmt.Errorf("--message-store: %w", err)
	}
	if l.InlineMaxMembers < 0 || l.InlineMaxMembers > chat.MaxGroupMembers {
		return fmt.Errorf("--inline-max-members must be 0 to %d (got %d)", chat.MaxGroupMembers, l.InlineMaxMembers)
	}
	if l.DirectShare < 1 && len(l.GroupSizes) == 0 {
		return fmt.Errorf("--group-size: group messages need a group size")
	}
	if l.HotGroupMembers < 2 || l.HotGroupMembers > chat.MaxGroupMembers {
		return fmt.Errorf("--hot-group-members must be 2 to %d (got %d)", chat.MaxGroupMembers, l.HotGroupMembers)
	}
	return nil
}
