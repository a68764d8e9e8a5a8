package localgw_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/coder/websocket"

	"github.com/parleychat/parley/internal/localgw"
)

// functions is a fake pair of Lambdas: small func fields, and every route event recorded.
type functions struct {
	authorize func(ctx context.Context, req events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error)
	route     func(ctx context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error)

	events chan events.APIGatewayWebsocketProxyRequest
}

func newFunctions() *functions {
	return &functions{events: make(chan events.APIGatewayWebsocketProxyRequest, 1000)}
}

func (f *functions) Authorize(ctx context.Context, req events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
	if f.authorize == nil {
		return allow("alice"), nil
	}
	return f.authorize(ctx, req)
}

func (f *functions) Route(ctx context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	f.events <- ev
	if f.route == nil {
		return events.APIGatewayProxyResponse{StatusCode: 200}, nil
	}
	return f.route(ctx, ev)
}

// expect returns the next recorded event, which must have the given route key.
func (f *functions) expect(t *testing.T, routeKey string) events.APIGatewayWebsocketProxyRequest {
	t.Helper()
	select {
	case ev := <-f.events:
		if got := ev.RequestContext.RouteKey; got != routeKey {
			t.Fatalf("next event is %s (body %q), want %s", got, ev.Body, routeKey)
		}
		return ev
	case <-time.After(5 * time.Second):
		t.Fatalf("no %s event within 5s", routeKey)
		return events.APIGatewayWebsocketProxyRequest{}
	}
}

// expectNone fails when an event arrives within d.
func (f *functions) expectNone(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case ev := <-f.events:
		t.Fatalf("unexpected %s event", ev.RequestContext.RouteKey)
	case <-time.After(d):
	}
}

func allow(user string) events.APIGatewayCustomAuthorizerResponse {
	return events.APIGatewayCustomAuthorizerResponse{
		PrincipalID: user,
		PolicyDocument: events.APIGatewayCustomAuthorizerPolicy{
			Version:   "2012-10-17",
			Statement: []events.IAMPolicyStatement{{Action: []string{"execute-api:Invoke"}, Effect: "Allow", Resource: []string{"*"}}},
		},
		Context: map[string]any{"userId": user},
	}
}

func deny(user string) events.APIGatewayCustomAuthorizerResponse {
	r := allow(user)
	r.PolicyDocument.Statement[0].Effect = "Deny"
	return r
}

// start serves a gateway over httptest; opts' functions are f's.
func start(t *testing.T, f *functions, opts localgw.Options) (*localgw.Gateway, *httptest.Server) {
	t.Helper()
	opts.Authorize = f.Authorize
	opts.Route = f.Route
	g := localgw.New(opts)
	srv := httptest.NewServer(g)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := g.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		srv.Close()
	})
	return g, srv
}

func wsURL(srv *httptest.Server, query string) string {
	return "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws" + query
}

// dial connects and returns the client and the $connect event.
func dial(t *testing.T, f *functions, srv *httptest.Server) (*websocket.Conn, events.APIGatewayWebsocketProxyRequest) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, wsURL(srv, "?token=t"), nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	c.SetReadLimit(1 << 20)
	t.Cleanup(func() { _ = c.CloseNow() })
	return c, f.expect(t, "$connect")
}

func read(t *testing.T, c *websocket.Conn) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, b, err := c.Read(ctx)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return string(b)
}

func write(t *testing.T, c *websocket.Conn, typ websocket.MessageType, s string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := c.Write(ctx, typ, []byte(s)); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// readClose reads until the connection closes and returns its close status and reason.
func readClose(t *testing.T, c *websocket.Conn) (websocket.StatusCode, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for {
		_, _, err := c.Read(ctx)
		if err == nil {
			continue
		}
		var ce websocket.CloseError
		if !errors.As(err, &ce) {
			t.Fatalf("read ended without a close frame: %v", err)
		}
		return ce.Code, ce.Reason
	}
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{15}=$`)

func TestHandshake(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		authorize func(ctx context.Context, req events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error)
		status    int
	}{
		{"missing token", func(context.Context, events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
			return events.APIGatewayCustomAuthorizerResponse{}, localgw.ErrUnauthorized
		}, http.StatusUnauthorized},
		{"deny policy", func(context.Context, events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
			return deny("mallory"), nil
		}, http.StatusForbidden},
		{"empty policy", func(context.Context, events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
			return events.APIGatewayCustomAuthorizerResponse{PrincipalID: "x"}, nil
		}, http.StatusForbidden},
		{"authorizer error", func(context.Context, events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
			return events.APIGatewayCustomAuthorizerResponse{}, errors.New("boom")
		}, http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFunctions()
			f.authorize = tt.authorize
			g, srv := start(t, f, localgw.Options{})
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, resp, err := websocket.Dial(ctx, wsURL(srv, "?token=bad"), nil)
			if err == nil {
				t.Fatal("handshake succeeded, want it refused")
			}
			if resp == nil || resp.StatusCode != tt.status {
				t.Fatalf("handshake response %v, want status %d", resp, tt.status)
			}
			f.expectNone(t, 50*time.Millisecond)
			if ids := g.Connections(); len(ids) != 0 {
				t.Fatalf("connections after a refused handshake: %v", ids)
			}
		})
	}
}

func TestConnectEvents(t *testing.T) {
	t.Parallel()
	f := newFunctions()
	var authReq events.APIGatewayCustomAuthorizerRequestTypeRequest
	f.authorize = func(_ context.Context, req events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
		authReq = req
		return allow("alice"), nil
	}
	_, srv := start(t, f, localgw.Options{Stage: "dev", APIID: "abc123"})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, wsURL(srv, "?token=tok&x=1&x=2"), &websocket.DialOptions{
		HTTPHeader: http.Header{"Authorization": {"Bearer tok"}, "User-Agent": {"test-agent"}},
	})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer c.CloseNow()

	if authReq.Type != "REQUEST" || authReq.QueryStringParameters["token"] != "tok" ||
		authReq.Headers["Authorization"] != "Bearer tok" || authReq.RequestContext.Stage != "dev" ||
		authReq.RequestContext.APIID != "abc123" || authReq.RequestContext.Identity.SourceIP != "127.0.0.1" ||
		!strings.HasSuffix(authReq.MethodArn, ":abc123/dev/$connect") {
		t.Errorf("authorizer request = %+v", authReq)
	}

	ev := f.expect(t, "$connect")
	rc := ev.RequestContext
	if !idPattern.MatchString(rc.ConnectionID) {
		t.Errorf("connectionId %q is not in API Gateway's format", rc.ConnectionID)
	}
	if rc.EventType != "CONNECT" || rc.Stage != "dev" || rc.APIID != "abc123" || rc.MessageDirection != "IN" ||
		rc.DomainName == "" || rc.ConnectedAt == 0 || rc.RequestTimeEpoch == 0 || rc.RequestID == "" ||
		rc.Identity.SourceIP != "127.0.0.1" || rc.Identity.UserAgent != "test-agent" {
		t.Errorf("$connect requestContext = %+v", rc)
	}
	auth, ok := rc.Authorizer.(map[string]any)
	if !ok || auth["principalId"] != "alice" || auth["userId"] != "alice" {
		t.Errorf("$connect authorizer = %#v", rc.Authorizer)
	}
	if ev.QueryStringParameters["token"] != "tok" || len(ev.MultiValueQueryStringParameters["x"]) != 2 ||
		ev.Headers["Authorization"] != "Bearer tok" {
		t.Errorf("$connect headers %v query %v", ev.Headers, ev.MultiValueQueryStringParameters)
	}

	// The authorizer's identity follows the connection into every later event.
	write(t, c, websocket.MessageText, `{"action":"ping"}`)
	msg := f.expect(t, "$default")
	if auth, _ := msg.RequestContext.Authorizer.(map[string]any); auth["principalId"] != "alice" {
		t.Errorf("message authorizer = %#v", msg.RequestContext.Authorizer)
	}
	if msg.RequestContext.ConnectionID != rc.ConnectionID || msg.RequestContext.ConnectedAt != rc.ConnectedAt {
		t.Errorf("message requestContext %+v does not match $connect's", msg.RequestContext)
	}
}

func TestConnectRouteRejects(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		resp   events.APIGatewayProxyResponse
		err    error
		status int
	}{
		{"status 403", events.APIGatewayProxyResponse{StatusCode: 403}, nil, 403},
		{"status 429", events.APIGatewayProxyResponse{StatusCode: 429}, nil, 429},
		{"status 302", events.APIGatewayProxyResponse{StatusCode: 302}, nil, 403},
		{"error", events.APIGatewayProxyResponse{}, errors.New("db down"), 500},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFunctions()
			f.route = func(context.Context, events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
				return tt.resp, tt.err
			}
			_, srv := start(t, f, localgw.Options{})
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, resp, err := websocket.Dial(ctx, wsURL(srv, ""), nil)
			if err == nil || resp == nil || resp.StatusCode != tt.status {
				t.Fatalf("dial: resp %v err %v, want status %d", resp, err, tt.status)
			}
			f.expect(t, "$connect")
			f.expectNone(t, 50*time.Millisecond) // no $disconnect for a refused connection
		})
	}
}

func TestRouting(t *testing.T) {
	t.Parallel()
	f := newFunctions()
	f.route = func(_ context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
		if ev.RequestContext.EventType != "MESSAGE" {
			return events.APIGatewayProxyResponse{StatusCode: 200}, nil
		}
		return events.APIGatewayProxyResponse{StatusCode: 200, Body: ev.RequestContext.RouteKey}, nil
	}
	_, srv := start(t, f, localgw.Options{RouteKeys: []string{"send", "typing"}})
	c, connect := dial(t, f, srv)

	tests := []struct {
		typ   websocket.MessageType
		frame string
		route string
	}{
		{websocket.MessageText, `{"action":"send","body":"hi"}`, "send"},
		{websocket.MessageText, `{"action":"typing"}`, "typing"},
		{websocket.MessageText, `{"action":"nope"}`, "$default"},
		{websocket.MessageText, `{"action":5}`, "$default"},
		{websocket.MessageText, `{"body":"no action"}`, "$default"},
		{websocket.MessageText, `["send"]`, "$default"},
		{websocket.MessageText, `not json`, "$default"},
		{websocket.MessageText, `{"action":"$connect"}`, "$default"},
		{websocket.MessageBinary, `{"action":"send"}`, "$default"},
	}
	for _, tt := range tests {
		write(t, c, tt.typ, tt.frame)
		ev := f.expect(t, tt.route)
		if got := read(t, c); got != tt.route {
			t.Errorf("route response to %q = %q, want %q", tt.frame, got, tt.route)
		}
		rc := ev.RequestContext
		if rc.EventType != "MESSAGE" || rc.MessageDirection != "IN" || rc.ConnectionID != connect.RequestContext.ConnectionID ||
			rc.MessageID == nil || rc.RequestID == "" || rc.ExtendedRequestID == "" || rc.RequestTimeEpoch == 0 ||
			rc.Stage != "local" || rc.APIID != "local" || rc.Identity.SourceIP != "127.0.0.1" {
			t.Errorf("requestContext for %q = %+v", tt.frame, rc)
		}
		wantBody, wantB64 := tt.frame, false
		if tt.typ == websocket.MessageBinary {
			wantBody, wantB64 = base64.StdEncoding.EncodeToString([]byte(tt.frame)), true
		}
		if ev.Body != wantBody || ev.IsBase64Encoded != wantB64 {
			t.Errorf("event body %q (base64 %v), want %q (%v)", ev.Body, ev.IsBase64Encoded, wantBody, wantB64)
		}
	}
}

func TestRouteErrorAndEmptyResponse(t *testing.T) {
	t.Parallel()
	f := newFunctions()
	f.route = func(_ context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
		switch ev.Body {
		case "fail":
			return events.APIGatewayProxyResponse{}, errors.New("boom")
		case "quiet":
			return events.APIGatewayProxyResponse{StatusCode: 200}, nil
		}
		return events.APIGatewayProxyResponse{StatusCode: 200, Body: "echo " + ev.Body}, nil
	}
	_, srv := start(t, f, localgw.Options{})
	c, connect := dial(t, f, srv)
	write(t, c, websocket.MessageText, "fail")
	ev := f.expect(t, "$default")
	var got map[string]string
	if err := json.Unmarshal([]byte(read(t, c)), &got); err != nil {
		t.Fatal(err)
	}
	if got["message"] != "Internal server error" || got["connectionId"] != connect.RequestContext.ConnectionID ||
		got["requestId"] != ev.RequestContext.RequestID {
		t.Errorf("error frame = %v", got)
	}
	write(t, c, websocket.MessageText, "quiet")
	write(t, c, websocket.MessageText, "loud")
	if s := read(t, c); s != "echo loud" {
		t.Errorf("after a response without body got %q, want the next response", s)
	}
}

func TestFrameTooBig(t *testing.T) {
	t.Parallel()
	f := newFunctions()
	_, srv := start(t, f, localgw.Options{})
	c, _ := dial(t, f, srv)

	write(t, c, websocket.MessageText, strings.Repeat("a", 32<<10)) // exactly the limit: fine
	if ev := f.expect(t, "$default"); len(ev.Body) != 32<<10 {
		t.Fatalf("body of %d bytes", len(ev.Body))
	}
	write(t, c, websocket.MessageText, strings.Repeat("a", 32<<10+1))
	if code, _ := readClose(t, c); code != websocket.StatusMessageTooBig {
		t.Fatalf("client saw close status %d, want 1009", code)
	}
	ev := f.expect(t, "$disconnect")
	if ev.RequestContext.DisconnectStatusCode != 1009 || ev.RequestContext.EventType != "DISCONNECT" {
		t.Errorf("$disconnect requestContext = %+v", ev.RequestContext)
	}
}

func TestIdleTimeout(t *testing.T) {
	t.Parallel()
	f := newFunctions()
	const idle = 300 * time.Millisecond
	_, srv := start(t, f, localgw.Options{IdleTimeout: idle})
	c, _ := dial(t, f, srv)

	// Frames reset the idle timer: keep sending for three idle periods.
	opened := time.Now()
	var lastFrame time.Time
	for time.Since(opened) < 3*idle {
		lastFrame = time.Now() // the idle timer restarts when the server reads this frame, not before
		write(t, c, websocket.MessageText, `{"action":"heartbeat"}`)
		f.expect(t, "$default")
		time.Sleep(idle / 6)
	}
	code, reason := readClose(t, c)
	if code != websocket.StatusGoingAway || reason != "Going away" {
		t.Fatalf("close %d %q, want 1001 Going away", code, reason)
	}
	if waited := time.Since(lastFrame); waited < idle {
		t.Errorf("closed %v after the last frame was sent, want at least the idle timeout %v", waited, idle)
	}
	ev := f.expect(t, "$disconnect")
	if ev.RequestContext.DisconnectStatusCode != 1001 || ev.RequestContext.DisconnectReason == nil ||
		*ev.RequestContext.DisconnectReason != "Going away" {
		t.Errorf("$disconnect requestContext = %+v", ev.RequestContext)
	}
}

func TestMaxLifetime(t *testing.T) {
	t.Parallel()
	f := newFunctions()
	const lifetime = 400 * time.Millisecond
	_, srv := start(t, f, localgw.Options{MaxLifetime: lifetime})
	opened := time.Now() // before the dial: the lifetime starts when the server accepts
	c, _ := dial(t, f, srv)
	// An active connection is closed all the same.
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			err := c.Write(ctx, websocket.MessageText, []byte("x"))
			cancel()
			if err != nil {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	code, _ := readClose(t, c)
	if code != websocket.StatusGoingAway {
		t.Fatalf("close %d, want 1001", code)
	}
	if open := time.Since(opened); open < lifetime {
		t.Errorf("closed after %v, want at least the lifetime %v", open, lifetime)
	}
	<-done
	for {
		ev := <-f.events
		if ev.RequestContext.RouteKey == "$disconnect" {
			if ev.RequestContext.DisconnectStatusCode != 1001 {
				t.Errorf("$disconnect status %d", ev.RequestContext.DisconnectStatusCode)
			}
			break
		}
	}
}

func TestClientCloses(t *testing.T) {
	t.Parallel()
	f := newFunctions()
	_, srv := start(t, f, localgw.Options{})

	c, _ := dial(t, f, srv)
	if err := c.Close(websocket.StatusNormalClosure, "bye"); err != nil {
		t.Fatalf("close: %v", err)
	}
	ev := f.expect(t, "$disconnect")
	if ev.RequestContext.DisconnectStatusCode != 1000 || *ev.RequestContext.DisconnectReason != "bye" {
		t.Errorf("client close: $disconnect %+v", ev.RequestContext)
	}

	c2, _ := dial(t, f, srv)
	_ = c2.CloseNow() // a dropped network connection: no close frame
	ev = f.expect(t, "$disconnect")
	if ev.RequestContext.DisconnectStatusCode != 1006 {
		t.Errorf("dropped connection: $disconnect status %d, want 1006", ev.RequestContext.DisconnectStatusCode)
	}
}

func TestShutdown(t *testing.T) {
	t.Parallel()
	f := newFunctions()
	g := localgw.New(localgw.Options{Authorize: f.Authorize, Route: f.Route})
	srv := httptest.NewServer(g)
	defer srv.Close()
	c1, _ := dial(t, f, srv)
	c2, _ := dial(t, f, srv)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- g.Shutdown(ctx) }()
	for _, c := range []*websocket.Conn{c1, c2} {
		if code, _ := readClose(t, c); code != websocket.StatusGoingAway {
			t.Errorf("close status %d, want 1001", code)
		}
	}
	if err := <-errc; err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	// Shutdown returns only after every $disconnect ran.
	if n := len(f.events); n != 2 {
		t.Fatalf("%d events after shutdown, want 2 $disconnect", n)
	}
	f.expect(t, "$disconnect")
	f.expect(t, "$disconnect")

	_, resp, err := websocket.Dial(ctx, wsURL(srv, ""), nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("dial after shutdown: resp %v err %v, want 503", resp, err)
	}
}

func TestConcurrentInvocationsKeepResponseOrder(t *testing.T) {
	t.Parallel()
	f := newFunctions()
	release := make(chan struct{})
	fastRan := make(chan struct{})
	f.route = func(_ context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
		switch ev.Body {
		case "slow":
			<-release
		case "fast":
			close(fastRan)
		}
		return events.APIGatewayProxyResponse{StatusCode: 200, Body: ev.Body}, nil
	}
	_, srv := start(t, f, localgw.Options{Concurrency: 2})
	c, _ := dial(t, f, srv)
	write(t, c, websocket.MessageText, "slow")
	write(t, c, websocket.MessageText, "fast")
	select {
	case <-fastRan: // the second frame's invocation ran while the first one was blocked
	case <-time.After(5 * time.Second):
		t.Fatal("second invocation did not run while the first was in flight")
	}
	close(release)
	if a, b := read(t, c), read(t, c); a != "slow" || b != "fast" {
		t.Fatalf("responses %q, %q; want them in frame order", a, b)
	}
}

func TestManyConnections(t *testing.T) {
	t.Parallel()
	f := newFunctions()
	f.route = func(_ context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
		return events.APIGatewayProxyResponse{StatusCode: 200, Body: ev.RequestContext.ConnectionID + " " + ev.Body}, nil
	}
	g, srv := start(t, f, localgw.Options{})
	const n, frames = 20, 20
	ids := make(chan string, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, _, err := websocket.Dial(ctx, wsURL(srv, ""), nil)
			if err != nil {
				errs <- err
				return
			}
			defer c.CloseNow()
			var id string
			for j := 0; j < frames; j++ {
				if err := c.Write(ctx, websocket.MessageText, []byte(fmt.Sprint(j))); err != nil {
					errs <- err
					return
				}
			}
			for j := 0; j < frames; j++ {
				_, b, err := c.Read(ctx)
				if err != nil {
					errs <- err
					return
				}
				cid, seq, _ := strings.Cut(string(b), " ")
				if seq != fmt.Sprint(j) {
					errs <- fmt.Errorf("response %d is %q", j, b)
					return
				}
				if id != "" && cid != id {
					errs <- fmt.Errorf("connection id changed from %s to %s", id, cid)
					return
				}
				id = cid
			}
			ids <- id
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	close(ids)
	seen := map[string]bool{}
	for id := range ids {
		if seen[id] || !idPattern.MatchString(id) {
			t.Errorf("connection id %q duplicated or malformed", id)
		}
		seen[id] = true
	}
	if len(seen) != n {
		t.Errorf("%d distinct connections, want %d", len(seen), n)
	}
	_ = g
}
