// Package metrics is chat.Metrics written as CloudWatch embedded-metric-format (EMF)
// documents: the functions print them on stdout, Lambda sends stdout to the function's
// log group, and CloudWatch Logs extracts the metrics from it. No CloudWatch API call and
// no permission beyond the log group's are needed.
//
// An EMF aggregates what one invocation records and Flush writes it: one document per
// dimension set (per delivery path, and one for the fan-out), not one per post. A metric
// may carry at most MaxValues values in one document (the EMF specification's limit on
// a numeric array), so an invocation with more delivered posts on a path continues its
// DeliveryLag values in further documents that carry that metric only.
//
// What is emitted, in the namespace Options.Namespace:
//
// Dimensions Function (the function's name in internal/topology) and Path
// (chat.PathInline or chat.PathStream):
//
//	DeliveryLag    Milliseconds  one value per delivered post: the post's success time
//	                             minus the message's createdAt (negative values, from
//	                             clock skew between functions, are written as 0)
//	Posts          Count         posts of a message frame to a connection, any outcome
//	PostsGone      Count         posts answered 410 Gone: the connection had closed
//	PostsFailed    Count         posts still failing after every retry
//	PostsRejected  Count         posts refused for good (4xx other than 410 and 429)
//	PostRetries    Count         retries: the sum of attempts − 1 over the posts
//
// Dimension Function only (no Path: fan-out is the stream path's work per record):
//
//	FanoutRecords   Count         stream message records the fan-out handled
//	FanoutSkipped   Count         of those, records the inline path had finished
//	FanoutDuration  Milliseconds  one value per record: how long it took
//
// The counts are written even when zero, so that a graph or an alarm on them reads 0
// rather than missing data for every invocation that posted. The delivery metrics have
// no Function-only dimension set: each path is one function's (inline is send's, stream
// is fanout's), so it would only double the custom metrics.
package metrics

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/parleychat/parley/internal/chat"
)

// Namespace and dimension names. internal/metrics is the one place that spells them:
// the stack's dashboard and alarm use these constants.
const (
	// DefaultNamespace is Options.Namespace's default.
	DefaultNamespace = "Parley"
	// EnvNamespace is the environment variable from which the functions take the
	// namespace (the stack sets StageNamespace(stage)); unset means DefaultNamespace.
	EnvNamespace = "METRICS_NAMESPACE"
	// DimensionFunction is the dimension holding the function's name in internal/topology.
	DimensionFunction = "Function"
	// DimensionPath is the dimension holding the delivery path (chat.Path).
	DimensionPath = "Path"
)

// Metric names (see the package documentation for what each measures).
const (
	DeliveryLag    = "DeliveryLag"
	Posts          = "Posts"
	PostsGone      = "PostsGone"
	PostsFailed    = "PostsFailed"
	PostsRejected  = "PostsRejected"
	PostRetries    = "PostRetries"
	FanoutRecords  = "FanoutRecords"
	FanoutSkipped  = "FanoutSkipped"
	FanoutDuration = "FanoutDuration"
)

// CloudWatch units of the metrics.
const (
	UnitCount        = "Count"
	UnitMilliseconds = "Milliseconds"
)

// MaxValues is the most values a metric carries in one document: the EMF specification
// allows a numeric array target of at most 100 members.
const MaxValues = 100

// StageNamespace is the namespace of one stage's functions, DefaultNamespace/<stage>:
// two stages in one account and region then never mix their metrics, so one stage's
// load test cannot set off another's alarm.
func StageNamespace(stage string) string { return DefaultNamespace + "/" + stage }

// Options configures an EMF.
type Options struct {
	// Namespace is the CloudWatch namespace: 1 to 255 characters of A-Z a-z 0-9 . _ - / # :,
	// not starting with "AWS/" (reserved for AWS) or ':'. Default DefaultNamespace.
	Namespace string
	// Function is the value of the Function dimension: the function's name in
	// internal/topology. Required.
	Function string
	// Writer receives the documents, each one JSON object on one line, in one Write.
	// Default os.Stdout, which Lambda sends to CloudWatch Logs.
	Writer io.Writer
	// Now stamps the documents (_aws.Timestamp). Default time.Now.
	Now func() time.Time
}

var namespaceRE = regexp.MustCompile(`^[A-Za-z0-9._#:/-]{1,255}$`)

// EMF is a chat.Metrics that aggregates in memory until Flush. It is safe for concurrent
// use: posts record from many goroutines, and a Flush may run while they do (what they
// record then goes into the next Flush).
type EMF struct {
	namespace string
	function  string
	now       func() time.Time

	mu  sync.Mutex // guards cur
	cur batch

	wmu sync.Mutex // one Flush writes at a time
	w   io.Writer
}

var _ chat.Metrics = (*EMF)(nil)

// New returns an EMF for one function, or an error naming the bad option.
func New(opts Options) (*EMF, error) {
	ns := opts.Namespace
	if ns == "" {
		ns = DefaultNamespace
	}
	if !namespaceRE.MatchString(ns) || strings.HasPrefix(ns, "AWS/") || strings.HasPrefix(ns, ":") {
		return nil, fmt.Errorf("metrics: namespace %q: want 1 to 255 characters of A-Z a-z 0-9 . _ - / # :, not starting with AWS/ or ':'", ns)
	}
	if err := checkDimensionValue(opts.Function); err != nil {
		return nil, fmt.Errorf("metrics: function name: %w", err)
	}
	e := &EMF{namespace: ns, function: opts.Function, now: opts.Now, w: opts.Writer}
	if e.now == nil {
		e.now = time.Now
	}
	if e.w == nil {
		e.w = os.Stdout
	}
	return e, nil
}

// checkDimensionValue applies CloudWatch's rule for dimension values: 1 to 1024
// characters, printable ASCII, not only spaces.
func checkDimensionValue(v string) error {
	if v == "" || len(v) > 1024 || strings.TrimSpace(v) == "" {
		return fmt.Errorf("%q: want 1 to 1024 characters, not only spaces", v)
	}
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] > 0x7e {
			return fmt.Errorf("%q: want printable ASCII", v)
		}
	}
	return nil
}

// batch is what one invocation recorded.
type batch struct {
	paths  map[chat.Path]*pathStats
	fanout fanoutStats
}

type pathStats struct {
	posts, gone, failed, rejected, retries int64
	lags                                   []float64 // milliseconds
}

type fanoutStats struct {
	records, skipped int64
	durations        []float64 // milliseconds
}

// Posted records one post (chat.Metrics).
func (e *EMF) Posted(path chat.Path, outcome chat.Outcome, attempts int, lag time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.cur.paths[path]
	if s == nil {
		if e.cur.paths == nil {
			e.cur.paths = map[chat.Path]*pathStats{}
		}
		s = &pathStats{}
		e.cur.paths[path] = s
	}
	s.posts++
	if attempts > 1 {
		s.retries += int64(attempts - 1)
	}
	switch outcome {
	case chat.OutcomeDelivered:
		s.lags = append(s.lags, millis(lag))
	case chat.OutcomeGone:
		s.gone++
	case chat.OutcomeFailed:
		s.failed++
	case chat.OutcomeRejected:
		s.rejected++
	}
}

// FannedOut records the fan-out of one stream message record (chat.Metrics).
func (e *EMF) FannedOut(skipped bool, took time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.cur.fanout.records++
	if skipped {
		e.cur.fanout.skipped++
	}
	e.cur.fanout.durations = append(e.cur.fanout.durations, millis(took))
}

// millis is d in milliseconds to 0.1 ms, and 0 for a negative d.
func millis(d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return math.Round(float64(d)/float64(time.Millisecond)*10) / 10
}

// Flush writes what was recorded since the last Flush and starts afresh. It writes
// nothing when nothing was recorded. The lambdamain wrapper calls it after every
// invocation; Lambda freezes the environment after the invocation returns, so what is
// not flushed by then may never be written.
func (e *EMF) Flush() error {
	e.mu.Lock()
	b := e.cur
	e.cur = batch{}
	e.mu.Unlock()

	docs := e.documents(b, e.now().UnixMilli())
	if len(docs) == 0 {
		return nil
	}
	e.wmu.Lock()
	defer e.wmu.Unlock()
	var errs []error
	for _, d := range docs {
		line, err := d.marshal()
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if _, err := e.w.Write(line); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("metrics: write EMF documents: %w", err)
	}
	return nil
}

// documents turns a batch into EMF documents: per path (in order), one with the counts
// and the first MaxValues lags, then one per further MaxValues lags; then the fan-out's,
// likewise.
func (e *EMF) documents(b batch, ts int64) []document {
	var docs []document
	paths := make([]chat.Path, 0, len(b.paths))
	for p := range b.paths {
		paths = append(paths, p)
	}
	slices.Sort(paths)
	for _, p := range paths {
		s := b.paths[p]
		pathValue := string(p)
		if checkDimensionValue(pathValue) != nil {
			pathValue = "unknown"
		}
		dims := []member{{DimensionFunction, e.function}, {DimensionPath, pathValue}}
		counts := []metricValue{
			{Posts, UnitCount, s.posts},
			{PostsGone, UnitCount, s.gone},
			{PostsFailed, UnitCount, s.failed},
			{PostsRejected, UnitCount, s.rejected},
			{PostRetries, UnitCount, s.retries},
		}
		docs = append(docs, e.split(ts, dims, counts, DeliveryLag, s.lags)...)
	}
	if f := b.fanout; f.records > 0 {
		dims := []member{{DimensionFunction, e.function}}
		counts := []metricValue{
			{FanoutRecords, UnitCount, f.records},
			{FanoutSkipped, UnitCount, f.skipped},
		}
		docs = append(docs, e.split(ts, dims, counts, FanoutDuration, f.durations)...)
	}
	return docs
}

// split returns the documents of one dimension set: the first with the counts and the
// first MaxValues of values (as the millisecond metric name), the rest with MaxValues
// more values each.
func (e *EMF) split(ts int64, dims []member, counts []metricValue, name string, values []float64) []document {
	first := document{ts: ts, namespace: e.namespace, dims: dims, metrics: counts}
	if len(values) == 0 {
		return []document{first}
	}
	var docs []document
	for i := 0; i < len(values); i += MaxValues {
		chunk := values[i:min(i+MaxValues, len(values))]
		d := document{ts: ts, namespace: e.namespace, dims: dims}
		if i == 0 {
			d = first
		}
		d.metrics = append(slices.Clip(d.metrics), metricValue{name, UnitMilliseconds, chunk})
		docs = append(docs, d)
	}
	return docs
}

// document is one EMF document: one metric directive over one dimension set.
type document struct {
	ts        int64
	namespace string
	dims      []member
	metrics   []metricValue
}

type member struct{ name, value string }

type metricValue struct {
	name, unit string
	value      any // int64 or []float64
}

// The metadata object of the specification (_aws).
type (
	metadata struct {
		Timestamp         int64             `json:"Timestamp"`
		CloudWatchMetrics []metricDirective `json:"CloudWatchMetrics"`
	}
	metricDirective struct {
		Namespace  string             `json:"Namespace"`
		Dimensions [][]string         `json:"Dimensions"`
		Metrics    []metricDefinition `json:"Metrics"`
	}
	metricDefinition struct {
		Name string `json:"Name"`
		Unit string `json:"Unit"`
	}
)

// marshal renders the document as one line: the _aws metadata first, then the dimension
// and metric members (the targets) at the top level, then a newline.
func (d document) marshal() ([]byte, error) {
	dir := metricDirective{Namespace: d.namespace, Dimensions: [][]string{make([]string, 0, len(d.dims))}}
	for _, m := range d.dims {
		dir.Dimensions[0] = append(dir.Dimensions[0], m.name)
	}
	for _, m := range d.metrics {
		dir.Metrics = append(dir.Metrics, metricDefinition{Name: m.name, Unit: m.unit})
	}
	meta, err := json.Marshal(metadata{Timestamp: d.ts, CloudWatchMetrics: []metricDirective{dir}})
	if err != nil {
		return nil, fmt.Errorf("encode metadata: %w", err)
	}
	buf := make([]byte, 0, 256+len(meta))
	buf = append(buf, `{"_aws":`...)
	buf = append(buf, meta...)
	add := func(name string, v any) error {
		k, _ := json.Marshal(name)
		val, err := json.Marshal(v)
		if err != nil {
			return fmt.Errorf("encode %s: %w", name, err)
		}
		buf = append(buf, ',')
		buf = append(buf, k...)
		buf = append(buf, ':')
		buf = append(buf, val...)
		return nil
	}
	for _, m := range d.dims {
		if err := add(m.name, m.value); err != nil {
			return nil, err
		}
	}
	for _, m := range d.metrics {
		if err := add(m.name, m.value); err != nil {
			return nil, err
		}
	}
	return append(buf, '}', '\n'), nil
}
