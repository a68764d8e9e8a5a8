package inmem

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/parleychat/parley/internal/chat"
)

// Push is one frame a Pusher delivered.
type Push struct {
	ConnectionID string
	Data         []byte
}

// Pusher is a chat.Pusher that records the frames it delivers, for tests. Its zero value
// delivers everything. It is safe for concurrent use.
type Pusher struct {
	// Fail, when set, is asked before each push with the number of the attempt to that
	// connection (1 for the first push to it ever, counting failed ones); a non-nil error
	// fails the push and nothing is recorded. Wrap chat.ErrGone or chat.ErrRejected to
	// fail for good; any other error is transient.
	Fail func(connectionID string, attempt int) error

	mu       sync.Mutex
	attempts map[string]int
	pushed   []Push
}

var _ chat.Pusher = (*Pusher)(nil)

// Push implements chat.Pusher.
func (p *Pusher) Push(ctx context.Context, connectionID string, data []byte) error {
	if err := alive(ctx, "push"); err != nil {
		return err
	}
	p.mu.Lock()
	if p.attempts == nil {
		p.attempts = map[string]int{}
	}
	p.attempts[connectionID]++
	attempt := p.attempts[connectionID]
	p.mu.Unlock()
	if p.Fail != nil {
		if err := p.Fail(connectionID, attempt); err != nil {
			return fmt.Errorf("inmem: push to %s (attempt %d): %w", connectionID, attempt, err)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pushed = append(p.pushed, Push{ConnectionID: connectionID, Data: slices.Clone(data)})
	return nil
}

// Pushed returns the frames delivered so far, in the order they were delivered.
func (p *Pusher) Pushed() []Push {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.pushed)
}

// To returns the frames delivered so far to one connection, in order.
func (p *Pusher) To(connectionID string) [][]byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out [][]byte
	for _, x := range p.pushed {
		if x.ConnectionID == connectionID {
			out = append(out, x.Data)
		}
	}
	return out
}

// Attempts returns how many pushes to connectionID were tried, failed ones included.
func (p *Pusher) Attempts(connectionID string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.attempts[connectionID]
}

// Reset forgets every push and attempt recorded.
func (p *Pusher) Reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.attempts, p.pushed = nil, nil
}
