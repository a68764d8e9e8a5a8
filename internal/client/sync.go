package client

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cenkalti/backoff/v5"
)

// MaxSyncRounds bounds SyncAll: 1000 timeline items a round, so up to 100,000.
const MaxSyncRounds = 100

// syncTracker records, per conversation, the newest timeline id (a message's messageId or a
// change's eventId) read during a sync round.
type syncTracker struct {
	newest map[string]string
}

// track notes a timeline item read while SyncAll collects (called by the reader).
func (c *Conn) track(conversationID, id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tracker == nil {
		return
	}
	if id > c.tracker.newest[conversationID] {
		c.tracker.newest[conversationID] = id
	}
}

// SyncAll replays what the caller missed: it calls Sync, sends a delivered receipt for the
// newest timeline item (message or change) of each conversation that arrived during the
// call, and repeats while the server says there is more (at most MaxSyncRounds times). It
// returns how many items the server replayed, messages and changes. They arrive on Events
// as usual (message, edited, deleted and reaction events), so the caller must drain Events
// concurrently. Only one SyncAll may run on a connection at a time.
//
// While the server says there is more, only what the round replayed is acknowledged (the
// synced frame's lastMessageIds, which may name a change's eventId): an item pushed live
// meanwhile may lie beyond items the next round has still to replay, and acknowledging it
// would make the server skip them. After the last round, everything that arrived is
// acknowledged, live items included. Against a server whose synced frame has no
// lastMessageIds, the newest item of each conversation is acknowledged in every round.
func (c *Conn) SyncAll(ctx context.Context) (int, error) {
	total := 0
	seen := map[string]string{}  // newest timeline id that arrived per conversation, over all rounds
	acked := map[string]string{} // what this SyncAll acknowledged
	for round := 0; round < MaxSyncRounds; round++ {
		c.mu.Lock()
		if c.tracker != nil {
			c.mu.Unlock()
			return total, errors.New("parley: sync: another SyncAll is running")
		}
		c.tracker = &syncTracker{newest: map[string]string{}}
		c.mu.Unlock()

		res, err := c.Sync(ctx)

		c.mu.Lock()
		newest := c.tracker.newest
		c.tracker = nil
		c.mu.Unlock()
		if err != nil {
			return total, fmt.Errorf("parley: sync round %d: %w", round+1, err)
		}
		total += res.Count
		for conv, id := range newest {
			if id > seen[conv] {
				seen[conv] = id
			}
		}
		ack := seen
		if res.More && res.LastMessageIDs != nil {
			ack = res.LastMessageIDs
		}
		for conv, id := range ack {
			if id <= acked[conv] {
				continue
			}
			acked[conv] = id
			if _, err := c.Receipt(ctx, conv, id, StatusDelivered); err != nil {
				// A conversation left meanwhile answers forbidden; the others must succeed,
				// or the next round would replay the same items.
				if ErrorCode(err) == CodeForbidden {
					continue
				}
				return total, fmt.Errorf("parley: sync: receipt for %s: %w", conv, err)
			}
		}
		if !res.More {
			return total, nil
		}
	}
	return total, fmt.Errorf("parley: sync: still more after %d rounds", MaxSyncRounds)
}

// TokenFunc returns a token for a (re)connection, so that an expired token can be renewed.
type TokenFunc func(ctx context.Context) (string, error)

// Reconnect dials until a connection opens, waiting with jittered exponential backoff
// (0.5 s growing to 15 s) between attempts, for at most maxElapsed (0 means 2 minutes) or
// until ctx ends. A handshake refused with 401 or 403 is not retried. After it returns,
// drain Events and call SyncAll, as PROTOCOL.md asks after every reconnect.
func Reconnect(ctx context.Context, rawURL string, token TokenFunc, opts *Options, maxElapsed time.Duration) (*Conn, error) {
	if maxElapsed <= 0 {
		maxElapsed = 2 * time.Minute
	}
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = 500 * time.Millisecond
	b.MaxInterval = 15 * time.Second
	conn, err := backoff.Retry(ctx, func() (*Conn, error) {
		tok, err := token(ctx)
		if err != nil {
			return nil, backoff.Permanent(fmt.Errorf("parley: reconnect: token: %w", err))
		}
		conn, err := Dial(ctx, rawURL, tok, opts)
		var he *HandshakeError
		if errors.As(err, &he) && (he.StatusCode == 401 || he.StatusCode == 403) {
			return nil, backoff.Permanent(err)
		}
		return conn, err
	}, backoff.WithBackOff(b), backoff.WithMaxElapsedTime(maxElapsed))
	if err != nil {
		return nil, fmt.Errorf("parley: reconnect %s: %w", rawURL, err)
	}
	return conn, nil
}
