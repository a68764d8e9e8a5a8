package faults

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// Management wraps the gateway's HTTP handler: posts to /@connections/{id} (the
// Management API's PostToConnection) get post.throttle, post.error and post.timeout.
// Everything else passes through.
func Management(in *Injector, next http.Handler) http.Handler {
	if in == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || !strings.Contains(r.URL.Path, "/@connections/") {
			next.ServeHTTP(w, r)
			return
		}
		switch {
		case in.Hit(PostThrottle):
			awsError(w, http.StatusTooManyRequests, "LimitExceededException", "Too Many Requests")
		case in.Hit(PostError):
			awsError(w, http.StatusInternalServerError, "InternalServerErrorException", "Internal server error")
		default:
			rule, ok := in.hit(PostTimeout, "")
			if !ok {
				next.ServeHTTP(w, r)
				return
			}
			rec := httptest.NewRecorder()
			next.ServeHTTP(rec, r) // delivered...
			t := time.NewTimer(rule.Duration)
			defer t.Stop()
			select { // ...but the answer comes too late, or never
			case <-t.C:
			case <-r.Context().Done():
				return
			}
			awsError(w, http.StatusGatewayTimeout, "", "Endpoint request timed out")
		}
	})
}

// DynamoDB wraps the local DynamoDB endpoint (the JSON protocol: the operation is in the
// X-Amz-Target header): ddb.throttle, ddb.capacity and ddb.error answer before anything
// is done, ddb.ambiguous does the request and then answers 500, ddb.latency delays it.
func DynamoDB(in *Injector, next http.Handler) http.Handler {
	if in == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, op, _ := strings.Cut(r.Header.Get("X-Amz-Target"), ".")
		if rule, ok := in.hit(DDBLatency, op); ok {
			t := time.NewTimer(rule.Duration)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		switch {
		case hitOp(in, DDBThrottle, op):
			ddbError(w, http.StatusBadRequest, "ThrottlingException", "Rate of requests exceeds the allowed throughput.")
		case hitOp(in, DDBCapacity, op):
			ddbError(w, http.StatusBadRequest, "ProvisionedThroughputExceededException",
				"The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API.")
		case hitOp(in, DDBError, op):
			ddbError(w, http.StatusInternalServerError, "InternalServerError", "Internal server error")
		case hitOp(in, DDBAmbiguous, op):
			next.ServeHTTP(httptest.NewRecorder(), r) // carried out, answer lost
			ddbError(w, http.StatusInternalServerError, "InternalServerError", "Internal server error")
		default:
			next.ServeHTTP(w, r)
		}
	})
}

func hitOp(in *Injector, k Kind, op string) bool {
	_, ok := in.hit(k, op)
	return ok
}

// RouteFunc is a WebSocket route function.
type RouteFunc = func(context.Context, events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error)

// Route wraps a route function with fn.crash-before and fn.crash-after. $connect and
// $disconnect are spared: a crashed $connect only refuses a handshake, and API Gateway
// does not retry $disconnect either way.
func Route(in *Injector, next RouteFunc) RouteFunc {
	if in == nil {
		return next
	}
	return func(ctx context.Context, req events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
		if k := req.RequestContext.RouteKey; k == "$connect" || k == "$disconnect" {
			return next(ctx, req)
		}
		if in.Hit(CrashBefore) {
			return events.APIGatewayProxyResponse{}, errors.New("faults: injected crash before the function ran (fn.crash-before)")
		}
		resp, err := next(ctx, req)
		if in.Hit(CrashAfter) {
			return events.APIGatewayProxyResponse{}, errors.New("faults: injected crash after the function ran (fn.crash-after)")
		}
		return resp, err
	}
}

// StreamFunc is a DynamoDB stream function.
type StreamFunc = func(context.Context, events.DynamoDBEvent) (events.DynamoDBEventResponse, error)

// Stream wraps the stream function with fn.fanout-crash and fn.fanout-timeout: the
// function handles a random prefix of the batch (its posts happen), then panics or
// times out, so the mapping retries the whole batch.
func Stream(in *Injector, next StreamFunc) StreamFunc {
	if in == nil {
		return next
	}
	return func(ctx context.Context, ev events.DynamoDBEvent) (events.DynamoDBEventResponse, error) {
		crash := in.Hit(FanoutCrash)
		timeout := !crash && in.Hit(FanoutTimeout)
		if !crash && !timeout {
			return next(ctx, ev)
		}
		if n := rand.IntN(len(ev.Records) + 1); n > 0 {
			_, _ = next(ctx, events.DynamoDBEvent{Records: ev.Records[:n]})
		}
		if crash {
			panic("faults: injected crash of the stream function mid-batch (fn.fanout-crash)")
		}
		return events.DynamoDBEventResponse{}, fmt.Errorf("faults: Task timed out (fn.fanout-timeout)")
	}
}

// Listener wraps the gateway's listener: on a WebSocket connection (one whose first
// request is to path), gw.drop resets the connection as the client sends data, with no
// close frame, as a vanished client or a broken network does.
func Listener(in *Injector, ln net.Listener, path string) net.Listener {
	if in == nil {
		return ln
	}
	return &listener{Listener: ln, in: in, prefix: []byte("GET " + path)}
}

type listener struct {
	net.Listener
	in     *Injector
	prefix []byte
}

func (l *listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &dropConn{Conn: c, l: l}, nil
}

// dropConn is one accepted connection; websocket is set once its first bytes show a
// request to the WebSocket path.
type dropConn struct {
	net.Conn
	l         *listener
	reads     atomic.Int64
	websocket atomic.Bool
}

func (c *dropConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if c.reads.Add(1) == 1 && bytes.HasPrefix(p[:n], c.l.prefix) {
		c.websocket.Store(true)
		return n, err
	}
	if n > 0 && c.websocket.Load() && c.l.in.Hit(Drop) {
		if tc, ok := c.Conn.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // a reset, not a FIN
		}
		_ = c.Conn.Close()
		return 0, fmt.Errorf("faults: connection dropped (gw.drop): %w", net.ErrClosed)
	}
	return n, err
}

func awsError(w http.ResponseWriter, status int, errType, msg string) {
	if errType != "" {
		w.Header().Set("X-Amzn-ErrorType", errType)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, `{"message":%q}`, msg)
}

func ddbError(w http.ResponseWriter, status int, errType, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, `{"__type":"com.amazonaws.dynamodb.v20120810#%s","message":%q}`, errType, msg)
}
