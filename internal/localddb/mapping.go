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
// (TRIM_HORIZON). A batch is done when the handler returns no error and no
// BatchItemFailures. With BatchItemFailures the records before the lowest failed sequence
// number are done and the rest is retried (an identifier that is not in the batch fails
// the whole batch, as on Lambda). On a handler error the batch is retried, or, with
// Bisect, split in two halves that are processed one after the other. A batch that
// still fails after MaxRetryAttempts retries goes to OnFailure and the mapping moves on.
type Mapping struct {
	// Table is the table whose stream is read. Required.
	Table string
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
	if p.ctx.Err() != nil {
		return errors.New("localddb: proxy is closed")
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		mp := &mappingRun{Mapping: m, p: p, log: p.stream(m.Table)}
		mp.run(p.ctx)
	}()
	return nil
}

type mappingRun struct {
	Mapping
	p   *Proxy
	log *streamLog
}

func (m *mappingRun) run(ctx context.Context) {
	pos := m.log.start()
	for {
		batch, next, ok := m.collect(ctx, pos)
		if !ok {
			return
		}
		pos = next
		if len(batch) > 0 {
			m.process(ctx, batch, 0)
		}
	}
}

// collect waits for records after pos and returns a batch (filtered) and the position
// after it; ok is false when ctx ended.
func (m *mappingRun) collect(ctx context.Context, pos int64) (batch []events.DynamoDBEventRecord, next int64, ok bool) {
	var window <-chan time.Time
	for {
		recs, n, lost, changed := m.log.read(pos, m.BatchSize-len(batch))
		if lost > 0 {
			m.p.log.Warn("localddb: mapping lost records the stream no longer keeps", "table", m.Table, "records", lost)
		}
		pos = n
		for _, r := range recs {
			if m.Filter == nil || m.Filter(r) {
				batch = append(batch, r)
			}
		}
		if len(batch) >= m.BatchSize || (len(batch) > 0 && m.MaxBatchingWindow <= 0) {
			return batch, pos, true
		}
		if len(recs) > 0 {
			continue // more may be there already
		}
		if len(batch) > 0 && window == nil {
			t := time.NewTimer(m.MaxBatchingWindow)
			defer t.Stop()
			window = t.C
		}
		select {
		case <-changed:
		case <-window:
			return batch, pos, true
		case <-ctx.Done():
			return nil, pos, false
		}
	}
}

// process delivers batch until it is done, dropped or ctx ends. attempts counts the
// failed invocations of this batch so far.
func (m *mappingRun) process(ctx context.Context, batch []events.DynamoDBEventRecord, attempts int) {
	delay := m.RetryDelay
	for {
		if batch = m.dropExpired(batch); len(batch) == 0 {
			return
		}
		resp, err := m.invoke(ctx, batch)
		if ctx.Err() != nil {
			return
		}
		if err == nil && len(resp.BatchItemFailures) == 0 {
			return
		}
		attempts++
		if err != nil {
			m.p.log.Warn("localddb: stream batch failed", "table", m.Table, "records", len(batch), "attempt", attempts, "err", err)
			if m.Bisect && len(batch) > 1 {
				half := len(batch) / 2
				m.process(ctx, batch[:half], 0)
				m.process(ctx, batch[half:], 0)
				return
			}
		} else {
			batch = batch[failedFrom(batch, resp.BatchItemFailures):]
			m.p.log.Warn("localddb: stream batch reported failures", "table", m.Table, "retrying", len(batch), "attempt", attempts)
		}
		if attempts > m.MaxRetryAttempts {
			m.drop(batch)
			return
		}
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return
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
	cutoff := time.Now().Add(-m.MaxRecordAge)
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
