package localddb

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// streamLog is one table's stream: a single shard, in sequence-number order. It lives in
// memory and, with Options.Dir, also in an append-only file (logfile.go) that a restarted
// proxy reads back. Appending never blocks on readers.
type streamLog struct {
	table     string
	max       int
	retention time.Duration
	now       func() time.Time
	path      string // the file, created on the first write; "" in memory
	log       *slog.Logger

	// write serializes the captured writes of the table, from the read of the old image to
	// the commit of the record: images are exact, and at most one write per table is in
	// flight, so only the last intent in the table's file can belong to a write that a
	// crash interrupted (see recover.go).
	write sync.Mutex

	mu      sync.Mutex
	entries []entry
	first   int64         // position of entries[0]; positions count every record ever appended
	trimmed uint64        // sequence number of the newest record trimmed away; 0 when none
	changed chan struct{} // closed and replaced on every append
	file    *logFile      // nil when the stream lives in memory only
}

// entry is one record of a stream with its sequence number as an integer.
type entry struct {
	seq uint64
	rec events.DynamoDBEventRecord
}

// newRecord is a change record about to be committed to a stream.
type newRecord struct {
	entry
	wire   []byte // the record as the Lambda event carries it (JSON)
	intent uint64 // the intent of the write that made it; 0 when none
	n      int    // index of its key in that intent
}

// streamLocked returns the table's stream log, creating it; p.mu must be held.
func (p *Proxy) streamLocked(table string) *streamLog {
	l := p.streams[table]
	if l == nil {
		l = p.newStreamLog(table)
		p.streams[table] = l
	}
	return l
}

func (p *Proxy) newStreamLog(table string) *streamLog {
	l := &streamLog{table: table, max: p.opts.MaxRecords, retention: p.opts.StreamRetention, now: p.opts.Clock,
		log: p.log, changed: make(chan struct{})}
	if p.stateDir != "" {
		l.path = filepath.Join(p.streamsDir(), fileName(table, ".jsonl"))
	}
	return l
}

// durable reports whether the stream is kept in a file.
func (l *streamLog) durable() bool { return l.path != "" }

func (p *Proxy) stream(table string) *streamLog {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.streamLocked(table)
}

// begin records the intent of a write before it is forwarded: the keys it writes, their
// images before it and the identity its records will carry. The caller holds l.write. In
// memory it does nothing.
func (l *streamLog) begin(id uint64, keys, old []item, identity *events.DynamoDBUserIdentity) error {
	if !l.durable() {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.file == nil {
		lf, err := createLogFile(l.path, l.log)
		if err != nil {
			return err
		}
		l.file = lf
	}
	l.trimLocked()
	if err := l.file.compactIfWorth(l); err != nil {
		return err
	}
	return l.file.appendIntent(intentLine(id, keys, old, identity))
}

// commit appends recs to the stream. With a file their lines are written and the file
// synced first, so that a record is on disk before the write's response is returned and
// before a mapping can deliver it. When the file cannot be written the records are still
// delivered from memory, and the error is returned (the client gets no acknowledgement).
func (l *streamLog) commit(recs []newRecord) error {
	if len(recs) == 0 {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	var err error
	if l.file != nil {
		err = l.file.appendRecords(recs)
	}
	for _, r := range recs {
		l.entries = append(l.entries, r.entry)
	}
	l.trimLocked()
	close(l.changed)
	l.changed = make(chan struct{})
	return err
}

// trimLocked drops the records older than the retention, and the oldest ones beyond max.
func (l *streamLog) trimLocked() {
	drop := max(len(l.entries)-l.max, 0)
	if l.retention > 0 {
		cutoff := l.now().Add(-l.retention)
		for drop < len(l.entries) && l.entries[drop].rec.Change.ApproximateCreationDateTime.Before(cutoff) {
			drop++
		}
	}
	if drop == 0 {
		return
	}
	l.trimmed = max(l.trimmed, l.entries[drop-1].seq)
	l.entries = append(l.entries[:0:0], l.entries[drop:]...)
	l.first += int64(drop)
	if l.file != nil {
		l.file.dead += drop
	}
}

// trim drops what the retention no longer keeps and compacts the file when that is
// worth it; the sweeper calls it periodically so that idle streams are trimmed too.
func (l *streamLog) trim() error {
	l.write.Lock() // no write in flight: every intent in the file is settled
	defer l.write.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.trimLocked()
	if l.file == nil {
		return nil
	}
	return l.file.compactIfWorth(l)
}

// read returns up to n records from position pos (moved up to the oldest record kept
// when older ones were dropped), the position after them, how many records were lost to
// trimming, and a channel closed at the next append.
func (l *streamLog) read(pos int64, n int) (recs []entry, next int64, lost int64, changed <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if pos < l.first {
		lost = l.first - pos
		pos = l.first
	}
	i := int(pos - l.first)
	end := min(i+n, len(l.entries))
	if i < end {
		recs = append(recs, l.entries[i:end]...)
	}
	return recs, pos + int64(len(recs)), lost, l.changed
}

// start is the position of the oldest record kept (TRIM_HORIZON).
func (l *streamLog) start() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.first
}

// after is the position of the first record kept whose sequence number is above seq (a
// checkpoint); trimmed reports that records after seq were trimmed before they were read.
func (l *streamLog) after(seq uint64) (pos int64, trimmed bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	i := sort.Search(len(l.entries), func(i int) bool { return l.entries[i].seq > seq })
	return l.first + int64(i), seq < l.trimmed
}

// Records returns the change records of the table's stream that are kept, oldest first.
func (p *Proxy) Records(table string) []events.DynamoDBEventRecord {
	l := p.stream(table)
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]events.DynamoDBEventRecord, len(l.entries))
	for i, e := range l.entries {
		out[i] = e.rec
	}
	return out
}

func formatSeq(seq uint64) string { return fmt.Sprintf("%021d", seq) }
