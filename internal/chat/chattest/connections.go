package chattest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/chat"
)

// RunConnectionStoreTests runs the chat.ConnectionStore contract against the stores
// newStore returns.
func RunConnectionStoreTests(t *testing.T, newStore func(t *testing.T) chat.ConnectionStore) {
	runContract(t, newStore, []contract[chat.ConnectionStore]{
		{"PutListDelete", testPutListDelete},
		{"ExpiredInvisible", testExpiredInvisible},
		{"PresenceNeverSeen", testPresenceNeverSeen},
		{"PresenceTransitions", testPresenceTransitions},
		{"PresenceConcurrentTouch", testPresenceConcurrentTouch},
		{"RecordLapse", testRecordLapse},
		{"PresenceOrder", testPresenceOrder},
	})
}

func byConnID(cs []chat.Connection) []chat.Connection {
	return sortedBy(cs, func(c chat.Connection) string { return c.ConnectionID })
}

// nowMillis is the clock of the presence tests: real time, so that TTLs the store writes
// are plausible, but every test passes its own times explicitly.
func nowMillis() int64 { return time.Now().UnixMilli() }

func testPutListDelete(t *testing.T, s chat.ConnectionStore) {
	ctx := ctxFor(t)
	now := nowMillis()
	exp := now/1000 + 7200
	u, other := newUser("alice"), newUser("bob")
	c1 := chat.Connection{UserID: u, ConnectionID: "conn-" + newID(), ConnectedAt: now, ExpiresAt: exp}
	c2 := chat.Connection{UserID: u, ConnectionID: "Abc123=" + newID(), ConnectedAt: now + 1, ExpiresAt: exp + 1}
	c3 := chat.Connection{UserID: other, ConnectionID: "conn-" + newID(), ConnectedAt: now, ExpiresAt: exp}
	for _, c := range []chat.Connection{c1, c2, c3} {
		must(t, s.PutConnection(ctx, c), "PutConnection")
	}
	// Presence lives beside connections in some stores; it must never look like one.
	_, err := s.TouchPresence(ctx, u, now)
	must(t, err, "TouchPresence")

	list := func(user string) []chat.Connection {
		t.Helper()
		got, err := s.Connections(ctx, user, now)
		must(t, err, "Connections")
		return byConnID(got)
	}
	diff(t, list(u), byConnID([]chat.Connection{c1, c2}), "Connections")
	diff(t, list(other), []chat.Connection{c3}, "Connections of another user")
	if got := list(newUser("nobody")); len(got) != 0 {
		t.Fatalf("Connections of a stranger = %v", got)
	}

	// Put replaces.
	c2b := c2
	c2b.ConnectedAt, c2b.ExpiresAt = now+5, exp+100
	must(t, s.PutConnection(ctx, c2b), "PutConnection again")
	diff(t, list(u), byConnID([]chat.Connection{c1, c2b}), "Connections after a replacing put")

	must(t, s.DeleteConnection(ctx, u, c1.ConnectionID), "DeleteConnection")
	diff(t, list(u), []chat.Connection{c2b}, "Connections after a delete")
	must(t, s.DeleteConnection(ctx, u, c1.ConnectionID), "DeleteConnection of a gone connection")
	must(t, s.DeleteConnection(ctx, newUser("nobody"), "never-was"), "DeleteConnection of an unknown connection")
	diff(t, list(other), []chat.Connection{c3}, "Connections of another user after deletes")
}

func testExpiredInvisible(t *testing.T, s chat.ConnectionStore) {
	ctx := ctxFor(t)
	u := newUser("alice")
	const now = int64(1_900_000_000_000) // ExpiresAt is in seconds: 1_900_000_000
	live := chat.Connection{UserID: u, ConnectionID: "live-" + newID(), ConnectedAt: now - 1000, ExpiresAt: now/1000 + 1}
	edge := chat.Connection{UserID: u, ConnectionID: "edge-" + newID(), ConnectedAt: now - 1000, ExpiresAt: now / 1000}
	dead := chat.Connection{UserID: u, ConnectionID: "dead-" + newID(), ConnectedAt: now - 9000, ExpiresAt: now/1000 - 5}
	for _, c := range []chat.Connection{live, edge, dead} {
		must(t, s.PutConnection(ctx, c), "PutConnection")
	}
	cases := []struct {
		at   int64
		want []chat.Connection
	}{
		{now - 6000, []chat.Connection{live, edge, dead}},
		{now - 1, []chat.Connection{live, edge}},
		{now, []chat.Connection{live}}, // expiresAt*1000 == now: expired
		{now + 999, []chat.Connection{live}},
		{now + 1000, nil},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("at %+d ms", tc.at-now), func(t *testing.T) {
			got, err := s.Connections(ctx, u, tc.at)
			must(t, err, "Connections")
			diff(t, byConnID(got), byConnID(tc.want), "Connections")
		})
	}
}

func testPresenceNeverSeen(t *testing.T, s chat.ConnectionStore) {
	ctx := ctxFor(t)
	u := newUser("ghost")
	got, err := s.Presence(ctx, []string{u}, nowMillis())
	must(t, err, "Presence")
	diff(t, got, []chat.Presence{{UserID: u}}, "Presence of a user never seen")

	now := nowMillis()
	was, err := s.SetOffline(ctx, newUser("ghost"), now)
	must(t, err, "SetOffline")
	if was {
		t.Fatal("SetOffline of a user never seen: wasOnline = true")
	}
}

// testPresenceTransitions walks one user through a script of presence changes and checks
// each report and the presence after it.
func testPresenceTransitions(t *testing.T, s chat.ConnectionStore) {
	const w = chat.PresenceWindowMillis
	t0 := nowMillis()
	type op int
	const (
		touch   op = iota // TouchPresence
		offline           // SetOffline
		wait              // no call: only the clock moves
	)
	steps := []struct {
		name     string
		op       op
		at       int64 // offset from t0 of the call
		want     bool  // cameOnline for touch, announce for offline
		presence chat.Presence
		checkAt  int64 // offset at which Presence is read
	}{
		{"first touch comes online", touch, 0, true, chat.Presence{Online: true, LastSeen: t0}, 0},
		{"touch while online", touch, 1000, false, chat.Presence{Online: true}, 1000},
		{"touch 40 s later keeps online", touch, 40_000, false, chat.Presence{Online: true, LastSeen: t0 + 40_000}, 40_000},
		{"still online beyond the first window", wait, 0, false, chat.Presence{Online: true, LastSeen: t0 + 40_000}, w + 10_000},
		{"lapsed by time", wait, 0, false, chat.Presence{Online: false, LastSeen: t0 + 40_000}, 40_000 + w},
		{"touch after the lapse comes online", touch, 40_000 + w + 1, true, chat.Presence{Online: true, LastSeen: t0 + 40_000 + w + 1}, 40_000 + w + 1},
		{"set offline while online", offline, 40_000 + w + 5000, true, chat.Presence{Online: false, LastSeen: t0 + 40_000 + w + 5000}, 40_000 + w + 5000},
		{"set offline again", offline, 40_000 + w + 6000, false, chat.Presence{Online: false, LastSeen: t0 + 40_000 + w + 6000}, 40_000 + w + 6000},
		{"touch right after offline comes online", touch, 40_000 + w + 6001, true, chat.Presence{Online: true, LastSeen: t0 + 40_000 + w + 6001}, 40_000 + w + 6001},
		// The lapse was never recorded (no RecordLapse): its offline state is still to be
		// announced, and SetOffline must say so, since no TTL deletion will follow it.
		{"set offline after an unrecorded lapse", offline, 40_000 + 3*w, true, chat.Presence{Online: false, LastSeen: t0 + 40_000 + 3*w}, 40_000 + 3*w},
		{"set offline once more", offline, 40_000 + 3*w + 1, false, chat.Presence{Online: false, LastSeen: t0 + 40_000 + 3*w + 1}, 40_000 + 3*w + 1},
	}
	ctx := ctxFor(t)
	u := newUser("alice")
	for i, st := range steps {
		if st.op != wait {
			var got bool
			var err error
			if st.op == touch {
				got, err = s.TouchPresence(ctx, u, t0+st.at)
			} else {
				got, err = s.SetOffline(ctx, u, t0+st.at)
			}
			must(t, err, st.name)
			if got != st.want {
				t.Fatalf("step %d (%s): reported %v, want %v", i, st.name, got, st.want)
			}
		}
		ps, err := s.Presence(ctx, []string{u}, t0+st.checkAt)
		must(t, err, st.name+": Presence")
		want := st.presence
		want.UserID = u
		if want.LastSeen == 0 {
			// A touch soon after the last written one may be skipped: LastSeen is then the
			// earlier activity, never later than this one.
			if ps[0].LastSeen < t0 || ps[0].LastSeen > t0+st.at {
				t.Fatalf("step %d (%s): LastSeen = %d, want between %d and %d", i, st.name, ps[0].LastSeen, t0, t0+st.at)
			}
			want.LastSeen = ps[0].LastSeen
		}
		diff(t, ps[0], want, fmt.Sprintf("step %d (%s): Presence", i, st.name))
	}
}

// testPresenceConcurrentTouch: of many simultaneous first touches exactly one reports that
// the user came online.
func testPresenceConcurrentTouch(t *testing.T, s chat.ConnectionStore) {
	ctx := ctxFor(t)
	const n = 12
	u := newUser("alice")
	now := nowMillis()
	came := make([]bool, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			came[i], errs[i] = s.TouchPresence(ctx, u, now)
		})
	}
	close(start)
	wg.Wait()
	count := 0
	for i, err := range errs {
		must(t, err, fmt.Sprintf("TouchPresence #%d", i))
		if came[i] {
			count++
		}
	}
	if count != 1 {
		t.Fatalf("%d of %d concurrent first touches reported cameOnline, want exactly 1", count, n)
	}
}

func testRecordLapse(t *testing.T, s chat.ConnectionStore) {
	ctx := ctxFor(t)
	now := nowMillis()

	t.Run("no presence item: stores the lapse", func(t *testing.T) {
		u := newUser("lapsed")
		must(t, s.RecordLapse(ctx, u, now-90_000), "RecordLapse")
		got, err := s.Presence(ctx, []string{u}, now)
		must(t, err, "Presence")
		diff(t, got, []chat.Presence{{UserID: u, Online: false, LastSeen: now - 90_000}}, "Presence after RecordLapse")
		came, err := s.TouchPresence(ctx, u, now)
		must(t, err, "TouchPresence")
		if !came {
			t.Fatal("TouchPresence after a recorded lapse: cameOnline = false")
		}
	})
	t.Run("a recorded lapse is not announced again by SetOffline", func(t *testing.T) {
		u := newUser("recorded")
		must(t, s.RecordLapse(ctx, u, now-90_000), "RecordLapse")
		announce, err := s.SetOffline(ctx, u, now)
		must(t, err, "SetOffline")
		if announce {
			t.Fatal("SetOffline after a recorded lapse: announce = true, the lapse was announced already")
		}
	})
	t.Run("fresh presence: kept", func(t *testing.T) {
		u := newUser("back")
		_, err := s.TouchPresence(ctx, u, now)
		must(t, err, "TouchPresence")
		must(t, s.RecordLapse(ctx, u, now-90_000), "RecordLapse")
		got, err := s.Presence(ctx, []string{u}, now+1000)
		must(t, err, "Presence")
		diff(t, got, []chat.Presence{{UserID: u, Online: true, LastSeen: now}}, "Presence after a stale RecordLapse")
	})
	t.Run("offline presence: kept", func(t *testing.T) {
		u := newUser("gone")
		_, err := s.TouchPresence(ctx, u, now-5000)
		must(t, err, "TouchPresence")
		_, err = s.SetOffline(ctx, u, now)
		must(t, err, "SetOffline")
		must(t, s.RecordLapse(ctx, u, now-90_000), "RecordLapse")
		got, err := s.Presence(ctx, []string{u}, now+1000)
		must(t, err, "Presence")
		diff(t, got, []chat.Presence{{UserID: u, Online: false, LastSeen: now}}, "Presence after a stale RecordLapse")
	})
}

func testPresenceOrder(t *testing.T, s chat.ConnectionStore) {
	ctx := ctxFor(t)
	now := nowMillis()
	on, off, never := newUser("on"), newUser("off"), newUser("never")
	_, err := s.TouchPresence(ctx, on, now-1000)
	must(t, err, "TouchPresence")
	_, err = s.TouchPresence(ctx, off, now-5000)
	must(t, err, "TouchPresence")
	_, err = s.SetOffline(ctx, off, now-2000)
	must(t, err, "SetOffline")

	got, err := s.Presence(ctx, []string{never, on, off, on}, now)
	must(t, err, "Presence")
	diff(t, got, []chat.Presence{
		{UserID: never},
		{UserID: on, Online: true, LastSeen: now - 1000},
		{UserID: off, LastSeen: now - 2000},
		{UserID: on, Online: true, LastSeen: now - 1000},
	}, "Presence in the order given")

	got, err = s.Presence(ctx, nil, now)
	must(t, err, "Presence of nobody")
	if len(got) != 0 {
		t.Fatalf("Presence of nobody = %v", got)
	}
}
