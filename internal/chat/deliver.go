package chat

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// target is one connection to push to.
type target struct {
	userID       string
	connectionID string
	connectedAt  int64 // Unix milliseconds
}

// GoneGrace is how old a connection must be before a 410 Gone deletes it. API Gateway
// answers 410 for a connection whose $connect has not returned yet, and the connection
// item is stored during $connect: without the grace, a fan-out that reaches a connection
// in that window would delete the item of a connection that is about to open, and the
// device would get no live message until it reconnects. A young connection that really
// vanished is deleted by the next 410 after the grace, or by TTL.
const GoneGrace = 30 * time.Second

// pushStats counts what one push round did.
type pushStats struct {
	delivered, gone, rejected, failed atomic.Int64

	mu      sync.Mutex
	offline []string // the users who had no open connection
}

func (st *pushStats) addOffline(userID string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.offline = append(st.offline, userID)
}

// push is one frame to push to many connections.
type push struct {
	frame []byte
	// retry retries transient failures (PushAttempts tries in all); without it each
	// connection gets one try (live events that are best effort).
	retry bool
	// path, when set, counts each post in Metrics as a message delivery on that path,
	// with its lag from createdAt (Unix milliseconds).
	path      Path
	createdAt int64
}

// pushToUsers posts p's frame to every live connection of users but exclude. Reading the
// members' connections and posting overlap: ReadConcurrency readers feed
// PushConcurrency posters, so the first posts start after the first read, not after the
// last. A connection that is gone is deleted; a transient failure is retried with
// jittered backoff up to PushAttempts times when p.retry is set. It returns an error when
// connections could not be read or some pushes still failed: the frame did not reach
// every connection.
func (s *Service) pushToUsers(ctx context.Context, users []string, exclude string, p push) (*pushStats, error) {
	var st pushStats
	attempts := 1
	if p.retry {
		attempts = s.opts.PushAttempts
	}
	now := s.now()
	targets := make(chan target, s.opts.PushConcurrency)
	var readErr error
	var readOnce sync.Once
	go func() {
		defer close(targets)
		_ = parallel(ctx, len(users), s.opts.ReadConcurrency, func(ctx context.Context, i int) error {
			conns, err := s.connections.Connections(ctx, users[i], now)
			if err != nil {
				// Keep reading the others: one unreadable member must not starve the rest.
				readOnce.Do(func() { readErr = fmt.Errorf("read connections of %s: %w", users[i], err) })
				return nil
			}
			if len(conns) == 0 {
				st.addOffline(users[i])
			}
			for _, c := range conns {
				if c.ConnectionID == exclude {
					continue
				}
				select {
				case targets <- target{userID: c.UserID, connectionID: c.ConnectionID, connectedAt: c.ConnectedAt}:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			return nil
		})
	}()
	var wg sync.WaitGroup
	for range s.opts.PushConcurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for t := range targets {
				s.pushOne(ctx, t, p, attempts, &st)
			}
		}()
	}
	wg.Wait()
	if readErr != nil {
		return &st, readErr
	}
	if err := ctx.Err(); err != nil {
		return &st, err
	}
	if n := st.failed.Load(); n > 0 {
		return &st, fmt.Errorf("%d of %d pushes failed", n, n+st.delivered.Load()+st.gone.Load()+st.rejected.Load())
	}
	return &st, nil
}

func (s *Service) pushOne(ctx context.Context, t target, p push, attempts int, st *pushStats) {
	tries, err := s.post(ctx, t.connectionID, p.frame, attempts)
	var outcome Outcome
	switch {
	case err == nil:
		outcome = OutcomeDelivered
		st.delivered.Add(1)
	case errors.Is(err, ErrGone):
		outcome = OutcomeGone
		st.gone.Add(1)
		if age := s.now() - t.connectedAt; age < GoneGrace.Milliseconds() {
			s.log.DebugContext(ctx, "410 for a connection still opening: kept", "userId", t.userID, "connectionId", t.connectionID, "ageMillis", age)
			break
		}
		if err := s.connections.DeleteConnection(ctx, t.userID, t.connectionID); err != nil {
			s.log.WarnContext(ctx, "delete gone connection", "userId", t.userID, "connectionId", t.connectionID, "err", err)
			break
		}
		// A device that vanished without $disconnect: when it was the user's last
		// connection, the user is offline now.
		now := s.now()
		if left, err := s.connections.Connections(ctx, t.userID, now); err != nil {
			s.log.WarnContext(ctx, "read connections after a 410", "userId", t.userID, "err", err)
		} else if len(left) == 0 {
			if err := s.wentOffline(ctx, t.userID, now); err != nil {
				s.log.WarnContext(ctx, "set offline after a 410", "userId", t.userID, "err", err)
			}
		}
	case errors.Is(err, ErrRejected):
		outcome = OutcomeRejected
		st.rejected.Add(1)
		s.log.WarnContext(ctx, "push rejected", "userId", t.userID, "connectionId", t.connectionID, "err", err)
	default:
		outcome = OutcomeFailed
		st.failed.Add(1)
		s.log.WarnContext(ctx, "push failed", "userId", t.userID, "connectionId", t.connectionID, "attempts", tries, "err", err)
	}
	if p.path != "" {
		var lag time.Duration
		if outcome == OutcomeDelivered {
			lag = time.Duration(s.now()-p.createdAt) * time.Millisecond
		}
		s.opts.Metrics.Posted(p.path, outcome, tries, lag)
	}
}

// post pushes frame to one connection, retrying a transient failure (throttling, 5xx, a
// timeout) with jittered exponential backoff, up to attempts tries in all. It returns the
// tries made and nil, or an error wrapping ErrGone or ErrRejected at once, or the last
// transient error.
func (s *Service) post(ctx context.Context, connectionID string, frame []byte, attempts int) (int, error) {
	backoff := s.opts.PushBackoff
	for attempt := 1; ; attempt++ {
		err := s.pusher.Push(ctx, connectionID, frame)
		if err == nil || errors.Is(err, ErrGone) || errors.Is(err, ErrRejected) || attempt >= attempts || ctx.Err() != nil {
			return attempt, err
		}
		select {
		case <-s.opts.After(jitter(backoff)):
		case <-ctx.Done():
		}
		backoff *= 2
	}
}

// broadcast pushes frame to every live connection of users but exclude. Failures are
// logged, not returned: live events are best effort, and what matters is stored.
func (s *Service) broadcast(ctx context.Context, users []string, exclude string, frame any) {
	data, err := Encode(frame)
	if err != nil {
		s.log.ErrorContext(ctx, "encode event", "err", err)
		return
	}
	if _, err := s.pushToUsers(ctx, users, exclude, push{frame: data}); err != nil {
		s.log.WarnContext(ctx, "broadcast", "err", err)
	}
}

// Deliverer fans stored messages out to members' connections: the stream path. One
// Deliverer serves one stream batch: it caches each conversation's members and the
// batch's inline marks. It is safe for concurrent use (records of different
// conversations are delivered in parallel).
type Deliverer struct {
	s       *Service
	mu      sync.Mutex
	members map[string]audience
	marked  map[MessageRef]bool // the inline marks read by Prefetch
	fetched map[MessageRef]bool // the refs Prefetch looked up
}

// NewDeliverer returns a Deliverer with an empty member cache.
func (s *Service) NewDeliverer() *Deliverer {
	return &Deliverer{s: s, members: map[string]audience{}, marked: map[MessageRef]bool{}, fetched: map[MessageRef]bool{}}
}

// Prefetch reads, in one go, the inline marks of the batch's messages that the inline
// path was to deliver (Message.Inline), so that Deliver skips the finished ones without a
// read each. A failed read is logged and leaves the marks unknown: Deliver then reads
// each mark itself.
func (d *Deliverer) Prefetch(ctx context.Context, msgs []Message) {
	d.mu.Lock()
	var refs []MessageRef
	for _, m := range msgs {
		if r := (MessageRef{m.ConversationID, m.MessageID}); m.Inline && !d.fetched[r] {
			refs = append(refs, r)
		}
	}
	d.mu.Unlock()
	if len(refs) == 0 {
		return
	}
	marked, err := d.s.conversations.InlineMarked(ctx, refs)
	if err != nil {
		d.s.log.WarnContext(ctx, "read inline marks of a batch", "messages", len(refs), "err", err)
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, r := range refs {
		d.fetched[r] = true
		d.marked[r] = d.marked[r] || marked[r]
	}
}

// mark returns what is known of r's mark: whether it was looked up, and found.
func (d *Deliverer) mark(r MessageRef) (fetched, marked bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.fetched[r], d.marked[r]
}

// inlineDone reports whether the inline path finished m (only a message it was to
// deliver can have a mark). A message without a mark that is younger than InlineGrace may
// still be in the inline path's hands: it waits until the message is that old, then reads
// the batch's missing marks again (one read), so a record that overtook its send is not
// delivered twice.
func (d *Deliverer) inlineDone(ctx context.Context, m Message) bool {
	if !m.Inline {
		return false
	}
	r := MessageRef{m.ConversationID, m.MessageID}
	if fetched, _ := d.mark(r); !fetched {
		d.Prefetch(ctx, []Message{m})
	}
	fetched, marked := d.mark(r)
	if marked {
		return true
	}
	wait := time.UnixMilli(m.CreatedAt).Add(InlineGrace).Sub(d.s.opts.Now())
	if wait <= 0 || !fetched {
		return false
	}
	select {
	case <-d.s.opts.After(wait):
	case <-ctx.Done():
		return false
	}
	d.mu.Lock()
	var missing []Message
	for ref, ok := range d.marked {
		if !ok {
			missing = append(missing, Message{ConversationID: ref.ConversationID, MessageID: ref.MessageID, Inline: true})
			delete(d.fetched, ref)
		}
	}
	d.mu.Unlock()
	d.Prefetch(ctx, missing)
	_, marked = d.mark(r)
	return marked
}

// Deliver pushes m to every open connection of every member, the sender's included,
// unless the inline path marked it delivered. It returns an error when some connection
// could not be reached after retries (the caller reports the record as failed, and
// members already served may get it again) or when the members or connections could not
// be read.
func (d *Deliverer) Deliver(ctx context.Context, m Message) error {
	start := time.Now()
	if d.inlineDone(ctx, m) {
		d.s.opts.Metrics.FannedOut(true, time.Since(start))
		d.s.log.DebugContext(ctx, "delivered inline already", slog.String("conversationId", m.ConversationID), slog.String("messageId", m.MessageID))
		return nil
	}
	err := d.deliver(ctx, m)
	d.s.opts.Metrics.FannedOut(false, time.Since(start))
	return err
}

func (d *Deliverer) deliver(ctx context.Context, m Message) error {
	frame, ok := TimelineFrame(m)
	if !ok {
		return nil // an edit whose body a later change erased: that change is delivered
	}
	aud, err := d.membersOf(ctx, m.ConversationID)
	if err != nil {
		return err
	}
	data, err := Encode(frame)
	if err != nil {
		return err
	}
	// A change's own connection got the reply; a message's sender gets its message.
	st, err := d.s.pushToUsers(ctx, aud.ids, m.Origin, push{frame: data, retry: true, path: PathStream, createdAt: m.CreatedAt})
	d.s.log.DebugContext(ctx, "delivered", slog.String("conversationId", m.ConversationID), slog.String("messageId", m.MessageID),
		slog.Int("members", len(aud.ids)), slog.Int64("pushed", st.delivered.Load()), slog.Int64("gone", st.gone.Load()))
	if err != nil {
		return fmt.Errorf("deliver %s/%s: %w", m.ConversationID, m.MessageID, err)
	}
	if err := d.s.notifyOffline(ctx, m, aud, st.offline); err != nil {
		return fmt.Errorf("deliver %s/%s: %w", m.ConversationID, m.MessageID, err)
	}
	return nil
}

// membersOf returns the members of a conversation (audienceOf), from the batch's cache
// when it holds them.
func (d *Deliverer) membersOf(ctx context.Context, conversationID string) (audience, error) {
	d.mu.Lock()
	aud, ok := d.members[conversationID]
	d.mu.Unlock()
	if ok {
		return aud, nil
	}
	aud, err := d.s.audienceOf(ctx, conversationID)
	if err != nil {
		return audience{}, err
	}
	d.mu.Lock()
	d.members[conversationID] = aud
	d.mu.Unlock()
	return aud, nil
}

// PresenceLapsed handles the TTL deletion of a user's presence item: unless the user is
// online again, it records the lapse and tells the user's direct-conversation peers that
// the user went offline at lastSeen.
func (s *Service) PresenceLapsed(ctx context.Context, userID string, lastSeen int64) error {
	ps, err := s.connections.Presence(ctx, []string{userID}, s.now())
	if err != nil {
		return fmt.Errorf("read presence of %s: %w", userID, err)
	}
	if len(ps) == 1 && ps[0].Online {
		return nil
	}
	if err := s.connections.RecordLapse(ctx, userID, lastSeen); err != nil {
		return fmt.Errorf("record lapse of %s: %w", userID, err)
	}
	s.notifyPresence(ctx, Presence{UserID: userID, Online: false, LastSeen: lastSeen})
	return nil
}

// notifyPresence tells every user who shares a direct conversation with p.UserID.
func (s *Service) notifyPresence(ctx context.Context, p Presence) {
	ms, err := s.conversations.UserConversations(ctx, p.UserID)
	if err != nil {
		s.log.WarnContext(ctx, "presence: read conversations", "userId", p.UserID, "err", err)
		return
	}
	var peers []string
	for _, m := range ms {
		if m.Kind == KindDirect && m.Peer != "" && m.Peer != p.UserID {
			peers = append(peers, m.Peer)
		}
	}
	if len(peers) == 0 {
		return
	}
	data, err := Encode(PresenceFrame{Type: TypePresence, Users: []Presence{p}})
	if err != nil {
		s.log.ErrorContext(ctx, "encode presence event", "err", err)
		return
	}
	st, err := s.pushToUsers(ctx, peers, "", push{frame: data})
	s.log.DebugContext(ctx, "presence announced", "userId", p.UserID, "online", p.Online, "peers", len(peers),
		"pushed", st.delivered.Load(), "gone", st.gone.Load(), "err", err)
}
