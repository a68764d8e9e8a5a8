package localddb

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"sort"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

type item = map[string]json.RawMessage

// serviceIdentity is the userIdentity of records of TTL deletions.
var serviceIdentity = &events.DynamoDBUserIdentity{Type: "Service", PrincipalID: "dynamodb.amazonaws.com"}

// captured returns the state of a table whose writes are captured (it has a stream), or nil.
func (p *Proxy) captured(table string) *tableState {
	p.mu.Lock()
	defer p.mu.Unlock()
	ts := p.tables[table]
	if ts == nil || ts.streamView == "" {
		return nil
	}
	return ts
}

// writeItem forwards PutItem, UpdateItem or DeleteItem; on a table with a stream it
// reads the item before and after, under the table's write lock, and records the change.
// With a state directory the write's intent is logged before it is forwarded and its
// record synced before the response is returned (see recover.go).
func (p *Proxy) writeItem(ctx context.Context, r *http.Request, op string, body []byte) (*upstreamResponse, error) {
	var req struct {
		TableName string
		Item      item
		Key       item
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return p.forward(ctx, r, body) // let the upstream report the malformed request
	}
	ts := p.captured(req.TableName)
	if ts == nil {
		return p.forward(ctx, r, body)
	}
	l := p.stream(req.TableName)
	l.write.Lock()
	defer l.write.Unlock()
	ks, err := p.keySchemaOf(ctx, req.TableName, ts)
	if err != nil {
		return nil, err
	}
	key := req.Key
	if op == "PutItem" {
		key = ks.keyOf(req.Item)
	}
	if !completeKey(ks, key) {
		return p.forward(ctx, r, body) // the upstream rejects it with the right message
	}
	old, err := p.getItem(ctx, req.TableName, key)
	if err != nil {
		return nil, err
	}
	id := p.nextSeq()
	if err := l.begin(id, []item{key}, []item{old}, nil); err != nil {
		return nil, err
	}
	resp, err := p.forward(ctx, r, body)
	if err == nil && !resp.ok() {
		return resp, nil // refused: nothing changed
	}
	if err == nil && p.afterForward != nil {
		if err := p.afterForward(); err != nil {
			return nil, err // a test's crash: nothing more happens for this write
		}
	}
	// Without a response the write may have been applied all the same (the client went
	// away, the connection broke): the item is read again regardless, without the
	// client's context, so that a change is recorded whichever way it went.
	rctx, cancel := settleContext(ctx)
	defer cancel()
	cur, rerr := p.getItem(rctx, req.TableName, key)
	if rerr != nil {
		return nil, errors.Join(err, rerr)
	}
	if rec, ok := p.change(req.TableName, key, old, cur, nil); ok {
		rec.intent = id
		if cerr := l.commit([]newRecord{rec}); cerr != nil {
			return nil, errors.Join(err, cerr)
		}
	}
	return resp, err
}

// settleContext is the context of the reads and commits that follow a forwarded write:
// they run even when the client has gone, so that the stream does not miss a change the
// upstream applied.
func settleContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
}

// batchWriteItem forwards BatchWriteItem and records the changes of its requests on
// tables with a stream, in request order.
func (p *Proxy) batchWriteItem(ctx context.Context, r *http.Request, body []byte) (*upstreamResponse, error) {
	var req struct {
		RequestItems map[string][]struct {
			PutRequest    *struct{ Item item }
			DeleteRequest *struct{ Key item }
		}
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return p.forward(ctx, r, body)
	}
	// One captured table of the batch: its keys and their old images, in request order.
	type tableWrite struct {
		name     string
		l        *streamLog
		intent   uint64
		keys     []item
		old      []item
		recorded []newRecord
	}
	var names []string
	for t := range req.RequestItems {
		if p.captured(t) != nil {
			names = append(names, t)
		}
	}
	if len(names) == 0 {
		return p.forward(ctx, r, body)
	}
	sort.Strings(names) // one lock order for every caller
	writes := make([]*tableWrite, 0, len(names))
	for _, t := range names {
		ts := p.captured(t)
		w := &tableWrite{name: t, l: p.stream(t)}
		w.l.write.Lock()
		defer w.l.write.Unlock()
		ks, err := p.keySchemaOf(ctx, t, ts)
		if err != nil {
			return nil, err
		}
		for _, wr := range req.RequestItems[t] {
			var key item
			switch {
			case wr.PutRequest != nil:
				key = ks.keyOf(wr.PutRequest.Item)
			case wr.DeleteRequest != nil:
				key = wr.DeleteRequest.Key
			}
			if !completeKey(ks, key) {
				return p.forward(ctx, r, body) // invalid: the upstream says why
			}
			old, err := p.getItem(ctx, t, key)
			if err != nil {
				return nil, err
			}
			w.keys, w.old = append(w.keys, key), append(w.old, old)
		}
		writes = append(writes, w)
	}
	for _, w := range writes {
		w.intent = p.nextSeq()
		if err := w.l.begin(w.intent, w.keys, w.old, nil); err != nil {
			return nil, err
		}
	}
	resp, err := p.forward(ctx, r, body)
	if err == nil && !resp.ok() {
		return resp, nil
	}
	if err == nil && p.afterForward != nil {
		if err := p.afterForward(); err != nil {
			return nil, err
		}
	}
	// Unprocessed requests changed nothing; their items are read again all the same, which
	// yields no record for them.
	rctx, cancel := settleContext(ctx)
	defer cancel()
	for _, w := range writes {
		for i, key := range w.keys {
			cur, rerr := p.getItem(rctx, w.name, key)
			if rerr != nil {
				return nil, errors.Join(err, rerr)
			}
			if rec, ok := p.change(w.name, key, w.old[i], cur, nil); ok {
				rec.intent, rec.n = w.intent, i
				w.recorded = append(w.recorded, rec)
			}
		}
		if cerr := w.l.commit(w.recorded); cerr != nil {
			return nil, errors.Join(err, cerr)
		}
	}
	return resp, err
}

func completeKey(ks keySchema, key item) bool {
	if ks.hash == "" || len(key[ks.hash]) == 0 {
		return false
	}
	return ks.rng == "" || len(key[ks.rng]) > 0
}

// getItem reads an item with a consistent read; nil when it does not exist.
func (p *Proxy) getItem(ctx context.Context, table string, key item) (item, error) {
	var out struct{ Item item }
	if err := p.call(ctx, "GetItem", map[string]any{"TableName": table, "Key": key, "ConsistentRead": true}, &out); err != nil {
		return nil, fmt.Errorf("image of %s: %w", table, err)
	}
	return out.Item, nil
}

// nextSeq hands out the next sequence number (also used as intent ids).
func (p *Proxy) nextSeq() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seq++
	return p.seq
}

// change builds the change record from old to cur (either nil when absent) of the item
// with key, for the table's stream; ok is false when the item did not change or the
// table has no stream. The caller commits it to the stream.
func (p *Proxy) change(table string, key, old, cur item, identity *events.DynamoDBUserIdentity) (rec newRecord, ok bool) {
	var name string
	switch {
	case old == nil && cur == nil:
		return rec, false
	case old == nil:
		name = "INSERT"
	case cur == nil:
		name = "REMOVE"
	case sameItem(old, cur):
		return rec, false // DynamoDB writes no record for a write that changes nothing
	default:
		name = "MODIFY"
	}
	p.mu.Lock()
	ts := p.tables[table]
	if ts == nil || ts.streamView == "" {
		p.mu.Unlock()
		return rec, false
	}
	view, label := ts.streamView, ts.streamLabel
	p.seq++
	seq := p.seq
	p.mu.Unlock()

	base := cur
	if base == nil {
		base = old
	}
	keys := make(item, len(key))
	for k := range key {
		keys[k] = base[k]
	}
	change := wireChange{
		ApproximateCreationDateTime: p.opts.Clock().Unix(),
		Keys:                        keys,
		SequenceNumber:              formatSeq(seq),
		StreamViewType:              view,
	}
	if view == "NEW_IMAGE" || view == "NEW_AND_OLD_IMAGES" {
		change.NewImage = cur
	}
	if view == "OLD_IMAGE" || view == "NEW_AND_OLD_IMAGES" {
		change.OldImage = old
	}
	change.SizeBytes = int64(jsonLen(change.Keys) + jsonLen(change.NewImage) + jsonLen(change.OldImage))
	wire, ev, err := wireRecord{
		AWSRegion:      p.opts.Region,
		Dynamodb:       change,
		EventID:        newEventID(),
		EventName:      name,
		EventSource:    "aws:dynamodb",
		EventVersion:   "1.1",
		EventSourceARN: p.streamARN(table, label),
		UserIdentity:   identity,
	}.decode()
	if err != nil {
		p.log.Error("localddb: dropping a change record that does not decode", "table", table, "err", err)
		return rec, false
	}
	return newRecord{entry: entry{seq: seq, rec: ev}, wire: wire}, true
}

// wireRecord is a change record as the Lambda event carries it, with attribute values
// in DynamoDB's wire JSON.
type wireRecord struct {
	AWSRegion      string                       `json:"awsRegion"`
	Dynamodb       wireChange                   `json:"dynamodb"`
	EventID        string                       `json:"eventID"`
	EventName      string                       `json:"eventName"`
	EventSource    string                       `json:"eventSource"`
	EventVersion   string                       `json:"eventVersion"`
	EventSourceARN string                       `json:"eventSourceARN"`
	UserIdentity   *events.DynamoDBUserIdentity `json:"userIdentity,omitempty"`
}

type wireChange struct {
	ApproximateCreationDateTime int64  `json:"ApproximateCreationDateTime"`
	Keys                        item   `json:"Keys,omitempty"`
	NewImage                    item   `json:"NewImage,omitempty"`
	OldImage                    item   `json:"OldImage,omitempty"`
	SequenceNumber              string `json:"SequenceNumber"`
	SizeBytes                   int64  `json:"SizeBytes"`
	StreamViewType              string `json:"StreamViewType"`
}

// decode returns the wire JSON and turns it into the events type, the way the Lambda
// runtime does.
func (w wireRecord) decode() ([]byte, events.DynamoDBEventRecord, error) {
	var ev events.DynamoDBEventRecord
	b, err := json.Marshal(w)
	if err != nil {
		return nil, ev, fmt.Errorf("encode record: %w", err)
	}
	if err := json.Unmarshal(b, &ev); err != nil {
		return nil, ev, fmt.Errorf("decode record: %w", err)
	}
	return b, ev, nil
}

func sameItem(a, b item) bool {
	if len(a) != len(b) {
		return false
	}
	for k, va := range a {
		vb, ok := b[k]
		if !ok {
			return false
		}
		if bytes.Equal(va, vb) {
			continue
		}
		var x, y any
		if json.Unmarshal(va, &x) != nil || json.Unmarshal(vb, &y) != nil || !reflect.DeepEqual(x, y) {
			return false
		}
	}
	return true
}

func jsonLen(m item) int {
	if m == nil {
		return 0
	}
	b, _ := json.Marshal(m)
	return len(b)
}

func newEventID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
