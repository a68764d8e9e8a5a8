package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/client"
	"github.com/schollz/progressbar/v3"
)

// Actions: what each scheduled operation is.
const (
	ActionSend  = "send"  // a message, delivered to the other members
	ActionReact = "react" // a reaction added to a message (protocol 1.1), its event delivered
)

// Scenarios.
const (
	ScenarioDM    = "dm"    // users in pairs, each pair a direct conversation
	ScenarioGroup = "group" // users in groups of GroupSize members
)

// Config describes a run. Fields marked "default" may be left zero.
type Config struct {
	// URL is the WebSocket endpoint, ws:// or wss://.
	URL string
	// Users is how many simulated users connect, one connection each (at least 2).
	Users int
	// UserIDs, when set, names the users (its length overrides Users) instead of
	// UserPrefix-0, UserPrefix-1, ...; for tokens issued elsewhere.
	UserIDs []string
	// Scenario is ScenarioDM or ScenarioGroup.
	Scenario string
	// Action is ActionSend (default) or ActionReact: each operation adds a reaction, with
	// an emoji of its own, to a message its conversation's first member sent before the
	// run; acknowledged is its reply, delivered the reaction event at the other members.
	Action string
	// GroupSize is the members per group in ScenarioGroup (2 to 500; Users must be a
	// multiple of it). Default: Users.
	GroupSize int
	// Rate is the overall send rate in messages per second, spread over the conversations
	// round-robin and, within each, over its members.
	Rate float64
	// Warmup is sent at the same rate before the measured Duration and not recorded.
	Warmup time.Duration
	// Duration is the measured window.
	Duration time.Duration
	// Drain is how long to wait after the last send for outstanding acks and deliveries.
	// Default 10 s.
	Drain time.Duration
	// SendTimeout bounds each send (time to its ack). Default 30 s.
	SendTimeout time.Duration
	// DialConcurrency bounds the handshakes (and conversation creations) in flight.
	// Default 16.
	DialConcurrency int
	// MaxInFlight bounds the unacknowledged sends. When it is reached the scheduler waits,
	// and the wait counts in the latencies. Default 10000.
	MaxInFlight int
	// BodyBytes is the size of each message body (1 to 16384). Default 100.
	BodyBytes int
	// UserPrefix starts every simulated user id. Default "bench-" and a random suffix, so
	// that every run has fresh users and conversations.
	UserPrefix string
	// Token returns a token for a user id.
	Token func(user string) (string, error)
	// TokenInHeader sends tokens in the Authorization header instead of the query.
	TokenInHeader bool
	// Progress receives a progress bar while the run goes on; nil for none.
	Progress io.Writer
	// Logger receives the clients' warnings. Default slog.Default().
	Logger *slog.Logger
}

func (c *Config) validate() error {
	if len(c.UserIDs) > 0 {
		c.Users = len(c.UserIDs)
	}
	if c.URL == "" {
		return errors.New("bench: no url")
	}
	if !strings.HasPrefix(c.URL, "ws://") && !strings.HasPrefix(c.URL, "wss://") {
		return fmt.Errorf("bench: url %q must start with ws:// or wss://", c.URL)
	}
	if c.Token == nil {
		return errors.New("bench: no token source")
	}
	if c.Users < 2 {
		return fmt.Errorf("bench: users %d: need at least 2", c.Users)
	}
	switch c.Action {
	case "":
		c.Action = ActionSend
	case ActionSend, ActionReact:
	default:
		return fmt.Errorf("bench: action %q must be %q or %q", c.Action, ActionSend, ActionReact)
	}
	switch c.Scenario {
	case ScenarioDM:
		if c.Users%2 != 0 {
			return fmt.Errorf("bench: dm scenario pairs users: users %d must be even", c.Users)
		}
	case ScenarioGroup:
		if c.GroupSize == 0 {
			c.GroupSize = c.Users
		}
		if c.GroupSize < 2 || c.GroupSize > 500 {
			return fmt.Errorf("bench: group size %d must be 2 to 500", c.GroupSize)
		}
		if c.Users%c.GroupSize != 0 {
			return fmt.Errorf("bench: users %d must be a multiple of the group size %d", c.Users, c.GroupSize)
		}
	default:
		return fmt.Errorf("bench: scenario %q must be %q or %q", c.Scenario, ScenarioDM, ScenarioGroup)
	}
	if c.Rate <= 0 {
		return fmt.Errorf("bench: rate %v must be positive", c.Rate)
	}
	if c.Duration <= 0 {
		return fmt.Errorf("bench: duration %v must be positive", c.Duration)
	}
	if c.Warmup < 0 {
		return fmt.Errorf("bench: warmup %v must not be negative", c.Warmup)
	}
	if c.Drain <= 0 {
		c.Drain = 10 * time.Second
	}
	if c.SendTimeout <= 0 {
		c.SendTimeout = 30 * time.Second
	}
	if c.DialConcurrency <= 0 {
		c.DialConcurrency = 16
	}
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = 10000
	}
	if c.BodyBytes == 0 {
		c.BodyBytes = 100
	}
	if c.BodyBytes < 1 || c.BodyBytes > 16384 {
		return fmt.Errorf("bench: body size %d must be 1 to 16384", c.BodyBytes)
	}
	if c.UserPrefix == "" {
		var b [4]byte
		_, _ = rand.Read(b[:])
		c.UserPrefix = "bench-" + hex.EncodeToString(b[:])
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// user is one simulated user with its connection.
type user struct {
	id   string
	conn *client.Conn
	conv *conversation
	pos  int // position among conv.members
}

// conversation is one conversation of the run.
type conversation struct {
	id      string
	members []*user
	// seeds are the messages reactions go to (ActionReact), enough that no user passes
	// chat.MaxUserReactions on one and no message chat.MaxMessageReactions.
	seeds []string
}

// layout splits n users into conversations of size members each.
func layout(prefix string, n, size int) ([]*user, []*conversation) {
	users := make([]*user, n)
	convs := make([]*conversation, 0, n/size)
	for i := range users {
		users[i] = &user{id: prefix + "-" + strconv.Itoa(i)}
		if i%size == 0 {
			convs = append(convs, &conversation{})
		}
		c := convs[len(convs)-1]
		users[i].conv, users[i].pos = c, len(c.members)
		c.members = append(c.members, users[i])
	}
	return users, convs
}

// pick chooses the conversation and sender of the k-th message: conversations round-robin,
// and within a conversation its members in turn.
func pick(convs []*conversation, k int) (*conversation, *user) {
	c := convs[k%len(convs)]
	return c, c.members[(k/len(convs))%len(c.members)]
}

// Run connects the users, creates the conversations, sends for Warmup+Duration at Rate,
// waits up to Drain for what is outstanding, closes every connection and reports. It stops
// early, with an error, when ctx ends.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	size := 2
	if cfg.Scenario == ScenarioGroup {
		size = cfg.GroupSize
	}
	users, convs := layout(cfg.UserPrefix, cfg.Users, size)
	for i, id := range cfg.UserIDs {
		users[i].id = id
	}
	rep := &Report{
		URL: cfg.URL, Scenario: cfg.Scenario, Action: cfg.Action, Users: cfg.Users, Conversations: len(convs), Members: size,
		TargetRate: cfg.Rate, WarmupSeconds: cfg.Warmup.Seconds(), DurationSeconds: cfg.Duration.Seconds(),
	}
	tr := newTracker()

	start := time.Now()
	defer closeAll(users)
	if err := connect(ctx, &cfg, users, tr); err != nil {
		return nil, err
	}
	if err := createConversations(ctx, &cfg, convs); err != nil {
		return nil, err
	}
	if cfg.Action == ActionReact {
		if err := seed(ctx, &cfg, convs, size); err != nil {
			return nil, err
		}
	}
	rep.ConnectSeconds = time.Since(start).Seconds()

	if err := schedule(ctx, &cfg, convs, tr); err != nil {
		return nil, err
	}
	tr.fill(rep)
	return rep, nil
}

// connect dials every user with bounded concurrency and starts its event reader.
func connect(ctx context.Context, cfg *Config, users []*user, tr *tracker) error {
	bar := newBar(cfg.Progress, int64(len(users)), "connecting")
	defer bar.finish()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sem := make(chan struct{}, cfg.DialConcurrency)
	errc := make(chan error, 1)
	var wg sync.WaitGroup
	opts := &client.Options{TokenInHeader: cfg.TokenInHeader, Logger: cfg.Logger}
	for _, u := range users {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			tok, err := cfg.Token(u.id)
			if err == nil {
				dctx, dcancel := context.WithTimeout(ctx, 30*time.Second)
				u.conn, err = client.Dial(dctx, cfg.URL, tok, opts)
				dcancel()
			}
			if err != nil {
				select {
				case errc <- fmt.Errorf("bench: connect %s: %w", u.id, err):
				default:
				}
				cancel()
				return
			}
			go readEvents(u, tr)
			bar.add(1)
		}()
	}
	wg.Wait()
	select {
	case err := <-errc:
		return err
	default:
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("bench: connect: %w", err)
	}
	return nil
}

// readEvents drains a user's events until its connection ends, recording deliveries.
func readEvents(u *user, tr *tracker) {
	for ev := range u.conn.Events() {
		switch {
		case ev.Type == client.TypeMessage && ev.Message != nil:
			tr.delivered(ev.Message.ClientMsgID, u.pos, ev.Received)
		case ev.Type == client.TypeReaction && ev.Reaction != nil && ev.Reaction.State == client.ReactionAdd:
			tr.delivered(ev.Reaction.Emoji, u.pos, ev.Received) // the emoji is the operation's id
		}
	}
}

// createConversations has the first member of each conversation create it.
func createConversations(ctx context.Context, cfg *Config, convs []*conversation) error {
	bar := newBar(cfg.Progress, int64(len(convs)), "creating conversations")
	defer bar.finish()
	sem := make(chan struct{}, cfg.DialConcurrency)
	errc := make(chan error, len(convs))
	var wg sync.WaitGroup
	for i, c := range convs {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			others := make([]string, 0, len(c.members)-1)
			for _, m := range c.members[1:] {
				others = append(others, m.id)
			}
			name := ""
			if cfg.Scenario == ScenarioGroup {
				name = fmt.Sprintf("bench group %d", i)
			}
			cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			conv, err := c.members[0].conn.CreateConversation(cctx, name, others...)
			if err != nil {
				errc <- fmt.Errorf("bench: create conversation of %s: %w", c.members[0].id, err)
				return
			}
			c.id = conv.ConversationID
			bar.add(1)
		}()
	}
	wg.Wait()
	close(errc)
	return <-errc // nil when the channel is empty
}

// schedule sends messages at the configured rate for Warmup+Duration (open loop), then
// waits up to Drain for the outstanding ones.
func schedule(ctx context.Context, cfg *Config, convs []*conversation, tr *tracker) error {
	total := cfg.Warmup + cfg.Duration
	bar := newBar(cfg.Progress, total.Milliseconds(), "warm-up")
	defer bar.finish()
	stopProgress := make(chan struct{})
	var pwg sync.WaitGroup
	pwg.Add(1)
	go func() {
		defer pwg.Done()
		showProgress(bar, tr, cfg.Warmup, total, stopProgress)
	}()
	defer func() { close(stopProgress); pwg.Wait() }()

	body := strings.Repeat("x", cfg.BodyBytes)
	sem := make(chan struct{}, cfg.MaxInFlight)
	var wg sync.WaitGroup
	start := time.Now()
	warmEnd := start.Add(cfg.Warmup)
	end := warmEnd.Add(cfg.Duration)
	timer := time.NewTimer(0)
	defer timer.Stop()
	var stopErr error
	for k := 0; ; k++ {
		intended := start.Add(time.Duration(float64(k) * float64(time.Second) / cfg.Rate))
		if !intended.Before(end) {
			break
		}
		if d := time.Until(intended); d > 0 {
			timer.Reset(d)
			select {
			case <-timer.C:
			case <-ctx.Done():
				stopErr = ctx.Err()
			}
		}
		if stopErr == nil {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				stopErr = ctx.Err()
			}
		}
		if stopErr != nil {
			break
		}
		conv, sender := pick(convs, k)
		id := "b" + strconv.Itoa(k)
		tr.add(id, intended, !intended.Before(warmEnd), sender.pos, len(conv.members), time.Since(intended))
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			sctx, cancel := context.WithTimeout(ctx, cfg.SendTimeout)
			defer cancel()
			var err error
			if cfg.Action == ActionReact {
				_, err = sender.conn.React(sctx, conv.id, conv.seeds[(k/len(convs)/len(conv.members))%len(conv.seeds)], id, client.ReactionAdd)
			} else {
				_, err = sender.conn.Send(sctx, conv.id, id, body)
			}
			if err != nil {
				tr.failure(id, errorCode(err))
				return
			}
			tr.acknowledged(id, time.Now())
		}()
	}
	tr.stop()
	bar.describe("draining")
	wg.Wait() // every send ends within SendTimeout
	if stopErr != nil {
		return fmt.Errorf("bench: interrupted: %w", stopErr)
	}
	drain := time.NewTimer(cfg.Drain)
	defer drain.Stop()
	select {
	case <-tr.drained:
	case <-drain.C:
	case <-ctx.Done():
		return fmt.Errorf("bench: interrupted while draining: %w", ctx.Err())
	}
	return nil
}

// seed has each conversation's first member send the messages that reactions go to:
// every member's k-th reaction in a conversation goes to seed k mod len(seeds), so with
// enough seeds none holds more than chat.MaxUserReactions of one user or
// chat.MaxMessageReactions in all.
func seed(ctx context.Context, cfg *Config, convs []*conversation, members int) error {
	n := seedsNeeded(cfg.Rate*(cfg.Warmup+cfg.Duration).Seconds(), len(convs), members)
	for i, c := range convs {
		for j := range n {
			sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			ack, err := c.members[0].conn.Send(sctx, c.id, fmt.Sprintf("seed-%d-%d", i, j), "react to me")
			cancel()
			if err != nil {
				return fmt.Errorf("bench: seed message of %s: %w", c.id, err)
			}
			c.seeds = append(c.seeds, ack.MessageID)
		}
	}
	return nil
}

// seedsNeeded is how many messages each of convs conversations of members members needs
// for total reactions spread evenly over its members, so that none holds more than
// chat.MaxUserReactions of one member or chat.MaxMessageReactions in all.
func seedsNeeded(total float64, convs, members int) int {
	perMember := int(math.Ceil(total/float64(convs*members))) + 1
	perSeed := max(1, min(chat.MaxUserReactions, chat.MaxMessageReactions/members))
	return (perMember + perSeed - 1) / perSeed
}

// errorCode names a send failure for the report.
func errorCode(err error) string {
	switch {
	case client.ErrorCode(err) != "":
		return client.ErrorCode(err)
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, client.ErrClosed):
		return "closed"
	default:
		return "other"
	}
}

// closeAll closes every open connection, a few at a time.
func closeAll(users []*user) {
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	for _, u := range users {
		if u.conn == nil {
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			_ = u.conn.Close()
		}()
	}
	wg.Wait()
}

// bar wraps a progress bar that may be absent.
type bar struct{ pb *progressbar.ProgressBar }

func newBar(w io.Writer, max int64, desc string) *bar {
	if w == nil {
		return &bar{}
	}
	return &bar{pb: progressbar.NewOptions64(max,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionShowDescriptionAtLineEnd(),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionSetPredictTime(false),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
	)}
}

func (b *bar) add(n int) {
	if b.pb != nil {
		_ = b.pb.Add(n)
	}
}

func (b *bar) set(v int64) {
	if b.pb != nil {
		_ = b.pb.Set64(v)
	}
}

func (b *bar) describe(s string) {
	if b.pb != nil {
		b.pb.Describe(s)
	}
}

func (b *bar) finish() {
	if b.pb != nil {
		_ = b.pb.Finish()
	}
}

// showProgress updates the bar with elapsed time and counters until stop closes.
func showProgress(b *bar, tr *tracker, warmup, total time.Duration, stop <-chan struct{}) {
	if b.pb == nil {
		return
	}
	start := time.Now()
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		el := time.Since(start)
		phase := "measuring"
		if el < warmup {
			phase = "warm-up"
		}
		if el >= total {
			phase = "draining"
			el = total
		}
		p := tr.progress()
		b.describe(fmt.Sprintf("%s: sent %d, acked %d, delivered %d, failed %d", phase, p.sent, p.acked, p.deliveries, p.failed))
		b.set(el.Milliseconds())
	}
}
