package localddb

import (
	"sync"

	"github.com/aws/aws-lambda-go/events"
)

// streamLog is one table's stream: a single shard, in sequence-number order, kept in
// memory. Appending never blocks on readers.
type streamLog struct {
	max int

	mu      sync.Mutex
	records []events.DynamoDBEventRecord
	first   int64         // position of records[0]; positions count every record ever appended
	changed chan struct{} // closed and replaced on every append
}

// streamLocked returns the table's stream log, creating it; p.mu must be held.
func (p *Proxy) streamLocked(table string) *streamLog {
	l := p.streams[table]
	if l == nil {
		l = &streamLog{max: p.opts.MaxRecords, changed: make(chan struct{})}
		p.streams[table] = l
	}
	return l
}

func (p *Proxy) stream(table string) *streamLog {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.streamLocked(table)
}

func (l *streamLog) append(_ uint64, rec events.DynamoDBEventRecord) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.records = append(l.records, rec)
	if over := len(l.records) - l.max; over > 0 {
		l.records = append(l.records[:0:0], l.records[over:]...)
		l.first += int64(over)
	}
	close(l.changed)
	l.changed = make(chan struct{})
}

// read returns up to n records from position pos (moved up to the oldest record kept
// when older ones were dropped), the position after them, how many records were lost to
// trimming, and a channel closed at the next append.
func (l *streamLog) read(pos int64, n int) (recs []events.DynamoDBEventRecord, next int64, lost int64, changed <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if pos < l.first {
		lost = l.first - pos
		pos = l.first
	}
	i := int(pos - l.first)
	end := min(i+n, len(l.records))
	if i < end {
		recs = append(recs, l.records[i:end]...)
	}
	return recs, pos + int64(len(recs)), lost, l.changed
}

// start is the position of the oldest record kept (TRIM_HORIZON).
func (l *streamLog) start() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.first
}

// Records returns the change records of the table's stream that are kept in memory,
// oldest first.
func (p *Proxy) Records(table string) []events.DynamoDBEventRecord {
	l := p.stream(table)
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]events.DynamoDBEventRecord(nil), l.records...)
}
