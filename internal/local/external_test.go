package local_test

import (
	"context"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/auth"
	"github.com/parleychat/parley/internal/client"
	"github.com/parleychat/parley/internal/dynalite/dynalitetest"
	"github.com/parleychat/parley/internal/local"
)

// TestExternalFanout: with ExternalFanout (the LocalStack hybrid), parley local stores and
// acknowledges but leaves fan-out to the upstream's own stream consumer, so nothing is
// pushed twice; without it, the same setup fans out in process (the control).
func TestExternalFanout(t *testing.T) {
	t.Parallel()
	upstream := dynalitetest.StartForTest(t)
	secret := []byte("external-fanout-secret-0123456789")
	for _, external := range []bool{true, false} {
		prefix := "ext-"
		if !external {
			prefix = "int-"
		}
		// The stream path only: send's inline push is in process by design (as on AWS);
		// what must not run in process with external fan-out is the stream mapping.
		off := 0
		m := local.New(local.Config{Addr: "127.0.0.1:0", JWTSecret: secret, DynamoDBEndpoint: upstream.Endpoint(),
			ExternalFanout: external, TablePrefix: prefix, InlineMaxMembers: &off})
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if err := m.Start(ctx); err != nil {
			cancel()
			t.Fatalf("start (external=%v): %v", external, err)
		}
		t.Cleanup(func() { cancel(); _ = m.Close() })
		dial := func(user string) *client.Conn {
			tok, err := auth.Sign(secret, user, time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			c, err := client.Dial(ctx, m.WebSocketURL(), tok, &client.Options{HeartbeatInterval: -1})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = c.Close() })
			return c
		}
		alice, bob := dial("alice"), dial("bob")
		ack, err := alice.SendDirect(ctx, "bob", "c-1", "hello")
		if err != nil {
			t.Fatalf("send (external=%v): %v", external, err)
		}
		// A message event either arrives within a generous window (in-process fan-out
		// takes milliseconds) or, with external fan-out, must not arrive at all.
		window := time.NewTimer(3 * time.Second)
		got := false
	wait:
		for {
			select {
			case ev := <-bob.Events():
				if ev.Type == client.TypeMessage && ev.Message.MessageID == ack.MessageID {
					got = true
					break wait
				}
			case <-window.C:
				break wait
			}
		}
		window.Stop()
		if got == external {
			t.Fatalf("external=%v: message pushed in process = %v", external, got)
		}
	}

	m := local.New(local.Config{Addr: "127.0.0.1:0", JWTSecret: secret, ExternalFanout: true})
	if err := m.Start(context.Background()); err == nil {
		m.Close()
		t.Fatal("ExternalFanout without a DynamoDB endpoint was accepted")
	}
	m.Close()
}
