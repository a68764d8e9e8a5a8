package chat

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/time/rate"
)

// Service implements every action of the protocol and the fan-out of stored messages. It
// holds no per-connection state: each call is one Lambda invocation's worth of work.
type Service struct {
	messages      MessageStore
	conversations ConversationStore
	connections   ConnectionStore
	pusher        Pusher
	opts          Options
	ids           *IDs
	log           *slog.Logger

	limitMu  sync.Mutex
	limiters map[string]*rate.Limiter
}

// Defaults of Options that the functions' configuration (internal/config) shares.
const (
	DefaultPushConcurrency = 64
	DefaultRateLimit       = 100
	DefaultRateBurst       = 200
	// DefaultInlineMaxMembers is INLINE_MAX_MEMBERS's default: conversations of up to
	// this many members get their messages pushed by send itself (docs/benchmarks.md has
	// the measurements behind it).
	DefaultInlineMaxMembers = 100
)

// DefaultReserveStale is Options.ReserveStale's default: the timeout of the send function
// (internal/topology, 10 s). Lambda (and parley local) ends the attempt that made a
// reservation's id within that time of making it, so the deadline Send puts on storing
// under the id never cuts that attempt short; it stops only resends that reuse the id.
const DefaultReserveStale = 10 * time.Second

// clockMargin is what the bounds of send and sync allow for the clocks of two instances
// to disagree (Amazon Time Sync keeps Lambda's to well under a millisecond) and for a
// write that was in flight when its deadline passed to be applied (milliseconds).
const clockMargin = time.Second

// DefaultSettleWindow is Options.SettleWindow's default: DefaultReserveStale plus
// clockMargin (11 s). Send stores a message under its id only while the id is younger
// than ReserveStale by the storing instance's clock (a resend that comes later gets a
// fresh id: see Service.Send), so a message is stored at most ReserveStale after its id's
// time. A later id that a member's cursor passed before that storage was made before it,
// so its time is at most ReserveStale after the message's id's time, give or take the
// margin: the clocks of the instances involved and a put in flight at its deadline.
const DefaultSettleWindow = DefaultReserveStale + clockMargin

// Options tunes a Service. Every zero value means the default given.
type Options struct {
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger receives structured logs. Default slog.Default().
	Logger *slog.Logger
	// PushConcurrency bounds parallel pushes of one fan-out. Default
	// DefaultPushConcurrency (64).
	PushConcurrency int
	// ReadConcurrency bounds parallel store reads of one call (connections of many
	// members, cursors of many conversations). Default 64.
	ReadConcurrency int
	// PushAttempts is how often a push that failed transiently is tried in all. Default 4.
	PushAttempts int
	// PushBackoff is the base of the jittered exponential backoff between attempts.
	// Default 25ms.
	PushBackoff time.Duration
	// ReserveStale is how long after its making a reservation's id may still be used to
	// store its message: Send stores under a reserved id only until it is ReserveStale old
	// (a deadline on the put), and gives a resend that finds an older reservation whose
	// message was never stored a fresh id (RenewReservation). Keep it at least the send
	// function's timeout (internal/topology), so that the deadline never cuts short the
	// attempt that made the id. Default DefaultReserveStale (10 s).
	ReserveStale time.Duration
	// SettleWindow is how far before a member's delivered cursor sync replays: at least
	// the longest time from a message id's making to the message's storage (ReserveStale),
	// plus the clock skew between instances. Default ReserveStale plus a second
	// (DefaultSettleWindow with the default ReserveStale); negative disables it.
	SettleWindow time.Duration
	// After waits out the backoff between push attempts: it returns a channel that
	// receives once d has passed, as time.After does. Tests pass one that fires at once
	// (and may move their clock by d). Default time.After.
	After func(d time.Duration) <-chan time.Time
	// ConnectionTTL is how long a connection item lives without a $disconnect: API
	// Gateway's 2 h lifetime plus slack. Default 2h10m.
	ConnectionTTL time.Duration
	// RateLimit is the sustained frames per second one user may send to this instance;
	// RateBurst the burst. Defaults DefaultRateLimit and DefaultRateBurst (100 and 200:
	// generous for people, a bound on runaway clients). A negative RateLimit disables
	// limiting.
	RateLimit float64
	RateBurst int
	// InlineMaxMembers is the largest conversation whose messages Send pushes itself,
	// right after storing them (the inline path); the stream fan-out still runs for every
	// message and delivers what the inline path did not finish. 0 (the default here)
	// disables the inline path; the functions' configuration sets
	// DefaultInlineMaxMembers (INLINE_MAX_MEMBERS).
	InlineMaxMembers int
	// Metrics receives delivery measurements. Default: dropped.
	Metrics Metrics
	// Notifier receives the offline notifications of messages (Notification). Default:
	// none are made.
	Notifier Notifier
	// NoNotifyPreview leaves the body's preview out of notifications (privacy).
	NoNotifyPreview bool
}

func (o *Options) setDefaults() {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.PushConcurrency <= 0 {
		o.PushConcurrency = DefaultPushConcurrency
	}
	if o.ReadConcurrency <= 0 {
		o.ReadConcurrency = 64
	}
	if o.PushAttempts <= 0 {
		o.PushAttempts = 4
	}
	if o.PushBackoff <= 0 {
		o.PushBackoff = 25 * time.Millisecond
	}
	if o.ReserveStale <= 0 {
		o.ReserveStale = DefaultReserveStale
	}
	if o.SettleWindow == 0 {
		o.SettleWindow = o.ReserveStale + clockMargin
	}
	if o.After == nil {
		o.After = time.After
	}
	if o.ConnectionTTL <= 0 {
		o.ConnectionTTL = 2*time.Hour + 10*time.Minute
	}
	if o.RateLimit == 0 {
		o.RateLimit = DefaultRateLimit
	}
	if o.RateBurst <= 0 {
		o.RateBurst = DefaultRateBurst
	}
	if o.InlineMaxMembers < 0 {
		o.InlineMaxMembers = 0
	}
	if o.Metrics == nil {
		o.Metrics = noMetrics{}
	}
}

// NewService returns a Service over the given stores and pusher.
func NewService(messages MessageStore, conversations ConversationStore, connections ConnectionStore, pusher Pusher, opts Options) *Service {
	opts.setDefaults()
	return &Service{
		messages:      messages,
		conversations: conversations,
		connections:   connections,
		pusher:        pusher,
		opts:          opts,
		ids:           NewIDs(),
		log:           opts.Logger,
		limiters:      map[string]*rate.Limiter{},
	}
}

// Caller identifies who made a request, over which connection.
type Caller struct {
	UserID       string
	ConnectionID string
	RequestID    string
}

func (s *Service) now() int64 { return s.opts.Now().UnixMilli() }

// Allow applies the per-user rate limit, returning a rate_limited error when the user is
// over it. The limit is kept per service instance (per Lambda instance when deployed).
func (s *Service) Allow(userID string) error {
	if s.opts.RateLimit < 0 {
		return nil
	}
	s.limitMu.Lock()
	l, ok := s.limiters[userID]
	if !ok {
		if len(s.limiters) > 100_000 { // bound memory: forget everyone, start afresh
			s.limiters = map[string]*rate.Limiter{}
		}
		l = rate.NewLimiter(rate.Limit(s.opts.RateLimit), s.opts.RateBurst)
		s.limiters[userID] = l
	}
	s.limitMu.Unlock()
	if !l.AllowN(s.opts.Now(), 1) {
		return Errorf(CodeRateLimited, "too many requests: at most %g per second (burst %d); retry later", s.opts.RateLimit, s.opts.RateBurst)
	}
	return nil
}

// requireMember returns the caller's membership, forbidden when the conversation exists
// without them, not_found when it does not exist.
func (s *Service) requireMember(ctx context.Context, conversationID, userID string) (Membership, error) {
	m, err := s.conversations.Member(ctx, conversationID, userID)
	if err == nil {
		return m, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return Membership{}, fmt.Errorf("read membership %s/%s: %w", conversationID, userID, err)
	}
	if _, err := s.conversations.GetConversation(ctx, conversationID); err != nil {
		if errors.Is(err, ErrNotFound) {
			return Membership{}, Errorf(CodeNotFound, "no conversation %q", conversationID)
		}
		return Membership{}, fmt.Errorf("read conversation %s: %w", conversationID, err)
	}
	return Membership{}, Errorf(CodeForbidden, "you are not a member of %q", conversationID)
}

func validConversationID(id string) error {
	if id == "" {
		return Errorf(CodeBadRequest, "conversationId is required")
	}
	if len(id) > 200 {
		return Errorf(CodeBadRequest, "conversationId is malformed")
	}
	return nil
}

func validID(field, v string) error {
	if v == "" {
		return Errorf(CodeBadRequest, "%s is required", field)
	}
	if n := len([]rune(v)); n > MaxIDLength {
		return Errorf(CodeBadRequest, "%s is %d characters, the limit is %d", field, n, MaxIDLength)
	}
	return nil
}

// parallel runs f(i) for i in [0,n) with at most limit running at once; the first error
// cancels the others' context and is returned.
func parallel(ctx context.Context, n, limit int, f func(ctx context.Context, i int) error) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(limit)
	for i := range n {
		g.Go(func() error { return f(ctx, i) })
	}
	return g.Wait()
}

// jitter returns a random duration in [d/2, d*3/2).
func jitter(d time.Duration) time.Duration {
	return d/2 + time.Duration(rand.Int64N(int64(d)))
}
