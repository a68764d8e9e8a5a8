package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/coder/websocket"

	"github.com/parleychat/parley/internal/auth"
	"github.com/parleychat/parley/internal/client"
	"github.com/parleychat/parley/internal/dynalite"
	"github.com/parleychat/parley/internal/local"
	"github.com/parleychat/parley/internal/schema"
)

// Timeouts of the suite. They are generous because the machine may be loaded; a healthy
// system answers in milliseconds.
const (
	// startTimeout bounds the start of one system, a first `npm install` included.
	startTimeout = 3 * time.Minute
	// eventTimeout bounds the wait for one expected event or reply.
	eventTimeout = 20 * time.Second
)

// secret is the HS256 secret of every system the suite starts.
var secret = []byte("parley-e2e-secret-0123456789abcdef")

// system is one running `parley local` with the handles the tests need.
type system struct {
	m  *local.Main
	db *dynamodb.Client // the real SDK client, against the local DynamoDB endpoint

	// dropDisconnect holds connection ids whose $disconnect the gateway's invocation
	// loses, as API Gateway may (it does not promise $disconnect). Each value is a chan
	// struct{} closed when that $disconnect arrived and was dropped.
	dropDisconnect sync.Map
}

// startSystem starts parley local with cfg (Addr, JWTSecret, Logger and Wire are set here).
func startSystem(ctx context.Context, cfg local.Config) (*system, error) {
	s := &system{}
	cfg.Addr = "127.0.0.1:0"
	cfg.JWTSecret = secret
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	cfg.Wire = s.wire
	s.m = local.New(cfg)
	if err := s.m.Start(ctx); err != nil {
		_ = s.m.Close()
		return nil, fmt.Errorf("start parley local (it needs Node.js and npm for dynalite): %w", err)
	}
	s.db = dynalite.NewClient(s.m.DynamoDBEndpoint())
	return s, nil
}

// wire builds the real handlers (local.WireApp) and loses the $disconnect invocations of
// the connections listed in dropDisconnect; everything else reaches the handlers as is.
func (s *system) wire(ctx context.Context, wc local.WireConfig) (local.Handlers, error) {
	h, err := local.WireApp(ctx, wc)
	if err != nil {
		return h, err
	}
	route := h.Route
	h.Route = func(ctx context.Context, req events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
		if req.RequestContext.RouteKey == "$disconnect" {
			if v, ok := s.dropDisconnect.LoadAndDelete(req.RequestContext.ConnectionID); ok {
				close(v.(chan struct{}))
				return events.APIGatewayProxyResponse{StatusCode: http.StatusOK}, nil
			}
		}
		return route(ctx, req)
	}
	return h, nil
}

// loseDisconnect makes the $disconnect of connectionID get lost; the returned channel is
// closed when the gateway tried to invoke it.
func (s *system) loseDisconnect(connectionID string) <-chan struct{} {
	ch := make(chan struct{})
	s.dropDisconnect.Store(connectionID, ch)
	return ch
}

// Systems shared by the tests, each started on first use and closed by TestMain.
var (
	sharedMu      sync.Mutex
	sharedSystems = map[string]*sharedSystem{}
)

type sharedSystem struct {
	once sync.Once
	s    *system
	err  error
}

// shared returns the shared system named name, starting it with cfg on first use.
func shared(t *testing.T, name string, cfg func() local.Config) *system {
	t.Helper()
	sharedMu.Lock()
	e, ok := sharedSystems[name]
	if !ok {
		e = &sharedSystem{}
		sharedSystems[name] = e
	}
	sharedMu.Unlock()
	e.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
		defer cancel()
		start := time.Now()
		e.s, e.err = startSystem(ctx, cfg())
		if e.err == nil {
			t.Logf("started shared system %q at %s in %v", name, e.s.m.WebSocketURL(), time.Since(start).Round(time.Millisecond))
		}
	})
	if e.err != nil {
		t.Fatalf("shared system %q: %v", name, e.err)
	}
	return e.s
}

// defaultSystem is parley local with its default configuration.
func defaultSystem(t *testing.T) *system {
	return shared(t, "default", func() local.Config { return local.Config{} })
}

func TestMain(m *testing.M) {
	code := m.Run()
	sharedMu.Lock()
	for name, e := range sharedSystems {
		if e.s == nil {
			continue
		}
		if err := e.s.m.Close(); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: close shared system %q: %v\n", name, err)
			code = 1
		}
	}
	sharedMu.Unlock()
	os.Exit(code)
}

// userSeq makes user ids unique across the tests sharing a system.
var userSeq atomic.Int64

// newUsers returns fresh user ids, one per name: "alice" becomes "alice-17".
func newUsers(names ...string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = n + "-" + strconv.FormatInt(userSeq.Add(1), 10)
	}
	return out
}

// token signs a token for user, valid for an hour.
func token(t testing.TB, user string) string {
	t.Helper()
	tok, err := auth.Sign(secret, user, time.Hour)
	if err != nil {
		t.Fatalf("sign token for %s: %v", user, err)
	}
	return tok
}

// ctxFor returns a context that ends with the test, bounded by d.
func ctxFor(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// dev is one device (connection) of a user, with the events it received but no test has
// claimed yet.
type dev struct {
	*client.Conn
	user string

	mu      sync.Mutex
	pending []client.Event
}

// clientOptions are the options of the suite's connections: no background heartbeat
// (tests send their own frames), room for many events.
func clientOptions() *client.Options {
	return &client.Options{HeartbeatInterval: -1, RequestTimeout: eventTimeout, EventBuffer: 8192}
}

// connect opens a connection of user and closes it when the test ends.
func (s *system) connect(t testing.TB, user string) *dev {
	t.Helper()
	return s.connectWith(t, user, clientOptions())
}

func (s *system) connectWith(t testing.TB, user string, opts *client.Options) *dev {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), eventTimeout)
	defer cancel()
	c, err := client.Dial(ctx, s.m.WebSocketURL(), token(t, user), opts)
	if err != nil {
		t.Fatalf("connect %s: %v", user, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &dev{Conn: c, user: user}
}

// next returns the first event (pending or arriving before ctx ends) that match accepts,
// keeping the others pending.
func (d *dev) next(ctx context.Context, match func(client.Event) bool) (client.Event, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for i, ev := range d.pending {
		if match(ev) {
			d.pending = append(d.pending[:i], d.pending[i+1:]...)
			return ev, nil
		}
	}
	for {
		select {
		case ev, ok := <-d.Events():
			if !ok {
				return client.Event{}, fmt.Errorf("%s's connection ended: %v", d.user, d.Err())
			}
			if match(ev) {
				return ev, nil
			}
			d.pending = append(d.pending, ev)
		case <-ctx.Done():
			return client.Event{}, fmt.Errorf("%s: %w", d.user, ctx.Err())
		}
	}
}

// wait returns the first event that match accepts, failing the test after eventTimeout.
func (d *dev) wait(t testing.TB, what string, match func(client.Event) bool) client.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), eventTimeout)
	defer cancel()
	ev, err := d.next(ctx, match)
	if err != nil {
		t.Fatalf("%s never received %s: %v (pending: %s)", d.user, what, err, d.describePending())
	}
	return ev
}

// barrier makes sure every frame the server wrote to this connection before now has been
// read: it sends a heartbeat, whose reply comes after them on the same connection, then
// collects the events the reader queued before that reply.
func (d *dev) barrier(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), eventTimeout)
	defer cancel()
	if _, err := d.Heartbeat(ctx); err != nil {
		t.Fatalf("%s: heartbeat: %v", d.user, err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for {
		select {
		case ev, ok := <-d.Events():
			if !ok {
				return
			}
			d.pending = append(d.pending, ev)
		default:
			return
		}
	}
}

// expectNone fails the test if an event that match accepts reached this connection before
// the barrier it runs.
func (d *dev) expectNone(t testing.TB, what string, match func(client.Event) bool) {
	t.Helper()
	d.barrier(t)
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, ev := range d.pending {
		if match(ev) {
			t.Fatalf("%s received %s, which it must not: %s", d.user, what, describe(ev))
		}
	}
}

func (d *dev) describePending() string {
	var out []string
	for _, ev := range d.pending {
		out = append(out, describe(ev))
	}
	b, _ := json.Marshal(out)
	return string(b)
}

func describe(ev client.Event) string {
	var v any
	switch ev.Type {
	case client.TypeMessage:
		v = ev.Message
	case client.TypeTyping:
		v = ev.Typing
	case client.TypeReceipt:
		v = ev.Receipt
	case client.TypeConversation:
		v = ev.Conversation
	case client.TypePresence:
		v = ev.Presence
	case client.TypeError:
		v = ev.Err
	}
	b, _ := json.Marshal(v)
	return ev.Type + " " + string(b)
}

// Event matchers.

func messageWith(conversationID, messageID string) func(client.Event) bool {
	return func(ev client.Event) bool {
		return ev.Type == client.TypeMessage && ev.Message.ConversationID == conversationID && ev.Message.MessageID == messageID
	}
}

func typingOf(conversationID, user, state string) func(client.Event) bool {
	return func(ev client.Event) bool {
		return ev.Type == client.TypeTyping && ev.Typing.ConversationID == conversationID && ev.Typing.UserID == user && ev.Typing.State == state
	}
}

func anyTyping(conversationID string) func(client.Event) bool {
	return func(ev client.Event) bool {
		return ev.Type == client.TypeTyping && ev.Typing.ConversationID == conversationID
	}
}

func receiptOf(conversationID, user, status, upTo string) func(client.Event) bool {
	return func(ev client.Event) bool {
		return ev.Type == client.TypeReceipt && ev.Receipt.ConversationID == conversationID && ev.Receipt.UserID == user &&
			ev.Receipt.Status == status && ev.Receipt.UpTo == upTo
	}
}

func anyReceipt(conversationID string) func(client.Event) bool {
	return func(ev client.Event) bool {
		return ev.Type == client.TypeReceipt && ev.Receipt.ConversationID == conversationID
	}
}

func conversationEvent(conversationID string, members int) func(client.Event) bool {
	return func(ev client.Event) bool {
		return ev.Type == client.TypeConversation && ev.Conversation.ConversationID == conversationID && len(ev.Conversation.Members) == members
	}
}

func presenceOf(user string, online bool) func(client.Event) bool {
	return func(ev client.Event) bool {
		if ev.Type != client.TypePresence {
			return false
		}
		for _, p := range ev.Presence {
			if p.UserID == user && p.Online == online {
				return true
			}
		}
		return false
	}
}

func anyPresenceOf(user string) func(client.Event) bool {
	return func(ev client.Event) bool {
		if ev.Type != client.TypePresence {
			return false
		}
		for _, p := range ev.Presence {
			if p.UserID == user {
				return true
			}
		}
		return false
	}
}

// Raw connections speak the wire format directly, for what the Go client does not send.

// rawConn is a WebSocket connection without the protocol client.
type rawConn struct {
	t  testing.TB
	ws *websocket.Conn
}

// dialRaw opens a raw connection of user with the token in the query.
func (s *system) dialRaw(t testing.TB, user string) *rawConn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), eventTimeout)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, s.m.WebSocketURL()+"?token="+token(t, user), nil)
	if err != nil {
		t.Fatalf("dial %s: %v", user, err)
	}
	ws.SetReadLimit(4 << 20)
	t.Cleanup(func() { _ = ws.CloseNow() })
	return &rawConn{t: t, ws: ws}
}

// writeText sends data as one text frame.
func (r *rawConn) writeText(data string) {
	r.t.Helper()
	r.write(websocket.MessageText, []byte(data))
}

func (r *rawConn) write(typ websocket.MessageType, data []byte) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), eventTimeout)
	defer cancel()
	if err := r.ws.Write(ctx, typ, data); err != nil {
		r.t.Fatalf("write frame: %v", err)
	}
}

// send sends v as JSON.
func (r *rawConn) send(v map[string]any) {
	r.t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		r.t.Fatalf("encode %v: %v", v, err)
	}
	r.writeText(string(b))
}

// readUntil reads frames until one that match accepts; the frames before it are dropped.
func (r *rawConn) readUntil(what string, match func(map[string]any) bool) map[string]any {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), eventTimeout)
	defer cancel()
	for {
		typ, b, err := r.ws.Read(ctx)
		if err != nil {
			r.t.Fatalf("waiting for %s: %v", what, err)
		}
		if typ != websocket.MessageText {
			r.t.Fatalf("waiting for %s: server sent a binary frame %q", what, b)
		}
		var f map[string]any
		if err := json.Unmarshal(b, &f); err != nil {
			r.t.Fatalf("waiting for %s: server frame %q is not JSON: %v", what, b, err)
		}
		if match(f) {
			return f
		}
	}
}

// reply reads frames until the one carrying requestID.
func (r *rawConn) reply(requestID string) map[string]any {
	r.t.Helper()
	return r.readUntil("the reply to "+requestID, func(f map[string]any) bool { return f["requestId"] == requestID })
}

// Reading DynamoDB directly, through the real SDK client.

// partition reads every item the Connections table holds for user: connections and the
// presence item.
func (s *system) partition(t testing.TB, user string) []map[string]types.AttributeValue {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), eventTimeout)
	defer cancel()
	out, err := s.db.Query(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String(s.m.Tables()[schema.ConnectionsID]),
		KeyConditionExpression:    aws.String("#pk = :u"),
		ExpressionAttributeNames:  map[string]string{"#pk": schema.AttrPK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":u": &types.AttributeValueMemberS{Value: user}},
		ConsistentRead:            aws.Bool(true),
	})
	if err != nil {
		t.Fatalf("query connections of %s: %v", user, err)
	}
	return out.Items
}

// connectionIDs returns the connection ids stored for user in the Connections table (the
// presence item left out), sorted.
func (s *system) connectionIDs(t testing.TB, user string) []string {
	t.Helper()
	var ids []string
	for _, item := range s.partition(t, user) {
		sk, ok := item[schema.AttrSK].(*types.AttributeValueMemberS)
		if !ok {
			t.Fatalf("connection item of %s without a string %s: %v", user, schema.AttrSK, item)
		}
		if sk.Value != schema.PresenceSK {
			ids = append(ids, sk.Value)
		}
	}
	sort.Strings(ids)
	return ids
}

// partitionSize returns how many items the Connections table holds for user:
// connections and the presence item.
func (s *system) partitionSize(t testing.TB, user string) int {
	t.Helper()
	return len(s.partition(t, user))
}

// eventually polls cond every 50 ms until it holds, failing the test after eventTimeout.
// It is for state that no event announces (an item deleted in DynamoDB).
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(eventTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, eventTimeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// trackingDialer is an HTTP client whose connections the test can drop without a
// WebSocket close frame, the way a phone that loses its network does.
type trackingDialer struct {
	mu    sync.Mutex
	conns []net.Conn
}

func (d *trackingDialer) client() *http.Client {
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			d.mu.Lock()
			d.conns = append(d.conns, c)
			d.mu.Unlock()
			return c, nil
		},
	}}
}

// drop closes every TCP connection the client opened, without a close frame.
func (d *trackingDialer) drop() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	var errs []error
	for _, c := range d.conns {
		errs = append(errs, c.Close())
	}
	return errors.Join(errs...)
}

// splitReplays splits what a sync sent into the messages after the cursors given (the
// caller's delivered cursor per conversation) and the replays of the settling window
// before them (docs/protocol.md, sync), which a client already has and drops by id.
func splitReplays(msgs []client.Message, cursors map[string]string) (fresh, replayed []client.Message) {
	for _, m := range msgs {
		if m.MessageID <= cursors[m.ConversationID] {
			replayed = append(replayed, m)
		} else {
			fresh = append(fresh, m)
		}
	}
	return fresh, replayed
}
