package localgw_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/coder/websocket"

	"github.com/parleychat/parley/internal/localgw"
)

// startAt serves a gateway over httptest on 127.0.0.1 whose options may name the server's
// own address: opts(addr) builds them once the port is known. It returns the address.
func startAt(t *testing.T, f *functions, opts func(addr string) localgw.Options) (*localgw.Gateway, *httptest.Server, string) {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	addr := srv.Listener.Addr().String()
	o := opts(addr)
	o.Logger = quiet
	o.Authorize = f.Authorize
	o.Route = f.Route
	g := localgw.New(o)
	srv.Config.Handler = g
	srv.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := g.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
		srv.Close()
	})
	return g, srv, addr
}

// quiet discards the refusals' warnings.
var quiet = slog.New(slog.DiscardHandler)

// loopbackHosts is what the local runtime allows by default on addr's port.
func loopbackHosts(addr string) []string {
	_, port, _ := net.SplitHostPort(addr)
	return []string{addr, "localhost:" + port, "[::1]:" + port}
}

// do sends method path to srv with the given Host header and returns the status and the
// JSON "message" of the response.
func do(t *testing.T, srv *httptest.Server, method, path, host, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s (Host %s): %v", method, path, host, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var msg struct{ Message string }
	_ = json.Unmarshal(b, &msg)
	return resp.StatusCode, msg.Message
}

func TestHostCheck(t *testing.T) {
	t.Parallel()
	f := newFunctions()
	_, srv, addr := startAt(t, f, func(addr string) localgw.Options {
		return localgw.Options{AllowedHosts: loopbackHosts(addr), Fallback: httptestHandler("web")}
	})
	_, port, _ := net.SplitHostPort(addr)
	tests := []struct {
		name, method, path, host string
		want                     int
	}{
		{"listen address", "GET", "/index.html", addr, http.StatusOK},
		{"localhost", "GET", "/index.html", "localhost:" + port, http.StatusOK},
		{"localhost in capitals", "GET", "/index.html", "LocalHost:" + port, http.StatusOK},
		{"IPv6 loopback", "GET", "/index.html", "[::1]:" + port, http.StatusOK},
		{"plain WebSocket GET", "GET", "/ws", addr, http.StatusUpgradeRequired},
		{"unknown connection", "GET", "/@connections/AAAAAAAAAAAAAAA=", addr, http.StatusGone},
		{"rebinding name", "GET", "/index.html", "evil.example:" + port, http.StatusMisdirectedRequest},
		{"rebinding name on WebSocket", "GET", "/ws", "evil.example:" + port, http.StatusMisdirectedRequest},
		{"rebinding name on Management API", "GET", "/@connections/AAAAAAAAAAAAAAA=", "evil.example:" + port, http.StatusMisdirectedRequest},
		{"rebinding name under the stage", "POST", "/local/@connections/AAAAAAAAAAAAAAA=", "evil.example:" + port, http.StatusMisdirectedRequest},
		{"other port", "GET", "/index.html", "127.0.0.1:1", http.StatusMisdirectedRequest},
		{"no port (80)", "GET", "/index.html", "localhost", http.StatusMisdirectedRequest},
		{"localhost subdomain", "GET", "/index.html", "a.localhost:" + port, http.StatusMisdirectedRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			status, msg := do(t, srv, tt.method, tt.path, tt.host, "")
			if status != tt.want {
				t.Fatalf("%s %s with Host %s = %d %q, want %d", tt.method, tt.path, tt.host, status, msg, tt.want)
			}
			if status == http.StatusMisdirectedRequest && (!strings.Contains(msg, tt.host) || !strings.Contains(msg, "DNS rebinding")) {
				t.Errorf("421 message %q does not say which Host and why", msg)
			}
		})
	}
}

// TestHostCheckManagementAPI: a post or delete under a foreign Host does nothing to the
// connection.
func TestHostCheckManagementAPI(t *testing.T) {
	t.Parallel()
	f := newFunctions()
	_, srv, addr := startAt(t, f, func(addr string) localgw.Options {
		return localgw.Options{AllowedHosts: loopbackHosts(addr)}
	})
	_, port, _ := net.SplitHostPort(addr)
	c, connect := dial(t, f, srv)
	id := connect.RequestContext.ConnectionID
	awaitRegistered(t, f, c)

	for _, tt := range []struct{ method, path string }{
		{"POST", "/@connections/" + id},
		{"POST", "/local/@connections/" + id},
		{"DELETE", "/@connections/" + id},
		{"DELETE", "/local/@connections/" + id},
	} {
		if status, msg := do(t, srv, tt.method, tt.path, "evil.example:"+port, "forged"); status != http.StatusMisdirectedRequest {
			t.Errorf("%s %s with a rebinding Host = %d %q, want 421", tt.method, tt.path, status, msg)
		}
	}
	// The connection is open and got none of the forged posts: the next frame is this one.
	if status, msg := do(t, srv, "POST", "/@connections/"+id, "localhost:"+port, "genuine"); status != http.StatusOK {
		t.Fatalf("POST with Host localhost = %d %q, want 200", status, msg)
	}
	if got := read(t, c); got != "genuine" {
		t.Fatalf("client read %q, want the genuine post only", got)
	}
}

func TestOriginCheck(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		allowed []string // nil: no check
		origin  string   // "": no Origin header
		want    int      // 0: the handshake succeeds
	}{
		{"no Origin (not a browser)", []string{"http://localhost:3000"}, "", 0},
		{"allowed", []string{"http://localhost:3000"}, "http://localhost:3000", 0},
		{"allowed, other case", []string{"http://localhost:3000"}, "http://LOCALHOST:3000", 0},
		{"default port spelled out", []string{"http://example.test"}, "http://example.test:80", 0},
		{"any origin", []string{localgw.AnyOrigin}, "https://evil.example", 0},
		{"no check", nil, "https://evil.example", 0},
		{"other host", []string{"http://localhost:3000"}, "http://evil.example:3000", http.StatusForbidden},
		{"other port", []string{"http://localhost:3000"}, "http://localhost:3001", http.StatusForbidden},
		{"other scheme", []string{"http://localhost:3000"}, "https://localhost:3000", http.StatusForbidden},
		{"opaque origin", []string{"http://localhost:3000"}, "null", http.StatusForbidden},
		{"empty list", []string{}, "http://localhost:3000", http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFunctions()
			var authorized atomic.Int32
			f.authorize = func(context.Context, events.APIGatewayCustomAuthorizerRequestTypeRequest) (events.APIGatewayCustomAuthorizerResponse, error) {
				authorized.Add(1)
				return allow("alice"), nil
			}
			g, srv := start(t, f, localgw.Options{AllowedOrigins: tt.allowed, Logger: quiet})
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			var opts websocket.DialOptions
			if tt.origin != "" {
				opts.HTTPHeader = http.Header{"Origin": {tt.origin}}
			}
			c, resp, err := websocket.Dial(ctx, wsURL(srv, "?token=t"), &opts)
			if tt.want == 0 {
				if err != nil {
					t.Fatalf("dial with Origin %q: %v, want it accepted", tt.origin, err)
				}
				_ = c.CloseNow()
				f.expect(t, "$connect")
				return
			}
			if err == nil {
				_ = c.CloseNow()
				t.Fatalf("dial with Origin %q succeeded, want %d", tt.origin, tt.want)
			}
			if resp == nil || resp.StatusCode != tt.want {
				t.Fatalf("dial with Origin %q: response %v, want status %d", tt.origin, resp, tt.want)
			}
			// Refused before the upgrade, the authorizer and $connect: nothing ran.
			if n := authorized.Load(); n != 0 || len(f.events) != 0 || len(g.Connections()) != 0 {
				t.Fatalf("after a refused Origin: %d authorizer calls, %d events, connections %v", n, len(f.events), g.Connections())
			}
		})
	}
}

func TestOriginRefusalSaysWhy(t *testing.T) {
	t.Parallel()
	f := newFunctions()
	_, srv := start(t, f, localgw.Options{AllowedOrigins: []string{"http://localhost:3000"}, Logger: quiet})
	req, err := http.NewRequest("GET", srv.URL+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = http.Header{"Connection": {"Upgrade"}, "Upgrade": {"websocket"}, "Sec-Websocket-Version": {"13"},
		"Sec-Websocket-Key": {"dGhlIHNhbXBsZSBub25jZQ=="}, "Origin": {"http://evil.example"}}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct{ Message string }
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusForbidden ||
		resp.Header.Get("Content-Type") != "application/json" ||
		!strings.Contains(body.Message, `"http://evil.example"`) || !strings.Contains(body.Message, "http://localhost:3000") {
		t.Fatalf("refused handshake = %d %s %q (%v), want 403 with a JSON message naming the Origin and the allowed ones",
			resp.StatusCode, resp.Header.Get("Content-Type"), body.Message, err)
	}
}

// TestCanonical: Host headers and origins compare case-insensitively, with the default port
// spelled out; malformed ones are errors (want "").
func TestCanonical(t *testing.T) {
	t.Parallel()
	tests := []struct {
		fn       func(string) (string, error)
		in, want string
	}{
		{localgw.CanonicalHost, "LocalHost:8080", "localhost:8080"},
		{localgw.CanonicalHost, "localhost", "localhost:80"},
		{localgw.CanonicalHost, "[::1]:8080", "[::1]:8080"},
		{localgw.CanonicalHost, "[::1]", "[::1]:80"},
		{localgw.CanonicalHost, "::1", "[::1]:80"},
		{localgw.CanonicalHost, "127.0.0.1:8080", "127.0.0.1:8080"},
		{localgw.CanonicalHost, "", ""},
		{localgw.CanonicalHost, ":8080", ""},
		{localgw.CanonicalHost, "localhost:0", ""},
		{localgw.CanonicalHost, "localhost:http", ""},
		{localgw.CanonicalHost, "localhost:70000", ""},
		{localgw.CanonicalHost, "user@localhost:8080", ""},
		{localgw.CanonicalOrigin, "http://LocalHost:8080", "http://localhost:8080"},
		{localgw.CanonicalOrigin, "HTTP://localhost", "http://localhost:80"},
		{localgw.CanonicalOrigin, "https://example.test", "https://example.test:443"},
		{localgw.CanonicalOrigin, "https://example.test/", "https://example.test:443"},
		{localgw.CanonicalOrigin, "http://[::1]:8080", "http://[::1]:8080"},
		{localgw.CanonicalOrigin, "chrome-extension://abcdef", "chrome-extension://abcdef"},
		{localgw.CanonicalOrigin, "null", "null"},
		{localgw.CanonicalOrigin, "localhost:8080", ""},
		{localgw.CanonicalOrigin, "example.test", ""},
		{localgw.CanonicalOrigin, "http://", ""},
		{localgw.CanonicalOrigin, "http://example.test/path", ""},
		{localgw.CanonicalOrigin, "http://example.test?q", ""},
		{localgw.CanonicalOrigin, "http://user@example.test", ""},
		{localgw.CanonicalOrigin, "http://example.test:99999", ""},
		{localgw.CanonicalOrigin, "*", ""},
	}
	for _, tt := range tests {
		got, err := tt.fn(tt.in)
		if got != tt.want || (err != nil) != (tt.want == "") {
			t.Errorf("canonical form of %q = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestNewPanicsOnMalformedEntries(t *testing.T) {
	t.Parallel()
	f := newFunctions()
	for _, opts := range []localgw.Options{
		{Route: f.Route, AllowedHosts: []string{"localhost:port"}},
		{Route: f.Route, AllowedOrigins: []string{"localhost:3000"}},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("New(%+v) did not panic", opts)
				}
			}()
			localgw.New(opts)
		}()
	}
}
