package chat_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/chat"
)

// backoffLog is an Options.After that records every wait and returns at once, moving the
// fixture's clock by the wait as real time would.
type backoffLog struct {
	mu    sync.Mutex
	waits []time.Duration
	clock *fakeClock
}

func (b *backoffLog) after(d time.Duration) <-chan time.Time {
	b.mu.Lock()
	b.waits = append(b.waits, d)
	b.mu.Unlock()
	b.clock.Advance(d)
	ch := make(chan time.Time, 1)
	ch <- b.clock.Now()
	return ch
}

// TestPushRetry delivers one message to a member's connection whose pushes fail in
// various ways, and checks how often fan-out tried, how long it waited between tries
// (jittered exponential backoff: the k-th wait in [b·2^k/2, b·2^k·3/2) for base b),
// whether Deliver reports the failure, and whether the connection is still stored.
func TestPushRetry(t *testing.T) {
	const base = 40 * time.Millisecond
	transient := errors.New("503 service unavailable")
	failUntil := func(n int, err error) func(string, int) error {
		return func(_ string, attempt int) error {
			if attempt <= n {
				return err
			}
			return nil
		}
	}
	cases := []struct {
		name      string
		attempts  int           // Options.PushAttempts; 0 for the default
		age       time.Duration // of the connection when the message is delivered
		fail      func(connectionID string, attempt int) error
		tries     int  // pushes tried
		delivered bool // the frame reached the connection
		deliverOK bool // Deliver returned nil
		kept      bool // the connection is still stored afterwards
	}{
		{"delivered at once", 0, time.Hour, nil, 1, true, true, true},
		{"transient twice, then delivered", 0, time.Hour, failUntil(2, transient), 3, true, true, true},
		{"transient every time: the default 4 tries", 0, time.Hour, failUntil(99, transient), 4, false, false, true},
		{"transient every time: 2 tries configured", 2, time.Hour, failUntil(99, transient), 2, false, false, true},
		{"transient then delivered on the last try", 3, time.Hour, failUntil(2, transient), 3, true, true, true},
		{"rejected: not retried", 0, time.Hour, failUntil(99, fmt.Errorf("403: %w", chat.ErrRejected)), 1, false, true, true},
		{"gone: not retried, deleted", 0, time.Hour, failUntil(99, fmt.Errorf("410: %w", chat.ErrGone)), 1, false, true, false},
		{"gone at exactly the grace: deleted", 0, chat.GoneGrace, failUntil(99, chat.ErrGone), 1, false, true, false},
		{"gone just inside the grace: kept", 0, chat.GoneGrace - time.Millisecond, failUntil(99, chat.ErrGone), 1, false, true, true},
		{"gone at once after connecting: kept", 0, 0, failUntil(99, chat.ErrGone), 1, false, true, true},
		{"transient, then gone: deleted", 0, time.Hour, func(_ string, attempt int) error {
			if attempt == 1 {
				return transient
			}
			return chat.ErrGone
		}, 2, false, true, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			backoff := &backoffLog{}
			f := newFixture(t, setup{opts: chat.Options{PushAttempts: tc.attempts, PushBackoff: base, After: backoff.after}})
			backoff.clock = f.clock
			g := f.group("alice", "bob", "carol")
			m := f.put(g, "alice", 1)[0]
			bob, carol := f.connect("bob"), f.connect("carol")
			f.clock.Advance(tc.age)
			f.push.Fail = func(id string, attempt int) error {
				if id == bob.ConnectionID && tc.fail != nil {
					return tc.fail(id, attempt)
				}
				return nil
			}

			err := f.svc.NewDeliverer().Deliver(f.ctx, m)
			if (err == nil) != tc.deliverOK {
				t.Fatalf("Deliver = %v, want ok = %v", err, tc.deliverOK)
			}
			if n := f.push.Attempts(bob.ConnectionID); n != tc.tries {
				t.Fatalf("%d pushes tried, want %d", n, tc.tries)
			}
			if got := len(f.push.To(bob.ConnectionID)) == 1; got != tc.delivered {
				t.Fatalf("delivered = %v, want %v", got, tc.delivered)
			}
			if n := len(f.push.To(carol.ConnectionID)); n != 1 {
				t.Fatalf("the healthy member got %d frames, want 1", n)
			}
			waits := backoff.waits
			if len(waits) != tc.tries-1 {
				t.Fatalf("waited %d times (%v), want %d: once between tries", len(waits), waits, tc.tries-1)
			}
			for k, d := range waits {
				lo, hi := base<<k/2, base<<k*3/2
				if d < lo || d >= hi {
					t.Fatalf("wait %d = %v, want in [%v, %v)", k, d, lo, hi)
				}
			}
			conns, err := f.store.Connections(f.ctx, "bob", f.clock.Now().UnixMilli())
			must(t, err, "connections")
			if kept := len(conns) == 1; kept != tc.kept {
				t.Fatalf("connection kept = %v, want %v", kept, tc.kept)
			}
		})
	}
}

// TestBroadcastNoRetry checks that live events (typing here) are tried once: they are
// best effort, and what matters is stored.
func TestBroadcastNoRetry(t *testing.T) {
	backoff := &backoffLog{}
	f := newFixture(t, setup{opts: chat.Options{After: backoff.after}})
	backoff.clock = f.clock
	g := f.group("alice", "bob")
	bob := f.connect("bob")
	f.push.Fail = func(string, int) error { return errors.New("503") }
	must(t, f.svc.Typing(f.ctx, as("alice"), g, "start"), "typing")
	if n := f.push.Attempts(bob.ConnectionID); n != 1 {
		t.Fatalf("typing tried %d times, want 1", n)
	}
	if len(backoff.waits) != 0 {
		t.Fatalf("typing waited %v before retrying", backoff.waits)
	}
}

// TestSyncRetriesPushes checks that sync's pushes to the caller are retried like fan-out's:
// a throttled post (every first attempt here) must not fail the sync; a connection that
// stays unreachable does, naming the push.
func TestSyncRetriesPushes(t *testing.T) {
	f := newFixture(t, setup{opts: chat.Options{PushBackoff: time.Millisecond}})
	me := f.connect("me")
	conv := f.dm(me.UserID, "peer")
	f.put(conv, "peer", 5)
	f.push.Reset() // attempts count from here
	var n atomic.Int64
	f.push.Fail = func(_ string, attempt int) error {
		if attempt%2 == 1 {
			n.Add(1)
			return errors.New("429 too many requests")
		}
		return nil
	}
	synced, err := f.svc.Sync(f.ctx, me)
	if err != nil || synced.Count != 5 || n.Load() != 5 {
		t.Fatalf("sync with every first post throttled = %+v, %v (%d throttled); want all 5 sent", synced, err, n.Load())
	}
	f.push.Fail = func(string, int) error { return errors.New("503") }
	if _, err := f.svc.Sync(f.ctx, me); err == nil || !strings.Contains(err.Error(), "push message 1 of") {
		t.Fatalf("sync to an unreachable connection = %v, want the failed push", err)
	}
}
