package verify

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/parleychat/parley/internal/client"
)

// maxAttempts bounds the attempts of one send (the same clientMsgId each time).
const maxAttempts = 12

// user is one simulated user: at most one connection at a time, a sender loop, a reader
// per connection and live delivered receipts.
type user struct {
	id string
	r  *runner

	mu      sync.Mutex
	c       *client.Conn // nil while offline
	syncing bool         // no live receipts while a sync runs (docs/protocol.md, sync)
	pending map[string]string
	seq     int
	// received are the last messages that reached the user (what it may react to);
	// mine is the user's reaction state as its acknowledged reactions left it.
	received []delivery
	mine     map[[2]string]bool // (messageId, emoji) → has it
}

func newUser(r *runner, id string) *user {
	return &user{id: id, r: r, pending: map[string]string{}, mine: map[[2]string]bool{}}
}

func (u *user) conn() *client.Conn {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.c
}

// online reports whether the user holds a connection that has not ended.
func (u *user) online() bool {
	c := u.conn()
	if c == nil {
		return false
	}
	select {
	case <-c.Done():
		return false
	default:
		return true
	}
}

func (u *user) token(context.Context) (string, error) { return u.r.cfg.Token(u.id) }

// connect opens a connection (with backoff), starts its reader and, when sync is set,
// replays what the user missed, as docs/protocol.md asks after every reconnect.
func (u *user) connect(ctx context.Context, sync bool) error {
	u.mu.Lock()
	u.syncing = true
	u.mu.Unlock()
	opts := &client.Options{TokenInHeader: u.r.cfg.TokenInHeader, RequestTimeout: u.r.cfg.RequestTimeout, Logger: u.r.log}
	c, err := client.Reconnect(ctx, u.r.cfg.URL, u.token, opts, time.Minute)
	if err != nil {
		return fmt.Errorf("verify: connect %s: %w", u.id, err)
	}
	u.mu.Lock()
	u.c = c
	u.mu.Unlock()
	go u.read(c)
	if sync {
		u.r.reconnects.Add(1)
		return u.sync(ctx)
	}
	u.mu.Lock()
	u.syncing = false
	u.mu.Unlock()
	return nil
}

// sync runs SyncAll on the current connection; live receipts wait until it is done (it
// acknowledges what it replayed).
func (u *user) sync(ctx context.Context) error {
	u.mu.Lock()
	u.syncing = true
	c := u.c
	u.mu.Unlock()
	defer func() {
		u.mu.Lock()
		u.syncing = false
		u.mu.Unlock()
	}()
	var err error
	for attempt := range maxAttempts {
		if attempt > 0 {
			u.r.retries.Add(1)
			if !sleep(ctx, backoff(attempt)) {
				return ctx.Err()
			}
		}
		sctx, cancel := context.WithTimeout(ctx, 12*u.r.cfg.RequestTimeout)
		_, err = c.SyncAll(sctx)
		cancel()
		if err == nil {
			u.r.syncs.Add(1)
			return nil
		}
		if !retryable(err) {
			break
		}
		if errors.Is(err, client.ErrClosed) {
			u.r.log.Info("verify: connection ended during sync; reconnecting", "userId", u.id)
			return u.connect(ctx, true)
		}
	}
	return fmt.Errorf("verify: sync %s: %w", u.id, err)
}

// read records every message frame the connection gets.
func (u *user) read(c *client.Conn) {
	for ev := range c.Events() {
		if ev.Type == client.TypeReaction && ev.Reaction != nil {
			u.r.m.reactionDelivered(reactionDelivery{user: u.id, conv: ev.Reaction.ConversationID, eventID: ev.Reaction.EventID})
			continue
		}
		if ev.Type != client.TypeMessage || ev.Message == nil {
			continue
		}
		msg := ev.Message
		d := delivery{user: u.id, conv: msg.ConversationID, messageID: msg.MessageID,
			sender: msg.SenderID, clientMsgID: msg.ClientMsgID, at: ev.Received}
		u.r.m.delivered(d)
		u.mu.Lock()
		if u.received = append(u.received, d); len(u.received) > maxReceived {
			u.received = u.received[1:]
		}
		if !u.syncing && msg.MessageID > u.pending[msg.ConversationID] {
			u.pending[msg.ConversationID] = msg.MessageID
		}
		u.mu.Unlock()
	}
}

// run is the user's life until ctx ends: send at its share of the rate, acknowledge what
// arrives live, and now and then drop the connection and come back after a while.
func (u *user) run(ctx context.Context) {
	cfg := u.r.cfg
	every := time.Duration(float64(time.Second) * float64(cfg.Users) / cfg.Rate)
	dropP := cfg.Drops / 60 * every.Seconds()
	receipts := time.NewTicker(300 * time.Millisecond)
	defer receipts.Stop()
	next := time.Now().Add(time.Duration(rand.Int64N(int64(every))))
	for {
		select {
		case <-ctx.Done():
			return
		case <-receipts.C:
			u.acknowledge(ctx)
			continue
		case <-time.After(time.Until(next)):
		}
		next = next.Add(every)
		switch {
		case !u.online():
			if err := u.connect(ctx, true); err != nil && ctx.Err() == nil {
				u.r.log.Warn("verify: reconnect failed", "userId", u.id, "err", err)
			}
		case rand.Float64() < dropP:
			u.drop(ctx)
		case rand.Float64() < cfg.Reactions:
			u.react(ctx)
		default:
			u.send(ctx)
		}
	}
}

// acknowledge sends delivered receipts for the newest message of each conversation that
// arrived live since the last time.
func (u *user) acknowledge(ctx context.Context) {
	u.mu.Lock()
	if u.syncing || u.c == nil || len(u.pending) == 0 {
		u.mu.Unlock()
		return
	}
	pending, c := u.pending, u.c
	u.pending = map[string]string{}
	u.mu.Unlock()
	for conv, id := range pending {
		rctx, cancel := context.WithTimeout(ctx, u.r.cfg.RequestTimeout)
		_, _ = c.Receipt(rctx, conv, id, client.StatusDelivered) // best effort: a lower cursor only replays more
		cancel()
	}
}

// drop closes the connection and stays offline for a while, then reconnects and syncs.
func (u *user) drop(ctx context.Context) {
	u.mu.Lock()
	c := u.c
	u.c = nil
	u.pending = map[string]string{}
	u.mu.Unlock()
	if c == nil {
		return
	}
	u.r.drops.Add(1)
	_ = c.Close()
	off := u.r.cfg.Offline
	if !sleep(ctx, off/10+time.Duration(rand.Int64N(int64(off-off/10)+1))) {
		return
	}
	if err := u.connect(ctx, true); err != nil && ctx.Err() == nil {
		u.r.log.Warn("verify: reconnect failed", "userId", u.id, "err", err)
	}
}

// send sends one message to a random conversation of the user, with the retries
// docs/protocol.md tells clients to use: the same clientMsgId again after a timeout, a
// lost connection, `internal` or `rate_limited`.
func (u *user) send(ctx context.Context) {
	convs := u.r.m.memberOf(u.id)
	if len(convs) == 0 {
		return
	}
	conv := convs[rand.IntN(len(convs))]
	u.mu.Lock()
	u.seq++
	cmid := fmt.Sprintf("c%d", u.seq)
	u.mu.Unlock()
	s := &sent{conv: conv, sender: u.id, clientMsgID: cmid, start: time.Now(), ids: map[string]bool{}}
	u.r.m.addSent(s)
	body := fmt.Sprintf("verify %s %s", u.id, cmid)
	for attempt := range maxAttempts {
		if attempt > 0 {
			u.r.retries.Add(1)
			if !sleep(ctx, backoff(attempt)) {
				return
			}
		}
		if !u.online() {
			if err := u.connect(ctx, true); err != nil {
				continue
			}
		}
		c := u.conn()
		if c == nil {
			continue
		}
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), u.r.cfg.RequestTimeout)
		var ack *client.Ack
		var err error
		if peer, ok := directPeer(conv, u.id); ok {
			ack, err = c.SendDirect(sctx, peer, cmid, body)
		} else {
			ack, err = c.Send(sctx, conv, cmid, body)
		}
		cancel()
		if err == nil {
			u.r.m.ack(s, ack.MessageID, time.Now())
			return
		}
		if !retryable(err) {
			u.r.log.Info("verify: send refused", "userId", u.id, "conversationId", conv, "clientMsgId", cmid, "err", err)
			u.r.gaveUp.Add(1)
			return
		}
	}
	u.r.gaveUp.Add(1)
	u.r.log.Warn("verify: send not acknowledged after every attempt", "userId", u.id, "conversationId", conv, "clientMsgId", cmid)
}

// maxReceived is how many of the last messages a user received it may react to.
const maxReceived = 20

// emojis are the reactions simulated users make.
var emojis = []string{"👍", "🎉", "❤️"}

// react toggles one of the user's reactions on a message it received, with the retries
// docs/protocol.md allows (the same change again: a repeat of an applied change changes
// nothing and names its event).
func (u *user) react(ctx context.Context) {
	u.mu.Lock()
	if len(u.received) == 0 {
		u.mu.Unlock()
		u.send(ctx)
		return
	}
	d := u.received[rand.IntN(len(u.received))]
	emoji := emojis[rand.IntN(len(emojis))]
	k := [2]string{d.messageID, emoji}
	state := client.ReactionAdd
	if u.mine[k] {
		state = client.ReactionRemove
	}
	u.mu.Unlock()
	if !contains(u.r.m.memberOf(u.id), d.conv) {
		return
	}
	rc := &reaction{conv: d.conv, user: u.id, messageID: d.messageID, emoji: emoji, state: state, start: time.Now(), eventIDs: map[string]bool{}}
	u.r.m.addReaction(rc)
	r, err := retry(ctx, u.r, func(ctx context.Context) (*client.Reaction, error) {
		if !u.online() {
			if err := u.connect(ctx, true); err != nil {
				return nil, err
			}
		}
		return u.conn().React(ctx, d.conv, d.messageID, emoji, state)
	})
	switch {
	case err == nil:
		u.r.m.reacted(rc, r.EventID, time.Now())
		u.mu.Lock()
		u.mine[k] = state == client.ReactionAdd
		u.mu.Unlock()
	case !retryable(err):
		u.r.m.refusedReaction(rc) // a leave made it forbidden: it changed nothing
		u.r.log.Info("verify: react refused", "userId", u.id, "conversationId", d.conv, "err", err)
	default:
		u.r.gaveUp.Add(1)
		u.r.log.Warn("verify: react not acknowledged after every attempt", "userId", u.id, "conversationId", d.conv)
	}
}

// history reads a conversation's whole history, oldest first.
func (u *user) history(ctx context.Context, conv string) ([]client.Message, error) {
	var pages [][]client.Message
	before := ""
	for {
		p, err := retry(ctx, u.r, func(ctx context.Context) (*client.HistoryPage, error) {
			if !u.online() {
				// A connection can end now too (a dropped client, a heartbeat unanswered).
				if err := u.connect(ctx, false); err != nil {
					return nil, err
				}
			}
			return u.conn().History(ctx, conv, before, 100)
		})
		if err != nil {
			return nil, err
		}
		u.r.histories.Add(1)
		pages = append(pages, p.Messages)
		if p.Next == "" {
			break
		}
		before = p.Next
	}
	var out []client.Message
	for i := len(pages) - 1; i >= 0; i-- {
		for j := len(pages[i]) - 1; j >= 0; j-- {
			out = append(out, pages[i][j])
		}
	}
	return out, nil
}

func (u *user) close() {
	if c := u.conn(); c != nil {
		_ = c.Close()
	}
}

// retry calls f until it succeeds, for the errors a client should retry.
func retry[T any](ctx context.Context, r *runner, f func(context.Context) (T, error)) (T, error) {
	var zero T
	var err error
	for attempt := range maxAttempts {
		if attempt > 0 {
			r.retries.Add(1)
			if !sleep(ctx, backoff(attempt)) {
				return zero, ctx.Err()
			}
		}
		actx, cancel := context.WithTimeout(ctx, r.cfg.RequestTimeout)
		var v T
		v, err = f(actx)
		cancel()
		if err == nil {
			return v, nil
		}
		if !retryable(err) {
			return zero, err
		}
	}
	return zero, err
}

// retryable reports whether a client should try a request again: a server fault, the
// rate limit, a timeout or a lost connection (docs/protocol.md).
func retryable(err error) bool {
	switch client.ErrorCode(err) {
	case client.CodeInternal, client.CodeRateLimited:
		return true
	case "":
		return true // no protocol error: a timeout or a transport error
	}
	return false
}

// backoff is the jittered exponential pause before attempt n (1-based), at most 2 s.
func backoff(n int) time.Duration {
	d := min(100*time.Millisecond<<n, 2*time.Second)
	return d/2 + time.Duration(rand.Int64N(int64(d)))
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// directPeer returns the other user of a direct conversation id.
func directPeer(conv, me string) (string, bool) {
	rest, ok := strings.CutPrefix(conv, "dm:")
	if !ok {
		return "", false
	}
	a, b, ok := strings.Cut(rest, ":")
	if !ok {
		return "", false
	}
	if a == me {
		return b, true
	}
	return a, true
}
