package local_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/parleychat/parley/internal/local"
	"github.com/parleychat/parley/internal/local/localtest"
)

// TestLocalDoors checks the local runtime's own doors on a running system: the token
// endpoint, the Management API and the WebSocket answer only under the server's own names
// (a DNS-rebinding page's "Host: evil.example:PORT" gets 421), and browsers may open a
// WebSocket only from the web client's origin or an allowed one.
func TestLocalDoors(t *testing.T) {
	t.Parallel()
	secret := []byte("doors-test-secret-doors-test-secret")
	m := localtest.Start(t, local.Config{JWTSecret: secret, AllowedOrigins: []string{"http://localhost:3000"}})
	_, port, _ := net.SplitHostPort(m.Addr())
	base := "http://" + m.Addr()
	rebinding := "evil.example:" + port

	// get sends method path under the given Host and returns the status, the headers and
	// the decoded JSON body.
	get := func(t *testing.T, method, path, host string) (int, http.Header, map[string]string) {
		t.Helper()
		req, err := http.NewRequest(method, base+path, strings.NewReader("forged"))
		if err != nil {
			t.Fatal(err)
		}
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s (Host %s): %v", method, path, host, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var body map[string]string
		_ = json.Unmarshal(b, &body)
		return resp.StatusCode, resp.Header, body
	}

	t.Run("token", func(t *testing.T) {
		t.Parallel()
		tests := []struct {
			host string
			want int
		}{
			{m.Addr(), http.StatusOK}, // 127.0.0.1:PORT
			{"localhost:" + port, http.StatusOK},
			{"[::1]:" + port, http.StatusOK},
			{rebinding, http.StatusMisdirectedRequest},
			{"localhost.evil.example:" + port, http.StatusMisdirectedRequest},
			{"127.0.0.1.nip.io:" + port, http.StatusMisdirectedRequest},
			{"localhost:1", http.StatusMisdirectedRequest},
		}
		for _, tt := range tests {
			t.Run(tt.host, func(t *testing.T) {
				t.Parallel()
				status, h, body := get(t, "GET", "/local/token?user=alice", tt.host)
				if status != tt.want {
					t.Fatalf("token with Host %s = %d %v, want %d", tt.host, status, body, tt.want)
				}
				if tt.want == http.StatusOK {
					if body["token"] == "" || body["user"] != "alice" || h.Get("Cache-Control") != "no-store" {
						t.Fatalf("token with Host %s = %v (Cache-Control %q)", tt.host, body, h.Get("Cache-Control"))
					}
					return
				}
				if body["token"] != "" || !strings.Contains(body["message"], "DNS rebinding") || h.Get("Content-Type") != "application/json" {
					t.Fatalf("refused token request answered %v (%s), want a JSON message that says why", body, h.Get("Content-Type"))
				}
			})
		}
	})

	t.Run("management API", func(t *testing.T) {
		t.Parallel()
		for _, method := range []string{"POST", "DELETE", "GET"} {
			for _, path := range []string{"/@connections/AAAAAAAAAAAAAAA=", "/local/@connections/AAAAAAAAAAAAAAA="} {
				if status, _, body := get(t, method, path, rebinding); status != http.StatusMisdirectedRequest {
					t.Errorf("%s %s with Host %s = %d %v, want 421", method, path, rebinding, status, body)
				}
				// Under the server's own name the same request reaches the Management API,
				// which has no such connection.
				if status, _, body := get(t, method, path, "localhost:"+port); status != http.StatusGone {
					t.Errorf("%s %s with Host localhost = %d %v, want 410", method, path, status, body)
				}
			}
		}
	})

	t.Run("web client and WebSocket under a foreign name", func(t *testing.T) {
		t.Parallel()
		if status, _, _ := get(t, "GET", "/", rebinding); status != http.StatusMisdirectedRequest {
			t.Errorf("GET / with Host %s = %d, want 421", rebinding, status)
		}
		if status, _, _ := get(t, "GET", "/ws", rebinding); status != http.StatusMisdirectedRequest {
			t.Errorf("GET /ws with Host %s = %d, want 421", rebinding, status)
		}
	})

	t.Run("origin", func(t *testing.T) {
		t.Parallel()
		_, _, body := get(t, "GET", "/local/token?user=bob", m.Addr())
		wsURL := m.WebSocketURL() + "?token=" + url.QueryEscape(body["token"])
		tests := []struct {
			name, origin string
			want         int // 0: the handshake succeeds
		}{
			{"none (not a browser)", "", 0},
			{"the web client's (the browser test's)", "http://" + m.Addr(), 0},
			{"the web client's under localhost", "http://localhost:" + port, 0},
			{"an allowed one", "http://localhost:3000", 0},
			{"a rebinding page's", "http://" + rebinding, http.StatusForbidden},
			{"another site's", "https://evil.example", http.StatusForbidden},
			{"another port's", "http://127.0.0.1:1", http.StatusForbidden},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				var opts websocket.DialOptions
				if tt.origin != "" {
					opts.HTTPHeader = http.Header{"Origin": {tt.origin}}
				}
				c, resp, err := websocket.Dial(ctx, wsURL, &opts)
				if tt.want == 0 {
					if err != nil {
						t.Fatalf("dial with Origin %q: %v, want it accepted", tt.origin, err)
					}
					_ = c.Close(websocket.StatusNormalClosure, "")
					return
				}
				if err == nil {
					_ = c.CloseNow()
					t.Fatalf("dial with Origin %q succeeded, want %d", tt.origin, tt.want)
				}
				if resp == nil || resp.StatusCode != tt.want {
					t.Fatalf("dial with Origin %q: %v %v, want status %d", tt.origin, resp, err, tt.want)
				}
			})
		}
	})
}
