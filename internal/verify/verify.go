// Package verify checks Parley's delivery guarantees against a running endpoint, local or
// deployed, the way a Jepsen-style checker does: simulated users chat in direct
// conversations and groups (with adds and leaves), send with the retries docs/protocol.md
// tells clients to use, drop their connections and stay offline for a while, reconnect
// and sync; the checker records everything each user was acknowledged and received, and at
// the end, after every user's final sync and a read of every conversation's history,
// counts the violations:
//
//   - Lost: an acknowledged message that did not reach a member, live or by sync. A
//     member is a user who was surely a member from before the send until the end of the
//     run (users whose membership an add or leave in flight made uncertain are left out).
//   - StoredDuplicates: a (sender, clientMsgId) stored as more than one message.
//   - OrderViolations: a history that is not strictly increasing by message id, or that
//     lacks an acknowledged message.
//   - Leaks: a message delivered to a user who was surely not a member at any instant
//     from its send to its delivery.
//
// DuplicateDeliveries (the same message delivered to a user again) are counted but
// allowed: delivery is at least once.
package verify

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/parleychat/parley/internal/client"
)

// Config describes a run. Zero fields take the default given.
type Config struct {
	// URL is the WebSocket endpoint, ws:// or wss://. Required.
	URL string
	// Users is how many simulated users take part (at least 3). Default 20.
	Users int
	// Duration is how long the users chat, before the final sync. Default 30 s.
	Duration time.Duration
	// Rate is the overall send rate, messages per second. Default 20.
	Rate float64
	// Groups is how many group conversations there are. Default Users/5 (at least 1).
	Groups int
	// GroupSize is the members of each group at the start. Default 5 (at most Users).
	GroupSize int
	// Drops is how often each user drops its connection, per minute. Default 3.
	Drops float64
	// Offline is the longest a dropped user stays away (uniform from a tenth of it).
	// Default 3 s.
	Offline time.Duration
	// MembershipEvery is the pause between membership changes (an add or a leave in a
	// random group). Default 2 s; negative disables them.
	MembershipEvery time.Duration
	// Drain is how long the checker waits after the users stop sending for the last
	// deliveries (retried fan-out batches) before the final sync. Default 10 s.
	Drain time.Duration
	// RequestTimeout bounds one attempt of a request; a send that times out is sent again
	// with the same clientMsgId. Default 5 s.
	RequestTimeout time.Duration
	// Token returns a token for a user id. Required.
	Token func(user string) (string, error)
	// UserPrefix starts every user id. Default "verify-" and a random suffix.
	UserPrefix string
	// TokenInHeader sends tokens as Authorization headers.
	TokenInHeader bool
	// Reactions is the share of the users' actions that are reactions (protocol 1.1: a
	// user toggles an emoji on a message it received) rather than sends. Default 0.2;
	// negative disables them.
	Reactions float64
	// Logger receives progress and the detail of each violation. Default: discarded.
	Logger *slog.Logger
}

func (c *Config) setDefaults() error {
	if c.URL == "" {
		return errors.New("verify: a URL is required")
	}
	if c.Token == nil {
		return errors.New("verify: a token source is required")
	}
	if c.Users == 0 {
		c.Users = 20
	}
	if c.Users < 3 {
		return fmt.Errorf("verify: %d users: at least 3 are needed (direct conversations, groups and outsiders)", c.Users)
	}
	if c.Duration <= 0 {
		c.Duration = 30 * time.Second
	}
	if c.Rate <= 0 {
		c.Rate = 20
	}
	if c.Groups <= 0 {
		c.Groups = max(1, c.Users/5)
	}
	if c.GroupSize <= 0 {
		c.GroupSize = 5
	}
	c.GroupSize = min(c.GroupSize, c.Users)
	if c.GroupSize < 2 {
		c.GroupSize = 2
	}
	if c.Drops == 0 {
		c.Drops = 3
	}
	if c.Offline <= 0 {
		c.Offline = 3 * time.Second
	}
	if c.MembershipEvery == 0 {
		c.MembershipEvery = 2 * time.Second
	}
	if c.Drain <= 0 {
		c.Drain = 10 * time.Second
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 5 * time.Second
	}
	if c.UserPrefix == "" {
		b := make([]byte, 3)
		_, _ = crand.Read(b)
		c.UserPrefix = "verify-" + hex.EncodeToString(b) + "-"
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	switch {
	case c.Reactions == 0:
		c.Reactions = 0.2
	case c.Reactions < 0:
		c.Reactions = 0
	case c.Reactions > 1:
		return fmt.Errorf("verify: reactions share %v: it must be at most 1", c.Reactions)
	}
	return nil
}

// Report is the outcome of a run. Its JSON form has exactly the keys of the checks.
type Report struct {
	Lost                int `json:"lost"`
	StoredDuplicates    int `json:"storedDuplicates"`
	OrderViolations     int `json:"orderViolations"`
	Leaks               int `json:"leaks"`
	DuplicateDeliveries int `json:"duplicateDeliveries"`
	Acked               int `json:"acked"`
	Sent                int `json:"sent"`

	// Stats are counts of what the run did, for the text summary.
	Stats Stats `json:"-"`
	// Examples describe some violations, one line each.
	Examples []string `json:"-"`
}

// Stats counts what the simulated users did.
type Stats struct {
	Deliveries, Retries, GaveUp, Drops, Reconnects, Syncs, Adds, Leaves, Histories int
	// Reactions were made, ReactionsAcked acknowledged, ReactionDeliveries received.
	Reactions, ReactionsAcked, ReactionDeliveries int
	Elapsed                                       time.Duration
}

// Violations is the number of broken guarantees (duplicate deliveries are allowed).
func (r *Report) Violations() int {
	return r.Lost + r.StoredDuplicates + r.OrderViolations + r.Leaks
}

// WriteText writes a readable summary.
func (r *Report) WriteText(w io.Writer) error {
	verdict := "OK: no violation"
	if n := r.Violations(); n > 0 {
		verdict = fmt.Sprintf("FAILED: %d violations", n)
	}
	s := r.Stats
	_, err := fmt.Fprintf(w, `parley verify: %s (%v)
  sent %d messages, acked %d (%d attempts retried, %d given up)
  users dropped %d times, reconnected %d, synced %d; groups: %d adds, %d leaves; %d histories read
  deliveries %d, of them duplicates %d (allowed: at least once)
  reactions %d, acked %d, reaction events received %d
  lost               %d   acked messages (or reaction changes) that never reached a member
  storedDuplicates   %d   a (sender, clientMsgId) stored as more than one message
  orderViolations    %d   history out of order, missing an acked message, or with reaction counts its acked reactions contradict
  leaks              %d   messages delivered to a non-member
`, verdict, s.Elapsed.Round(time.Second), r.Sent, r.Acked, s.Retries, s.GaveUp, s.Drops, s.Reconnects, s.Syncs,
		s.Adds, s.Leaves, s.Histories, s.Deliveries, r.DuplicateDeliveries, s.Reactions, s.ReactionsAcked, s.ReactionDeliveries,
		r.Lost, r.StoredDuplicates, r.OrderViolations, r.Leaks)
	if err != nil {
		return err
	}
	for _, e := range r.Examples {
		if _, err := fmt.Fprintln(w, "  -", e); err != nil {
			return err
		}
	}
	return nil
}

// Run performs one run against cfg.URL and returns its report. An error means the run
// itself could not be carried out (the endpoint unreachable, users unable to connect).
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	r := &runner{cfg: cfg, m: newModel(), log: cfg.Logger}
	start := time.Now()
	if err := r.setup(ctx); err != nil {
		r.closeAll()
		return nil, err
	}
	r.chat(ctx)
	if err := r.finish(ctx); err != nil {
		r.closeAll()
		return nil, err
	}
	r.closeAll()
	rep := r.check()
	rep.Stats = r.stats()
	rep.Stats.Elapsed = time.Since(start)
	return rep, nil
}

// runner is one run in progress.
type runner struct {
	cfg   Config
	m     *model
	log   *slog.Logger
	users []*user
	byID  map[string]*user
	ended time.Time // when the final syncs were done

	retries, gaveUp, drops, reconnects, syncs, adds, leaves, histories atomic.Int64
	histMu                                                             sync.Mutex
	history                                                            map[string][]client.Message // conversation → oldest first
}

func (r *runner) stats() Stats {
	return Stats{
		Retries: int(r.retries.Load()), GaveUp: int(r.gaveUp.Load()), Drops: int(r.drops.Load()),
		Reconnects: int(r.reconnects.Load()), Syncs: int(r.syncs.Load()), Adds: int(r.adds.Load()),
		Leaves: int(r.leaves.Load()), Histories: int(r.histories.Load()), Deliveries: len(r.m.deliveries),
		Reactions: len(r.m.reactions), ReactionsAcked: r.m.reactionsAcked(), ReactionDeliveries: len(r.m.reactionDeliveries),
	}
}

// setup connects every user and creates the conversations: each user in a direct
// conversation with the next (a ring), and the groups of random members.
func (r *runner) setup(ctx context.Context) error {
	r.byID = map[string]*user{}
	for i := range r.cfg.Users {
		u := newUser(r, fmt.Sprintf("%s%d", r.cfg.UserPrefix, i))
		r.users = append(r.users, u)
		r.byID[u.id] = u
	}
	if err := parallel(ctx, r.users, 8, func(ctx context.Context, u *user) error { return u.connect(ctx, false) }); err != nil {
		return err
	}
	for i, u := range r.users {
		peer := r.users[(i+1)%len(r.users)]
		r.m.direct(directID(u.id, peer.id), u.id, peer.id)
	}
	for g := range r.cfg.Groups {
		perm := rand.Perm(len(r.users))[:r.cfg.GroupSize]
		creator := r.users[perm[0]]
		var others []string
		for _, i := range perm[1:] {
			others = append(others, r.users[i].id)
		}
		req := time.Now()
		cctx, cancel := context.WithTimeout(ctx, 4*r.cfg.RequestTimeout)
		conv, err := retry(cctx, r, func(ctx context.Context) (*client.Conversation, error) {
			// A fault may have dropped the creator's connection (the users' loops, which
			// reconnect, do not run yet): connect again before the next attempt.
			if !creator.online() {
				if err := creator.connect(ctx, false); err != nil {
					return nil, err
				}
			}
			return creator.conn().CreateConversation(ctx, fmt.Sprintf("verify group %d", g), others...)
		})
		cancel()
		if err != nil {
			return fmt.Errorf("verify: create group %d: %w", g, err)
		}
		ack := time.Now()
		for _, m := range conv.Members {
			r.m.joined(conv.ConversationID, m, req, ack)
		}
	}
	r.log.Info("verify: users connected and conversations created", "users", len(r.users), "groups", r.cfg.Groups)
	return nil
}

// chat runs the users and the membership changes for cfg.Duration.
func (r *runner) chat(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Duration)
	defer cancel()
	var wg sync.WaitGroup
	for _, u := range r.users {
		wg.Add(1)
		go func() { defer wg.Done(); u.run(ctx) }()
	}
	if r.cfg.MembershipEvery > 0 {
		wg.Add(1)
		go func() { defer wg.Done(); r.membership(ctx) }()
	}
	wg.Wait()
}

// finish brings every user online, waits for the last deliveries, runs every user's
// final sync and reads every conversation's history.
func (r *runner) finish(ctx context.Context) error {
	if err := parallel(ctx, r.users, 8, func(ctx context.Context, u *user) error {
		if !u.online() {
			return u.connect(ctx, true)
		}
		return nil
	}); err != nil {
		return err
	}
	r.log.Info("verify: every user online; waiting for the last deliveries", "drain", r.cfg.Drain)
	select {
	case <-time.After(r.cfg.Drain):
	case <-ctx.Done():
		return ctx.Err()
	}
	start := time.Now()
	if err := parallel(ctx, r.users, 8, func(ctx context.Context, u *user) error { return u.sync(ctx) }); err != nil {
		return fmt.Errorf("verify: final sync: %w", err)
	}
	r.ended = time.Now()
	r.log.Info("verify: final syncs done; reading every history", "took", r.ended.Sub(start).Round(time.Millisecond))
	time.Sleep(time.Second) // frames of the final syncs still on their way
	r.history = map[string][]client.Message{}
	var convs []*conversation
	for _, c := range r.m.convs {
		convs = append(convs, c)
	}
	defer func() { r.log.Info("verify: histories read", "took", time.Since(r.ended).Round(time.Millisecond)) }()
	return parallel(ctx, convs, 8, func(ctx context.Context, c *conversation) error {
		readers := r.m.members(c)
		if len(readers) == 0 {
			return nil
		}
		msgs, err := r.byID[readers[0]].history(ctx, c.id)
		if client.ErrorCode(err) == client.CodeNotFound && !c.group {
			err = nil // a direct conversation is created by its first message: none was sent
		}
		if err != nil {
			return fmt.Errorf("verify: history of %s: %w", c.id, err)
		}
		r.histMu.Lock()
		r.history[c.id] = msgs
		r.histMu.Unlock()
		return nil
	})
}

func (r *runner) closeAll() {
	for _, u := range r.users {
		u.close()
	}
}

// membership adds a random outsider to a random group, or makes a random member leave it,
// every cfg.MembershipEvery.
func (r *runner) membership(ctx context.Context) {
	t := time.NewTicker(r.cfg.MembershipEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		groups := r.m.groups()
		g := groups[rand.IntN(len(groups))]
		members := r.m.members(g)
		if len(members) > 2 && rand.IntN(2) == 0 {
			r.leave(ctx, g, r.byID[members[rand.IntN(len(members))]])
			continue
		}
		var outsiders []string
		for _, u := range r.users {
			if !contains(members, u.id) && !g.unknownFor(r.m, u.id) {
				outsiders = append(outsiders, u.id)
			}
		}
		if len(outsiders) == 0 || len(members) == 0 {
			continue
		}
		r.add(ctx, g, r.byID[members[rand.IntN(len(members))]], outsiders[rand.IntN(len(outsiders))])
	}
}

func (g *conversation) unknownFor(m *model, user string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return g.unknown[user]
}

func (r *runner) leave(ctx context.Context, g *conversation, u *user) {
	conn := u.conn()
	if conn == nil {
		return
	}
	r.m.leaving(g.id, u.id, time.Now())
	cctx, cancel := context.WithTimeout(ctx, r.cfg.RequestTimeout)
	defer cancel()
	var ack time.Time
	if _, err := conn.Leave(cctx, g.id); err == nil {
		ack = time.Now()
		r.leaves.Add(1)
	} else {
		r.log.Warn("verify: leave unanswered; membership now unknown", "userId", u.id, "conversationId", g.id, "err", err)
	}
	r.m.left(g.id, u.id, ack)
}

func (r *runner) add(ctx context.Context, g *conversation, by *user, who string) {
	conn := by.conn()
	if conn == nil {
		return
	}
	req := time.Now()
	cctx, cancel := context.WithTimeout(ctx, r.cfg.RequestTimeout)
	defer cancel()
	var ack time.Time
	if _, err := conn.AddMembers(cctx, g.id, who); err == nil {
		ack = time.Now()
		r.adds.Add(1)
	} else {
		r.log.Warn("verify: add unanswered; membership now unknown", "userId", who, "conversationId", g.id, "err", err)
	}
	r.m.joined(g.id, who, req, ack)
}

// check computes the report from what the run recorded.
func (r *runner) check() *Report {
	m := r.m
	m.mu.Lock()
	defer m.mu.Unlock()
	rep := &Report{Sent: len(m.sent)}
	example := func(format string, args ...any) {
		line := fmt.Sprintf(format, args...)
		r.log.Error("verify: violation: " + line)
		if len(rep.Examples) < 20 {
			rep.Examples = append(rep.Examples, line)
		}
	}
	type key struct{ sender, clientMsgID string }
	bySend := map[key]*sent{}
	for _, s := range m.sent {
		bySend[key{s.sender, s.clientMsgID}] = s
		if !s.acked.IsZero() {
			rep.Acked++
		}
	}

	got := map[[2]string]int{} // (user, messageId) → deliveries
	for _, d := range m.deliveries {
		got[[2]string{d.user, d.messageID}]++
	}
	for _, n := range got {
		rep.DuplicateDeliveries += n - 1
	}

	// Lost: an acked message missing at a user who was a member from its send to the end.
	for _, s := range m.sent {
		if s.acked.IsZero() {
			continue
		}
		for _, u := range m.convs[s.conv].missedBy(s.start, r.ended, "", s.ids, func(u, id string) bool { return got[[2]string{u, id}] > 0 }) {
			rep.Lost++
			example("lost: %s %s (from %s, clientMsgId %s, acked %s) never reached %s", s.conv, ids(s.ids), s.sender, s.clientMsgID, s.acked.Format(time.StampMilli), u)
		}
	}

	// Leaks: a delivery to a user who was no member from the send to the delivery.
	for _, d := range m.deliveries {
		c := m.convs[d.conv]
		if c == nil {
			rep.Leaks++
			example("leak: %s got %s of conversation %s, which the run never created", d.user, d.messageID, d.conv)
			continue
		}
		s := bySend[key{d.sender, d.clientMsgID}]
		if s == nil {
			continue // not sent by this run's users
		}
		if c.outsiderThroughout(d.user, s.start, d.at) {
			rep.Leaks++
			example("leak: %s got %s of %s at %s, not a member since before it was sent", d.user, d.messageID, d.conv, d.at.Format(time.StampMilli))
		}
	}

	// Stored duplicates and order, from the histories read at the end (and the acks).
	stored := map[key]map[string]bool{}
	for _, s := range m.sent {
		if len(s.ids) > 0 {
			stored[key{s.sender, s.clientMsgID}] = map[string]bool{}
			for id := range s.ids {
				stored[key{s.sender, s.clientMsgID}][id] = true
			}
		}
	}
	convIDs := make([]string, 0, len(r.history))
	for id := range r.history {
		convIDs = append(convIDs, id)
	}
	sort.Strings(convIDs)
	for _, conv := range convIDs {
		h := r.history[conv]
		inHistory := map[string]bool{}
		for i, msg := range h {
			inHistory[msg.MessageID] = true
			if i > 0 && msg.MessageID <= h[i-1].MessageID {
				rep.OrderViolations++
				example("order: history of %s has %s after %s", conv, msg.MessageID, h[i-1].MessageID)
			}
			if msg.ClientMsgID == "" {
				continue
			}
			k := key{msg.SenderID, msg.ClientMsgID}
			if stored[k] == nil {
				stored[k] = map[string]bool{}
			}
			stored[k][msg.MessageID] = true
		}
		for _, s := range m.sent {
			if s.conv != conv || s.acked.IsZero() {
				continue
			}
			found := false
			for id := range s.ids {
				found = found || inHistory[id]
			}
			if !found {
				rep.OrderViolations++
				example("order: history of %s lacks acked %s (from %s, clientMsgId %s)", conv, ids(s.ids), s.sender, s.clientMsgID)
			}
		}
	}
	for k, set := range stored {
		if len(set) > 1 {
			rep.StoredDuplicates += len(set) - 1
			example("stored duplicate: %s's clientMsgId %s is stored as %s", k.sender, k.clientMsgID, ids(set))
		}
	}
	r.checkReactions(rep, example)
	return rep
}

// checkReactions adds the reaction checks (protocol 1.1) to rep; the caller holds m.mu.
//
//   - Lost: an acknowledged reaction change whose event did not reach a member other than
//     the user who made it (who got the reply), live or by sync.
//   - OrderViolations: a message whose reaction count in the final history differs from
//     what the acknowledged reactions made it. Each user's reactions are serial, so its
//     last acknowledged change of an emoji decides its state; a count is checked only when
//     no user's last change of it went unanswered.
func (r *runner) checkReactions(rep *Report, example func(string, ...any)) {
	m := r.m
	got := map[[2]string]bool{} // (user, eventId) received
	for _, d := range m.reactionDeliveries {
		got[[2]string{d.user, d.eventID}] = true
	}
	type target struct{ conv, messageID, emoji string }
	final := map[target]map[string]string{} // user → "add", "remove" or "?" (unknown)
	for _, rc := range m.reactions {
		t := target{rc.conv, rc.messageID, rc.emoji}
		if final[t] == nil {
			final[t] = map[string]string{}
		}
		// Once unknown, for good: the unanswered attempt may still land after later ones.
		switch prev := final[t][rc.user]; {
		case prev == "?" || rc.refused:
		case rc.acked.IsZero():
			final[t][rc.user] = "?"
		default:
			final[t][rc.user] = rc.state
		}
		if rc.acked.IsZero() || len(rc.eventIDs) == 0 {
			continue
		}
		for _, u := range m.convs[rc.conv].missedBy(rc.start, r.ended, rc.user, rc.eventIDs, func(u, id string) bool { return got[[2]string{u, id}] }) {
			rep.Lost++
			example("lost: %s's reaction %s %s on %s/%s (event %s) never reached %s", rc.user, rc.state, rc.emoji, rc.conv, rc.messageID, ids(rc.eventIDs), u)
		}
	}
	counts := map[target]int{}
	for conv, h := range r.history {
		for _, msg := range h {
			for _, rx := range msg.Reactions {
				counts[target{conv, msg.MessageID, rx.Emoji}] = rx.Count
			}
		}
	}
	for t, states := range final {
		if _, read := r.history[t.conv]; !read {
			continue
		}
		want, known := 0, true
		for _, st := range states {
			known = known && st != "?"
			if st == client.ReactionAdd {
				want++
			}
		}
		if known && counts[t] != want {
			rep.OrderViolations++
			example("reactions: history of %s shows %s × %d on %s, the acknowledged reactions make it %d", t.conv, t.emoji, counts[t], t.messageID, want)
		}
	}
}

func ids(set map[string]bool) string {
	out := make([]string, 0, len(set))
	for id := range set {
		out = append(out, id)
	}
	sort.Strings(out)
	return strings.Join(out, ",")
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// directID is the id of the direct conversation of a and b (docs/protocol.md).
func directID(a, b string) string {
	if b < a {
		a, b = b, a
	}
	return "dm:" + a + ":" + b
}

// parallel runs f for each item, limit at a time, and returns the first error.
func parallel[T any](ctx context.Context, items []T, limit int, f func(context.Context, T) error) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(limit)
	for _, it := range items {
		g.Go(func() error { return f(ctx, it) })
	}
	return g.Wait()
}
