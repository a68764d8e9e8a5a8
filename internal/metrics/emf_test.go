package metrics

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/chat"
)

var testNow = time.Date(2026, 12, 1, 10, 30, 0, 123_000_000, time.UTC)

func newTest(t testing.TB, w *bytes.Buffer) *EMF {
	t.Helper()
	e, err := New(Options{Function: "fanout", Writer: w, Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// emfUnits are the units the specification's schema allows.
var emfUnits = map[string]bool{}

func init() {
	for _, u := range strings.Split("Seconds Microseconds Milliseconds Bytes Kilobytes Megabytes Gigabytes Terabytes "+
		"Bits Kilobits Megabits Gigabits Terabits Percent Count Bytes/Second Kilobytes/Second Megabytes/Second "+
		"Gigabytes/Second Terabytes/Second Bits/Second Kilobits/Second Megabits/Second Gigabits/Second "+
		"Terabits/Second Count/Second None", " ") {
		emfUnits[u] = true
	}
}

// parsed is one document as CloudWatch Logs reads it: its dimensions, and each metric's
// unit and values.
type parsed struct {
	namespace string
	dims      map[string]string // dimension name -> value
	dimOrder  []string
	units     map[string]string
	values    map[string][]float64
}

// parse splits out into lines and checks each against the EMF specification: one JSON
// object per line, _aws.Timestamp an integer in milliseconds, CloudWatchMetrics an array
// of directives with a namespace, dimension sets whose keys are string members of the
// root, at most 100 metric definitions whose names are numeric (or arrays of at most 100
// numbers) members of the root, with valid units; and the root holds no member it does
// not reference.
func parse(t *testing.T, out []byte) []parsed {
	t.Helper()
	var docs []parsed
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) > 256*1024 {
			t.Errorf("document of %d bytes: over CloudWatch Logs' event limit", len(line))
		}
		var root map[string]json.RawMessage
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.UseNumber()
		if err := dec.Decode(&root); err != nil {
			t.Fatalf("not a JSON object: %v\n%s", err, line)
		}
		if dec.More() {
			t.Fatalf("data after the JSON object: %s", line)
		}
		var meta struct {
			Timestamp         json.Number
			CloudWatchMetrics []struct {
				Namespace  string
				Dimensions [][]string
				Metrics    []struct{ Name, Unit string }
			}
		}
		if err := json.Unmarshal(root["_aws"], &meta); err != nil {
			t.Fatalf("_aws: %v\n%s", err, line)
		}
		ts, err := meta.Timestamp.Int64()
		if err != nil || ts != testNow.UnixMilli() {
			t.Errorf("_aws.Timestamp %q, want %d (milliseconds)", meta.Timestamp, testNow.UnixMilli())
		}
		if len(meta.CloudWatchMetrics) != 1 {
			t.Fatalf("%d metric directives, want 1: %s", len(meta.CloudWatchMetrics), line)
		}
		dir := meta.CloudWatchMetrics[0]
		p := parsed{namespace: dir.Namespace, dims: map[string]string{}, units: map[string]string{}, values: map[string][]float64{}}
		if dir.Namespace == "" || len(dir.Namespace) > 255 {
			t.Errorf("namespace %q", dir.Namespace)
		}
		used := map[string]bool{"_aws": true}
		if len(dir.Dimensions) != 1 {
			t.Errorf("%d dimension sets, want 1", len(dir.Dimensions))
		}
		for _, set := range dir.Dimensions {
			if len(set) > 30 {
				t.Errorf("dimension set of %d keys", len(set))
			}
			for _, k := range set {
				var v string
				if err := json.Unmarshal(root[k], &v); err != nil || v == "" {
					t.Errorf("dimension %s: target %s is not a non-empty string", k, root[k])
				}
				p.dims[k] = v
				p.dimOrder = append(p.dimOrder, k)
				used[k] = true
			}
		}
		if n := len(dir.Metrics); n == 0 || n > 100 {
			t.Errorf("%d metric definitions", n)
		}
		for _, m := range dir.Metrics {
			if !emfUnits[m.Unit] {
				t.Errorf("metric %s: unit %q", m.Name, m.Unit)
			}
			if _, dup := p.units[m.Name]; dup {
				t.Errorf("metric %s defined twice", m.Name)
			}
			p.units[m.Name] = m.Unit
			used[m.Name] = true
			raw, ok := root[m.Name]
			if !ok {
				t.Errorf("metric %s: no target member", m.Name)
				continue
			}
			var one float64
			var many []float64
			switch {
			case json.Unmarshal(raw, &one) == nil:
				p.values[m.Name] = []float64{one}
			case json.Unmarshal(raw, &many) == nil:
				if len(many) == 0 || len(many) > MaxValues {
					t.Errorf("metric %s: %d values", m.Name, len(many))
				}
				p.values[m.Name] = many
			default:
				t.Errorf("metric %s: target %s is neither a number nor an array of numbers", m.Name, raw)
			}
		}
		for k := range root {
			if !used[k] {
				t.Errorf("member %s is referenced by no directive", k)
			}
		}
		docs = append(docs, p)
	}
	return docs
}

func TestDocuments(t *testing.T) {
	var buf bytes.Buffer
	e := newTest(t, &buf)
	e.Posted(chat.PathStream, chat.OutcomeDelivered, 1, 120*time.Millisecond)
	e.Posted(chat.PathStream, chat.OutcomeDelivered, 3, 1500*time.Millisecond+40*time.Microsecond)
	e.Posted(chat.PathStream, chat.OutcomeGone, 1, 0)
	e.Posted(chat.PathStream, chat.OutcomeFailed, 4, 0)
	e.Posted(chat.PathStream, chat.OutcomeRejected, 1, 0)
	e.Posted(chat.PathInline, chat.OutcomeDelivered, 2, 35*time.Millisecond)
	e.Posted(chat.PathInline, chat.OutcomeDelivered, 1, -3*time.Millisecond) // clock skew
	e.FannedOut(false, 80*time.Millisecond)
	e.FannedOut(true, 2*time.Millisecond)
	e.FannedOut(false, 250*time.Millisecond)
	if err := e.Flush(); err != nil {
		t.Fatal(err)
	}
	docs := parse(t, buf.Bytes())
	if len(docs) != 3 {
		t.Fatalf("%d documents, want 3 (inline, stream, fan-out):\n%s", len(docs), buf.String())
	}
	for _, d := range docs {
		if d.namespace != DefaultNamespace {
			t.Errorf("namespace %q", d.namespace)
		}
		if d.dims[DimensionFunction] != "fanout" {
			t.Errorf("Function = %q", d.dims[DimensionFunction])
		}
	}
	want := []struct {
		dims   []string
		path   string
		values map[string][]float64
	}{
		{[]string{DimensionFunction, DimensionPath}, "inline", map[string][]float64{
			Posts: {2}, PostsGone: {0}, PostsFailed: {0}, PostsRejected: {0}, PostRetries: {1}, DeliveryLag: {35, 0},
		}},
		{[]string{DimensionFunction, DimensionPath}, "stream", map[string][]float64{
			Posts: {5}, PostsGone: {1}, PostsFailed: {1}, PostsRejected: {1}, PostRetries: {5}, DeliveryLag: {120, 1500},
		}},
		{[]string{DimensionFunction}, "", map[string][]float64{
			FanoutRecords: {3}, FanoutSkipped: {1}, FanoutDuration: {80, 2, 250},
		}},
	}
	for i, w := range want {
		d := docs[i]
		if !reflect.DeepEqual(d.dimOrder, w.dims) || d.dims[DimensionPath] != w.path {
			t.Errorf("document %d: dimensions %v, want %v with Path %q", i, d.dims, w.dims, w.path)
		}
		if !reflect.DeepEqual(d.values, w.values) {
			t.Errorf("document %d: values %v, want %v", i, d.values, w.values)
		}
		for name := range w.values {
			wantUnit := UnitCount
			if name == DeliveryLag || name == FanoutDuration {
				wantUnit = UnitMilliseconds
			}
			if d.units[name] != wantUnit {
				t.Errorf("document %d: %s unit %q, want %q", i, name, d.units[name], wantUnit)
			}
		}
	}
	// Every document is one line, with the metadata first.
	for _, line := range strings.SplitAfter(strings.TrimSuffix(buf.String(), "\n"), "\n") {
		if !strings.HasPrefix(line, `{"_aws":{"Timestamp":`) {
			t.Errorf("line does not start with the metadata: %s", line)
		}
	}
}

func TestNothingRecordedWritesNothing(t *testing.T) {
	var buf bytes.Buffer
	e := newTest(t, &buf)
	if err := e.Flush(); err != nil {
		t.Fatal(err)
	}
	if buf.Len() != 0 {
		t.Fatalf("empty invocation wrote %q", buf.String())
	}
	e.Posted(chat.PathInline, chat.OutcomeGone, 1, 0)
	if err := e.Flush(); err != nil {
		t.Fatal(err)
	}
	n := buf.Len()
	if n == 0 {
		t.Fatal("a recorded post wrote nothing")
	}
	// The next invocation starts afresh: nothing recorded, nothing written.
	if err := e.Flush(); err != nil {
		t.Fatal(err)
	}
	if buf.Len() != n {
		t.Errorf("a second Flush wrote %q", buf.String()[n:])
	}
	// A post without a delivery has no DeliveryLag target (a definition needs its member).
	d := parse(t, buf.Bytes())
	if _, ok := d[0].units[DeliveryLag]; ok {
		t.Errorf("DeliveryLag defined without a delivered post")
	}
}

func TestMoreThanMaxValues(t *testing.T) {
	var buf bytes.Buffer
	e := newTest(t, &buf)
	const n = 2*MaxValues + 50
	var want []float64
	for i := range n {
		e.Posted(chat.PathStream, chat.OutcomeDelivered, 1, time.Duration(i)*time.Millisecond)
		want = append(want, float64(i))
	}
	for i := range MaxValues + 1 {
		e.FannedOut(false, time.Duration(i)*time.Millisecond)
	}
	if err := e.Flush(); err != nil {
		t.Fatal(err)
	}
	docs := parse(t, buf.Bytes())
	var lags []float64
	var lagDocs, countDocs, durations int
	for _, d := range docs {
		if v, ok := d.values[DeliveryLag]; ok {
			lagDocs++
			lags = append(lags, v...)
			if d.dims[DimensionPath] != "stream" {
				t.Errorf("lag document with dimensions %v", d.dims)
			}
		}
		if v, ok := d.values[Posts]; ok {
			countDocs++
			if v[0] != n {
				t.Errorf("Posts = %v, want %d", v, n)
			}
		}
		durations += len(d.values[FanoutDuration])
	}
	if lagDocs != 3 || countDocs != 1 {
		t.Errorf("%d documents with lags, %d with counts; want 3 and 1 (counts once, lags in chunks of %d)", lagDocs, countDocs, MaxValues)
	}
	slices.Sort(lags)
	if !reflect.DeepEqual(lags, want) {
		t.Errorf("lags across documents: %d values, want %d (0..%d)", len(lags), len(want), n-1)
	}
	if durations != MaxValues+1 {
		t.Errorf("%d fan-out durations, want %d", durations, MaxValues+1)
	}
	if len(docs) != 5 {
		t.Errorf("%d documents, want 5 (3 stream, 2 fan-out)", len(docs))
	}
}

// TestConcurrent records from many goroutines while Flush runs concurrently, and checks
// that the documents add up to exactly what was recorded: nothing lost, nothing counted
// twice. Run it with -race.
func TestConcurrent(t *testing.T) {
	var buf lockedBuffer
	e, err := New(Options{Function: "send", Writer: &buf, Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	const workers, each = 32, 500
	type want struct{ posts, gone, failed, rejected, retries, delivered, records, skipped int }
	wants := make([]want, workers)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	flushed := make(chan error, 1)
	go func() {
		var errs []error
		for {
			select {
			case <-stop:
				flushed <- errors.Join(errs...)
				return
			default:
				errs = append(errs, e.Flush())
			}
		}
	}()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(w), 7))
			got := &wants[w]
			paths := []chat.Path{chat.PathInline, chat.PathStream}
			outcomes := []chat.Outcome{chat.OutcomeDelivered, chat.OutcomeGone, chat.OutcomeFailed, chat.OutcomeRejected}
			for range each {
				if r.IntN(4) == 0 {
					skipped := r.IntN(2) == 0
					e.FannedOut(skipped, time.Duration(r.IntN(100))*time.Millisecond)
					got.records++
					if skipped {
						got.skipped++
					}
					continue
				}
				o := outcomes[r.IntN(len(outcomes))]
				attempts := 1 + r.IntN(3)
				e.Posted(paths[r.IntN(2)], o, attempts, time.Duration(r.IntN(3000))*time.Millisecond)
				got.posts++
				got.retries += attempts - 1
				switch o {
				case chat.OutcomeDelivered:
					got.delivered++
				case chat.OutcomeGone:
					got.gone++
				case chat.OutcomeFailed:
					got.failed++
				case chat.OutcomeRejected:
					got.rejected++
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	if err := <-flushed; err != nil {
		t.Fatal(err)
	}
	if err := e.Flush(); err != nil {
		t.Fatal(err)
	}
	var total want
	for _, w := range wants {
		total.posts += w.posts
		total.gone += w.gone
		total.failed += w.failed
		total.rejected += w.rejected
		total.retries += w.retries
		total.delivered += w.delivered
		total.records += w.records
		total.skipped += w.skipped
	}
	var got want
	var durations int
	sum := func(v []float64) int {
		n := 0
		for _, x := range v {
			n += int(x)
		}
		return n
	}
	for _, d := range parse(t, buf.Bytes()) {
		got.posts += sum(d.values[Posts])
		got.gone += sum(d.values[PostsGone])
		got.failed += sum(d.values[PostsFailed])
		got.rejected += sum(d.values[PostsRejected])
		got.retries += sum(d.values[PostRetries])
		got.delivered += len(d.values[DeliveryLag])
		got.records += sum(d.values[FanoutRecords])
		got.skipped += sum(d.values[FanoutSkipped])
		durations += len(d.values[FanoutDuration])
	}
	if got != total {
		t.Errorf("documents add up to %+v, recorded %+v", got, total)
	}
	if durations != total.records {
		t.Errorf("%d fan-out durations, %d records", durations, total.records)
	}
	if total.posts == 0 || total.records == 0 {
		t.Fatalf("the test recorded nothing: %+v", total)
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.Buffer.Write(p)
}

func (b *lockedBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.Buffer.Bytes()
}

func TestNamespaceAndOptions(t *testing.T) {
	var buf bytes.Buffer
	e, err := New(Options{Namespace: StageNamespace("dev-1"), Function: "send", Writer: &buf, Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	e.Posted(chat.PathInline, chat.OutcomeDelivered, 1, time.Millisecond)
	if err := e.Flush(); err != nil {
		t.Fatal(err)
	}
	if d := parse(t, buf.Bytes()); d[0].namespace != "Parley/dev-1" || d[0].dims[DimensionFunction] != "send" {
		t.Errorf("namespace %q, Function %q", d[0].namespace, d[0].dims[DimensionFunction])
	}
	for _, tc := range []struct {
		name string
		opts Options
		want string
	}{
		{"no function", Options{}, "function name"},
		{"blank function", Options{Function: "  "}, "function name"},
		{"control character", Options{Function: "send\n"}, "printable ASCII"},
		{"AWS namespace", Options{Namespace: "AWS/Lambda", Function: "send"}, "namespace"},
		{"space in namespace", Options{Namespace: "Par ley", Function: "send"}, "namespace"},
		{"long namespace", Options{Namespace: strings.Repeat("p", 256), Function: "send"}, "namespace"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.opts); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New(%+v) = %v, want an error about %s", tc.opts, err, tc.want)
			}
		})
	}
}

type failingWriter struct{ n int }

func (w *failingWriter) Write(p []byte) (int, error) {
	w.n++
	return 0, fmt.Errorf("disk full")
}

func TestWriteError(t *testing.T) {
	w := &failingWriter{}
	e, err := New(Options{Function: "fanout", Writer: w})
	if err != nil {
		t.Fatal(err)
	}
	e.FannedOut(false, time.Millisecond)
	e.Posted(chat.PathStream, chat.OutcomeDelivered, 1, time.Millisecond)
	err = e.Flush()
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("Flush = %v, want the write error", err)
	}
	if w.n != 2 {
		t.Errorf("%d writes, want 2 (one per document, the second tried after the first failed)", w.n)
	}
}

// BenchmarkPosted measures one post's recording with every core posting at once, as a
// fan-out's 64 concurrent posters do. Every 10,000 posts per goroutine the recorded state
// is dropped (not written: BenchmarkFlush500 measures that), so memory stays about what
// one invocation holds.
func BenchmarkPosted(b *testing.B) {
	e, err := New(Options{Function: "fanout", Writer: discard{}})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		n := 0
		for pb.Next() {
			e.Posted(chat.PathStream, chat.OutcomeDelivered, 1, 42*time.Millisecond)
			if n++; n%10_000 == 0 {
				e.mu.Lock()
				e.cur = batch{}
				e.mu.Unlock()
			}
		}
	})
}

// BenchmarkFlush500 is the Flush of a 500-member fan-out: 500 delivered posts.
func BenchmarkFlush500(b *testing.B) {
	e, err := New(Options{Function: "fanout", Writer: discard{}})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for range b.N {
		b.StopTimer()
		for i := range 500 {
			e.Posted(chat.PathStream, chat.OutcomeDelivered, 1, time.Duration(i)*time.Millisecond)
		}
		e.FannedOut(false, 90*time.Millisecond)
		b.StartTimer()
		if err := e.Flush(); err != nil {
			b.Fatal(err)
		}
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
