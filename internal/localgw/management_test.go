package localgw_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi/types"
	"github.com/coder/websocket"

	"github.com/parleychat/parley/internal/localgw"
)

// managementClient is the real SDK client, pointed at the gateway the way the handlers'
// configuration points it (endpoint overridden, any static credentials).
func managementClient(endpoint string) *apigatewaymanagementapi.Client {
	return apigatewaymanagementapi.New(apigatewaymanagementapi.Options{
		BaseEndpoint: aws.String(endpoint),
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("local", "local", ""),
	})
}

// awaitRegistered returns once the gateway has routed a frame of c's, so the Management API
// knows c: the dial returns on the 101 response, a moment before the gateway registers the
// connection (until then a post gets 410, as on API Gateway before $connect returned).
func awaitRegistered(t *testing.T, f *functions, c *websocket.Conn) {
	t.Helper()
	write(t, c, websocket.MessageText, `{"action":"registered"}`)
	f.expect(t, "$default")
}

func TestManagementAPI(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, suffix string }{{"no stage", ""}, {"stage prefix", "/local"}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFunctions()
			g, srv := start(t, f, localgw.Options{})
			api := managementClient(srv.URL + tc.suffix)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()

			c, connect := dial(t, f, srv)
			id := connect.RequestContext.ConnectionID
			awaitRegistered(t, f, c)

			// POST: one text frame to the connection.
			if _, err := api.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{
				ConnectionId: aws.String(id), Data: []byte(`{"type":"message"}`),
			}); err != nil {
				t.Fatalf("PostToConnection: %v", err)
			}
			typ, b, err := c.Read(ctx)
			if err != nil || typ != websocket.MessageText || string(b) != `{"type":"message"}` {
				t.Fatalf("client read %v %q %v", typ, b, err)
			}

			// A frame up to 128 KiB is delivered; one byte more is refused.
			big := strings.Repeat("x", 128<<10)
			if _, err := api.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{
				ConnectionId: aws.String(id), Data: []byte(big),
			}); err != nil {
				t.Fatalf("PostToConnection 128 KiB: %v", err)
			}
			if _, b, err := c.Read(ctx); err != nil || len(b) != len(big) {
				t.Fatalf("client read %d bytes, %v", len(b), err)
			}
			_, err = api.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{
				ConnectionId: aws.String(id), Data: []byte(big + "x"),
			})
			var tooLarge *types.PayloadTooLargeException
			if !errors.As(err, &tooLarge) {
				t.Fatalf("PostToConnection over 128 KiB: %v, want PayloadTooLargeException", err)
			}

			// GET describes the connection.
			before := time.Now().Add(-time.Minute)
			info, err := api.GetConnection(ctx, &apigatewaymanagementapi.GetConnectionInput{ConnectionId: aws.String(id)})
			if err != nil {
				t.Fatalf("GetConnection: %v", err)
			}
			if info.ConnectedAt == nil || info.ConnectedAt.Before(before) || info.LastActiveAt == nil ||
				info.Identity == nil || aws.ToString(info.Identity.SourceIp) != "127.0.0.1" ||
				!strings.HasPrefix(aws.ToString(info.Identity.UserAgent), "Go-http-client") {
				t.Errorf("GetConnection = %+v identity %+v", info, info.Identity)
			}

			// DELETE closes it and runs $disconnect.
			if _, err := api.DeleteConnection(ctx, &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: aws.String(id)}); err != nil {
				t.Fatalf("DeleteConnection: %v", err)
			}
			if code, _ := readClose(t, c); code != websocket.StatusNormalClosure {
				t.Errorf("client saw close %d, want 1000", code)
			}
			if ev := f.expect(t, "$disconnect"); ev.RequestContext.ConnectionID != id {
				t.Errorf("$disconnect for %s, want %s", ev.RequestContext.ConnectionID, id)
			}

			// The closed connection and an unknown one are gone for all three operations.
			for _, cid := range []string{id, "AAAAAAAAAAAAAAA="} {
				var gone *types.GoneException
				_, err = api.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{
					ConnectionId: aws.String(cid), Data: []byte("x"),
				})
				if !errors.As(err, &gone) {
					t.Errorf("PostToConnection %s: %v, want GoneException", cid, err)
				}
				_, err = api.GetConnection(ctx, &apigatewaymanagementapi.GetConnectionInput{ConnectionId: aws.String(cid)})
				if !errors.As(err, &gone) {
					t.Errorf("GetConnection %s: %v, want GoneException", cid, err)
				}
				_, err = api.DeleteConnection(ctx, &apigatewaymanagementapi.DeleteConnectionInput{ConnectionId: aws.String(cid)})
				if !errors.As(err, &gone) {
					t.Errorf("DeleteConnection %s: %v, want GoneException", cid, err)
				}
			}
			if ids := g.Connections(); len(ids) != 0 {
				t.Errorf("open connections %v", ids)
			}
		})
	}
}

func TestFallback(t *testing.T) {
	t.Parallel()
	f := newFunctions()
	g := localgw.New(localgw.Options{Route: f.Route, Fallback: httptestHandler("web")})
	rec := httptest.NewRecorder()
	g.ServeHTTP(rec, httptest.NewRequest("GET", "/index.html", nil))
	if rec.Body.String() != "web" {
		t.Fatalf("GET /index.html = %d %q, want the fallback", rec.Code, rec.Body.String())
	}
	rec = httptest.NewRecorder()
	g.ServeHTTP(rec, httptest.NewRequest("GET", "/ws", nil))
	if rec.Code != 426 {
		t.Fatalf("plain GET /ws = %d, want 426", rec.Code)
	}
}

type httptestHandler string

func (h httptestHandler) ServeHTTP(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(h)) }
