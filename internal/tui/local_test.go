package tui

import (
	"bytes"
	"context"
	"io"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/auth"
	"github.com/parleychat/parley/internal/client"
	"github.com/parleychat/parley/internal/local"
	"github.com/parleychat/parley/internal/local/localtest"
)

// screen is an io.Writer that tests can wait on.
type screen struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{}
}

func newScreen() *screen { return &screen{changed: make(chan struct{}, 1)} }

func (s *screen) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, err := s.buf.Write(p)
	select {
	case s.changed <- struct{}{}:
	default:
	}
	return n, err
}

func (s *screen) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// waitFor waits until the output contains want, failing after 10 s.
func (s *screen) waitFor(t *testing.T, want string) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for !strings.Contains(s.String(), want) {
		select {
		case <-s.changed:
		case <-deadline:
			t.Fatalf("output never showed %q; it is:\n%s", want, s.String())
		}
	}
}

// stamps matches the "[15:04] " times of message lines, which waitForLine ignores.
var stamps = regexp.MustCompile(`\[\d\d:\d\d\] `)

// waitForLine waits until the output, without the times of its message lines, contains
// want, failing after 10 s.
func (s *screen) waitForLine(t *testing.T, want string) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for !strings.Contains(stamps.ReplaceAllString(s.String(), ""), want) {
		select {
		case <-s.changed:
		case <-deadline:
			t.Fatalf("output never showed %q (times left out); it is:\n%s", want, s.String())
		}
	}
}

func startLocal(t *testing.T, secret []byte) *local.Main {
	t.Helper()
	return localtest.Start(t, local.Config{JWTSecret: secret})
}

// waitEvent waits for bob's next event matching ok.
func waitEvent(t *testing.T, c *client.Conn, what string, ok func(client.Event) bool) client.Event {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case ev, open := <-c.Events():
			if !open {
				t.Fatalf("bob's connection ended waiting for %s: %v", what, c.Err())
			}
			if ok(ev) {
				return ev
			}
		case <-deadline:
			t.Fatalf("bob never got %s", what)
		}
	}
}

// startSession starts parley local, connects bob with the protocol client and runs
// alice's terminal client on it; typeLine types a line into it, done reports its end.
func startSession(t *testing.T, secret []byte) (ctx context.Context, bob *client.Conn, out *screen, typeLine func(string), done <-chan error) {
	t.Helper()
	m := startLocal(t, secret)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	bobTok, err := auth.Sign(secret, "bob", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	bob, err = client.Dial(ctx, m.WebSocketURL(), bobTok, nil)
	if err != nil {
		t.Fatalf("bob dial: %v", err)
	}
	t.Cleanup(func() { _ = bob.Close() })
	in, typed := io.Pipe()
	t.Cleanup(func() { _ = typed.Close() })
	out = newScreen()
	chat := New(Config{URL: m.WebSocketURL(), User: "alice", Location: time.UTC,
		Token: func(context.Context) (string, error) { return auth.Sign(secret, "alice", time.Hour) }}, out)
	ended := make(chan error, 1)
	go func() { ended <- chat.Run(ctx, in) }()
	typeLine = func(s string) {
		if _, err := io.WriteString(typed, s+"\n"); err != nil {
			t.Fatalf("type %q: %v", s, err)
		}
	}
	return ctx, bob, out, typeLine, ended
}

// TestScriptedChatAgainstParleyLocal drives alice's terminal client with typed lines while
// bob uses the protocol client, both against the real local runtime.
func TestScriptedChatAgainstParleyLocal(t *testing.T) {
	if testing.Short() {
		t.Skip("starts parley local; run without -short")
	}
	ctx, bob, out, typeLine, done := startSession(t, []byte("chat-e2e-secret-0123456789"))

	out.waitFor(t, "connected to")
	typeLine("/dm bob")
	out.waitFor(t, "── @bob ──")
	out.waitFor(t, "(no messages)")

	typeLine("hello bob")
	out.waitFor(t, "you: hello bob ✓")
	got := waitEvent(t, bob, "alice's message", func(ev client.Event) bool {
		return ev.Type == client.TypeMessage && ev.Message.SenderID == "alice"
	})
	if got.Message.Body != "hello bob" {
		t.Fatalf("bob got %+v", got.Message)
	}
	conv := got.Message.ConversationID

	if err := bob.Typing(conv, client.TypingStart); err != nil {
		t.Fatal(err)
	}
	out.waitFor(t, "bob is typing…")

	if _, err := bob.Send(ctx, conv, "b1", "hi alice"); err != nil {
		t.Fatalf("bob send: %v", err)
	}
	out.waitFor(t, "bob: hi alice")
	// alice's client marks what it showed as read.
	waitEvent(t, bob, "alice's read receipt", func(ev client.Event) bool {
		return ev.Type == client.TypeReceipt && ev.Receipt.UserID == "alice" && ev.Receipt.Status == client.StatusRead
	})

	if _, err := bob.Receipt(ctx, conv, got.Message.MessageID, client.StatusRead); err != nil {
		t.Fatalf("bob receipt: %v", err)
	}
	out.waitFor(t, "✓✓ read by bob")

	typeLine("/who bob")
	out.waitFor(t, "● bob is online")
	typeLine("/list")
	out.waitFor(t, " 1. @bob [dm, 2 members]")
	typeLine("/group Trip bob")
	out.waitFor(t, "── Trip ──")
	typeLine("/nonsense")
	out.waitFor(t, "unknown command /nonsense")
	typeLine("/quit")
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("chat ended with %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("chat did not end on /quit")
	}
}

// TestMessageCommandsAgainstParleyLocal drives alice's /reply, /edit, /react and /delete
// while bob answers, reacts, edits and deletes with the protocol client, against the real
// local runtime: each side sees the other's changes live.
func TestMessageCommandsAgainstParleyLocal(t *testing.T) {
	if testing.Short() {
		t.Skip("starts parley local; run without -short")
	}
	ctx, bob, out, typeLine, done := startSession(t, []byte("chat-e2e-secret-0123456789abcdef"))
	bobGets := func(what, typ string) client.Event {
		t.Helper()
		return waitEvent(t, bob, what, func(ev client.Event) bool { return ev.Type == typ })
	}

	out.waitFor(t, "connected to")
	typeLine("/dm bob")
	out.waitFor(t, "(no messages)")
	typeLine("lunch?")
	out.waitForLine(t, "#1 you: lunch? ✓")
	first := bobGets("alice's message", client.TypeMessage).Message
	conv := first.ConversationID

	// bob answers, quoting it; alice sees the quote with the number of what it quotes.
	if _, err := bob.SendReply(ctx, conv, "b1", "sure", first.MessageID); err != nil {
		t.Fatalf("bob reply: %v", err)
	}
	out.waitForLine(t, `#2 bob: (re #1 you: "lunch?") sure`)
	reply := waitEvent(t, bob, "his reply", func(ev client.Event) bool {
		return ev.Type == client.TypeMessage && ev.Message.SenderID == "bob"
	}).Message

	typeLine("/edit lunch at 1?")
	out.waitForLine(t, "✎ #1 you: lunch at 1? (edited)")
	if ev := bobGets("alice's edit", client.TypeEdited); ev.Edited.MessageID != first.MessageID || ev.Edited.Body != "lunch at 1?" {
		t.Fatalf("bob got edit %+v", ev.Edited)
	}

	typeLine("/react 2 👍")
	out.waitForLine(t, `you reacted 👍: #2 bob: (re #1 you: "lunch?") sure  [👍 1]`)
	if ev := bobGets("alice's reaction", client.TypeReaction); ev.Reaction.MessageID != reply.MessageID || ev.Reaction.State != client.ReactionAdd {
		t.Fatalf("bob got reaction %+v", ev.Reaction)
	}
	typeLine("/react 2 👍")
	out.waitForLine(t, `you took back 👍: #2 bob: (re #1 you: "lunch?") sure`)
	if ev := bobGets("alice's reaction taken back", client.TypeReaction); ev.Reaction.State != client.ReactionRemove {
		t.Fatalf("bob got reaction %+v", ev.Reaction)
	}

	if _, err := bob.React(ctx, conv, first.MessageID, "🎉", client.ReactionAdd); err != nil {
		t.Fatalf("bob react: %v", err)
	}
	out.waitForLine(t, "bob reacted 🎉: #1 you: lunch at 1? (edited)  [🎉 1]")
	if _, err := bob.Edit(ctx, conv, reply.MessageID, "sure, 1pm"); err != nil {
		t.Fatalf("bob edit: %v", err)
	}
	out.waitForLine(t, `✎ #2 bob: (re #1 you: "lunch?") sure, 1pm (edited)`)

	typeLine("/reply 2 great")
	out.waitForLine(t, `#3 you: (re #2 bob: "sure, 1pm") great ✓`)
	if ev := bobGets("alice's reply", client.TypeMessage); ev.Message.ReplyTo == nil || ev.Message.ReplyTo.Preview != "sure, 1pm" {
		t.Fatalf("bob got reply %+v", ev.Message)
	}

	typeLine("/delete 1")
	out.waitForLine(t, "✗ #1 you: (message deleted)  [🎉 1]")
	if ev := bobGets("alice's delete", client.TypeDeleted); ev.Deleted.MessageID != first.MessageID {
		t.Fatalf("bob got delete %+v", ev.Deleted)
	}
	if _, err := bob.Delete(ctx, conv, reply.MessageID); err != nil {
		t.Fatalf("bob delete: %v", err)
	}
	out.waitForLine(t, "✗ #2 bob: ")
	typeLine("/edit 1 again")
	out.waitFor(t, "! edit: #1 is deleted")

	// Opened again, the history shows the same, folded by the server.
	typeLine("/dm bob")
	out.waitForLine(t, "── @bob ──\n#1 you: (message deleted)")
	out.waitForLine(t, `#3 you: (re #2 bob: "sure, 1pm") great ✓`)

	typeLine("/quit")
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("chat ended with %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("chat did not end on /quit")
	}
}
