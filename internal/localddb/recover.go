package localddb

import (
	"context"
	"errors"
	"fmt"
	"sort"
)

// Crash recovery of the stream logs.
//
// A captured write goes: read the old image → log the intent (keys, old images) → forward
// to the upstream → read the new image → append the record and sync the file → answer
// the client. A process that dies between the upstream's write and the record's append
// answered nobody, so no acknowledged write is at risk; but the item is stored, and a
// retry of the same write changes nothing, which on DynamoDB (and here) yields no stream
// record: the fan-out would never see the change. The intent closes that window.
//
// On open, the last intent of each stream file is settled: for each of its keys that no
// record of it covers, the item is read again and, when it differs from the old image in
// the intent, the record the write would have produced (old → current) is appended. This
// is sound because:
//
//   - only the last intent can belong to an interrupted write: a table's captured writes
//     are serialized (streamLog.write), and each writes its intent only after the previous
//     one finished;
//   - nothing changed the item since: recovery runs in New, before the proxy serves, and
//     the TTL sweeper's deletions are captured writes with intents of their own (writes
//     that bypass the proxy are not captured at all, as before);
//   - it is idempotent: a key whose record was appended is covered by it at the next
//     open, and an unchanged key is unchanged again until a later write, whose own intent
//     then is the last one.
//
// The intent is written before the forward but synced only with the records, after it.
// That covers the death of the process, the crash this is for (the kernel keeps what was
// written). It does not cover a machine crash between the forward and the sync, where the
// intent can be lost while the upstream's write survives; dynalite does not sync its
// LevelDB writes either, so such a crash can lose acknowledged items anyway, and a second
// sync per write would buy little for its cost (F_FULLFSYNC on macOS takes milliseconds).

// recoverIntents settles the last intent of every stream log opened from disk.
func (p *Proxy) recoverIntents(ctx context.Context) error {
	tables := make([]string, 0, len(p.streams))
	for t := range p.streams {
		tables = append(tables, t)
	}
	sort.Strings(tables)
	for _, table := range tables {
		l := p.streams[table]
		if l.file == nil || l.file.pending == nil {
			continue
		}
		pi := l.file.pending
		var recs []newRecord
		for i, key := range pi.keys {
			if pi.recorded[i] {
				continue
			}
			cur, err := p.getItem(ctx, table, key)
			var ae *apiError
			if errors.As(err, &ae) && ae.Type == "ResourceNotFoundException" {
				break // the table is gone, and its items with it
			}
			if err != nil {
				return fmt.Errorf("localddb: recover the last write to %s: %w", table, err)
			}
			var old item
			if i < len(pi.old) {
				old = pi.old[i]
			}
			if rec, ok := p.change(table, key, old, cur, pi.identity); ok {
				rec.intent, rec.n = pi.id, i
				recs = append(recs, rec)
			}
		}
		if err := l.commit(recs); err != nil {
			return err
		}
		if len(recs) > 0 {
			p.log.Warn("localddb: recorded the changes of a write that a crash interrupted", "table", table, "records", len(recs))
		}
		l.file.pending = nil
	}
	return nil
}

// compactAll trims and compacts every stream log opened from disk that has lines to
// drop; it runs at open, after recovery.
func (p *Proxy) compactAll() error {
	for _, l := range p.streams {
		l.mu.Lock()
		var err error
		if l.file != nil {
			l.trimLocked()
			if l.file.dead > 0 {
				err = l.file.compact(l)
			}
		}
		l.mu.Unlock()
		if err != nil {
			return err
		}
	}
	return nil
}
