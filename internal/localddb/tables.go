package localddb

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// streamSpecification is DynamoDB's StreamSpecification.
type streamSpecification struct {
	StreamEnabled  bool   `json:"StreamEnabled"`
	StreamViewType string `json:"StreamViewType,omitempty"`
}

func validView(v string) bool {
	switch v {
	case "KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES":
		return true
	}
	return false
}

// createTable forwards CreateTable without its StreamSpecification and remembers the
// stream itself.
func (p *Proxy) createTable(ctx context.Context, r *http.Request, body []byte) (*upstreamResponse, error) {
	var req map[string]json.RawMessage
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, &apiError{Status: 400, Type: "SerializationException", Message: "request body is not a JSON object"}
	}
	var table string
	_ = json.Unmarshal(req["TableName"], &table)
	var spec streamSpecification
	if raw, ok := req["StreamSpecification"]; ok {
		if err := json.Unmarshal(raw, &spec); err != nil {
			return nil, &apiError{Status: 400, Type: "ValidationException", Message: "malformed StreamSpecification"}
		}
		if spec.StreamEnabled && !validView(spec.StreamViewType) {
			return nil, &apiError{Status: 400, Type: "ValidationException",
				Message: fmt.Sprintf("StreamViewType %q is not one of KEYS_ONLY, NEW_IMAGE, OLD_IMAGE, NEW_AND_OLD_IMAGES", spec.StreamViewType)}
		}
		delete(req, "StreamSpecification")
		if body, _ = json.Marshal(req); body == nil {
			return nil, fmt.Errorf("re-encode CreateTable")
		}
	}
	resp, err := p.forward(ctx, r, body)
	if err != nil || !resp.ok() {
		return resp, err
	}
	p.mu.Lock()
	ts := &tableState{}
	if spec.StreamEnabled {
		ts.streamView = spec.StreamViewType
		ts.streamLabel = streamLabel(time.Now())
	}
	p.tables[table] = ts // a new table: forget what an earlier one of that name had
	p.mu.Unlock()
	if err := p.saveTables(); err != nil {
		return nil, err
	}
	return p.decorate(resp, "TableDescription", table)
}

// updateTable handles StreamSpecification itself and forwards the rest, if any.
func (p *Proxy) updateTable(ctx context.Context, r *http.Request, body []byte) (*upstreamResponse, error) {
	var req map[string]json.RawMessage
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, &apiError{Status: 400, Type: "SerializationException", Message: "request body is not a JSON object"}
	}
	raw, ok := req["StreamSpecification"]
	if !ok {
		resp, err := p.forward(ctx, r, body)
		if err != nil || !resp.ok() {
			return resp, err
		}
		var table string
		_ = json.Unmarshal(req["TableName"], &table)
		return p.decorate(resp, "TableDescription", table)
	}
	var table string
	_ = json.Unmarshal(req["TableName"], &table)
	var spec streamSpecification
	if err := json.Unmarshal(raw, &spec); err != nil {
		return nil, &apiError{Status: 400, Type: "ValidationException", Message: "malformed StreamSpecification"}
	}
	// The table must exist; its description is also the answer when nothing else changes.
	var desc map[string]json.RawMessage
	if err := p.call(ctx, "DescribeTable", map[string]string{"TableName": table}, &desc); err != nil {
		return nil, err
	}
	ts := p.state(table, true)
	p.mu.Lock()
	switch {
	case spec.StreamEnabled && ts.streamView != "":
		p.mu.Unlock()
		return nil, &apiError{Status: 400, Type: "ValidationException", Message: "Table already has an enabled stream: " + p.streamARN(table, ts.streamLabel)}
	case spec.StreamEnabled && !validView(spec.StreamViewType):
		p.mu.Unlock()
		return nil, &apiError{Status: 400, Type: "ValidationException", Message: fmt.Sprintf("invalid StreamViewType %q", spec.StreamViewType)}
	case spec.StreamEnabled:
		ts.streamView, ts.streamLabel = spec.StreamViewType, streamLabel(time.Now())
	case ts.streamView == "":
		p.mu.Unlock()
		return nil, &apiError{Status: 400, Type: "ValidationException", Message: "Table does not have a stream to disable"}
	default:
		ts.streamView = ""
	}
	p.mu.Unlock()
	if err := p.saveTables(); err != nil {
		return nil, err
	}
	delete(req, "StreamSpecification")
	if len(req) > 1 { // more than TableName: forward the rest
		b, err := json.Marshal(req)
		if err != nil {
			return nil, fmt.Errorf("re-encode UpdateTable: %w", err)
		}
		resp, err := p.forward(ctx, r, b)
		if err != nil || !resp.ok() {
			return resp, err
		}
		return p.decorate(resp, "TableDescription", table)
	}
	resp, err := jsonResponse(map[string]json.RawMessage{"TableDescription": desc["Table"]})
	if err != nil {
		return nil, err
	}
	return p.decorate(resp, "TableDescription", table)
}

func (p *Proxy) deleteTable(ctx context.Context, r *http.Request, body []byte) (*upstreamResponse, error) {
	resp, err := p.forward(ctx, r, body)
	if err != nil || !resp.ok() {
		return resp, err
	}
	var req struct{ TableName string }
	_ = json.Unmarshal(body, &req)
	p.mu.Lock()
	delete(p.tables, req.TableName)
	p.mu.Unlock()
	if err := p.saveTables(); err != nil {
		return nil, err
	}
	return resp, nil
}

func (p *Proxy) describeTable(ctx context.Context, r *http.Request, body []byte) (*upstreamResponse, error) {
	resp, err := p.forward(ctx, r, body)
	if err != nil || !resp.ok() {
		return resp, err
	}
	var req struct{ TableName string }
	_ = json.Unmarshal(body, &req)
	return p.decorate(resp, "Table", req.TableName)
}

// decorate adds StreamSpecification, LatestStreamArn and LatestStreamLabel to the table
// description under field of a successful response, when the table has a stream.
func (p *Proxy) decorate(resp *upstreamResponse, field, table string) (*upstreamResponse, error) {
	p.mu.Lock()
	ts := p.tables[table]
	var view, label string
	if ts != nil {
		view, label = ts.streamView, ts.streamLabel
	}
	p.mu.Unlock()
	if view == "" {
		return resp, nil
	}
	var out map[string]json.RawMessage
	if err := json.Unmarshal(resp.body, &out); err != nil {
		return nil, fmt.Errorf("decode %s: %w", field, err)
	}
	var desc map[string]any
	if err := json.Unmarshal(out[field], &desc); err != nil || desc == nil {
		return nil, fmt.Errorf("decode %s: not an object", field)
	}
	desc["StreamSpecification"] = streamSpecification{StreamEnabled: true, StreamViewType: view}
	desc["LatestStreamArn"] = p.streamARN(table, label)
	desc["LatestStreamLabel"] = label
	b, err := json.Marshal(desc)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", field, err)
	}
	out[field] = b
	if resp.body, err = json.Marshal(out); err != nil {
		return nil, fmt.Errorf("encode response: %w", err)
	}
	return resp, nil
}

// StreamARN returns the ARN of the table's stream, or "" when it has none.
func (p *Proxy) StreamARN(table string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	ts := p.tables[table]
	if ts == nil || ts.streamView == "" {
		return ""
	}
	return p.streamARN(table, ts.streamLabel)
}

func (p *Proxy) streamARN(table, label string) string {
	return fmt.Sprintf("arn:aws:dynamodb:%s:%s:table/%s/stream/%s", p.opts.Region, p.opts.AccountID, table, label)
}

func streamLabel(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000") }

// ttlSpecification is DynamoDB's TimeToLiveSpecification.
type ttlSpecification struct {
	Enabled       bool   `json:"Enabled"`
	AttributeName string `json:"AttributeName"`
}

// updateTimeToLive enables or disables TTL, which the proxy implements itself.
func (p *Proxy) updateTimeToLive(ctx context.Context, body []byte) (*upstreamResponse, error) {
	var req struct {
		TableName               string
		TimeToLiveSpecification *ttlSpecification
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, &apiError{Status: 400, Type: "SerializationException", Message: "malformed UpdateTimeToLive request"}
	}
	spec := req.TimeToLiveSpecification
	if spec == nil || spec.AttributeName == "" {
		return nil, &apiError{Status: 400, Type: "ValidationException", Message: "TimeToLiveSpecification with an AttributeName is required"}
	}
	if err := p.call(ctx, "DescribeTable", map[string]string{"TableName": req.TableName}, nil); err != nil {
		return nil, err
	}
	ts := p.state(req.TableName, true)
	p.mu.Lock()
	switch {
	case spec.Enabled && ts.ttlAttr != "":
		p.mu.Unlock()
		return nil, &apiError{Status: 400, Type: "ValidationException", Message: "TimeToLive is already enabled"}
	case !spec.Enabled && ts.ttlAttr == "":
		p.mu.Unlock()
		return nil, &apiError{Status: 400, Type: "ValidationException", Message: "TimeToLive is already disabled"}
	case spec.Enabled:
		ts.ttlAttr = spec.AttributeName
	default:
		ts.ttlAttr = ""
	}
	p.mu.Unlock()
	if err := p.saveTables(); err != nil {
		return nil, err
	}
	return jsonResponse(map[string]any{"TimeToLiveSpecification": spec})
}

func (p *Proxy) describeTimeToLive(ctx context.Context, body []byte) (*upstreamResponse, error) {
	var req struct{ TableName string }
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, &apiError{Status: 400, Type: "SerializationException", Message: "malformed DescribeTimeToLive request"}
	}
	if err := p.call(ctx, "DescribeTable", map[string]string{"TableName": req.TableName}, nil); err != nil {
		return nil, err
	}
	desc := map[string]string{"TimeToLiveStatus": "DISABLED"}
	p.mu.Lock()
	if ts := p.tables[req.TableName]; ts != nil && ts.ttlAttr != "" {
		desc = map[string]string{"TimeToLiveStatus": "ENABLED", "AttributeName": ts.ttlAttr}
	}
	p.mu.Unlock()
	return jsonResponse(map[string]any{"TimeToLiveDescription": desc})
}
