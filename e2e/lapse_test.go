package e2e

import (
	"slices"
	"testing"
	"time"
)

// TestPresenceLapses covers presence lapsing through the TTL sweeper: a user who stays
// connected but sends nothing has a presence item whose expiresAt passes; the local TTL
// sweeper deletes it, the deletion reaches the stream handler as a service REMOVE record,
// and the user's direct-conversation peer gets an offline event. A frame from the user
// brings them back online.
//
// The tuned system's service clock runs tunedSkew behind, so a presence, online for 60 s
// after the last activity, expires about 60 s - tunedSkew after it was written; the
// sweeper runs every 200 ms.
func TestPresenceLapses(t *testing.T) {
	t.Parallel()
	s := tunedSystem(t)
	u := newUsers("alice", "bob")
	alice := s.connect(t, u[0])
	ctx := ctxFor(t, time.Minute)
	if _, err := alice.CreateConversation(ctx, "", u[1]); err != nil {
		t.Fatalf("create direct: %v", err)
	}

	bob := s.connect(t, u[1])
	online := alice.wait(t, "bob online", presenceOf(u[1], true))
	onlineAt := time.Now()
	bobConns := s.connectionIDs(t, u[1])

	offline := alice.wait(t, "bob's presence lapsing", presenceOf(u[1], false))
	t.Logf("bob's presence lapsed %v after he came online (expected %v, plus up to 2 s of whole-second TTL rounding and the 200 ms sweep)",
		time.Since(onlineAt).Round(time.Millisecond), 60*time.Second-tunedSkew)
	if got, want := offline.Presence[0].LastSeen, online.Presence[0].LastSeen; got != want {
		t.Fatalf("offline event lastSeen = %d, want bob's last activity %d", got, want)
	}
	// It was the lapse, not a $disconnect: bob's connection is open and stored.
	if err := bob.Err(); err != nil {
		t.Fatalf("bob's connection ended: %v", err)
	}
	if ids := s.connectionIDs(t, u[1]); !slices.Equal(ids, bobConns) {
		t.Fatalf("bob's connection items = %v, want %v still", ids, bobConns)
	}
	ps, err := alice.Presence(ctx, u[1])
	if err != nil || len(ps) != 1 || ps[0].Online || ps[0].LastSeen != online.Presence[0].LastSeen {
		t.Fatalf("bob's presence after the lapse = %+v, %v; want offline, last seen %d", ps, err, online.Presence[0].LastSeen)
	}

	// Any frame from bob brings him back.
	if _, err := bob.Heartbeat(ctx); err != nil {
		t.Fatalf("bob's heartbeat: %v", err)
	}
	back := alice.wait(t, "bob online again", presenceOf(u[1], true))
	if back.Presence[0].LastSeen <= online.Presence[0].LastSeen {
		t.Fatalf("online again with lastSeen %d, not after %d", back.Presence[0].LastSeen, online.Presence[0].LastSeen)
	}
}
