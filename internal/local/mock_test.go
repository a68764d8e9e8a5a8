package local_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/coder/websocket"

	"github.com/parleychat/parley/internal/auth"
	"github.com/parleychat/parley/internal/local"
	"github.com/parleychat/parley/internal/local/localtest"
)

// TestKeepaliveCostsNoFunction: the keepalive route is answered by the gateway itself (a
// mock, as on AWS): no function is invoked and no frame comes back, while the next frame
// is routed to its function as usual.
func TestKeepaliveCostsNoFunction(t *testing.T) {
	secret := []byte("keepalive-secret-0123456789abcdef")
	var mu sync.Mutex
	invoked := map[string]int{}
	m := localtest.Start(t, local.Config{JWTSecret: secret, Wire: func(ctx context.Context, wc local.WireConfig) (local.Handlers, error) {
		h, err := local.WireApp(ctx, wc)
		if err != nil {
			return h, err
		}
		route := h.Route
		h.Route = func(ctx context.Context, req events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
			mu.Lock()
			invoked[req.RequestContext.RouteKey]++
			mu.Unlock()
			return route(ctx, req)
		}
		return h, nil
	}})
	tok, err := auth.Sign(secret, "alice", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, m.WebSocketURL()+"?token="+tok, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	for _, f := range []string{`{"action":"keepalive"}`, `{"action":"keepalive","requestId":"k2"}`, `{"action":"heartbeat","requestId":"h1"}`} {
		if err := c.Write(ctx, websocket.MessageText, []byte(f)); err != nil {
			t.Fatal(err)
		}
	}
	// The first frame back answers the heartbeat: the keepalives got no reply.
	_, data, err := c.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var reply struct{ Type, RequestID string }
	if err := json.Unmarshal(data, &reply); err != nil || reply.Type != "heartbeat" || reply.RequestID != "h1" {
		t.Fatalf("first frame back %s, want the heartbeat's reply", data)
	}
	mu.Lock()
	defer mu.Unlock()
	if invoked["keepalive"] != 0 || invoked["heartbeat"] != 1 || invoked["$default"] != 0 {
		t.Fatalf("route invocations %v: want none for keepalive, one for heartbeat", invoked)
	}
}
