package localddb

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
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
// reads the item before and after, under the table's lock, and records the change.
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
	ts.lock.Lock()
	defer ts.lock.Unlock()
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
	resp, err := p.forward(ctx, r, body)
	if err != nil || !resp.ok() {
		return resp, err
	}
	cur, err := p.getItem(ctx, req.TableName, key)
	if err != nil {
		return nil, err
	}
	p.record(req.TableName, ks, old, cur, nil)
	return resp, nil
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
	type change struct {
		table string
		ts    *tableState
		ks    keySchema
		key   item
		old   item
	}
	var tables []string
	for t := range req.RequestItems {
		if p.captured(t) != nil {
			tables = append(tables, t)
		}
	}
	if len(tables) == 0 {
		return p.forward(ctx, r, body)
	}
	sort.Strings(tables) // one lock order for every caller
	var changes []change
	for _, t := range tables {
		ts := p.captured(t)
		ts.lock.Lock()
		defer ts.lock.Unlock()
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
			changes = append(changes, change{t, ts, ks, key, old})
		}
	}
	resp, err := p.forward(ctx, r, body)
	if err != nil || !resp.ok() {
		return resp, err
	}
	// Unprocessed requests changed nothing; their items are read again all the same, which
	// yields no record for them.
	for _, c := range changes {
		cur, err := p.getItem(ctx, c.table, c.key)
		if err != nil {
			return nil, err
		}
		p.record(c.table, c.ks, c.old, cur, nil)
	}
	return resp, nil
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

// record appends the change from old to cur (either nil when absent) to the table's
// stream; nothing when the item did not change.
func (p *Proxy) record(table string, ks keySchema, old, cur item, identity *events.DynamoDBUserIdentity) {
	var name string
	switch {
	case old == nil && cur == nil:
		return
	case old == nil:
		name = "INSERT"
	case cur == nil:
		name = "REMOVE"
	case sameItem(old, cur):
		return // DynamoDB writes no record for a write that changes nothing
	default:
		name = "MODIFY"
	}
	p.mu.Lock()
	ts := p.tables[table]
	if ts == nil || ts.streamView == "" {
		p.mu.Unlock()
		return
	}
	view, label := ts.streamView, ts.streamLabel
	p.seq++
	seq := p.seq
	log := p.streamLocked(table)
	p.mu.Unlock()

	base := cur
	if base == nil {
		base = old
	}
	change := wireChange{
		ApproximateCreationDateTime: time.Now().Unix(),
		Keys:                        ks.keyOf(base),
		SequenceNumber:              fmt.Sprintf("%021d", seq),
		StreamViewType:              view,
	}
	if view == "NEW_IMAGE" || view == "NEW_AND_OLD_IMAGES" {
		change.NewImage = cur
	}
	if view == "OLD_IMAGE" || view == "NEW_AND_OLD_IMAGES" {
		change.OldImage = old
	}
	change.SizeBytes = int64(jsonLen(change.Keys) + jsonLen(change.NewImage) + jsonLen(change.OldImage))
	rec := wireRecord{
		AWSRegion:      p.opts.Region,
		Dynamodb:       change,
		EventID:        newEventID(),
		EventName:      name,
		EventSource:    "aws:dynamodb",
		EventVersion:   "1.1",
		EventSourceARN: p.streamARN(table, label),
		UserIdentity:   identity,
	}
	ev, err := rec.decode()
	if err != nil {
		p.log.Error("localddb: dropping a change record that does not decode", "table", table, "err", err)
		return
	}
	log.append(seq, ev)
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

// decode turns the wire JSON into the events type, the way the Lambda runtime does.
func (w wireRecord) decode() (events.DynamoDBEventRecord, error) {
	var ev events.DynamoDBEventRecord
	b, err := json.Marshal(w)
	if err != nil {
		return ev, fmt.Errorf("encode record: %w", err)
	}
	if err := json.Unmarshal(b, &ev); err != nil {
		return ev, fmt.Errorf("decode record: %w", err)
	}
	return ev, nil
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
