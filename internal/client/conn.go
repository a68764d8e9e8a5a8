package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// Options configures a connection. The zero value (or a nil *Options) is ready to use.
type Options struct {
	// TokenInHeader sends the token as "Authorization: Bearer <token>" instead of the
	// "token" query parameter. Default false (query parameter, as browsers do).
	TokenInHeader bool
	// HTTPClient is used for the handshake. Default http.DefaultClient.
	HTTPClient *http.Client
	// KeepaliveInterval: after this long without a frame sent, the connection sends a
	// one-way keepalive (answered by API Gateway itself, at no function cost), so that API
	// Gateway's 10-minute idle limit does not close it. Default 9 minutes; negative
	// disables it.
	KeepaliveInterval time.Duration
	// HeartbeatInterval, when positive, sends a heartbeat this often and closes the
	// connection when one goes unanswered: a liveness check for tools that want one. Each
	// heartbeat is a function invocation on the server. Default 0: none (presence needs
	// no heartbeat since protocol 1.1; docs/protocol.md).
	HeartbeatInterval time.Duration
	// RequestTimeout bounds a request whose context has no deadline. Default 30 s.
	RequestTimeout time.Duration
	// WriteTimeout bounds the write of one frame. Default 10 s.
	WriteTimeout time.Duration
	// EventBuffer is the capacity of the Events channel. Default 1024.
	EventBuffer int
	// ReadLimit is the largest server frame accepted, in bytes. Default 4 MiB.
	ReadLimit int64
	// Logger receives debug and warning logs. Default slog.Default().
	Logger *slog.Logger
}

func (o *Options) withDefaults() Options {
	var r Options
	if o != nil {
		r = *o
	}
	if r.KeepaliveInterval == 0 {
		r.KeepaliveInterval = DefaultKeepaliveInterval
	}
	if r.RequestTimeout <= 0 {
		r.RequestTimeout = 30 * time.Second
	}
	if r.WriteTimeout <= 0 {
		r.WriteTimeout = 10 * time.Second
	}
	if r.EventBuffer <= 0 {
		r.EventBuffer = 1024
	}
	if r.ReadLimit <= 0 {
		r.ReadLimit = 4 << 20
	}
	if r.Logger == nil {
		r.Logger = slog.Default()
	}
	return r
}

// HandshakeError is a failed WebSocket handshake. StatusCode is the HTTP status the server
// answered with (401 for a missing token, 403 for a bad one), or 0 when there was no answer.
type HandshakeError struct {
	StatusCode int
	Err        error
}

func (e *HandshakeError) Error() string {
	if e.StatusCode != 0 {
		return fmt.Sprintf("parley: handshake: HTTP %d: %v", e.StatusCode, e.Err)
	}
	return fmt.Sprintf("parley: handshake: %v", e.Err)
}

func (e *HandshakeError) Unwrap() error { return e.Err }

// ErrClosed is returned by requests on a connection that has ended; the error Err returns
// wraps it together with the cause.
var ErrClosed = errors.New("parley: connection closed")

// Conn is one open protocol connection. Its methods are safe for concurrent use.
type Conn struct {
	ws     *websocket.Conn
	opts   Options
	log    *slog.Logger
	ctx    context.Context // lives as long as the connection
	cancel context.CancelFunc

	events chan Event
	nextID atomic.Uint64

	mu      sync.Mutex
	pending map[string]chan *frame
	tracker *syncTracker // non-nil while SyncAll collects timeline ids

	lastWrite atomic.Int64 // when the last frame was sent, Unix nanoseconds
	closing   atomic.Bool  // Close was called
	done      chan struct{}
	closeOnce sync.Once
	err       error // why the connection ended; set before done closes
}

// Dial connects to a Parley endpoint (ws:// or wss://) as the user the token names.
// A refused handshake is a *HandshakeError.
func Dial(ctx context.Context, rawURL, token string, opts *Options) (*Conn, error) {
	o := opts.withDefaults()
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("parley: parse url %q: %w", rawURL, err)
	}
	if u.Scheme != "ws" && u.Scheme != "wss" {
		return nil, fmt.Errorf("parley: url %q: scheme must be ws or wss", rawURL)
	}
	if token == "" {
		return nil, errors.New("parley: dial: empty token")
	}
	dopts := &websocket.DialOptions{HTTPClient: o.HTTPClient, HTTPHeader: http.Header{}}
	if o.TokenInHeader {
		dopts.HTTPHeader.Set("Authorization", "Bearer "+token)
	} else {
		q := u.Query()
		q.Set("token", token)
		u.RawQuery = q.Encode()
	}
	ws, resp, err := websocket.Dial(ctx, u.String(), dopts)
	if err != nil {
		he := &HandshakeError{Err: err}
		if resp != nil {
			he.StatusCode = resp.StatusCode
		}
		return nil, he
	}
	ws.SetReadLimit(o.ReadLimit)
	cctx, cancel := context.WithCancel(context.Background())
	c := &Conn{
		ws:      ws,
		opts:    o,
		log:     o.Logger,
		ctx:     cctx,
		cancel:  cancel,
		events:  make(chan Event, o.EventBuffer),
		pending: map[string]chan *frame{},
		done:    make(chan struct{}),
	}
	c.lastWrite.Store(time.Now().UnixNano())
	go c.readLoop()
	if o.HeartbeatInterval > 0 {
		go c.heartbeatLoop(o.HeartbeatInterval)
	}
	if o.KeepaliveInterval > 0 {
		go c.keepaliveLoop(o.KeepaliveInterval)
	}
	return c, nil
}

// DefaultKeepaliveInterval is Options.KeepaliveInterval's default: under API Gateway's
// 10-minute idle limit with a minute to spare.
const DefaultKeepaliveInterval = 9 * time.Minute

// keepaliveLoop sends a keepalive whenever no frame was sent for every.
func (c *Conn) keepaliveLoop(every time.Duration) {
	t := time.NewTimer(every)
	defer t.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
		}
		if idle := time.Since(time.Unix(0, c.lastWrite.Load())); idle < every {
			t.Reset(every - idle)
			continue
		}
		if err := c.write("keepalive", map[string]any{}); err != nil {
			return // the connection has ended (write finished it)
		}
		t.Reset(every)
	}
}

// Events returns the frames the server pushes without a requestId. The channel is closed
// once the connection has ended and every event read before that was delivered.
func (c *Conn) Events() <-chan Event { return c.events }

// Done is closed when the connection has ended, by Close or otherwise.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err returns why the connection ended (wrapping ErrClosed), or nil while it is open.
func (c *Conn) Err() error {
	select {
	case <-c.done:
		return c.err
	default:
		return nil
	}
}

// Close closes the connection with a normal closure and waits until its reader has
// stopped. The connection is gone afterwards whatever happened, so Close reports no error
// for a connection that had already ended.
func (c *Conn) Close() error {
	c.closing.Store(true)
	_ = c.ws.Close(websocket.StatusNormalClosure, "") // fails only if already closed
	c.finish(fmt.Errorf("%w by client", ErrClosed))
	<-c.done
	return nil
}

// finish records why the connection ended and stops the background loops. The reader
// closes done once it has returned.
func (c *Conn) finish(err error) {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.err = err
		c.mu.Unlock()
		c.cancel()
	})
}

func (c *Conn) readLoop() {
	defer func() {
		_ = c.ws.CloseNow()
		close(c.events)
		close(c.done)
	}()
	for {
		typ, data, err := c.ws.Read(c.ctx)
		if err != nil {
			if c.closing.Load() {
				c.finish(fmt.Errorf("%w by client", ErrClosed))
			} else if status := websocket.CloseStatus(err); status != -1 {
				c.finish(fmt.Errorf("%w: server closed with status %d (%v)", ErrClosed, status, err))
			} else {
				c.finish(fmt.Errorf("%w: read: %v", ErrClosed, err))
			}
			return
		}
		received := time.Now()
		if typ != websocket.MessageText {
			c.log.Warn("parley client: ignoring binary frame", "bytes", len(data))
			continue
		}
		f, err := decodeFrame(data)
		if err != nil {
			c.log.Warn("parley client: ignoring bad frame", "err", err)
			continue
		}
		if f.RequestID != "" && c.deliverReply(f) {
			continue
		}
		switch f.Type {
		case TypeMessage, TypeEdited, TypeDeleted, TypeReaction, TypeTyping, TypeReceipt, TypeConversation, TypePresence, TypeError:
		default:
			c.log.Debug("parley client: ignoring unsolicited frame", "type", f.Type, "requestId", f.RequestID)
			continue
		}
		if conv, id, ok := f.timelineItem(); ok {
			c.track(conv, id)
		}
		select {
		case c.events <- f.event(received):
		case <-c.ctx.Done():
			return
		}
	}
}

// deliverReply hands f to the request waiting for its requestId, reporting whether one was.
func (c *Conn) deliverReply(f *frame) bool {
	c.mu.Lock()
	ch, ok := c.pending[f.RequestID]
	delete(c.pending, f.RequestID)
	c.mu.Unlock()
	if ok {
		ch <- f // buffered, never blocks
	}
	return ok
}

// request sends an action with a fresh requestId and waits for the reply with that id.
// A protocol error reply is returned as *Error; any other reply must have type want.
func (c *Conn) request(ctx context.Context, action, want string, fields map[string]any) (*frame, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.opts.RequestTimeout)
		defer cancel()
	}
	id := strconv.FormatUint(c.nextID.Add(1), 10)
	ch := make(chan *frame, 1)
	c.mu.Lock()
	c.pending[id] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
	}()
	fields["requestId"] = id
	if err := c.write(action, fields); err != nil {
		return nil, err
	}
	select {
	case f := <-ch:
		if f.Type == TypeError {
			return nil, f.err()
		}
		if f.Type != want {
			return nil, fmt.Errorf("parley: %s: unexpected reply type %q", action, f.Type)
		}
		return f, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("parley: %s: waiting for reply %s: %w", action, id, ctx.Err())
	case <-c.done:
		return nil, fmt.Errorf("parley: %s: %w", action, c.err)
	}
}

// write sends one client frame. It uses the connection's own context with WriteTimeout,
// because an expired context would close the whole WebSocket.
func (c *Conn) write(action string, fields map[string]any) error {
	fields["action"] = action
	data, err := json.Marshal(fields)
	if err != nil {
		return fmt.Errorf("parley: %s: encode: %w", action, err)
	}
	select {
	case <-c.done:
		return fmt.Errorf("parley: %s: %w", action, c.err)
	default:
	}
	ctx, cancel := context.WithTimeout(c.ctx, c.opts.WriteTimeout)
	defer cancel()
	if err := c.ws.Write(ctx, websocket.MessageText, data); err != nil {
		c.finish(fmt.Errorf("%w: write: %v", ErrClosed, err))
		return fmt.Errorf("parley: %s: write: %w", action, err)
	}
	c.lastWrite.Store(time.Now().UnixNano())
	return nil
}

func (c *Conn) heartbeatLoop(every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
			if _, err := c.Heartbeat(c.ctx); err != nil && ErrorCode(err) == "" {
				select {
				case <-c.ctx.Done():
					return
				default:
				}
				c.log.Warn("parley client: heartbeat failed, closing", "err", err)
				c.finish(fmt.Errorf("%w: heartbeat: %v", ErrClosed, err))
				_ = c.ws.CloseNow()
				return
			}
		}
	}
}
