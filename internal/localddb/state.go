package localddb

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The proxy's state directory, Options.Dir/localddb:
//
//	tables.json              each table's stream (view type, label) and TTL attribute
//	streams/<table>.jsonl    each table's stream log (logfile.go)
//	checkpoints/<name>.json  each mapping's checkpoint: the last sequence number it is done with
//
// The subdirectory keeps these files apart from the upstream's own when Options.Dir is
// also dynalite's data directory: LevelDB only touches the files whose names it made
// (CURRENT, LOCK, LOG, MANIFEST-*, *.ldb, *.log) and leaves other entries alone, so a data
// directory of an earlier version, without the subdirectory, opens as before.
const stateDirName = "localddb"

// tableConfig is what tables.json keeps of a table.
type tableConfig struct {
	StreamViewType string `json:"streamViewType,omitempty"`
	StreamLabel    string `json:"streamLabel,omitempty"`
	TTLAttribute   string `json:"ttlAttribute,omitempty"`
}

// checkpointFile is a mapping's checkpoint.
type checkpointFile struct {
	Table          string    `json:"table"`
	SequenceNumber string    `json:"sequenceNumber"`
	Time           time.Time `json:"time"`
}

func (p *Proxy) streamsDir() string     { return filepath.Join(p.stateDir, "streams") }
func (p *Proxy) checkpointsDir() string { return filepath.Join(p.stateDir, "checkpoints") }
func (p *Proxy) tablesFile() string     { return filepath.Join(p.stateDir, "tables.json") }

// fileName makes a table or mapping name a file name: '/' and other unsafe characters
// are escaped (DynamoDB table names need none of it).
func fileName(name, ext string) string { return url.PathEscape(name) + ext }

// openState creates the state directory or reads it back: the table settings and every
// stream log. It returns the highest sequence number found.
func (p *Proxy) openState() (uint64, error) {
	for _, d := range []string{p.streamsDir(), p.checkpointsDir()} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return 0, fmt.Errorf("localddb: create state directory: %w", err)
		}
	}
	data, err := os.ReadFile(p.tablesFile())
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return 0, fmt.Errorf("localddb: read table settings: %w", err)
	default:
		var cfg struct{ Tables map[string]tableConfig }
		if err := json.Unmarshal(data, &cfg); err != nil {
			return 0, fmt.Errorf("localddb: %s: %w", p.tablesFile(), err)
		}
		for name, c := range cfg.Tables {
			p.tables[name] = &tableState{streamView: c.StreamViewType, streamLabel: c.StreamLabel, ttlAttr: c.TTLAttribute}
		}
	}
	files, err := os.ReadDir(p.streamsDir())
	if err != nil {
		return 0, fmt.Errorf("localddb: list stream logs: %w", err)
	}
	var maxSeq uint64
	for _, f := range files {
		base, ok := strings.CutSuffix(f.Name(), ".jsonl")
		table, uerr := url.PathUnescape(base)
		if !ok || uerr != nil || f.IsDir() {
			continue // a compaction's temporary file, or not ours
		}
		l := p.newStreamLog(table)
		n, err := loadLogFile(filepath.Join(p.streamsDir(), f.Name()), l, p.log)
		if err != nil {
			return 0, err
		}
		p.streams[table] = l
		maxSeq = max(maxSeq, n)
	}
	return maxSeq, nil
}

// saveTables writes the table settings (streams, TTL), replacing tables.json atomically.
// Callers change p.tables first; saves are serialized so that the last one wins.
func (p *Proxy) saveTables() error {
	if p.stateDir == "" {
		return nil
	}
	p.saveMu.Lock()
	defer p.saveMu.Unlock()
	p.mu.Lock()
	cfg := struct {
		Tables map[string]tableConfig `json:"tables"`
	}{Tables: make(map[string]tableConfig, len(p.tables))}
	for name, ts := range p.tables {
		if ts.streamView != "" || ts.ttlAttr != "" {
			cfg.Tables[name] = tableConfig{StreamViewType: ts.streamView, StreamLabel: ts.streamLabel, TTLAttribute: ts.ttlAttr}
		}
	}
	p.mu.Unlock()
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return fmt.Errorf("localddb: encode table settings: %w", err)
	}
	if err := writeFileAtomic(p.tablesFile(), b); err != nil {
		return fmt.Errorf("localddb: save table settings: %w", err)
	}
	return nil
}

// loadCheckpoint returns the sequence number of mapping name's checkpoint; ok is false
// when it has none.
func (p *Proxy) loadCheckpoint(name string) (seq uint64, ok bool, err error) {
	data, err := os.ReadFile(filepath.Join(p.checkpointsDir(), fileName(name, ".json")))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("read checkpoint of %s: %w", name, err)
	}
	var cp checkpointFile
	if err := json.Unmarshal(data, &cp); err != nil {
		return 0, false, fmt.Errorf("checkpoint of %s: %w", name, err)
	}
	if seq, err = strconv.ParseUint(cp.SequenceNumber, 10, 64); err != nil {
		return 0, false, fmt.Errorf("checkpoint of %s: sequence number %q: %w", name, cp.SequenceNumber, err)
	}
	return seq, true, nil
}

// saveCheckpoint records that mapping name is done with the records up to seq.
func (p *Proxy) saveCheckpoint(name, table string, seq uint64) error {
	b, err := json.Marshal(checkpointFile{Table: table, SequenceNumber: formatSeq(seq), Time: p.opts.Clock().UTC()})
	if err != nil {
		return fmt.Errorf("encode checkpoint of %s: %w", name, err)
	}
	if err := writeFileAtomic(filepath.Join(p.checkpointsDir(), fileName(name, ".json")), b); err != nil {
		return fmt.Errorf("save checkpoint of %s: %w", name, err)
	}
	return nil
}
