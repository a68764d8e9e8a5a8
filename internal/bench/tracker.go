package bench

import (
	"sync"
	"time"
)

// flight is one message between its intended send time and its last delivery.
type flight struct {
	intended time.Time
	measured bool      // intended after the warm-up
	sender   int       // position of the sender among the conversation's members
	seen     []bool    // per member position: delivered
	got      int       // distinct recipients that have it
	last     time.Time // the latest receive time among them
	acked    bool
}

// tracker follows every message in flight and records the measured ones. It is safe for
// concurrent use.
type tracker struct {
	mu       sync.Mutex
	flights  map[string]*flight // by clientMsgId
	stopped  bool               // no more messages will be added
	drained  chan struct{}      // closed once stopped and no flight is left
	closed   bool
	ack      *latencyHistogram
	e2e      *latencyHistogram
	delivery *latencyHistogram

	sent, acked, failed, expected, deliveries, duplicates int64
	errors                                                map[string]int64
	lagMax                                                time.Duration

	// progress counters over the whole run, warm-up included
	allSent, allAcked, allDeliveries, allFailed int64
}

func newTracker() *tracker {
	return &tracker{
		flights:  map[string]*flight{},
		drained:  make(chan struct{}),
		ack:      newLatencyHistogram(),
		e2e:      newLatencyHistogram(),
		delivery: newLatencyHistogram(),
		errors:   map[string]int64{},
	}
}

// add registers a message before it is sent.
func (t *tracker) add(id string, intended time.Time, measured bool, sender, members int, lag time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.flights[id] = &flight{intended: intended, measured: measured, sender: sender, seen: make([]bool, members)}
	t.allSent++
	if measured {
		t.sent++
		t.lagMax = max(t.lagMax, lag)
	}
}

// acked records the ack of a message.
func (t *tracker) acknowledged(id string, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.flights[id]
	if f == nil || f.acked {
		return
	}
	f.acked = true
	t.allAcked++
	if f.measured {
		t.acked++
		t.expected += int64(len(f.seen) - 1)
		t.ack.record(at.Sub(f.intended))
	}
	t.finishIfDone(id, f)
}

// failure records a send that got an error instead of an ack.
func (t *tracker) failure(id, code string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.flights[id]
	if f == nil {
		return
	}
	t.allFailed++
	if f.measured {
		t.failed++
		t.errors[code]++
	}
	delete(t.flights, id)
	t.checkDrained()
}

// delivered records that the member at position pos received the message.
func (t *tracker) delivered(id string, pos int, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.flights[id]
	if f == nil || pos == f.sender || pos < 0 || pos >= len(f.seen) {
		return // not ours, the sender's own echo, or already complete
	}
	if f.seen[pos] {
		if f.measured {
			t.duplicates++
		}
		return
	}
	f.seen[pos] = true
	f.got++
	if at.After(f.last) {
		f.last = at
	}
	t.allDeliveries++
	if f.measured {
		t.deliveries++
		t.delivery.record(at.Sub(f.intended))
		// Connections are read concurrently, so the delivery processed last need not be
		// the one received last: end-to-end is up to the latest receive time.
		if f.got == len(f.seen)-1 {
			t.e2e.record(f.last.Sub(f.intended))
		}
	}
	t.finishIfDone(id, f)
}

func (t *tracker) finishIfDone(id string, f *flight) {
	if f.acked && f.got == len(f.seen)-1 {
		delete(t.flights, id)
		t.checkDrained()
	}
}

// stop says no more messages will be added; drained closes once the last one finishes.
func (t *tracker) stop() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.stopped = true
	t.checkDrained()
}

func (t *tracker) checkDrained() {
	if t.stopped && !t.closed && len(t.flights) == 0 {
		t.closed = true
		close(t.drained)
	}
}

// progress is a snapshot of the whole-run counters.
type progress struct{ sent, acked, deliveries, failed int64 }

func (t *tracker) progress() progress {
	t.mu.Lock()
	defer t.mu.Unlock()
	return progress{t.allSent, t.allAcked, t.allDeliveries, t.allFailed}
}

// fill copies the measured results into r.
func (t *tracker) fill(r *Report) {
	t.mu.Lock()
	defer t.mu.Unlock()
	r.Sent, r.Acked, r.Failed = t.sent, t.acked, t.failed
	r.ExpectedDeliveries, r.Deliveries, r.Duplicates = t.expected, t.deliveries, t.duplicates
	for _, f := range t.flights {
		if !f.measured {
			continue
		}
		if f.acked {
			r.MissingDeliveries += int64(len(f.seen) - 1 - f.got)
		} else {
			r.Unacked++
		}
	}
	if r.DurationSeconds > 0 {
		r.Throughput = float64(t.acked) / r.DurationSeconds
		r.DeliveriesPerSec = float64(t.deliveries) / r.DurationSeconds
	}
	r.Ack, r.E2E, r.Delivery = t.ack.summary(), t.e2e.summary(), t.delivery.summary()
	r.SchedulerLagMaxMs = float64(t.lagMax.Microseconds()) / 1000
	r.Errors = make(map[string]int64, len(t.errors))
	for k, v := range t.errors {
		r.Errors[k] = v
	}
}
