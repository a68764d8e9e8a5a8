package localddb

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// Mapping is an event source mapping: it feeds a table's stream records to a function
// the way Lambda does for a DynamoDB stream.
//
// Records are delivered in sequence-number order (one shard per table, so in order per
// partition key too), one batch at a time, starting from the oldest record kept
// (TRIM_HORIZON), or, with Options.Dir, after the mapping's checkpoint. A batch is done
// when the handler returns no error and no BatchItemFailures. With BatchItemFailures the
// records before the lowest failed sequence number are done and the rest is retried (an
// identifier that is not in the batch fails the whole batch, as on Lambda). On a handler
// error the batch is retried, or, with Bisect, split in two halves that are processed one
// after the other. A batch that still fails after MaxRetryAttempts retries goes to
// OnFailure and the mapping moves on.
//
// With Options.Dir the mapping keeps a checkpoint, checkpoints/<Name>.json: the sequence
// number of the last record it is done with, written (synced, atomically) after each
// batch is done or dropped, and after records it filtered out once the stream is idle for
// a second. A mapping started on a proxy opened on the directory again starts after its
// checkpoint, so what it had not finished — the batch in flight when the process died or
// the proxy closed, and everything after — is delivered again: at least once, as Lambda.
type Mapping struct {
	// Table is the table whose stream is read. Required.
	Table string
	// Name names the mapping's checkpoint. Default: Table. Two mappings started on one
	// proxy with a state directory need different names.
	Name string
	// BatchSize is the most records per invocation. Default 100.
	BatchSize int
	// MaxBatchingWindow is how long to wait for a batch to fill once it has a record.
	// Default 0: invoke as soon as records are there.
	MaxBatchingWindow time.Duration
	// MaxRetryAttempts is how often a failing batch is retried before it is dropped to
	// OnFailure. Default 0 means 3; a negative value means no retries.
	MaxRetryAttempts int
	// RetryDelay is the pause before a retry, doubled on each further one up to a second.
	// Default 50 milliseconds.
	RetryDelay time.Duration
	// MaxRecordAge drops records older than this to OnFailure instead of invoking the
	// handler with them (MaximumRecordAgeInSeconds). Default 0: no limit.
	MaxRecordAge time.Duration
	// PollInterval models Lambda's poller: when a poll finds no record, the next poll is
	// at the next multiple of PollInterval (Lambda polls a DynamoDB stream shard four
	// times a second), so a record written meanwhile waits for it. Default 0: records are
	// picked up as soon as they are written.
	PollInterval time.Duration
	// Bisect splits a batch in two on a handler error (BisectBatchOnFunctionError).
	Bisect bool
	// Filter, when set, keeps only the records it returns true for; the others are
	// skipped as done (an event filter, e.g. INSERT records only).
	Filter func(events.DynamoDBEventRecord) bool
	// Handler is the function. Required. A returned error, or a panic, fails the batch.
	Handler func(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error)
	// OnFailure receives the records dropped after the last retry (an on-failure
	// destination). They are logged whether or not it is set.
	OnFailure func(records []events.DynamoDBEventRecord)
}

// StartMapping starts delivering m.Table's stream to m.Handler in the background, until
// Close. The table need not exist yet.
func (p *Proxy) StartMapping(m Mapping) error {
	if m.Table == "" || m.Handler == nil {
		return errors.New("localddb: a mapping needs a Table and a Handler")
	}
	if m.BatchSize <= 0 {
		m.BatchSize = 100
	}
	if m.MaxRetryAttempts == 0 {
		m.MaxRetryAttempts = 3
	} else if m.MaxRetryAttempts < 0 {
		m.MaxRetryAttempts = 0
	}
	if m.RetryDelay <= 0 {
		m.RetryDelay = 50 * time.Millisecond
	}
	if m.Name == "" {
		m.Name = m.Table
	}
	if p.ctx.Err() != nil {
		return errors.New("localddb: proxy is closed")
	}
	mp := &mappingRun{Mapping: m, p: p, log: p.stream(m.Table)}
	pos, err := mp.startPosition()
	if err != nil {
		return err
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		mp.run(p.ctx, pos)
	}()
	return nil
}

// checkpointIdle is how long a mapping waits, idle, before it checkpoints past records
// it filtered out (a batch checkpoints at once).
const checkpointIdle = time.Second

type mappingRun struct {
	Mapping
	p     *Proxy
	log   *streamLog
	saved uint64 // the sequence number last checkpointed
}

// startPosition is where the mapping starts: after its checkpoint, or TRIM_HORIZON.
func (m *mappingRun) startPosition() (int64, error) {
	if m.p.stateDir == "" {
		return m.log.start(), nil
	}
	m.p.mu.Lock()
	taken := m.p.mappings[m.Name]
	m.p.mappings[m.Name] = true
	m.p.mu.Unlock()
	if taken {
		return 0, fmt.Errorf("localddb: a mapping named %q is already running: give each mapping of a table its own Name", m.Name)
	}
	seq, ok, err := m.p.loadCheckpoint(m.Name)
	if err != nil {
		return 0, fmt.Errorf("localddb: %w", err)
	}
	if !ok {
		return m.log.start(), nil
	}
	m.saved = seq
	pos, trimmed := m.log.after(seq)
	if trimmed {
		m.p.log.Warn("localddb: records after the mapping's checkpoint were trimmed before it read them",
			"mapping", m.Name, "table", m.Table, "checkpoint", formatSeq(seq))
	}
	return pos, nil
}

func (m *mappingRun) run(ctx context.Context, pos int64) {
	for {
		batch, next, last, ok := m.collect(ctx, pos)
		if !ok {
			return
		}
		pos = next
		if !m.process(ctx, batch, 0) {
			return // ended mid-batch: no checkpoint, the batch is delivered again
		}
		m.checkpoint(last)
	}
}

// checkpoint records that the mapping is done with the records up to seq.
func (m *mappingRun) checkpoint(seq uint64) {
	if m.p.stateDir == "" || seq <= m.saved {
		return
	}
	if err := m.p.saveCheckpoint(m.Name, m.Table, seq); err != nil {
		m.p.log.Error("localddb: mapping checkpoint not saved; its records will be delivered again after a restart",
			"mapping", m.Name, "table", m.Table, "err", err)
		return
	}
	m.saved = seq
}

// collect waits for records after pos and returns a batch (filtered, not empty), the
// position after it and the sequence number of the last record read; ok is false when
// ctx ended.
func (m *mappingRun) collect(ctx context.Context, pos int64) (batch []events.DynamoDBEventRecord, next int64, last uint64, ok bool) {
	var window, idle <-chan time.Time
	var idleTimer *time.Timer
	defer func() {
		if idleTimer != nil {
			idleTimer.Stop()
		}
	}()
	for {
		recs, n, lost, changed := m.log.read(pos, m.BatchSize-len(batch))
		if lost > 0 {
			m.p.log.Warn("localddb: mapping lost records the stream no longer keeps", "table", m.Table, "records", lost)
		}
		pos = n
		for _, r := range recs {
			last = r.seq
			if m.Filter == nil || m.Filter(r.rec) {
				batch = append(batch, r.rec)
			}
		}
		if len(batch) >= m.BatchSize || (len(batch) > 0 && m.MaxBatchingWindow <= 0) {
			return batch, pos, last, true
		}
		if len(recs) > 0 {
			continue // more may be there already
		}
		if len(batch) > 0 && window == nil {
			t := time.NewTimer(m.MaxBatchingWindow)
			defer t.Stop()
			window = t.C
		}
		if len(batch) == 0 && last > m.saved && idle == nil {
			if idleTimer == nil {
				idleTimer = time.NewTimer(checkpointIdle)
			} else {
				idleTimer.Reset(checkpointIdle)
			}
			idle = idleTimer.C
		}
		if m.PollInterval > 0 {
			// Not woken by a write: the next poll is the next point of the grid.
			changed = nil
			poll := time.NewTimer(m.PollInterval - time.Duration(time.Now().UnixNano()%int64(m.PollInterval)))
			select {
			case <-poll.C:
				continue
			case <-window:
				poll.Stop()
				return batch, pos, last, true
			case <-idle:
				poll.Stop()
				if len(batch) == 0 {
					m.checkpoint(last)
				}
				idle = nil
				continue
			case <-ctx.Done():
				poll.Stop()
				return nil, pos, last, false
			}
		}
		select {
		case <-changed:
		case <-window:
			return batch, pos, last, true
		case <-idle:
			if len(batch) == 0 {
				m.checkpoint(last) // only filtered-out records since the last checkpoint
			}
			idle = nil
		case <-ctx.Done():
			return nil, pos, last, false
		}
	}
}

// process delivers batch until it is done or dropped, and reports true then; false when
// ctx ended first. attempts counts the failed invocations of this batch so far.
func (m *mappingRun) process(ctx context.Context, batch []events.DynamoDBEventRecord, attempts int) bool {
	delay := m.RetryDelay
	for {
		if batch = m.dropExpired(batch); len(batch) == 0 {
			return true
		}
		resp, err := m.invoke(ctx, batch)
		if ctx.Err() != nil {
			return false
		}
		if err == nil && len(resp.BatchItemFailures) == 0 {
			return true
		}
		attempts++
		if err != nil {
			m.p.log.Warn("localddb: stream batch failed", "table", m.Table, "records", len(batch), "attempt", attempts, "err", err)
			if m.Bisect && len(batch) > 1 {
				half := len(batch) / 2
				return m.process(ctx, batch[:half], 0) && m.process(ctx, batch[half:], 0)
			}
		} else {
			batch = batch[failedFrom(batch, resp.BatchItemFailures):]
			m.p.log.Warn("localddb: stream batch reported failures", "table", m.Table, "retrying", len(batch), "attempt", attempts)
		}
		if attempts > m.MaxRetryAttempts {
			m.drop(batch)
			return true
		}
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return false
		}
		delay = min(2*delay, time.Second)
	}
}

// failedFrom returns the index of the record with the lowest failed sequence number; 0
// when an identifier is not in the batch.
func failedFrom(batch []events.DynamoDBEventRecord, failures []events.DynamoDBBatchItemFailure) int {
	from := len(batch)
	for _, f := range failures {
		i := -1
		for j, r := range batch {
			if r.Change.SequenceNumber == f.ItemIdentifier {
				i = j
				break
			}
		}
		if i < 0 {
			return 0
		}
		from = min(from, i)
	}
	return from
}

// invoke calls the handler, turning a panic into an error.
func (m *mappingRun) invoke(ctx context.Context, batch []events.DynamoDBEventRecord) (resp events.DynamoDBEventResponse, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("handler panicked: %v", r)
		}
	}()
	ev := events.DynamoDBEvent{Records: append([]events.DynamoDBEventRecord(nil), batch...)}
	return m.Handler(ctx, ev)
}

// dropExpired drops the records older than MaxRecordAge and returns the others. Records
// are in order, so the expired ones are a prefix.
func (m *mappingRun) dropExpired(batch []events.DynamoDBEventRecord) []events.DynamoDBEventRecord {
	if m.MaxRecordAge <= 0 {
		return batch
	}
	cutoff := m.p.opts.Clock().Add(-m.MaxRecordAge)
	n := 0
	for n < len(batch) && batch[n].Change.ApproximateCreationDateTime.Before(cutoff) {
		n++
	}
	if n > 0 {
		m.p.log.Warn("localddb: stream records older than the maximum record age", "table", m.Table, "records", n, "maxRecordAge", m.MaxRecordAge)
		m.drop(batch[:n])
	}
	return batch[n:]
}

func (m *mappingRun) drop(batch []events.DynamoDBEventRecord) {
	first, last := batch[0].Change.SequenceNumber, batch[len(batch)-1].Change.SequenceNumber
	m.p.log.Error("localddb: dropping stream records after the last retry", "table", m.Table,
		"records", len(batch), "firstSequenceNumber", first, "lastSequenceNumber", last)
	if m.OnFailure != nil {
		m.OnFailure(batch)
	}
}
