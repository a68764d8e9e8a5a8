package awslambda

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/oklog/ulid/v2"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/dynalite"
	"github.com/parleychat/parley/internal/dynamo"
	"github.com/parleychat/parley/internal/schema"
	"github.com/parleychat/parley/internal/topology"
)

// The handler tests run against a real DynamoDB engine (dynalite) through the real SDK
// client and the real store; only the Management API is a recording fake here (the local
// runtime's end-to-end tests use the real one).
var (
	db     *dynamodb.Client
	tables dynamo.Tables
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	// A fuzzing worker (go test -fuzz runs each in a process of its own) runs only the
	// fuzz target, which needs no database: starting dynalite there would spend the fuzz
	// time of scripts/fuzz.sh.
	flag.Parse()
	if f := flag.Lookup("test.fuzzworker"); f != nil && f.Value.String() == "true" {
		return m.Run()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	srv, err := dynalite.Start(ctx, dynalite.Options{})
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "awslambda tests need dynalite (Node.js + `npm install` at the repo root): %v\n", err)
		return 1
	}
	defer srv.Close()
	db = dynamodb.New(dynamodb.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(srv.Endpoint()),
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
	})
	prefix := "awslambda-"
	tables = dynamo.TableNames(prefix)
	ctx, cancel = context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := dynamo.CreateTables(ctx, db, dynamo.PrefixedNames(prefix, schema.All()), schema.All()); err != nil {
		fmt.Fprintf(os.Stderr, "create tables: %v\n", err)
		return 1
	}
	return m.Run()
}

// recorder is the Management API stand-in: it records every frame per connection and
// can be told to fail pushes.
type recorder struct {
	mu     sync.Mutex
	frames map[string][][]byte
	// fail, when set, decides the error of a push (attempt counts from 1 per connection).
	fail     func(conn string, attempt int) error
	attempts map[string]int
	calls    atomic.Int64
	delay    time.Duration
}

func newRecorder() *recorder {
	return &recorder{frames: map[string][][]byte{}, attempts: map[string]int{}}
}

func (r *recorder) Push(ctx context.Context, conn string, data []byte) error {
	r.calls.Add(1)
	if r.delay > 0 {
		select {
		case <-time.After(r.delay):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.attempts[conn]++
	if r.fail != nil {
		if err := r.fail(conn, r.attempts[conn]); err != nil {
			return err
		}
	}
	r.frames[conn] = append(r.frames[conn], append([]byte(nil), data...))
	return nil
}

// framesOf returns the decoded frames pushed to conn, optionally only of one type.
func (r *recorder) framesOf(conn, typ string) []map[string]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []map[string]any
	for _, b := range r.frames[conn] {
		var f map[string]any
		if err := json.Unmarshal(b, &f); err != nil {
			panic(err)
		}
		if typ == "" || f["type"] == typ {
			out = append(out, f)
		}
	}
	return out
}

func (r *recorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.frames = map[string][][]byte{}
	r.attempts = map[string]int{}
}

// env is one handler over the shared database, with its own recorder.
type env struct {
	t      testing.TB
	store  *dynamo.Store
	svc    *chat.Service
	h      *Handler
	stream *StreamHandler
	push   *recorder
	ctx    context.Context
}

func newEnv(t testing.TB, opts chat.Options) *env {
	t.Helper()
	store, err := dynamo.New(db, tables)
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	if opts.RateLimit == 0 {
		opts.RateLimit = -1
	}
	if opts.PushBackoff == 0 {
		opts.PushBackoff = time.Millisecond
	}
	opts.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	svc := chat.NewService(store, store, store, rec, opts)
	return &env{
		t: t, store: store, svc: svc, push: rec, ctx: context.Background(),
		h:      NewHandler(svc, HandlerOptions{Logger: opts.Logger}),
		stream: NewStreamHandler(svc, opts.Logger),
	}
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

// uid returns a user id unique to this run, so tests can share the database.
func uid(name string) string { return name + "-" + ulid.Make().String()[14:] }

func fixture[T any](t testing.TB, name string) T {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("fixture %s: %v", name, err)
	}
	return v
}

var connSeq atomic.Int64

// connect opens a connection for user through the $connect fixture and returns its id.
func (e *env) connect(user string) string {
	e.t.Helper()
	req := fixture[events.APIGatewayWebsocketProxyRequest](e.t, "connect.json")
	req.RequestContext.ConnectionID = fmt.Sprintf("conn%011d=", connSeq.Add(1))
	req.RequestContext.Authorizer = map[string]any{"principalId": user, "userId": user}
	resp, err := e.h.Handle(e.ctx, req)
	if err != nil || resp.StatusCode != 200 {
		e.t.Fatalf("$connect %s: %v %+v", user, err, resp)
	}
	return req.RequestContext.ConnectionID
}

// disconnect closes a connection through the $disconnect fixture.
func (e *env) disconnect(user, conn string) {
	e.t.Helper()
	req := fixture[events.APIGatewayWebsocketProxyRequest](e.t, "disconnect.json")
	req.RequestContext.ConnectionID = conn
	req.RequestContext.Authorizer = map[string]any{"principalId": user}
	if resp, err := e.h.Handle(e.ctx, req); err != nil || resp.StatusCode != 200 {
		e.t.Fatalf("$disconnect: %v %+v", err, resp)
	}
}

var routes = func() map[string]bool {
	m := map[string]bool{}
	for _, a := range topology.Actions() {
		m[a] = true
	}
	return m
}()

// call sends one frame as user over conn through the message fixture, routed the way
// API Gateway routes ($request.body.action, else $default), and returns the reply frame.
func (e *env) call(user, conn string, frame any) map[string]any {
	e.t.Helper()
	var body string
	switch f := frame.(type) {
	case string:
		body = f
	default:
		b, err := json.Marshal(f)
		if err != nil {
			e.t.Fatal(err)
		}
		body = string(b)
	}
	req := fixture[events.APIGatewayWebsocketProxyRequest](e.t, "message.json")
	req.Body = body
	req.RequestContext.ConnectionID = conn
	req.RequestContext.Authorizer = map[string]any{"principalId": user}
	if user == "" {
		req.RequestContext.Authorizer = nil
	}
	req.RequestContext.RouteKey = RouteDefault
	var probe struct {
		Action string `json:"action"`
	}
	if json.Unmarshal([]byte(body), &probe) == nil && routes[probe.Action] {
		req.RequestContext.RouteKey = probe.Action
	}
	resp, err := e.h.Handle(e.ctx, req)
	if err != nil || resp.StatusCode != 200 {
		e.t.Fatalf("%s: %v %+v", body, err, resp)
	}
	if resp.Body == "" {
		return nil
	}
	var out map[string]any
	if err := json.Unmarshal([]byte(resp.Body), &out); err != nil {
		e.t.Fatalf("reply %q: %v", resp.Body, err)
	}
	return out
}

// must calls and fails the test on an error reply.
func (e *env) must(user, conn string, frame any) map[string]any {
	e.t.Helper()
	out := e.call(user, conn, frame)
	if out != nil && out["type"] == "error" {
		e.t.Fatalf("%v: error reply %v", frame, out)
	}
	return out
}

// deliver runs the fan-out for stored messages as the stream would, one record each.
func (e *env) deliver(msgs ...chat.Message) events.DynamoDBEventResponse {
	e.t.Helper()
	ev := fixture[events.DynamoDBEvent](e.t, "stream_insert.json")
	tmpl := ev.Records[0]
	ev.Records = nil
	for i, m := range msgs {
		r := tmpl
		r.Change.SequenceNumber = fmt.Sprintf("%028d", i+1)
		r.Change.Keys = map[string]events.DynamoDBAttributeValue{
			"conversationId": events.NewStringAttribute(m.ConversationID),
			"messageId":      events.NewStringAttribute(m.MessageID),
		}
		r.Change.NewImage = map[string]events.DynamoDBAttributeValue{
			"conversationId": events.NewStringAttribute(m.ConversationID),
			"messageId":      events.NewStringAttribute(m.MessageID),
			"senderId":       events.NewStringAttribute(m.SenderID),
			"body":           events.NewStringAttribute(m.Body),
			"createdAt":      events.NewNumberAttribute(fmt.Sprint(m.CreatedAt)),
			"clientMsgId":    events.NewStringAttribute(m.ClientMsgID),
		}
		if m.Inline {
			r.Change.NewImage["inline"] = events.NewBooleanAttribute(true)
		}
		// A stored item's record carries the item as stored, as the real stream's does
		// (change events and replies have attributes the lines above do not make).
		if img := e.storedImage(m); img != nil {
			r.Change.NewImage = img
		}
		ev.Records = append(ev.Records, r)
	}
	resp, err := e.stream.Handle(e.ctx, ev)
	if err != nil {
		e.t.Fatalf("stream: %v", err)
	}
	return resp
}

// storedImage reads m's item from the Messages table and returns it as a stream image,
// or nil when no such item is stored.
func (e *env) storedImage(m chat.Message) map[string]events.DynamoDBAttributeValue {
	e.t.Helper()
	out, err := db.GetItem(e.ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(tables.Messages),
		Key:            map[string]types.AttributeValue{"conversationId": &types.AttributeValueMemberS{Value: m.ConversationID}, "messageId": &types.AttributeValueMemberS{Value: m.MessageID}},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		e.t.Fatalf("read the item of %s: %v", m.MessageID, err)
	}
	if out.Item == nil {
		return nil
	}
	img := map[string]events.DynamoDBAttributeValue{}
	for k, v := range out.Item {
		img[k] = streamValue(e.t, v)
	}
	return img
}

// streamValue converts an SDK attribute value to the Lambda event's form.
func streamValue(t testing.TB, v types.AttributeValue) events.DynamoDBAttributeValue {
	switch v := v.(type) {
	case *types.AttributeValueMemberS:
		return events.NewStringAttribute(v.Value)
	case *types.AttributeValueMemberN:
		return events.NewNumberAttribute(v.Value)
	case *types.AttributeValueMemberBOOL:
		return events.NewBooleanAttribute(v.Value)
	case *types.AttributeValueMemberSS:
		return events.NewStringSetAttribute(v.Value)
	case *types.AttributeValueMemberNULL:
		return events.NewNullAttribute()
	case *types.AttributeValueMemberL:
		l := make([]events.DynamoDBAttributeValue, len(v.Value))
		for i, x := range v.Value {
			l[i] = streamValue(t, x)
		}
		return events.NewListAttribute(l)
	case *types.AttributeValueMemberM:
		m := map[string]events.DynamoDBAttributeValue{}
		for k, x := range v.Value {
			m[k] = streamValue(t, x)
		}
		return events.NewMapAttribute(m)
	}
	t.Fatalf("no stream form for %T", v)
	return events.DynamoDBAttributeValue{}
}

// send sends body into a conversation and returns the stored message.
func (e *env) send(user, conn, conversationID, body string) chat.Message {
	e.t.Helper()
	ack := e.must(user, conn, map[string]any{"action": "send", "conversationId": conversationID, "clientMsgId": ulid.Make().String(), "body": body})
	m, err := e.store.GetMessage(e.ctx, conversationID, ack["messageId"].(string))
	if err != nil {
		e.t.Fatal(err)
	}
	return m
}

var errThrottled = errors.New("429 LimitExceededException")
