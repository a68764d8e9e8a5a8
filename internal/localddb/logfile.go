package localddb

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/aws/aws-lambda-go/events"
)

// A stream's file, streams/<table>.jsonl under the proxy's state directory, is a
// sequence of JSON objects, one per line, each with a kind "t":
//
//	{"t":"trimmed","seq":N}                              records up to N were trimmed away (first line, written by compaction)
//	{"t":"intent","seq":ID,"keys":[…],"old":[…],"identity":…}  a write is about to be forwarded
//	{"t":"record","seq":N,"intent":ID,"n":I,"record":{…}}  a change record (Lambda's JSON), made by key I of intent ID
//
// Lines are only appended. An intent is written (not synced) before its write goes to the
// upstream; the write's records are written and the file synced before the response goes
// back. A crash can leave a partial last line, which the next open cuts off. Compaction
// rewrites the file with the records kept (retention, MaxRecords) and no intents, into a
// temporary file that is synced and renamed over the old one.

const (
	lineTrimmed = "trimmed"
	lineIntent  = "intent"
	lineRecord  = "record"

	// compactMin is how many dead lines (intents, trimmed records) a file carries before
	// compaction is considered; it runs when they are also at least as many as the
	// records kept, so each line is rewritten about once.
	compactMin = 1024
)

type fileLine struct {
	T        string                       `json:"t"`
	Seq      uint64                       `json:"seq"`
	Intent   uint64                       `json:"intent,omitempty"`
	N        int                          `json:"n,omitempty"`
	Keys     []item                       `json:"keys,omitempty"`
	Old      []item                       `json:"old,omitempty"`
	Identity *events.DynamoDBUserIdentity `json:"identity,omitempty"`
	Record   json.RawMessage              `json:"record,omitempty"`
}

// pendingIntent is the last intent of a file as found at open, with the keys for which a
// record of it is in the file.
type pendingIntent struct {
	id       uint64
	keys     []item
	old      []item
	identity *events.DynamoDBUserIdentity
	recorded map[int]bool
}

// logFile is the on-disk half of a streamLog; its methods run under the log's mu.
type logFile struct {
	path    string
	f       *os.File
	dead    int            // lines a compaction would drop
	pending *pendingIntent // the last intent found at open; nil once recovery settled it
	log     *slog.Logger
}

func intentLine(id uint64, keys, old []item, identity *events.DynamoDBUserIdentity) []byte {
	b, _ := json.Marshal(fileLine{T: lineIntent, Seq: id, Keys: keys, Old: old, Identity: identity})
	return append(b, '\n')
}

func recordLine(seq, intent uint64, n int, wire []byte) []byte {
	b, _ := json.Marshal(fileLine{T: lineRecord, Seq: seq, Intent: intent, N: n, Record: wire})
	return append(b, '\n')
}

// createLogFile creates (or opens for appending) the file at path.
func createLogFile(path string, log *slog.Logger) (*logFile, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("localddb: open stream log: %w", err)
	}
	return &logFile{path: path, f: f, log: log}, nil
}

// loadLogFile reads the file at path into l (records, trimmed horizon, the last intent),
// cuts off a partial last line, opens the file for appending and returns the highest
// sequence number or intent id in it.
func loadLogFile(path string, l *streamLog, log *slog.Logger) (uint64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("localddb: read stream log: %w", err)
	}
	complete := bytes.LastIndexByte(data, '\n') + 1
	if complete < len(data) {
		// The write of the last line was cut short by a crash: that line was never synced,
		// so no client was answered for it. Its intent (if any) is still pending.
		log.Warn("localddb: cutting off a partial last line of a stream log", "file", path, "bytes", len(data)-complete)
		if err := os.Truncate(path, int64(complete)); err != nil {
			return 0, fmt.Errorf("localddb: cut off the partial last line of %s: %w", path, err)
		}
	}
	lf, err := createLogFile(path, log)
	if err != nil {
		return 0, err
	}
	l.file = lf
	var maxSeq uint64
	for lineNo, line := range bytes.Split(data[:complete], []byte{'\n'}) {
		if len(line) == 0 {
			continue
		}
		var fl fileLine
		if err := json.Unmarshal(line, &fl); err != nil {
			log.Error("localddb: skipping a malformed line of a stream log", "file", path, "line", lineNo+1, "err", err)
			lf.dead++
			continue
		}
		maxSeq = max(maxSeq, fl.Seq)
		switch fl.T {
		case lineTrimmed:
			l.trimmed = max(l.trimmed, fl.Seq)
			lf.dead++
		case lineIntent:
			lf.pending = &pendingIntent{id: fl.Seq, keys: fl.Keys, old: fl.Old, identity: fl.Identity, recorded: map[int]bool{}}
			lf.dead++
		case lineRecord:
			var rec events.DynamoDBEventRecord
			if err := json.Unmarshal(fl.Record, &rec); err != nil {
				log.Error("localddb: skipping a stream record that does not decode", "file", path, "line", lineNo+1, "err", err)
				lf.dead++
				continue
			}
			if lf.pending != nil && fl.Intent == lf.pending.id {
				lf.pending.recorded[fl.N] = true
			}
			if n := len(l.entries); n > 0 && fl.Seq <= l.entries[n-1].seq {
				log.Error("localddb: skipping a stream record out of order", "file", path, "line", lineNo+1, "seq", fl.Seq)
				lf.dead++
				continue
			}
			l.entries = append(l.entries, entry{seq: fl.Seq, rec: rec})
		default:
			lf.dead++
		}
	}
	return maxSeq, nil
}

func (lf *logFile) appendIntent(line []byte) error {
	// Not synced: an intent must survive the death of the process (the page cache keeps
	// it), and it is synced with the write's records before the client is answered. See
	// recover.go for why a machine crash is not covered.
	if _, err := lf.f.Write(line); err != nil {
		return fmt.Errorf("localddb: write intent to %s: %w", lf.path, err)
	}
	lf.dead++
	return nil
}

func (lf *logFile) appendRecords(recs []newRecord) error {
	var buf bytes.Buffer
	for _, r := range recs {
		buf.Write(recordLine(r.seq, r.intent, r.n, r.wire))
	}
	if _, err := lf.f.Write(buf.Bytes()); err != nil {
		return fmt.Errorf("localddb: append to %s: %w", lf.path, err)
	}
	if err := lf.f.Sync(); err != nil {
		return fmt.Errorf("localddb: sync %s: %w", lf.path, err)
	}
	return nil
}

// compactIfWorth compacts when the dead lines are many enough (see compactMin).
func (lf *logFile) compactIfWorth(l *streamLog) error {
	if lf.dead < compactMin || lf.dead < len(l.entries) {
		return nil
	}
	return lf.compact(l)
}

// compact rewrites the file with l's records and its trimmed horizon only. It runs with
// no write in flight (under l.write, or at open after recovery), so the intents it drops
// are all settled.
func (lf *logFile) compact(l *streamLog) error {
	var buf bytes.Buffer
	if l.trimmed > 0 {
		b, _ := json.Marshal(fileLine{T: lineTrimmed, Seq: l.trimmed})
		buf.Write(append(b, '\n'))
	}
	for _, e := range l.entries {
		wire, err := json.Marshal(e.rec)
		if err != nil {
			return fmt.Errorf("localddb: compact %s: encode record %d: %w", lf.path, e.seq, err)
		}
		buf.Write(recordLine(e.seq, 0, 0, wire))
	}
	if err := writeFileAtomic(lf.path, buf.Bytes()); err != nil {
		return fmt.Errorf("localddb: compact %s: %w", lf.path, err)
	}
	f, err := os.OpenFile(lf.path, os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("localddb: reopen %s: %w", lf.path, err)
	}
	_ = lf.f.Close()
	lf.f, lf.dead, lf.pending = f, 0, nil
	return nil
}

func (lf *logFile) close() error { return lf.f.Close() }

// writeFileAtomic replaces the file at path with data: a temporary file beside it is
// written and synced, renamed over path, and the directory synced, so that after a crash
// path holds either the old or the new content.
func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, werr := f.Write(data)
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, fs.ErrInvalid) {
		return err
	}
	return nil
}
