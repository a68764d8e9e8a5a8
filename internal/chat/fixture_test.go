package chat_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/chat/inmem"
)

// The tests of this package's external test files run chat.Service on the in-memory
// stores (internal/chat/inmem) with a fake clock and a recording pusher.

// t0 is where every fake clock starts.
var t0 = time.UnixMilli(1_800_000_000_000)

// fakeClock is a clock that moves only when told.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

// Now returns the clock's time.
func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// setup says how to build a fixture; the zero value is the plain one.
type setup struct {
	opts chat.Options
	// wrap the stores the service sees (to count or record calls), when set.
	messages      func(chat.MessageStore) chat.MessageStore
	conversations func(chat.ConversationStore) chat.ConversationStore
	connections   func(chat.ConnectionStore) chat.ConnectionStore
}

// fixture is a Service on fresh in-memory stores.
type fixture struct {
	t     *testing.T
	ctx   context.Context
	clock *fakeClock
	store *inmem.Store
	push  *inmem.Pusher
	svc   *chat.Service
	ids   *chat.IDs
	conns int
}

func newFixture(t *testing.T, s setup) *fixture {
	t.Helper()
	f := &fixture{t: t, ctx: t.Context(), clock: &fakeClock{now: t0}, store: inmem.New(), push: &inmem.Pusher{}, ids: chat.NewIDs()}
	var (
		messages      chat.MessageStore      = f.store
		conversations chat.ConversationStore = f.store
		connections   chat.ConnectionStore   = f.store
	)
	if s.messages != nil {
		messages = s.messages(messages)
	}
	if s.conversations != nil {
		conversations = s.conversations(conversations)
	}
	if s.connections != nil {
		connections = s.connections(connections)
	}
	opts := s.opts
	opts.Now = f.clock.Now
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	f.svc = chat.NewService(messages, conversations, connections, f.push, opts)
	return f
}

// connect opens a connection of user at the clock's time and returns its caller.
func (f *fixture) connect(user string) chat.Caller {
	f.t.Helper()
	f.conns++
	c := chat.Caller{UserID: user, ConnectionID: fmt.Sprintf("%s-conn-%d", user, f.conns)}
	must(f.t, f.svc.Connect(f.ctx, user, c.ConnectionID), "connect "+user)
	return c
}

// as returns a caller for user with a connection id that no store knows.
func as(user string) chat.Caller {
	return chat.Caller{UserID: user, ConnectionID: user + "-unstored"}
}

// dm returns the direct conversation of a and b, created by a.
func (f *fixture) dm(a, b string) string {
	f.t.Helper()
	ev, err := f.svc.CreateConversation(f.ctx, as(a), []string{b}, nil)
	must(f.t, err, "create direct conversation")
	return ev.Conversation.ConversationID
}

// group returns a new group of owner and others.
func (f *fixture) group(owner string, others ...string) string {
	f.t.Helper()
	name := "group"
	ev, err := f.svc.CreateConversation(f.ctx, as(owner), others, &name)
	must(f.t, err, "create group")
	return ev.Conversation.ConversationID
}

// send sends body from user to the conversation and returns the stored message.
func (f *fixture) send(user, conversationID, body string) chat.Message {
	f.t.Helper()
	f.clock.Advance(time.Millisecond)
	ack, err := f.svc.Send(f.ctx, as(user), chat.SendInput{ConversationID: conversationID, ClientMsgID: "c-" + f.ids.New(f.clock.Now()), Body: &body})
	must(f.t, err, "send")
	m, err := f.store.GetMessage(f.ctx, conversationID, ack.MessageID)
	must(f.t, err, "read the message sent")
	return m
}

// put stores n messages from sender in the conversation directly (as if sent) and
// returns them oldest first.
func (f *fixture) put(conversationID, sender string, n int) []chat.Message {
	f.t.Helper()
	msgs := make([]chat.Message, n)
	for i := range msgs {
		f.clock.Advance(time.Millisecond)
		now := f.clock.Now()
		msgs[i] = chat.Message{ConversationID: conversationID, MessageID: f.ids.New(now), SenderID: sender, Body: fmt.Sprint("m", i), CreatedAt: now.UnixMilli()}
		must(f.t, f.store.PutMessage(f.ctx, msgs[i]), "put message")
	}
	return msgs
}

// must fails the test on err.
func must(t *testing.T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// wantCode fails the test unless err carries the protocol code want ("" for no error).
func wantCode(t *testing.T, err error, want chat.Code, what string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Fatalf("%s: error %v, want none", what, err)
	case want != "" && err == nil:
		t.Fatalf("%s: no error, want %s", what, want)
	case want != "" && chat.ErrorCode(err) != want:
		t.Fatalf("%s: error %v (code %s), want %s", what, err, chat.ErrorCode(err), want)
	}
}

// counter counts calls by method name; safe for concurrent use.
type counter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *counter) add(name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[name]++
}

// take returns the counts so far and starts afresh.
func (c *counter) take() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.n
	c.n = nil
	return n
}
