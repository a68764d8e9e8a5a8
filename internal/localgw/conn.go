package localgw

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/coder/websocket"
)

// closeCause is why a connection closed: the status sent to (or received from) the client
// and the disconnectStatusCode/disconnectReason of the $disconnect event.
type closeCause struct {
	code   websocket.StatusCode
	reason string
}

// Server-initiated closes. The codes and reasons are those API Gateway uses.
var (
	closeIdle     = closeCause{websocket.StatusGoingAway, "Going away"}
	closeLifetime = closeCause{websocket.StatusGoingAway, "Going away"}
	closeShutdown = closeCause{websocket.StatusGoingAway, "Going away"}
	closeDeleted  = closeCause{websocket.StatusNormalClosure, "Connection deleted"}
	closeTooBig   = closeCause{websocket.StatusMessageTooBig, "Message too big"}
	closeDropped  = closeCause{websocket.StatusAbnormalClosure, "Connection was closed abnormally"}
)

// conn is one open WebSocket connection.
type conn struct {
	g           *Gateway
	id          string
	ws          *websocket.Conn
	connectedAt time.Time
	sourceIP    string
	userAgent   string
	domainName  string
	authorizer  map[string]any
	log         *slog.Logger

	lastActive atomic.Int64 // Unix nanoseconds of the last client frame

	closeOnce sync.Once
	serverMu  sync.Mutex
	server    *closeCause   // set when the gateway closed the connection
	closed    chan struct{} // closed when the gateway's close handshake has finished
}

// closeBy closes the connection from the server side, once; the read loop then ends and
// runs $disconnect with cause.
func (c *conn) closeBy(cause closeCause) {
	c.closeOnce.Do(func() {
		c.serverMu.Lock()
		c.server = &cause
		c.serverMu.Unlock()
		c.g.unregister(c) // gone for the Management API from now on
		c.closed = make(chan struct{})
		// Close waits for the client's half of the close handshake (up to 5 s).
		go func() {
			defer close(c.closed)
			_ = c.ws.Close(cause.code, cause.reason)
		}()
	})
}

func (c *conn) serverCause() *closeCause {
	c.serverMu.Lock()
	defer c.serverMu.Unlock()
	return c.server
}

// run reads frames until the connection closes, then runs $disconnect.
func (c *conn) run(base context.Context) {
	if !c.g.register(c) {
		c.closeBy(closeShutdown)
	}
	c.log.Debug("localgw: connected", "sourceIp", c.sourceIP)

	stopTimers := make(chan struct{})
	timersDone := make(chan struct{})
	go func() { defer close(timersDone); c.watchLimits(stopTimers) }()

	var (
		inflight sync.WaitGroup
		slots    = make(chan struct{}, c.g.opts.Concurrency)
		prev     = closedChan()
		cause    closeCause
	)
	readCtx, cancelRead := context.WithCancel(base)
	for {
		typ, data, err := c.ws.Read(readCtx)
		if err != nil {
			cause = c.causeOf(err)
			break
		}
		c.lastActive.Store(time.Now().UnixNano())
		slots <- struct{}{}
		done := make(chan struct{})
		inflight.Add(1)
		go func(prev <-chan struct{}) {
			defer inflight.Done()
			defer func() { <-slots }()
			defer close(done)
			reply, replyType := c.handleFrame(base, typ, data)
			<-prev // route responses go out in the order of the frames they answer
			if len(reply) > 0 {
				c.write(base, replyType, reply)
			}
		}(prev)
		prev = done
	}
	cancelRead()
	c.g.unregister(c)
	close(stopTimers)
	<-timersDone
	inflight.Wait()
	c.closeOnce.Do(func() {}) // no server close from now on
	if c.closed != nil {
		<-c.closed
	} else {
		_ = c.ws.CloseNow()
	}
	c.disconnect(base, cause)
}

// causeOf maps the error that ended the read loop to the close's cause.
func (c *conn) causeOf(err error) closeCause {
	if s := c.serverCause(); s != nil {
		return *s
	}
	if errors.Is(err, websocket.ErrMessageTooBig) {
		return closeTooBig
	}
	var ce websocket.CloseError
	if errors.As(err, &ce) {
		return closeCause{code: ce.Code, reason: ce.Reason}
	}
	return closeDropped
}

// watchLimits closes the connection when it has been idle for IdleTimeout or open for
// MaxLifetime, until stop is closed.
func (c *conn) watchLimits(stop <-chan struct{}) {
	lifetime := time.NewTimer(time.Until(c.connectedAt.Add(c.g.opts.MaxLifetime)))
	defer lifetime.Stop()
	idle := time.NewTimer(c.g.opts.IdleTimeout)
	defer idle.Stop()
	for {
		select {
		case <-stop:
			return
		case <-lifetime.C:
			c.log.Info("localgw: closing connection at its maximum lifetime")
			c.closeBy(closeLifetime)
			return
		case <-idle.C:
			left := time.Until(time.Unix(0, c.lastActive.Load()).Add(c.g.opts.IdleTimeout))
			if left <= 0 {
				c.log.Info("localgw: closing idle connection")
				c.closeBy(closeIdle)
				return
			}
			idle.Reset(left)
		}
	}
}

// handleFrame routes one client frame and returns the route response to send, if any.
func (c *conn) handleFrame(ctx context.Context, typ websocket.MessageType, data []byte) ([]byte, websocket.MessageType) {
	now := time.Now()
	route := "$default"
	var ev events.APIGatewayWebsocketProxyRequest
	if typ == websocket.MessageBinary {
		ev.Body = base64.StdEncoding.EncodeToString(data)
		ev.IsBase64Encoded = true
	} else {
		ev.Body = string(data)
		route = c.g.selectRoute(data)
	}
	ev = c.event(ev, route, "MESSAGE", now)
	ev.RequestContext.MessageID = newID()
	resp, err := c.g.invoke(ctx, ev)
	if err != nil {
		c.log.Error("localgw: route failed", "routeKey", route, "err", err)
		// What API Gateway sends when an integration fails.
		b, _ := json.Marshal(map[string]string{
			"message":      "Internal server error",
			"connectionId": c.id,
			"requestId":    ev.RequestContext.RequestID,
		})
		return b, websocket.MessageText
	}
	if resp.Body == "" {
		return nil, websocket.MessageText
	}
	if resp.IsBase64Encoded {
		b, err := base64.StdEncoding.DecodeString(resp.Body)
		if err != nil {
			c.log.Error("localgw: route response is not base64", "routeKey", route, "err", err)
			return nil, websocket.MessageBinary
		}
		return b, websocket.MessageBinary
	}
	return []byte(resp.Body), websocket.MessageText
}

// write sends one frame to the client; it reports whether the frame was sent.
func (c *conn) write(ctx context.Context, typ websocket.MessageType, data []byte) bool {
	wctx, cancel := context.WithTimeout(ctx, c.g.opts.WriteTimeout)
	defer cancel()
	if err := c.ws.Write(wctx, typ, data); err != nil {
		c.log.Debug("localgw: write failed", "err", err)
		return false
	}
	return true
}

// disconnect runs the $disconnect route.
func (c *conn) disconnect(ctx context.Context, cause closeCause) {
	ev := c.event(events.APIGatewayWebsocketProxyRequest{}, "$disconnect", "DISCONNECT", time.Now())
	ev.RequestContext.DisconnectStatusCode = int64(cause.code)
	reason := cause.reason
	ev.RequestContext.DisconnectReason = &reason
	ev.Headers = map[string]string{"Host": c.domainName}
	ev.MultiValueHeaders = map[string][]string{"Host": {c.domainName}}
	resp, err := c.g.invoke(ctx, ev)
	if err != nil {
		c.log.Error("localgw: $disconnect failed", "err", err)
		return
	}
	c.log.Debug("localgw: disconnected", "status", int(cause.code), "reason", cause.reason, "disconnectResponse", resp.StatusCode)
}

// event fills ev's requestContext the way API Gateway does.
func (c *conn) event(ev events.APIGatewayWebsocketProxyRequest, routeKey, eventType string, now time.Time) events.APIGatewayWebsocketProxyRequest {
	id := newID()
	ev.RequestContext = events.APIGatewayWebsocketProxyRequestContext{
		RouteKey:          routeKey,
		EventType:         eventType,
		ExtendedRequestID: id,
		RequestTime:       requestTime(now),
		MessageDirection:  "IN",
		Stage:             c.g.opts.Stage,
		ConnectedAt:       c.connectedAt.UnixMilli(),
		RequestTimeEpoch:  now.UnixMilli(),
		Identity: events.APIGatewayRequestIdentity{
			SourceIP:  c.sourceIP,
			UserAgent: c.userAgent,
		},
		RequestID:    id,
		DomainName:   c.domainName,
		ConnectionID: c.id,
		APIID:        c.g.opts.APIID,
	}
	if c.authorizer != nil {
		auth := make(map[string]any, len(c.authorizer))
		for k, v := range c.authorizer {
			auth[k] = v
		}
		ev.RequestContext.Authorizer = auth
	}
	return ev
}

func closedChan() <-chan struct{} {
	ch := make(chan struct{})
	close(ch)
	return ch
}
