package localddb

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Options configures a Proxy. Only Upstream is required.
type Options struct {
	// Upstream is the URL of the DynamoDB endpoint every request goes to: a dynalite, or
	// another DynamoDB such as LocalStack's (http://127.0.0.1:4566). Required.
	Upstream string
	// Region is the region of stream ARNs, records and internal requests. Default
	// "us-east-1".
	Region string
	// AccountID is the account of stream ARNs. Default "000000000000".
	AccountID string
	// AccessKeyID and SecretAccessKey sign the proxy's own requests to Upstream (old and
	// new images, table descriptions, the TTL sweeper). Default "local"/"local".
	AccessKeyID, SecretAccessKey string
	// TTLInterval is how often the TTL sweeper scans tables with TTL enabled. Default 2
	// seconds; a negative value disables the sweeper (Sweep can still be called).
	TTLInterval time.Duration
	// MaxRecords is how many change records each table's stream keeps; older ones are
	// dropped (mappings that have not read them lose them, with a warning). Default 100000.
	MaxRecords int
	// StreamRetention is how long a change record is kept, as DynamoDB Streams keep them
	// for 24 hours. Default 24 hours.
	StreamRetention time.Duration
	// Dir keeps the proxy's state on disk, in its subdirectory localddb/ (state.go): the
	// table settings (streams, TTL), each table's stream log and each mapping's checkpoint.
	// A proxy opened on the directory again (after a crash too) has the tables' streams
	// and TTL as they were, delivers the records its mappings had not finished, and
	// records the change of a write that a crash interrupted (recover.go). Dir may be the
	// upstream's own data directory (dynalite's). Default "": everything lives in memory.
	Dir string
	// Clock is the proxy's clock: record times, TTL expiry, stream retention. Default
	// time.Now.
	Clock func() time.Time
	// HTTPClient sends requests to Upstream. Default: a client without timeout whose
	// transport keeps 64 idle connections per host.
	HTTPClient *http.Client
	// Logger receives the proxy's logs. Default slog.Default().
	Logger *slog.Logger
}

func (o *Options) setDefaults() {
	if o.Region == "" {
		o.Region = "us-east-1"
	}
	if o.AccountID == "" {
		o.AccountID = "000000000000"
	}
	if o.AccessKeyID == "" {
		o.AccessKeyID = "local"
	}
	if o.SecretAccessKey == "" {
		o.SecretAccessKey = "local"
	}
	if o.TTLInterval == 0 {
		o.TTLInterval = 2 * time.Second
	}
	if o.MaxRecords <= 0 {
		o.MaxRecords = 100000
	}
	if o.StreamRetention <= 0 {
		o.StreamRetention = 24 * time.Hour
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.HTTPClient == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = 64
		o.HTTPClient = &http.Client{Transport: t}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Proxy is a DynamoDB endpoint (http.Handler) in front of another one that adds Streams,
// TTL and event source mappings. Create it with New, stop it with Close.
type Proxy struct {
	opts     Options
	upstream *url.URL
	log      *slog.Logger
	signer   *v4.Signer
	creds    aws.Credentials

	stateDir string     // Options.Dir/localddb; "" in memory
	saveMu   sync.Mutex // serializes saveTables

	mu       sync.Mutex
	tables   map[string]*tableState // by table name; entries exist for stream or TTL tables
	streams  map[string]*streamLog  // by table name; created on first use
	seq      uint64                 // last sequence number handed out
	mappings map[string]bool        // checkpoint names of the mappings started

	// afterForward, when set (by tests), runs after a captured write was forwarded; an
	// error ends the write there, as if the process had died.
	afterForward func() error

	ctx      context.Context // cancelled by Close
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	closeErr error
	closed   sync.Once
}

// tableState is what the proxy knows of a table beyond what the upstream stores.
type tableState struct {
	keys keySchema // loaded from DescribeTable on first use; guarded by Proxy.mu

	streamView  string // "" when the table has no stream
	streamLabel string // creation time of the stream, in its ARN
	ttlAttr     string // "" when TTL is disabled
}

type keySchema struct {
	hash, rng string
}

// recoveryTimeout bounds New's reads of the upstream when it settles writes that a crash
// interrupted.
const recoveryTimeout = 30 * time.Second

// New returns a Proxy for opts.Upstream and starts its TTL sweeper. With opts.Dir it
// first reads the state back and settles the writes a crash interrupted, which reads
// items from the upstream: the upstream must be up then.
func New(opts Options) (*Proxy, error) {
	opts.setDefaults()
	u, err := url.Parse(opts.Upstream)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("localddb: upstream %q is not an absolute URL", opts.Upstream)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Proxy{
		opts:     opts,
		upstream: u,
		log:      opts.Logger.With("component", "localddb"),
		signer:   v4.NewSigner(),
		creds:    aws.Credentials{AccessKeyID: opts.AccessKeyID, SecretAccessKey: opts.SecretAccessKey},
		tables:   make(map[string]*tableState),
		streams:  make(map[string]*streamLog),
		mappings: make(map[string]bool),
		seq:      uint64(time.Now().UnixMicro()) * 1000,
		ctx:      ctx,
		cancel:   cancel,
	}
	if opts.Dir != "" {
		if err := p.open(); err != nil {
			cancel()
			p.closeFiles()
			return nil, err
		}
	}
	if opts.TTLInterval > 0 {
		p.wg.Add(1)
		go func() { defer p.wg.Done(); p.sweepLoop() }()
	}
	p.wg.Add(1)
	go func() { defer p.wg.Done(); p.trimLoop() }()
	return p, nil
}

// open reads the state directory back, settles interrupted writes and compacts the logs.
func (p *Proxy) open() error {
	p.stateDir = filepath.Join(p.opts.Dir, stateDirName)
	maxSeq, err := p.openState()
	if err != nil {
		return err
	}
	p.seq = max(p.seq, maxSeq) // sequence numbers keep growing across restarts
	ctx, cancel := context.WithTimeout(p.ctx, recoveryTimeout)
	defer cancel()
	if err := p.recoverIntents(ctx); err != nil {
		return err
	}
	return p.compactAll()
}

// trimInterval is how often every stream is trimmed to its retention, idle ones too.
const trimInterval = time.Minute

func (p *Proxy) trimLoop() {
	t := time.NewTicker(trimInterval)
	defer t.Stop()
	for {
		select {
		case <-p.ctx.Done():
			return
		case <-t.C:
			p.mu.Lock()
			logs := make([]*streamLog, 0, len(p.streams))
			for _, l := range p.streams {
				logs = append(logs, l)
			}
			p.mu.Unlock()
			for _, l := range logs {
				if err := l.trim(); err != nil {
					p.log.Warn("localddb: trim stream", "table", l.table, "err", err)
				}
			}
		}
	}
}

// Close stops the TTL sweeper and every mapping, waits for them, and closes the stream
// logs' files.
func (p *Proxy) Close() error {
	p.closed.Do(func() {
		p.cancel()
		p.wg.Wait()
		p.closeErr = p.closeFiles()
	})
	return p.closeErr
}

func (p *Proxy) closeFiles() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var errs []error
	for _, l := range p.streams {
		l.mu.Lock()
		if l.file != nil {
			errs = append(errs, l.file.close())
		}
		l.mu.Unlock()
	}
	return errors.Join(errs...)
}

// ServeHTTP answers one DynamoDB JSON-protocol request.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeAPIError(w, &apiError{Status: 400, Type: "SerializationException", Message: fmt.Sprintf("read request body: %v", err)})
		return
	}
	target := r.Header.Get("X-Amz-Target")
	op := target[strings.LastIndexByte(target, '.')+1:]
	ctx := r.Context()
	var resp *upstreamResponse
	switch op {
	case "CreateTable":
		resp, err = p.createTable(ctx, r, body)
	case "UpdateTable":
		resp, err = p.updateTable(ctx, r, body)
	case "DeleteTable":
		resp, err = p.deleteTable(ctx, r, body)
	case "DescribeTable":
		resp, err = p.describeTable(ctx, r, body)
	case "UpdateTimeToLive":
		resp, err = p.updateTimeToLive(ctx, body)
	case "DescribeTimeToLive":
		resp, err = p.describeTimeToLive(ctx, body)
	case "PutItem", "UpdateItem", "DeleteItem":
		resp, err = p.writeItem(ctx, r, op, body)
	case "BatchWriteItem":
		resp, err = p.batchWriteItem(ctx, r, body)
	case "TransactWriteItems", "ExecuteTransaction":
		err = &apiError{Status: 400, Type: "ValidationException", Message: op +
			" is not supported by Parley's local DynamoDB (dynalite has no transactions, and the local stream " +
			"capture cannot see them); use single-item writes, as Parley's code does"}
	default:
		resp, err = p.forward(ctx, r, body)
	}
	if err != nil {
		var ae *apiError
		if !errors.As(err, &ae) {
			p.log.Error("localddb: request failed", "op", op, "err", err)
			ae = &apiError{Status: 500, Type: "InternalServerError", Message: err.Error()}
		}
		writeAPIError(w, ae)
		return
	}
	resp.write(w)
}

// upstreamResponse is a buffered response of the upstream.
type upstreamResponse struct {
	status int
	header http.Header
	body   []byte
}

func (u *upstreamResponse) ok() bool { return u.status == http.StatusOK }

// write sends the response; the CRC32 header the SDKs check is recomputed because the
// proxy may have changed the body.
func (u *upstreamResponse) write(w http.ResponseWriter) {
	for k, vs := range u.header {
		switch http.CanonicalHeaderKey(k) {
		case "Content-Length", "Connection", "Transfer-Encoding", "X-Amz-Crc32":
			continue
		}
		w.Header()[k] = vs
	}
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	}
	w.Header().Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE(u.body)), 10))
	w.Header().Set("Content-Length", strconv.Itoa(len(u.body)))
	w.WriteHeader(u.status)
	_, _ = w.Write(u.body)
}

// jsonResponse builds a 200 response carrying v.
func jsonResponse(v any) (*upstreamResponse, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode response: %w", err)
	}
	return &upstreamResponse{status: 200, header: http.Header{"Content-Type": {"application/x-amz-json-1.0"}}, body: b}, nil
}

// forward sends the client's request, with body, to the upstream.
func (p *Proxy) forward(ctx context.Context, r *http.Request, body []byte) (*upstreamResponse, error) {
	u := *p.upstream
	u.Path = strings.TrimSuffix(u.Path, "/") + r.URL.Path
	u.RawQuery = r.URL.RawQuery
	req, err := http.NewRequestWithContext(ctx, r.Method, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("build upstream request: %w", err)
	}
	for k, vs := range r.Header {
		switch http.CanonicalHeaderKey(k) {
		case "Host", "Content-Length", "Connection", "Accept-Encoding":
			continue
		}
		req.Header[k] = vs
	}
	// The proxy may rewrite bodies, so it asks for them uncompressed.
	req.Header.Set("Accept-Encoding", "identity")
	return p.roundTrip(req)
}

func (p *Proxy) roundTrip(req *http.Request) (*upstreamResponse, error) {
	resp, err := p.opts.HTTPClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("upstream %s: %w", p.upstream.Host, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("read upstream response: %w", err)
	}
	return &upstreamResponse{status: resp.StatusCode, header: resp.Header, body: b}, nil
}

// call makes a signed request of the proxy's own to the upstream and decodes a 200
// response into out (when not nil); other statuses become an *apiError.
func (p *Proxy) call(ctx context.Context, op string, in, out any) error {
	b, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("%s: encode request: %w", op, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.upstream.String(), bytes.NewReader(b))
	if err != nil {
		return fmt.Errorf("%s: build request: %w", op, err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	req.Header.Set("X-Amz-Target", "DynamoDB_20120810."+op)
	req.Header.Set("Accept-Encoding", "identity")
	sum := sha256.Sum256(b)
	if err := p.signer.SignHTTP(ctx, p.creds, req, hex.EncodeToString(sum[:]), "dynamodb", p.opts.Region, time.Now()); err != nil {
		return fmt.Errorf("%s: sign request: %w", op, err)
	}
	resp, err := p.roundTrip(req)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if !resp.ok() {
		return fmt.Errorf("%s: %w", op, parseAPIError(resp))
	}
	if out != nil {
		if err := json.Unmarshal(resp.body, out); err != nil {
			return fmt.Errorf("%s: decode response: %w", op, err)
		}
	}
	return nil
}

// apiError is a DynamoDB error response.
type apiError struct {
	Status  int
	Type    string // without the "com.amazonaws.dynamodb.v20120810#" prefix
	Message string
}

func (e *apiError) Error() string { return fmt.Sprintf("%s: %s", e.Type, e.Message) }

func parseAPIError(resp *upstreamResponse) *apiError {
	var body struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
		Msg     string `json:"Message"`
	}
	_ = json.Unmarshal(resp.body, &body)
	typ := body.Type[strings.LastIndexByte(body.Type, '#')+1:]
	if typ == "" {
		typ = "UnknownError"
	}
	msg := body.Message
	if msg == "" {
		msg = body.Msg
	}
	return &apiError{Status: resp.status, Type: typ, Message: msg}
}

func writeAPIError(w http.ResponseWriter, e *apiError) {
	prefix := "com.amazonaws.dynamodb.v20120810#"
	if e.Type == "SerializationException" {
		prefix = "com.amazon.coral.service#"
	}
	b, _ := json.Marshal(map[string]string{"__type": prefix + e.Type, "message": e.Message})
	(&upstreamResponse{status: e.Status, header: http.Header{"Content-Type": {"application/x-amz-json-1.0"}}, body: b}).write(w)
}

// state returns the table's state, creating an empty one when create is set (nil
// otherwise when the proxy knows nothing of the table).
func (p *Proxy) state(table string, create bool) *tableState {
	p.mu.Lock()
	defer p.mu.Unlock()
	ts := p.tables[table]
	if ts == nil && create {
		ts = &tableState{}
		p.tables[table] = ts
	}
	return ts
}

// keySchemaOf returns the table's key attribute names, asking the upstream once.
func (p *Proxy) keySchemaOf(ctx context.Context, table string, ts *tableState) (keySchema, error) {
	p.mu.Lock()
	known := ts.keys
	p.mu.Unlock()
	if known.hash != "" {
		return known, nil
	}
	var out struct {
		Table struct {
			KeySchema []struct{ AttributeName, KeyType string }
		}
	}
	if err := p.call(ctx, "DescribeTable", map[string]string{"TableName": table}, &out); err != nil {
		return keySchema{}, fmt.Errorf("key schema of %s: %w", table, err)
	}
	var ks keySchema
	for _, k := range out.Table.KeySchema {
		if k.KeyType == "HASH" {
			ks.hash = k.AttributeName
		} else {
			ks.rng = k.AttributeName
		}
	}
	p.mu.Lock()
	ts.keys = ks
	p.mu.Unlock()
	return ks, nil
}

// keyOf extracts the key attributes of item.
func (ks keySchema) keyOf(item map[string]json.RawMessage) map[string]json.RawMessage {
	key := map[string]json.RawMessage{ks.hash: item[ks.hash]}
	if ks.rng != "" {
		key[ks.rng] = item[ks.rng]
	}
	return key
}
