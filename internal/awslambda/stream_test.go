package awslambda

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/parleychat/parley/internal/chat"
)

func TestFanoutGoneConnectionIsDeleted(t *testing.T) {
	var skew atomic.Int64
	e := newEnv(t, chat.Options{Now: func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }})
	alice, bob := uid("alice"), uid("bob")
	ac, bcLive, bcDead := e.connect(alice), e.connect(bob), e.connect(bob)
	e.push.fail = func(conn string, _ int) error {
		if conn == bcDead {
			return fmt.Errorf("post: %w", chat.ErrGone)
		}
		return nil
	}
	dm := e.must(alice, ac, map[string]any{"action": "createConversation", "members": []string{bob}})["conversation"].(map[string]any)["conversationId"].(string)
	m := e.send(alice, ac, dm, "hi")
	skew.Store(int64(chat.GoneGrace + time.Second)) // the connections are past the grace now
	if r := e.deliver(m); len(r.BatchItemFailures) != 0 {
		t.Fatalf("a gone connection failed the record: %+v", r)
	}
	if len(e.push.framesOf(bcLive, "message")) != 1 || len(e.push.framesOf(ac, "message")) != 1 {
		t.Fatal("live connections did not get the message")
	}
	conns, err := e.store.Connections(e.ctx, bob, time.Now().UnixMilli())
	if err != nil || len(conns) != 1 || conns[0].ConnectionID != bcLive {
		t.Fatalf("bob's connections after 410: %+v %v; want only %s", conns, err, bcLive)
	}
}

func TestFanoutThrottlingIsRetried(t *testing.T) {
	e := newEnv(t, chat.Options{PushAttempts: 4})
	alice, bob := uid("alice"), uid("bob")
	ac, bc := e.connect(alice), e.connect(bob)
	e.push.fail = func(conn string, attempt int) error {
		if conn == bc && attempt <= 2 {
			return errThrottled
		}
		return nil
	}
	dm := e.must(alice, ac, map[string]any{"action": "createConversation", "members": []string{bob}})["conversation"].(map[string]any)["conversationId"].(string)
	e.push.reset()
	m := e.send(alice, ac, dm, "hi")
	if r := e.deliver(m); len(r.BatchItemFailures) != 0 {
		t.Fatalf("throttling was not retried within the invocation: %+v", r)
	}
	if got := e.push.framesOf(bc, "message"); len(got) != 1 {
		t.Fatalf("bob got %d messages, want 1 after 2 throttled attempts", len(got))
	}
	e.push.mu.Lock()
	attempts := e.push.attempts[bc]
	e.push.mu.Unlock()
	if attempts != 3 {
		t.Fatalf("attempts on bob = %d, want 3", attempts)
	}
}

func TestFanoutPartialFailureReportsBatchItems(t *testing.T) {
	e := newEnv(t, chat.Options{PushAttempts: 2})
	alice, bob := uid("alice"), uid("bob")
	ac, bc := e.connect(alice), e.connect(bob)
	dm := e.must(alice, ac, map[string]any{"action": "createConversation", "members": []string{bob}})["conversation"].(map[string]any)["conversationId"].(string)
	m1, m2, m3 := e.send(alice, ac, dm, "one"), e.send(alice, ac, dm, "two"), e.send(alice, ac, dm, "three")
	// Bob's connection fails for good from the second message on (5xx every time).
	e.push.reset()
	e.push.fail = func(conn string, attempt int) error {
		if conn == bc && attempt >= 2 {
			return errors.New("500 InternalServerError")
		}
		return nil
	}
	r := e.deliver(m1, m2, m3)
	want := []string{fmt.Sprintf("%028d", 2), fmt.Sprintf("%028d", 3)}
	if len(r.BatchItemFailures) != 2 || r.BatchItemFailures[0].ItemIdentifier != want[0] || r.BatchItemFailures[1].ItemIdentifier != want[1] {
		t.Fatalf("BatchItemFailures = %+v, want records %v", r.BatchItemFailures, want)
	}
	if got := e.push.framesOf(bc, "message"); len(got) != 1 || got[0]["message"].(map[string]any)["body"] != "one" {
		t.Fatalf("bob got %v", got)
	}
	// The mapping retries from the failed record; now bob's connection works again.
	e.push.fail = nil
	if r := e.deliver(m2, m3); len(r.BatchItemFailures) != 0 {
		t.Fatalf("retry failed: %+v", r)
	}
	if got := e.push.framesOf(bc, "message"); len(got) != 3 {
		t.Fatalf("bob has %d messages after the retry, want 3", len(got))
	}
}

func TestFanoutLargeGroupReachesEveryConnection(t *testing.T) {
	e := newEnv(t, chat.Options{})
	e.push.delay = 2 * time.Millisecond
	owner := uid("owner")
	oc := e.connect(owner)
	members := users(uid("m"), 499)
	conns := map[string]string{}
	for _, u := range members {
		conns[u] = e.connect(u)
	}
	g := e.must(owner, oc, map[string]any{"action": "createConversation", "members": members, "name": "all hands"})
	id := g["conversation"].(map[string]any)["conversationId"].(string)
	if n := len(g["conversation"].(map[string]any)["members"].([]any)); n != 500 {
		t.Fatalf("group has %d members, want 500", n)
	}
	e.push.reset()
	m := e.send(owner, oc, id, "to everyone")
	start := time.Now()
	if r := e.deliver(m); len(r.BatchItemFailures) != 0 {
		t.Fatalf("%+v", r)
	}
	t.Logf("fan-out to 500 connections with a 2 ms poster took %v", time.Since(start))
	conns[owner] = oc
	for u, c := range conns {
		got := e.push.framesOf(c, "message")
		if len(got) != 1 || got[0]["message"].(map[string]any)["messageId"] != m.MessageID {
			t.Fatalf("%s (%s) got %v", u, c, got)
		}
	}
}

func TestTTLRemoveFixtureAnnouncesOffline(t *testing.T) {
	e := newEnv(t, chat.Options{})
	alice, bob, carol := uid("alice"), uid("bob"), uid("carol")
	bc, cc := e.connect(bob), e.connect(carol)
	e.must(bob, bc, map[string]any{"action": "createConversation", "members": []string{alice}})
	e.must(carol, cc, map[string]any{"action": "createConversation", "members": []string{alice, bob}, "name": "group only"})
	e.push.reset()

	ev := fixture[events.DynamoDBEvent](t, "stream_ttl_remove.json")
	ev.Records[0].Change.Keys["pk"] = events.NewStringAttribute(alice)
	ev.Records[0].Change.OldImage["pk"] = events.NewStringAttribute(alice)
	r, err := e.stream.Handle(e.ctx, ev)
	if err != nil || len(r.BatchItemFailures) != 0 {
		t.Fatal(r, err)
	}
	got := e.push.framesOf(bc, "presence")
	if len(got) != 1 {
		t.Fatalf("bob (shares a DM) got %v, want one presence event", got)
	}
	u := got[0]["users"].([]any)[0].(map[string]any)
	if u["userId"] != alice || u["online"] != false || u["lastSeen"] != float64(1795881700000) {
		t.Fatalf("event %v", u)
	}
	if got := e.push.framesOf(cc, "presence"); len(got) != 0 {
		t.Fatalf("carol (group only) got presence events %v", got)
	}
	ps, err := e.store.Presence(e.ctx, []string{alice}, time.Now().UnixMilli())
	if err != nil || ps[0].Online || ps[0].LastSeen != 1795881700000 {
		t.Fatalf("lapse not recorded: %+v %v", ps, err)
	}

	// A REMOVE that was not TTL's (a user's delete) and a connection item are ignored.
	e.push.reset()
	ev.Records[0].UserIdentity = nil
	if r, _ := e.stream.Handle(e.ctx, ev); len(r.BatchItemFailures) != 0 || len(e.push.framesOf(bc, "")) != 0 {
		t.Fatalf("non-TTL REMOVE handled: %+v", r)
	}

	// A lapse record for a user who is online again announces nothing.
	ac := e.connect(alice)
	e.push.reset()
	ev = fixture[events.DynamoDBEvent](t, "stream_ttl_remove.json")
	ev.Records[0].Change.Keys["pk"] = events.NewStringAttribute(alice)
	if r, _ := e.stream.Handle(e.ctx, ev); len(r.BatchItemFailures) != 0 || len(e.push.framesOf(bc, "presence")) != 0 {
		t.Fatalf("lapse of an online user announced: %v", e.push.framesOf(bc, "presence"))
	}
	_ = ac
}

func TestStreamFixtureMalformedRecordSkipped(t *testing.T) {
	e := newEnv(t, chat.Options{})
	ev := fixture[events.DynamoDBEvent](t, "stream_insert.json")
	delete(ev.Records[0].Change.NewImage, "createdAt")
	r, err := e.stream.Handle(e.ctx, ev)
	if err != nil || len(r.BatchItemFailures) != 0 {
		t.Fatalf("a malformed record must be skipped, not retried forever: %+v %v", r, err)
	}
}

// TestFanoutKeepsAConnectionStillOpening: API Gateway answers 410 for a connection whose
// $connect has not returned yet, while its item is already stored. Such a young
// connection must not be deleted, or the device would get nothing live once it opens.
func TestFanoutKeepsAConnectionStillOpening(t *testing.T) {
	e := newEnv(t, chat.Options{})
	alice, bob := uid("alice"), uid("bob")
	ac, bcOpening := e.connect(alice), e.connect(bob)
	dm := e.must(alice, ac, map[string]any{"action": "createConversation", "members": []string{bob}})["conversation"].(map[string]any)["conversationId"].(string)
	e.push.fail = func(conn string, _ int) error {
		if conn == bcOpening {
			return fmt.Errorf("post: %w", chat.ErrGone)
		}
		return nil
	}
	if r := e.deliver(e.send(alice, ac, dm, "hi")); len(r.BatchItemFailures) != 0 {
		t.Fatalf("%+v", r)
	}
	conns, err := e.store.Connections(e.ctx, bob, time.Now().UnixMilli())
	if err != nil || len(conns) != 1 || conns[0].ConnectionID != bcOpening {
		t.Fatalf("bob's connections after a 410 within the grace: %+v %v; want %s kept", conns, err, bcOpening)
	}
}

// Records of different conversations are fanned out in parallel, each conversation's in
// order: a failure in one stops only that conversation's later records, the others are
// delivered, and the batch is reported from the earliest failed record on.
func TestFanoutConversationsInParallel(t *testing.T) {
	e := newEnv(t, chat.Options{PushAttempts: 1})
	alice, bob, carol := uid("alice"), uid("bob"), uid("carol")
	ac, bc, cc := e.connect(alice), e.connect(bob), e.connect(carol)
	create := func(peer string) string {
		return e.must(alice, ac, map[string]any{"action": "createConversation", "members": []string{peer}})["conversation"].(map[string]any)["conversationId"].(string)
	}
	withBob, withCarol := create(bob), create(carol)
	b1, c1, b2, c2, b3 := e.send(alice, ac, withBob, "b1"), e.send(alice, ac, withCarol, "c1"), e.send(alice, ac, withBob, "b2"),
		e.send(alice, ac, withCarol, "c2"), e.send(alice, ac, withBob, "b3")
	e.push.reset()
	e.push.delay = 20 * time.Millisecond // so that running in parallel shows
	// Bob's connection fails from its second push on.
	e.push.fail = func(conn string, attempt int) error {
		if conn == bc && attempt >= 2 {
			return errors.New("500 InternalServerError")
		}
		return nil
	}
	start := time.Now()
	r := e.deliver(b1, c1, b2, c2, b3)
	took := time.Since(start)
	// b2 (record 3) failed: records 3, 4, 5 are reported, though c2 (4) was delivered.
	var got []string
	for _, f := range r.BatchItemFailures {
		got = append(got, f.ItemIdentifier)
	}
	want := []string{fmt.Sprintf("%028d", 3), fmt.Sprintf("%028d", 4), fmt.Sprintf("%028d", 5)}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("BatchItemFailures = %v, want %v", got, want)
	}
	bodies := func(conn string) []string {
		var out []string
		for _, f := range e.push.framesOf(conn, "message") {
			out = append(out, f["message"].(map[string]any)["body"].(string))
		}
		return out
	}
	if b := bodies(bc); fmt.Sprint(b) != "[b1]" {
		t.Errorf("bob got %v, want [b1] (b3 must wait for b2's retry)", b)
	}
	if c := bodies(cc); fmt.Sprint(c) != "[c1 c2]" {
		t.Errorf("carol got %v, want [c1 c2] in order", c)
	}
	// Logged, not asserted: one after another the five records would take about 200 ms
	// (two pushes of 20 ms each); side by side about half.
	t.Logf("batch took %v", took)
}
