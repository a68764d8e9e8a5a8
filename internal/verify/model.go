package verify

import (
	"sort"
	"sync"
	"time"
)

// never is a time after every event of a run, epoch one before.
var (
	never = time.Unix(1<<40, 0)
	epoch = time.Unix(0, 0)
)

// stint is one period of a user's membership of a conversation, as the checker saw it
// from the outside: the add (or create) was requested at joinReq and acknowledged at
// joinAck; the leave was requested at leaveReq and acknowledged at leaveAck (zero while
// the user is a member). Between a request and its acknowledgement the state is unknown.
type stint struct {
	joinReq, joinAck, leaveReq, leaveAck time.Time
}

// end returns the last instant the user may have been a member.
func (s stint) end() time.Time {
	switch {
	case s.leaveReq.IsZero():
		return never
	case s.leaveAck.IsZero():
		return never // a leave whose outcome is unknown
	}
	return s.leaveAck
}

// conversation is the checker's knowledge of one conversation.
type conversation struct {
	id    string
	group bool
	// stints by user; a direct conversation's two users are members for the whole run.
	stints map[string][]stint
	// unknown marks users whose membership an unanswered add or leave left unknown: they
	// are left out of the lost and leak checks of this conversation.
	unknown map[string]bool
}

// memberThroughout reports whether user was surely a member over [from, to].
func (c *conversation) memberThroughout(user string, from, to time.Time) bool {
	if c.unknown[user] {
		return false
	}
	for _, s := range c.stints[user] {
		if !s.joinAck.After(from) && (s.leaveReq.IsZero() || !s.leaveReq.Before(to)) {
			return true
		}
	}
	return false
}

// missedBy returns, sorted, the users but except who were surely members over [from, to]
// and got none of ids (got tells whether user u received id).
func (c *conversation) missedBy(from, to time.Time, except string, ids map[string]bool, got func(u, id string) bool) []string {
	var out []string
	for u := range c.stints {
		if u == except || !c.memberThroughout(u, from, to) {
			continue
		}
		reached := false
		for id := range ids {
			reached = reached || got(u, id)
		}
		if !reached {
			out = append(out, u)
		}
	}
	sort.Strings(out)
	return out
}

// outsiderThroughout reports whether user was surely not a member at any instant of
// [from, to].
func (c *conversation) outsiderThroughout(user string, from, to time.Time) bool {
	if c.unknown[user] {
		return false
	}
	for _, s := range c.stints[user] {
		if !s.joinReq.After(to) && !s.end().Before(from) {
			return false
		}
	}
	return true
}

// member reports whether user is a member now, as far as the checker knows (an add
// acknowledged, no leave requested since).
func (c *conversation) member(user string) bool {
	st := c.stints[user]
	return len(st) > 0 && !c.unknown[user] && st[len(st)-1].leaveReq.IsZero() && !st[len(st)-1].joinAck.IsZero()
}

// sent is one message a simulated user sent (one clientMsgId, however many attempts).
type sent struct {
	conv, sender, clientMsgID string
	// start is when the first attempt was written; acked when the first ack came.
	start, acked time.Time
	// ids are the message ids the acks named (more than one is a stored duplicate).
	ids map[string]bool
}

// delivery is one message frame a user's connection received.
type delivery struct {
	user, conv, messageID string
	// sender and clientMsgID name the send it belongs to (acked or not).
	sender, clientMsgID string
	at                  time.Time
}

// model is everything the checker records during a run. It is safe for concurrent use.
type model struct {
	mu         sync.Mutex
	convs      map[string]*conversation
	sent       []*sent
	deliveries []delivery
	// reactions are the reaction changes made (protocol 1.1), reactionDeliveries the
	// reaction frames received.
	reactions          []*reaction
	reactionDeliveries []reactionDelivery
}

func newModel() *model {
	return &model{convs: map[string]*conversation{}}
}

func (m *model) conv(id string, group bool) *conversation {
	c := m.convs[id]
	if c == nil {
		c = &conversation{id: id, group: group, stints: map[string][]stint{}, unknown: map[string]bool{}}
		m.convs[id] = c
	}
	return c
}

// direct records a direct conversation of a and b, members for the whole run.
func (m *model) direct(id, a, b string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.conv(id, false)
	for _, u := range []string{a, b} {
		if len(c.stints[u]) == 0 {
			c.stints[u] = []stint{{joinReq: epoch, joinAck: epoch}}
		}
	}
}

// joined records that user became a member: requested at req, acknowledged at ack (zero
// when the request went unanswered, which leaves the membership unknown).
func (m *model) joined(id, user string, req, ack time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.conv(id, true)
	if ack.IsZero() {
		c.unknown[user] = true
		return
	}
	c.stints[user] = append(c.stints[user], stint{joinReq: req, joinAck: ack})
}

// leaving records the request of user's leave; left its acknowledgement (zero: unknown).
func (m *model) leaving(id, user string, req time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.convs[id]
	if st := c.stints[user]; len(st) > 0 {
		st[len(st)-1].leaveReq = req
	}
}

func (m *model) left(id, user string, ack time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.convs[id]
	if ack.IsZero() {
		c.unknown[user] = true
		return
	}
	if st := c.stints[user]; len(st) > 0 {
		st[len(st)-1].leaveAck = ack
	}
}

// memberOf lists the conversations user may send to now.
func (m *model) memberOf(user string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for id, c := range m.convs {
		if c.member(user) {
			out = append(out, id)
		}
	}
	return out
}

// groups lists the group conversations.
func (m *model) groups() []*conversation {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*conversation
	for _, c := range m.convs {
		if c.group {
			out = append(out, c)
		}
	}
	return out
}

// members lists the current members of a conversation (as member reports).
func (m *model) members(c *conversation) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for u := range c.stints {
		if c.member(u) {
			out = append(out, u)
		}
	}
	return out
}

func (m *model) addSent(s *sent) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent = append(m.sent, s)
}

func (m *model) ack(s *sent, messageID string, at time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s.acked.IsZero() {
		s.acked = at
	}
	s.ids[messageID] = true
}

func (m *model) delivered(d delivery) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.deliveries = append(m.deliveries, d)
}

// reaction is one reaction change a simulated user made (one state of one emoji on one
// message, however many attempts).
type reaction struct {
	conv, user, messageID, emoji, state string
	// start is when the first attempt was written; acked when a reply came (zero: none
	// did, so whether it applied is unknown); refused when the server refused it.
	start, acked time.Time
	refused      bool
	// eventIDs are the change events the replies named (none for a change that changed
	// nothing).
	eventIDs map[string]bool
}

// reactionDelivery is one reaction frame a user's connection received.
type reactionDelivery struct {
	user, conv, eventID string
}

func (m *model) addReaction(r *reaction) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reactions = append(m.reactions, r)
}

func (m *model) reacted(r *reaction, eventID string, at time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r.acked.IsZero() {
		r.acked = at
	}
	if eventID != "" {
		r.eventIDs[eventID] = true
	}
}

func (m *model) refusedReaction(r *reaction) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r.refused = true
}

func (m *model) reactionDelivered(d reactionDelivery) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reactionDeliveries = append(m.reactionDeliveries, d)
}

func (m *model) reactionsAcked() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, r := range m.reactions {
		if !r.acked.IsZero() {
			n++
		}
	}
	return n
}
