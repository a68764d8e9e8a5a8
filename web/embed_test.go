package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHandlerServesClient(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(Handler())
	t.Cleanup(srv.Close)

	tests := []struct {
		path        string
		status      int
		contentType string
		contains    string
	}{
		{"/", http.StatusOK, "text/html; charset=utf-8", `<script type="module" src="/js/app.js">`},
		{"/index.html", http.StatusOK, "text/html; charset=utf-8", "<title>Parley</title>"},
		{"/js/app.js", http.StatusOK, "text/javascript; charset=utf-8", `from "./protocol.js"`},
		{"/js/protocol.js", http.StatusOK, "text/javascript; charset=utf-8", "export class ParleyClient"},
		{"/js/store.js", http.StatusOK, "text/javascript; charset=utf-8", "export class ChatStore"},
		{"/js/format.js", http.StatusOK, "text/javascript; charset=utf-8", "export function paintAvatar"},
		{"/js/dom.js", http.StatusOK, "text/javascript; charset=utf-8", "export class NodeCache"},
		{"/js/context.js", http.StatusOK, "text/javascript; charset=utf-8", "export class ChatContext"},
		{"/js/session.js", http.StatusOK, "text/javascript; charset=utf-8", "export function loadSession"},
		{"/js/toast.js", http.StatusOK, "text/javascript; charset=utf-8", "export function toast"},
		{"/js/receipts.js", http.StatusOK, "text/javascript; charset=utf-8", "export class Receipts"},
		{"/js/login.js", http.StatusOK, "text/javascript; charset=utf-8", "export function setupLogin"},
		{"/js/conversation-list.js", http.StatusOK, "text/javascript; charset=utf-8", "export class ConversationList"},
		{"/js/message-pane.js", http.StatusOK, "text/javascript; charset=utf-8", "export class MessagePane"},
		{"/js/composer.js", http.StatusOK, "text/javascript; charset=utf-8", "export class Composer"},
		{"/js/new-conversation.js", http.StatusOK, "text/javascript; charset=utf-8", "export function setupNewConversation"},
		{"/js/group-dialogs.js", http.StatusOK, "text/javascript; charset=utf-8", "export function setupGroupDialogs"},
		{"/css/app.css", http.StatusOK, "text/css; charset=utf-8", ".bubble"},
		{"/favicon.svg", http.StatusOK, "image/svg+xml", "<svg"},
		{"/js/", http.StatusNotFound, "", ""},
		{"/nope.js", http.StatusNotFound, "", ""},
		{"/../embed.go", http.StatusNotFound, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			res, err := http.Get(srv.URL + tt.path)
			if err != nil {
				t.Fatalf("get %s: %v", tt.path, err)
			}
			defer res.Body.Close()
			body, err := io.ReadAll(res.Body)
			if err != nil {
				t.Fatalf("read %s: %v", tt.path, err)
			}
			if res.StatusCode != tt.status {
				t.Fatalf("status = %d, want %d", res.StatusCode, tt.status)
			}
			if tt.status != http.StatusOK {
				return
			}
			if got := res.Header.Get("Content-Type"); got != tt.contentType {
				t.Errorf("Content-Type = %q, want %q", got, tt.contentType)
			}
			if got := res.Header.Get("Cache-Control"); got != "no-cache" {
				t.Errorf("Cache-Control = %q, want no-cache", got)
			}
			if res.Header.Get("ETag") == "" {
				t.Error("no ETag")
			}
			if !strings.Contains(string(body), tt.contains) {
				t.Errorf("body of %s lacks %q", tt.path, tt.contains)
			}
		})
	}
}

func TestHandlerRevalidates(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(Handler())
	t.Cleanup(srv.Close)

	res, err := http.Get(srv.URL + "/js/app.js")
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	res.Body.Close()
	etag := res.Header.Get("ETag")

	req, err := http.NewRequest(http.MethodGet, srv.URL+"/js/app.js", nil)
	if err != nil {
		t.Fatalf("new request: %v", err)
	}
	req.Header.Set("If-None-Match", etag)
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("conditional get: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotModified {
		t.Fatalf("status with If-None-Match = %d, want 304", res.StatusCode)
	}
}

func TestHandlerPageLoadsNothingFromElsewhere(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(Handler())
	t.Cleanup(srv.Close)

	res, err := http.Get(srv.URL + "/")
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	res.Body.Close()
	csp := res.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'self'", "script-src 'self'", "style-src 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("Content-Security-Policy %q lacks %q", csp, want)
		}
	}
}

func TestHandlerRejectsWrites(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(Handler())
	t.Cleanup(srv.Close)

	res, err := http.Post(srv.URL+"/", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatalf("post: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST status = %d, want 405", res.StatusCode)
	}
	if got := res.Header.Get("Allow"); got != "GET, HEAD" {
		t.Errorf("Allow = %q", got)
	}
}
