package inmem_test

import (
	"context"
	"errors"
	"testing"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/chat/chattest"
	"github.com/parleychat/parley/internal/chat/inmem"
)

// TestContracts runs the three store contract suites against each store type on its own
// and against the Store that bundles them (which the message suite treats as a
// conversation store too, making its cursor users members first).
func TestContracts(t *testing.T) {
	t.Run("MessageStore", func(t *testing.T) {
		chattest.RunMessageStoreTests(t, func(*testing.T) chat.MessageStore { return inmem.NewMessageStore() })
	})
	t.Run("ConversationStore", func(t *testing.T) {
		chattest.RunConversationStoreTests(t, func(*testing.T) chat.ConversationStore { return inmem.NewConversationStore() })
	})
	t.Run("ConnectionStore", func(t *testing.T) {
		chattest.RunConnectionStoreTests(t, func(*testing.T) chat.ConnectionStore { return inmem.NewConnectionStore() })
	})
	shared := inmem.New()
	t.Run("Store/MessageStore", func(t *testing.T) {
		chattest.RunMessageStoreTests(t, func(*testing.T) chat.MessageStore { return shared })
	})
	t.Run("Store/ConversationStore", func(t *testing.T) {
		chattest.RunConversationStoreTests(t, func(*testing.T) chat.ConversationStore { return shared })
	})
	t.Run("Store/ConnectionStore", func(t *testing.T) {
		chattest.RunConnectionStoreTests(t, func(*testing.T) chat.ConnectionStore { return shared })
	})
}

// TestCancelled checks that a call on a cancelled context fails with the context's error,
// as a call to a real store would.
func TestCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	s := inmem.New()
	p := &inmem.Pusher{}
	cases := []struct {
		name string
		err  error
	}{
		{"PutMessage", s.PutMessage(ctx, chat.Message{ConversationID: "c", MessageID: "m"})},
		{"CreateConversation", s.CreateConversation(ctx, chat.Conversation{ConversationID: "c"}, nil)},
		{"PutConnection", s.PutConnection(ctx, chat.Connection{UserID: "u", ConnectionID: "c", ExpiresAt: 1})},
		{"Push", p.Push(ctx, "c", []byte("x"))},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if !errors.Is(tc.err, context.Canceled) {
				t.Fatalf("error = %v, want context.Canceled", tc.err)
			}
		})
	}
	if n := p.Attempts("c"); n != 0 {
		t.Fatalf("a cancelled push counted as %d attempts", n)
	}
}

// TestPusher checks what the recording pusher records and how Fail decides.
func TestPusher(t *testing.T) {
	ctx := t.Context()
	p := &inmem.Pusher{Fail: func(id string, attempt int) error {
		switch {
		case id == "gone":
			return chat.ErrGone
		case id == "flaky" && attempt < 3:
			return errors.New("503")
		}
		return nil
	}}
	steps := []struct {
		conn    string
		wantErr error // nil: delivered; else errors.Is target, or errAny
	}{
		{"ok", nil},
		{"gone", chat.ErrGone},
		{"flaky", errAny},
		{"flaky", errAny},
		{"flaky", nil},
		{"ok", nil},
	}
	for i, st := range steps {
		err := p.Push(ctx, st.conn, []byte{byte('0' + i)})
		switch {
		case st.wantErr == nil && err != nil:
			t.Fatalf("push %d to %s: %v, want delivered", i, st.conn, err)
		case st.wantErr == errAny && err == nil, st.wantErr != nil && st.wantErr != errAny && !errors.Is(err, st.wantErr):
			t.Fatalf("push %d to %s: error %v, want %v", i, st.conn, err, st.wantErr)
		}
	}
	want := []inmem.Push{{"ok", []byte("0")}, {"flaky", []byte("4")}, {"ok", []byte("5")}}
	got := p.Pushed()
	if len(got) != len(want) {
		t.Fatalf("Pushed = %q, want %q", got, want)
	}
	for i := range want {
		if got[i].ConnectionID != want[i].ConnectionID || string(got[i].Data) != string(want[i].Data) {
			t.Fatalf("Pushed[%d] = %q, want %q", i, got[i], want[i])
		}
	}
	if n := len(p.To("ok")); n != 2 {
		t.Fatalf("To(ok) has %d frames, want 2", n)
	}
	for conn, n := range map[string]int{"ok": 2, "gone": 1, "flaky": 3, "never": 0} {
		if got := p.Attempts(conn); got != n {
			t.Fatalf("Attempts(%s) = %d, want %d", conn, got, n)
		}
	}
	p.Reset()
	if len(p.Pushed()) != 0 || p.Attempts("ok") != 0 {
		t.Fatal("Reset kept pushes")
	}
}

// errAny stands for "some error" in TestPusher's table.
var errAny = errors.New("any error")
