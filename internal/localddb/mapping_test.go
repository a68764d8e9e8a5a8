package localddb_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/parleychat/parley/internal/localddb"
)

// fn is a fake stream function: it records every batch (as sort keys) and answers with
// respond.
type fn struct {
	mu      sync.Mutex
	batches [][]string
	respond func(call int, batch []string, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error)
	calls   chan struct{}
}

func (f *fn) Handle(_ context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
	var sks []string
	for _, r := range ev.Records {
		sks = append(sks, r.Change.Keys["sk"].String())
	}
	f.mu.Lock()
	f.batches = append(f.batches, sks)
	call := len(f.batches)
	f.mu.Unlock()
	defer func() { f.calls <- struct{}{} }()
	if f.respond == nil {
		return events.DynamoDBEventResponse{}, nil
	}
	return f.respond(call, sks, ev)
}

func (f *fn) got() [][]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][]string(nil), f.batches...)
}

// waitCalls waits for n invocations.
func (f *fn) waitCalls(t *testing.T, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		select {
		case <-f.calls:
		case <-time.After(10 * time.Second):
			t.Fatalf("only %d of %d invocations within 10s: %v", i, n, f.got())
		}
	}
}

func putN(t *testing.T, db *dynamodb.Client, table string, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		if _, err := db.PutItem(ctxT(t), &dynamodb.PutItemInput{TableName: aws.String(table), Item: key("p", fmt.Sprint(i))}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestMapping(t *testing.T) {
	t.Parallel()
	c := newClock()
	p, db := setup(t, localddb.Options{Clock: c.Now})
	tests := []struct {
		name      string
		m         localddb.Mapping
		respond   func(call int, batch []string, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error)
		calls     int
		want      string // batches
		wantDrops string
	}{
		{name: "batches in order", m: localddb.Mapping{BatchSize: 4, MaxBatchingWindow: time.Second},
			calls: 3, want: "[[0 1 2 3] [4 5 6 7] [8 9]]"},
		{name: "batch item failures resume at the lowest failure", m: localddb.Mapping{BatchSize: 10, MaxBatchingWindow: time.Second},
			respond: func(call int, _ []string, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
				if call == 1 {
					return events.DynamoDBEventResponse{BatchItemFailures: []events.DynamoDBBatchItemFailure{
						{ItemIdentifier: seqOf(ev, "7")}, {ItemIdentifier: seqOf(ev, "5")}}}, nil
				}
				return events.DynamoDBEventResponse{}, nil
			},
			calls: 2, want: "[[0 1 2 3 4 5 6 7 8 9] [5 6 7 8 9]]"},
		{name: "bisect isolates a poison record", m: localddb.Mapping{BatchSize: 10, MaxBatchingWindow: time.Second, Bisect: true, MaxRetryAttempts: 1, RetryDelay: time.Millisecond},
			respond: func(_ int, batch []string, _ events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
				for _, sk := range batch {
					if sk == "6" {
						return events.DynamoDBEventResponse{}, errors.New("poison")
					}
				}
				return events.DynamoDBEventResponse{}, nil
			},
			// 10 -> 5|5 -> 2|3 -> 1|1; the lone poison record is tried twice (one retry).
			calls: 8, want: "[[0 1 2 3 4 5 6 7 8 9] [0 1 2 3 4] [5 6 7 8 9] [5 6] [5] [6] [6] [7 8 9]]", wantDrops: "[6]"},
		{name: "retries then drop", m: localddb.Mapping{BatchSize: 10, MaxBatchingWindow: time.Second, MaxRetryAttempts: 2, RetryDelay: time.Millisecond},
			respond: func(int, []string, events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
				return events.DynamoDBEventResponse{}, errors.New("down")
			},
			calls: 3, want: "[[0 1 2 3 4 5 6 7 8 9] [0 1 2 3 4 5 6 7 8 9] [0 1 2 3 4 5 6 7 8 9]]", wantDrops: "[0 1 2 3 4 5 6 7 8 9]"},
		{name: "records past the maximum age are dropped, not retried", m: localddb.Mapping{BatchSize: 10, MaxBatchingWindow: time.Second, MaxRetryAttempts: 5, RetryDelay: time.Millisecond, MaxRecordAge: time.Minute},
			respond: func(int, []string, events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
				c.Add(time.Hour) // the records are then an hour old
				return events.DynamoDBEventResponse{}, errors.New("slow and failing")
			},
			calls: 1, want: "[[0 1 2 3 4 5 6 7 8 9]]", wantDrops: "[0 1 2 3 4 5 6 7 8 9]"},
		{name: "filter", m: localddb.Mapping{BatchSize: 100, MaxBatchingWindow: time.Second,
			Filter: func(r events.DynamoDBEventRecord) bool { return r.Change.Keys["sk"].String() >= "5" }},
			calls: 1, want: "[[5 6 7 8 9]]"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			table := fmt.Sprintf("esm-%d", i)
			createTable(t, db, table, types.StreamViewTypeNewImage)
			f := &fn{respond: tt.respond, calls: make(chan struct{}, 100)}
			var dropped []string
			dropDone := make(chan struct{}, 1)
			tt.m.Table, tt.m.Handler = table, f.Handle
			tt.m.OnFailure = func(recs []events.DynamoDBEventRecord) {
				for _, r := range recs {
					dropped = append(dropped, r.Change.Keys["sk"].String())
				}
				dropDone <- struct{}{}
			}
			putN(t, db, table, 10) // written before the mapping starts: TRIM_HORIZON
			if err := p.StartMapping(tt.m); err != nil {
				t.Fatal(err)
			}
			f.waitCalls(t, tt.calls)
			if tt.wantDrops != "" {
				select {
				case <-dropDone:
				case <-time.After(10 * time.Second):
					t.Fatal("no drop")
				}
				if got := fmt.Sprint(dropped); got != tt.wantDrops {
					t.Errorf("dropped %s, want %s", got, tt.wantDrops)
				}
			}
			if got := fmt.Sprint(f.got()); got != tt.want {
				t.Errorf("batches %s\nwant    %s", got, tt.want)
			}
		})
	}
}

// seqOf returns the sequence number of the record with sort key sk.
func seqOf(ev events.DynamoDBEvent, sk string) string {
	for _, r := range ev.Records {
		if r.Change.Keys["sk"].String() == sk {
			return r.Change.SequenceNumber
		}
	}
	return "missing"
}

// TestMappingPollInterval checks the model of Lambda's poller: a record written while the
// mapping is idle is not delivered before the next point of the poll grid (a lower bound,
// which a slow machine cannot break).
func TestMappingPollInterval(t *testing.T) {
	t.Parallel()
	p, db := setup(t, localddb.Options{})
	const poll = 300 * time.Millisecond
	createTable(t, db, "esm-poll", types.StreamViewTypeNewImage)
	f := &fn{calls: make(chan struct{}, 10)}
	var invoked []time.Time
	handle := func(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		invoked = append(invoked, time.Now())
		return f.Handle(ctx, ev)
	}
	if err := p.StartMapping(localddb.Mapping{Table: "esm-poll", PollInterval: poll, Handler: handle}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(poll + 50*time.Millisecond) // the mapping is idle now
	for i := range 3 {
		written := time.Now()
		if _, err := db.PutItem(ctxT(t), &dynamodb.PutItemInput{TableName: aws.String("esm-poll"), Item: key("p", fmt.Sprint(i))}); err != nil {
			t.Fatal(err)
		}
		f.waitCalls(t, 1)
		grid := written.Truncate(poll).Add(poll)
		if at := invoked[i]; at.Before(grid.Add(-5 * time.Millisecond)) {
			t.Fatalf("record written at %s delivered at %s, before the next poll at %s", written.Format("15:04:05.000"), at.Format("15:04:05.000"), grid.Format("15:04:05.000"))
		}
		time.Sleep(time.Duration(i+1) * 70 * time.Millisecond)
	}
}
