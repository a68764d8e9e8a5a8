package local_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/auth"
	"github.com/parleychat/parley/internal/client"
	"github.com/parleychat/parley/internal/faults"
	"github.com/parleychat/parley/internal/local"
	"github.com/parleychat/parley/internal/local/localtest"
)

// TestFaultsReachEveryPart starts parley local with every fault kind at a high rate and
// drives a conversation through it: each kind is injected where AWS would produce it and
// counted at GET /local/faults, and a message still arrives (at least once) in the end.
func TestFaultsReachEveryPart(t *testing.T) {
	t.Parallel()
	spec, err := faults.Parse("post.throttle=20%,post.error=20%,post.timeout=10%:100ms,ddb.throttle=5%,ddb.capacity=5%," +
		"ddb.error=5%,ddb.ambiguous=5%,ddb.latency=20%:1ms,fn.crash-before=15%,fn.crash-after=15%,fn.fanout-crash=30%,fn.fanout-timeout=20%,gw.drop=10%")
	if err != nil {
		t.Fatal(err)
	}
	secret := []byte("faults-test-secret-faults-test-secret")
	m := localtest.Start(t, local.Config{JWTSecret: secret, Faults: spec})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dial := func(user string) *client.Conn {
		tok, err := auth.Sign(secret, user, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		c, err := client.Reconnect(ctx, m.WebSocketURL(), func(context.Context) (string, error) { return tok, nil }, &client.Options{RequestTimeout: 2 * time.Second}, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	bob := dial("bob")
	var alice *client.Conn
	got := 0
	deadline := time.Now().Add(90 * time.Second)
	for i := 0; got == 0 || !allCounted(m.Faults()); i++ {
		if time.Now().After(deadline) {
			t.Fatalf("after 90 s: %d messages arrived; faults %v", got, m.Faults())
		}
		if alice == nil || isDone(alice) {
			alice = dial("alice")
		}
		if isDone(bob) {
			bob = dial("bob")
		}
		sctx, scancel := context.WithTimeout(ctx, 2*time.Second)
		_, _ = alice.SendDirect(sctx, "bob", "c"+time.Now().Format("150405.000000"), "hello")
		scancel()
		for drained := false; !drained; {
			select {
			case ev, ok := <-bob.Events():
				if ok && ev.Type == client.TypeMessage {
					got++
				}
				drained = !ok
			default:
				drained = true
			}
		}
	}
	resp, err := http.Get("http://" + m.Addr() + "/local/faults")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var counts map[string]int64
	if err := json.NewDecoder(resp.Body).Decode(&counts); err != nil || len(counts) != len(faults.Kinds) {
		t.Fatalf("GET /local/faults: %v %v", counts, err)
	}
	t.Logf("faults injected: %v; messages arrived: %d", counts, got)
}

func allCounted(c map[faults.Kind]int64) bool {
	for _, k := range faults.Kinds {
		if c[k] == 0 {
			return false
		}
	}
	return true
}

func isDone(c *client.Conn) bool {
	select {
	case <-c.Done():
		return true
	default:
		return false
	}
}
