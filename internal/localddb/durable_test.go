package localddb_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/parleychat/parley/internal/dynalite"
	"github.com/parleychat/parley/internal/dynalite/dynalitetest"
	"github.com/parleychat/parley/internal/localddb"
)

// These tests open a proxy on a state directory, stop it (Close, or a simulated crash),
// and open another one on the same directory in front of the same dynalite, as
// `parley local --data-dir` does across a restart.

// recorder is a stream function that records every batch (as sort keys) and reports the
// start of each invocation on calls.
type recorder struct {
	mu      sync.Mutex
	batches [][]string
	calls   chan int
	respond func(ctx context.Context, call int) (events.DynamoDBEventResponse, error)
}

func newRecorder(respond func(ctx context.Context, call int) (events.DynamoDBEventResponse, error)) *recorder {
	return &recorder{calls: make(chan int, 1000), respond: respond}
}

func (r *recorder) Handle(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	r.mu.Lock()
	r.batches = append(r.batches, sortKeys(ev.Records))
	call := len(r.batches)
	r.mu.Unlock()
	r.calls <- call
	if r.respond == nil {
		return events.DynamoDBEventResponse{}, nil
	}
	return r.respond(ctx, call)
}

func (r *recorder) got() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return fmt.Sprint(r.batches)
}

// waitStarts waits until n invocations have started.
func (r *recorder) waitStarts(t *testing.T, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		select {
		case <-r.calls:
		case <-time.After(10 * time.Second):
			t.Fatalf("only %d of %d invocations within 10s: %s", i, n, r.got())
		}
	}
}

func sortKeys(recs []events.DynamoDBEventRecord) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.Change.Keys["sk"].String()
	}
	return out
}

// checkpointOf returns the sequence number in mapping name's checkpoint, "" when none.
func checkpointOf(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "localddb", "checkpoints", name+".json"))
	if errors.Is(err, os.ErrNotExist) {
		return ""
	}
	var cp struct{ SequenceNumber string }
	if err != nil || json.Unmarshal(b, &cp) != nil {
		t.Fatalf("checkpoint of %s: %v %s", name, err, b)
	}
	return cp.SequenceNumber
}

func put(t *testing.T, db *dynamodb.Client, table, sk string) {
	t.Helper()
	if _, err := db.PutItem(ctxT(t), &dynamodb.PutItemInput{TableName: aws.String(table), Item: key("p", sk)}); err != nil {
		t.Fatal(err)
	}
}

// TestDurableMappingResumes checks that a mapping opened again on its directory starts
// after its checkpoint. It asserts the exact batches after the reopen: the batches done
// before the stop are not delivered again, the batch in flight at the stop (or failing)
// is delivered again, and what came after it is delivered. Lambda promises at least once;
// the local mapping redelivers from the checkpoint exactly, which is what is asserted.
func TestDurableMappingResumes(t *testing.T) {
	t.Parallel()
	up := dynalitetest.StartForTest(t).Endpoint()
	tests := []struct {
		name string
		// respond is the handler of the first run, stopped after starts invocations.
		respond        func(ctx context.Context, call int) (events.DynamoDBEventResponse, error)
		starts         int
		wantFirst      string // the first starts batches of the first run
		wantCheckpoint int    // index of the record in the checkpoint; -1 for none
		wantAfter      string // every batch after the reopen, up to a new record "10"
	}{
		{name: "closed mid-batch",
			respond: func(ctx context.Context, call int) (events.DynamoDBEventResponse, error) {
				if call == 2 {
					<-ctx.Done() // in flight until the proxy closes
					return events.DynamoDBEventResponse{}, ctx.Err()
				}
				return events.DynamoDBEventResponse{}, nil
			},
			starts: 2, wantFirst: "[[0 1 2 3] [4 5 6 7]]", wantCheckpoint: 3,
			wantAfter: "[[4 5 6 7] [8 9] [10]]"},
		{name: "handler failing",
			respond: func(context.Context, int) (events.DynamoDBEventResponse, error) {
				return events.DynamoDBEventResponse{}, errors.New("down")
			},
			starts: 2, wantFirst: "[[0 1 2 3] [0 1 2 3]]", wantCheckpoint: -1,
			wantAfter: "[[0 1 2 3] [4 5 6 7] [8 9] [10]]"},
		{name: "every batch done",
			starts: 3, wantFirst: "[[0 1 2 3] [4 5 6 7] [8 9]]", wantCheckpoint: 9,
			wantAfter: "[[10]]"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir, table := t.TempDir(), fmt.Sprintf("resume-%d", i)
			mapping := func(h *recorder) localddb.Mapping {
				return localddb.Mapping{Table: table, BatchSize: 4, MaxRetryAttempts: 1000, RetryDelay: time.Millisecond, Handler: h.Handle}
			}
			n1 := open(t, localddb.Options{Upstream: up, Dir: dir})
			createTable(t, n1.db, table, types.StreamViewTypeNewImage)
			putN(t, n1.db, table, 10) // before the mapping starts: batches of exactly 4
			recs := n1.p.Records(table)
			first := newRecorder(tt.respond)
			if err := n1.p.StartMapping(mapping(first)); err != nil {
				t.Fatal(err)
			}
			first.waitStarts(t, tt.starts)
			if tt.wantCheckpoint >= 0 { // the checkpoint of the last batch done is written after it
				eventually(t, "checkpoint", func() bool { return checkpointOf(t, dir, table) == recs[tt.wantCheckpoint].Change.SequenceNumber })
			}
			arn := n1.p.StreamARN(table)
			n1.close(t)
			if got := first.got(); !strings.HasPrefix(got, strings.TrimSuffix(tt.wantFirst, "]")) {
				t.Fatalf("first run's batches %s, want %s first", got, tt.wantFirst)
			}
			want := ""
			if tt.wantCheckpoint >= 0 {
				want = recs[tt.wantCheckpoint].Change.SequenceNumber
			}
			if got := checkpointOf(t, dir, table); got != want {
				t.Fatalf("checkpoint after the stop = %q, want %q", got, want)
			}

			n2 := open(t, localddb.Options{Upstream: up, Dir: dir})
			if got := n2.p.StreamARN(table); got != arn {
				t.Fatalf("stream ARN after the reopen = %q, want %q (the stream survives)", got, arn)
			}
			if got := n2.p.Records(table); len(got) != 10 {
				t.Fatalf("%d records after the reopen, want 10", len(got))
			}
			after := newRecorder(nil)
			if err := n2.p.StartMapping(mapping(after)); err != nil {
				t.Fatal(err)
			}
			after.waitStarts(t, strings.Count(tt.wantAfter, "[")-2)
			put(t, n2.db, table, "10") // captured without UpdateTable: the stream setting survived
			after.waitStarts(t, 1)
			if got := after.got(); got != tt.wantAfter {
				t.Fatalf("batches after the reopen %s, want %s", got, tt.wantAfter)
			}
		})
	}
}

// eventually polls cond every 10 ms until it holds, failing the test after 10 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestDurableTornLastLine appends half a line to a stream log, as a crash in the middle of
// a write leaves it: the next open ignores it, and later appends start on a line of their
// own.
func TestDurableTornLastLine(t *testing.T) {
	t.Parallel()
	up, dir := dynalitetest.StartForTest(t).Endpoint(), t.TempDir()
	n1 := open(t, localddb.Options{Upstream: up, Dir: dir})
	createTable(t, n1.db, "torn", types.StreamViewTypeNewImage)
	putN(t, n1.db, "torn", 3)
	n1.close(t)
	// An open compacts the file (its intents go); the next open then has nothing to
	// compact, so it is the cut of the partial line that keeps later lines whole.
	open(t, localddb.Options{Upstream: up, Dir: dir}).close(t)
	path := filepath.Join(dir, "localddb", "streams", "torn.jsonl")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(`{"t":"record","seq":999999999999999999999,"record":{"eventName":"INS`); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	n2 := open(t, localddb.Options{Upstream: up, Dir: dir})
	if got := fmt.Sprint(sortKeys(n2.p.Records("torn"))); got != "[0 1 2]" {
		t.Fatalf("records after the torn line = %s, want [0 1 2]", got)
	}
	put(t, n2.db, "torn", "3")
	n2.close(t)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasSuffix(data, []byte("\n")) {
		t.Fatalf("stream log does not end with a newline: %q", data)
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if !json.Valid(sc.Bytes()) {
			t.Fatalf("stream log line is not JSON: %q", sc.Text())
		}
	}

	n3 := open(t, localddb.Options{Upstream: up, Dir: dir})
	h := newRecorder(nil)
	if err := n3.p.StartMapping(localddb.Mapping{Table: "torn", BatchSize: 10, Handler: h.Handle}); err != nil {
		t.Fatal(err)
	}
	h.waitStarts(t, 1)
	if got := h.got(); got != "[[0 1 2 3]]" {
		t.Fatalf("delivered %s, want [[0 1 2 3]]", got)
	}
}

// clock is a settable clock for Options.Clock.
type clock struct{ now atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.now.Store(time.Now().UnixNano())
	return c
}

func (c *clock) Now() time.Time      { return time.Unix(0, c.now.Load()) }
func (c *clock) Add(d time.Duration) { c.now.Add(int64(d)) }

// TestDurableTrimming checks that records leave the stream after 24 hours, in memory and
// in the file, both while the proxy runs and when it opens.
func TestDurableTrimming(t *testing.T) {
	t.Parallel()
	up, dir, c := dynalitetest.StartForTest(t).Endpoint(), t.TempDir(), newClock()
	opts := localddb.Options{Upstream: up, Dir: dir, Clock: c.Now}
	n1 := open(t, opts)
	createTable(t, n1.db, "trim", types.StreamViewTypeNewImage)
	putN(t, n1.db, "trim", 3)
	c.Add(25 * time.Hour)
	put(t, n1.db, "trim", "3")
	if got := fmt.Sprint(sortKeys(n1.p.Records("trim"))); got != "[3]" {
		t.Fatalf("records 25 h later = %s, want [3]", got)
	}
	n1.close(t)

	n2 := open(t, opts)
	if got := fmt.Sprint(sortKeys(n2.p.Records("trim"))); got != "[3]" {
		t.Fatalf("records after the reopen = %s, want [3]", got)
	}
	n2.close(t)

	c.Add(25 * time.Hour)
	n3 := open(t, opts)
	if got := n3.p.Records("trim"); len(got) != 0 {
		t.Fatalf("records after another 25 h = %v, want none", sortKeys(got))
	}
	data, err := os.ReadFile(filepath.Join(dir, "localddb", "streams", "trim.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Split(strings.TrimSpace(string(data)), "\n"); len(lines) != 1 || !strings.Contains(lines[0], `"t":"trimmed"`) {
		t.Fatalf("compacted stream log = %q, want only the trimmed horizon", data)
	}
	put(t, n3.db, "trim", "4")
	if got := fmt.Sprint(sortKeys(n3.p.Records("trim"))); got != "[4]" {
		t.Fatalf("records after a new write = %s, want [4]", got)
	}
}

// TestDurableRecoversInterruptedWrite lets the upstream apply a write and "crashes" the
// proxy before it logs the record; the client got an error. The next proxy on the
// directory reads the item again and records the change the write made; the client's
// retry then changes nothing and adds no record, and a third open adds none either.
func TestDurableRecoversInterruptedWrite(t *testing.T) {
	t.Parallel()
	up := dynalitetest.StartForTest(t).Endpoint()
	item := func(sk, v string) map[string]types.AttributeValue {
		return map[string]types.AttributeValue{"pk": s("a"), "sk": s(sk), "v": n(v)}
	}
	putItem := func(table, sk, v string) func(context.Context, *dynamodb.Client) error {
		return func(ctx context.Context, db *dynamodb.Client) error {
			_, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: item(sk, v)})
			return err
		}
	}
	tests := []struct {
		name   string
		before func(table string) func(context.Context, *dynamodb.Client) error // nil: none
		write  func(table string) func(context.Context, *dynamodb.Client) error
		want   string // records: event, sort key, old and new v
	}{
		{name: "put", write: func(tb string) func(context.Context, *dynamodb.Client) error { return putItem(tb, "1", "1") },
			want: "[INSERT 1 - 1]"},
		{name: "update", before: func(tb string) func(context.Context, *dynamodb.Client) error { return putItem(tb, "1", "1") },
			write: func(tb string) func(context.Context, *dynamodb.Client) error {
				return func(ctx context.Context, db *dynamodb.Client) error {
					_, err := db.UpdateItem(ctx, &dynamodb.UpdateItemInput{TableName: aws.String(tb), Key: key("a", "1"),
						UpdateExpression:          aws.String("SET v = :v"),
						ExpressionAttributeValues: map[string]types.AttributeValue{":v": n("2")}})
					return err
				}
			},
			want: "[INSERT 1 - 1 MODIFY 1 1 2]"},
		{name: "delete", before: func(tb string) func(context.Context, *dynamodb.Client) error { return putItem(tb, "1", "1") },
			write: func(tb string) func(context.Context, *dynamodb.Client) error {
				return func(ctx context.Context, db *dynamodb.Client) error {
					_, err := db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(tb), Key: key("a", "1")})
					return err
				}
			},
			want: "[INSERT 1 - 1 REMOVE 1 1 -]"},
		{name: "batch", before: func(tb string) func(context.Context, *dynamodb.Client) error { return putItem(tb, "1", "1") },
			write: func(tb string) func(context.Context, *dynamodb.Client) error {
				return func(ctx context.Context, db *dynamodb.Client) error {
					_, err := db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{tb: {
						{PutRequest: &types.PutRequest{Item: item("1", "1")}}, // unchanged: no record
						{PutRequest: &types.PutRequest{Item: item("2", "2")}},
						{PutRequest: &types.PutRequest{Item: item("3", "3")}},
					}}})
					return err
				}
			},
			want: "[INSERT 1 - 1 INSERT 2 - 2 INSERT 3 - 3]"},
		{name: "unchanged", before: func(tb string) func(context.Context, *dynamodb.Client) error { return putItem(tb, "1", "1") },
			write: func(tb string) func(context.Context, *dynamodb.Client) error { return putItem(tb, "1", "1") },
			want:  "[INSERT 1 - 1]"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx, dir, table := ctxT(t), t.TempDir(), fmt.Sprintf("crash-%d", i)
			n1 := open(t, localddb.Options{Upstream: up, Dir: dir})
			createTable(t, n1.db, table, types.StreamViewTypeNewAndOldImages)
			if tt.before != nil {
				if err := tt.before(table)(ctx, n1.db); err != nil {
					t.Fatal(err)
				}
			}
			localddb.Crash(n1.p)
			// No retries: a dead process answers none, and a retry would be a new write.
			noRetry := dynalite.NewClient(n1.srv.URL, func(o *dynamodb.Options) { o.RetryMaxAttempts = 1 })
			if err := tt.write(table)(ctx, noRetry); err == nil {
				t.Fatal("the interrupted write succeeded")
			}
			n1.close(t)

			n2 := open(t, localddb.Options{Upstream: up, Dir: dir})
			if got := describeRecords(n2.p.Records(table)); got != tt.want {
				t.Fatalf("records after the reopen %s, want %s", got, tt.want)
			}
			if err := tt.write(table)(ctx, n2.db); err != nil { // the client's retry
				t.Fatalf("retry: %v", err)
			}
			n2.close(t)
			n3 := open(t, localddb.Options{Upstream: up, Dir: dir})
			if got := describeRecords(n3.p.Records(table)); got != tt.want {
				t.Fatalf("records after the retry and another reopen %s, want %s", got, tt.want)
			}
		})
	}
}

func describeRecords(recs []events.DynamoDBEventRecord) string {
	var out []string
	v := func(img map[string]events.DynamoDBAttributeValue) string {
		if img == nil {
			return "-"
		}
		return img["v"].Number()
	}
	for _, r := range recs {
		out = append(out, r.EventName, r.Change.Keys["sk"].String(), v(r.Change.OldImage), v(r.Change.NewImage))
	}
	return fmt.Sprint(out)
}

// BenchmarkCapturedPut measures what a state directory adds to a PutItem on a table with a
// stream (an intent line, a record line and one fsync): each iteration puts one item
// through a proxy in memory and one through a proxy with a directory, in front of the
// same dynalite, so that load on the machine hits both alike. It reports the median of
// each and their difference:
//
//	go test -run '^$' -bench CapturedPut -benchtime 2000x ./internal/localddb/
func BenchmarkCapturedPut(b *testing.B) {
	up := dynalitetest.StartForTest(b).Endpoint()
	mem := open(b, localddb.Options{Upstream: up})
	disk := open(b, localddb.Options{Upstream: up, Dir: b.TempDir()})
	createTable(b, mem.db, "bench-memory", types.StreamViewTypeNewImage)
	createTable(b, disk.db, "bench-dir", types.StreamViewTypeNewImage)
	ctx := context.Background()
	timed := func(db *dynamodb.Client, table string, i int) time.Duration {
		start := time.Now()
		if _, err := db.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table),
			Item: map[string]types.AttributeValue{"pk": s("b"), "sk": s(strconv.Itoa(i)), "body": s("hello")}}); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	var inMemory, onDisk []time.Duration
	for i := 0; b.Loop(); i++ {
		inMemory = append(inMemory, timed(mem.db, "bench-memory", i))
		onDisk = append(onDisk, timed(disk.db, "bench-dir", i))
	}
	median := func(d []time.Duration) float64 {
		slices.Sort(d)
		return float64(d[len(d)/2].Microseconds())
	}
	m, d := median(inMemory), median(onDisk)
	b.ReportMetric(m, "µs-memory-p50")
	b.ReportMetric(d, "µs-dir-p50")
	b.ReportMetric(d-m, "µs-added-p50")
}
