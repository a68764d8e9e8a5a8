package localgw_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/coder/websocket"

	"github.com/parleychat/parley/internal/auth"
	"github.com/parleychat/parley/internal/awslambda"
	"github.com/parleychat/parley/internal/localgw"
	"github.com/parleychat/parley/internal/topology"
)

// fzWait bounds every wait of the fuzz targets for an event or a frame.
const fzWait = 5 * time.Second

// fzServe serves a gateway over httptest for a fuzz target and stops both when it ends.
func fzServe(f *testing.F, opts localgw.Options) *httptest.Server {
	opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	g := localgw.New(opts)
	srv := httptest.NewServer(g)
	f.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := g.Shutdown(ctx); err != nil {
			f.Errorf("shutdown: %v", err)
		}
		srv.Close()
	})
	return srv
}

func fzURL(srv *httptest.Server) string { return "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws" }

// fzNext returns the next event, or fails after fzWait.
func fzNext(t *testing.T, evs <-chan events.APIGatewayWebsocketProxyRequest, what string) events.APIGatewayWebsocketProxyRequest {
	t.Helper()
	select {
	case ev := <-evs:
		return ev
	case <-time.After(fzWait):
		t.Fatalf("no %s event within %v", what, fzWait)
		return events.APIGatewayWebsocketProxyRequest{}
	}
}

// fzMember is one top-level member of a JSON object, in document order.
type fzMember struct {
	key string
	raw json.RawMessage
}

// fzExpectedRoute is the route API Gateway's selection expression $request.body.action
// picks for a frame, worked out on its own: a text frame that is one JSON object whose
// top-level key "action" (spelled exactly; the last one if repeated) holds a string that
// names a route key goes to that route; everything else, binary frames included, to
// $default.
func fzExpectedRoute(frame []byte, binary bool, routes map[string]bool) string {
	trimmed := bytes.TrimLeft(frame, " \t\r\n")
	if binary || !json.Valid(frame) || len(trimmed) == 0 || trimmed[0] != '{' {
		return "$default"
	}
	dec := json.NewDecoder(bytes.NewReader(frame))
	if _, err := dec.Token(); err != nil {
		return "$default"
	}
	var members []fzMember
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return "$default"
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return "$default"
		}
		members = append(members, fzMember{key: tok.(string), raw: raw})
	}
	route := "$default"
	for _, m := range members {
		if m.key != "action" {
			continue
		}
		route = "$default"
		var action string
		if json.Unmarshal(m.raw, &action) == nil && routes[action] {
			route = action
		}
	}
	return route
}

// FuzzGatewayFrame sends arbitrary frames over one real WebSocket connection to a
// gateway served by httptest, routed on Parley's route keys, and checks each against
// docs/protocol.md and API Gateway's behaviour: a text frame goes to the route its
// top-level "action" names (exactly spelled, a string, a route key) and every other frame
// to $default; a binary frame arrives base64-encoded with isBase64Encoded; the body
// arrives byte for byte, invalid UTF-8 included; the route's response comes back as a
// text frame; a frame of at most 32 KiB is routed and a larger one closes the connection
// with 1009 and a $disconnect of status 1009, without reaching any route. pad, when not
// 0, fills the frame with trailing spaces (still the same JSON) to a size around the
// 32 KiB limit: 32704 + pad%128 bytes.
func FuzzGatewayFrame(f *testing.F) {
	routes := map[string]bool{}
	for _, a := range topology.Actions() {
		routes[a] = true
	}
	evs := make(chan events.APIGatewayWebsocketProxyRequest, 16)
	srv := fzServe(f, localgw.Options{
		RouteKeys: topology.Actions(),
		Route: func(_ context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
			evs <- ev
			if ev.RequestContext.EventType != "MESSAGE" {
				return events.APIGatewayProxyResponse{StatusCode: http.StatusOK}, nil
			}
			return events.APIGatewayProxyResponse{StatusCode: http.StatusOK, Body: `{"route":"` + ev.RequestContext.RouteKey + `"}`}, nil
		},
	})

	var (
		c      *websocket.Conn
		connID string
	)
	f.Cleanup(func() { // before the gateway's shutdown, which would wait for a close reply
		if c != nil {
			_ = c.CloseNow()
		}
	})
	// reset drops the connection after a failed execution, so the next starts clean.
	reset := func() {
		if c != nil {
			_ = c.CloseNow()
			c = nil
		}
		for {
			select {
			case <-evs:
			case <-time.After(200 * time.Millisecond):
				return
			}
		}
	}

	f.Add([]byte(`{"action":"send","to":"bob","clientMsgId":"c1","body":"hi"}`), false, uint16(0))
	f.Add([]byte(`{"action":"heartbeat"}`), false, uint16(65)) // 32769 bytes
	f.Fuzz(func(t *testing.T, data []byte, binary bool, pad uint16) {
		defer func() {
			if t.Failed() {
				reset()
			}
		}()
		frame := data
		if pad > 0 {
			if size := localgw.DefaultMaxFrameBytes - 64 + int(pad%128); len(frame) < size {
				frame = append(bytes.Clone(frame), bytes.Repeat([]byte(" "), size-len(frame))...)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), fzWait)
		defer cancel()
		if c == nil {
			var err error
			if c, _, err = websocket.Dial(ctx, fzURL(srv), nil); err != nil {
				t.Fatalf("dial: %v", err)
			}
			c.SetReadLimit(1 << 20)
			ev := fzNext(t, evs, "$connect")
			if ev.RequestContext.RouteKey != "$connect" {
				t.Fatalf("first event %s, want $connect", ev.RequestContext.RouteKey)
			}
			connID = ev.RequestContext.ConnectionID
		}
		typ := websocket.MessageText
		if binary {
			typ = websocket.MessageBinary
		}
		werr := c.Write(ctx, typ, frame)

		if len(frame) > localgw.DefaultMaxFrameBytes {
			// The gateway may close before a large frame is all written; then the write
			// fails and the close frame may be lost, but $disconnect still tells the status.
			if werr == nil {
				_, got, err := c.Read(ctx)
				var ce websocket.CloseError
				if !errors.As(err, &ce) || ce.Code != websocket.StatusMessageTooBig {
					t.Fatalf("frame of %d bytes: read %q, %v; want close 1009", len(frame), got, err)
				}
			}
			ev := fzNext(t, evs, "$disconnect")
			if rc := ev.RequestContext; rc.RouteKey != "$disconnect" || rc.DisconnectStatusCode != int64(websocket.StatusMessageTooBig) || rc.ConnectionID != connID {
				t.Fatalf("frame of %d bytes: event %s (status %d, connection %s), want $disconnect with 1009 of %s",
					len(frame), rc.RouteKey, rc.DisconnectStatusCode, rc.ConnectionID, connID)
			}
			_ = c.CloseNow()
			c = nil
			return
		}
		if werr != nil {
			t.Fatalf("write %d bytes: %v", len(frame), werr)
		}

		ev := fzNext(t, evs, "MESSAGE")
		rc := ev.RequestContext
		want := fzExpectedRoute(frame, binary, routes)
		if rc.EventType != "MESSAGE" || rc.RouteKey != want || rc.ConnectionID != connID {
			t.Fatalf("frame %q (binary %v): event %s on route %s of %s; want MESSAGE on %s of %s", frame, binary, rc.EventType, rc.RouteKey, rc.ConnectionID, want, connID)
		}
		wantBody := string(frame)
		if binary {
			wantBody = base64.StdEncoding.EncodeToString(frame)
		}
		if ev.Body != wantBody || ev.IsBase64Encoded != binary {
			t.Fatalf("frame %q (binary %v): event body %q (base64 %v)", frame, binary, ev.Body, ev.IsBase64Encoded)
		}
		rtyp, reply, err := c.Read(ctx)
		if err != nil || rtyp != websocket.MessageText || string(reply) != `{"route":"`+want+`"}` {
			t.Fatalf("frame %q: route response %v %q, %v; want the text frame the route returned", frame, rtyp, reply, err)
		}
	})
}

// fzSecret signs the tokens of FuzzGatewayHandshake's seed corpus (valid until 2100).
var fzSecret = []byte("parley-fuzz-secret-0123456789abcdef")

// fzValidHeaderValue reports whether net/http's client sends v as a header value (no
// control characters other than tab).
func fzValidHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if b := v[i]; (b < ' ' && b != '\t') || b == 0x7f {
			return false
		}
	}
	return true
}

// FuzzGatewayHandshake opens WebSocket connections to a gateway whose authorizer is the
// local runtime's (awslambda.Authorizer over auth.HS256), with a fuzzed token placed by
// mode%6: 0 the query parameter token; 1 "Authorization: Bearer <token>"; 2
// "authorization: bEaReR   <token>"; 3 "Authorization: Basic <token>" (no bearer token);
// 4 the query token and also a valid bearer token of mallory (the query wins, unless
// empty); 5 an empty query token and the bearer token. It checks docs/protocol.md's
// handshake: the token taken is the query's, else the bearer's; none is HTTP 401
// {"message":"Unauthorized"}; one that auth.HS256 refuses is 403 {"message":"Forbidden"};
// a valid one connects, and $connect carries its user as principalId and userId.
func FuzzGatewayHandshake(f *testing.F) {
	v, err := auth.NewHS256(fzSecret)
	if err != nil {
		f.Fatal(err)
	}
	mallory, err := auth.Sign(fzSecret, "mallory", 24*time.Hour)
	if err != nil {
		f.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	connects := make(chan events.APIGatewayWebsocketProxyRequest, 16)
	srv := fzServe(f, localgw.Options{
		Authorize: awslambda.NewAuthorizer(v, log).Handle,
		Route: func(_ context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
			if ev.RequestContext.EventType == "CONNECT" {
				connects <- ev
			}
			return events.APIGatewayProxyResponse{StatusCode: http.StatusOK}, nil
		},
	})

	f.Add("", uint8(0))
	f.Add("not.a.jwt", uint8(1))
	f.Fuzz(func(t *testing.T, token string, mode uint8) {
		query := url.Values{}
		header := http.Header{}
		want := "" // the token the handshake must be judged by
		switch mode % 6 {
		case 0:
			query.Set("token", token)
			want = token
		case 1:
			header.Set("Authorization", "Bearer "+token)
			want = strings.TrimSpace(token)
		case 2:
			header["authorization"] = []string{"bEaReR   " + token}
			want = strings.TrimSpace(token)
		case 3:
			header.Set("Authorization", "Basic "+token)
		case 4:
			query.Set("token", token)
			header.Set("Authorization", "Bearer "+mallory)
			want = token
			if token == "" {
				want = mallory
			}
		case 5:
			query.Set("token", "")
			header.Set("Authorization", "Bearer "+token)
			want = strings.TrimSpace(token)
		}
		for _, vs := range header {
			if !fzValidHeaderValue(vs[0]) {
				return // net/http refuses to send it
			}
		}
		u := fzURL(srv)
		if len(query) > 0 {
			u += "?" + query.Encode()
		}
		ctx, cancel := context.WithTimeout(context.Background(), fzWait)
		defer cancel()
		c, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPHeader: header})
		if resp == nil {
			t.Fatalf("mode %d, token %q: no HTTP response: %v", mode%6, token, err)
		}

		status, wantMsg, user := http.StatusSwitchingProtocols, "", ""
		if want == "" {
			status, wantMsg = http.StatusUnauthorized, "Unauthorized"
		} else if user, err = v.Verify(ctx, want); err != nil {
			status, wantMsg = http.StatusForbidden, "Forbidden"
		}
		if resp.StatusCode != status {
			t.Fatalf("mode %d, token %q: HTTP %d, want %d", mode%6, token, resp.StatusCode, status)
		}
		if status != http.StatusSwitchingProtocols {
			body, _ := io.ReadAll(resp.Body)
			if wantBody := fmt.Sprintf(`{"message":%q}`, wantMsg); string(body) != wantBody {
				t.Fatalf("mode %d, token %q: HTTP %d body %q, want %s", mode%6, token, resp.StatusCode, body, wantBody)
			}
			return
		}
		defer func() { _ = c.CloseNow() }()
		ev := fzNext(t, connects, "$connect")
		if a, _ := ev.RequestContext.Authorizer.(map[string]any); a["principalId"] != user || a["userId"] != user {
			t.Fatalf("mode %d, token %q: $connect authorizer %v, want principalId and userId %q", mode%6, token, ev.RequestContext.Authorizer, user)
		}
	})
}
