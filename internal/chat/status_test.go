package chat_test

import (
	"fmt"
	"testing"

	"github.com/parleychat/parley/internal/chat"
)

// receipt is one receipt a member sends before history is read: the member's cursor
// moves to message at (an index into the messages sent).
type receipt struct {
	user   string
	status string
	at     int
}

// statusOf is the status the history shows on one of the caller's messages: a direct
// conversation's status, or a group's counts.
type statusOf struct {
	status              string
	deliveredTo, readBy int
}

// historyStatus sends n messages from sender and then one from other (which must carry
// no status), applies the receipts, lets leaver leave (unless ""), and returns the status
// of the sender's messages as the sender's history shows them, oldest first.
func historyStatus(t *testing.T, f *fixture, conv, sender, other string, n int, receipts []receipt, leaver string) []statusOf {
	t.Helper()
	var sent []chat.Message
	for i := range n {
		sent = append(sent, f.send(sender, conv, fmt.Sprint("m", i)))
	}
	theirs := f.send(other, conv, "a reply")
	for _, r := range receipts {
		_, err := f.svc.Receipt(f.ctx, as(r.user), conv, sent[r.at].MessageID, r.status)
		must(t, err, fmt.Sprintf("%s %s up to m%d", r.user, r.status, r.at))
	}
	if leaver != "" {
		_, err := f.svc.Leave(f.ctx, as(leaver), conv)
		must(t, err, "leave")
	}
	h, err := f.svc.History(f.ctx, as(sender), conv, "", nil)
	must(t, err, "history")
	if len(h.Messages) != n+1 {
		t.Fatalf("history has %d messages, want %d", len(h.Messages), n+1)
	}
	var out []statusOf
	for i := len(h.Messages) - 1; i >= 0; i-- { // newest first: walk backwards
		m := h.Messages[i]
		if m.MessageID == theirs.MessageID {
			if m.Status != "" || m.DeliveredTo != nil || m.ReadBy != nil {
				t.Fatalf("a message of %s carries a status in %s's history: %+v", other, sender, m)
			}
			continue
		}
		s := statusOf{status: m.Status}
		if (m.DeliveredTo == nil) != (m.ReadBy == nil) {
			t.Fatalf("deliveredTo and readBy not set together: %+v", m)
		}
		if m.DeliveredTo != nil {
			s.deliveredTo, s.readBy = *m.DeliveredTo, *m.ReadBy
		}
		out = append(out, s)
	}
	return out
}

// TestHistoryStatusDirect checks the status of one's own messages in a direct
// conversation, computed from the peer's cursors: read at or before the read cursor,
// delivered at or before the delivered one, sent after both. The caller's own cursors
// never count.
func TestHistoryStatusDirect(t *testing.T) {
	sent, dlv, read := statusOf{status: chat.StatusSent}, statusOf{status: chat.StatusDelivered}, statusOf{status: chat.StatusRead}
	cases := []struct {
		name     string
		receipts []receipt
		want     []statusOf
	}{
		{"no receipts", nil, []statusOf{sent, sent, sent, sent}},
		{"delivered up to the second", []receipt{{"bob", chat.StatusDelivered, 1}}, []statusOf{dlv, dlv, sent, sent}},
		{"read up to the first, delivered up to the third", []receipt{{"bob", chat.StatusDelivered, 2}, {"bob", chat.StatusRead, 0}}, []statusOf{read, dlv, dlv, sent}},
		{"read implies delivered", []receipt{{"bob", chat.StatusRead, 1}}, []statusOf{read, read, sent, sent}},
		{"a receipt behind the cursor changes nothing", []receipt{{"bob", chat.StatusRead, 3}, {"bob", chat.StatusDelivered, 0}}, []statusOf{read, read, read, read}},
		{"the sender's own cursor does not count", []receipt{{"alice", chat.StatusRead, 3}}, []statusOf{sent, sent, sent, sent}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, setup{})
			got := historyStatus(t, f, f.dm("alice", "bob"), "alice", "bob", 4, tc.receipts, "")
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("status of m0..m3 = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestHistoryStatusGroup checks deliveredTo and readBy of one's own messages in a group:
// the number of other current members whose cursor is at or past the message.
func TestHistoryStatusGroup(t *testing.T) {
	c := func(d, r int) statusOf { return statusOf{deliveredTo: d, readBy: r} }
	cases := []struct {
		name     string
		receipts []receipt
		leaver   string // leaves the group after the receipts
		want     []statusOf
	}{
		{"no receipts", nil, "", []statusOf{c(0, 0), c(0, 0), c(0, 0)}},
		{"one delivered", []receipt{{"bob", chat.StatusDelivered, 1}}, "", []statusOf{c(1, 0), c(1, 0), c(0, 0)}},
		{"mixed cursors", []receipt{
			{"bob", chat.StatusDelivered, 1}, {"bob", chat.StatusRead, 0},
			{"carol", chat.StatusRead, 2},
			{"dave", chat.StatusDelivered, 0},
		}, "", []statusOf{c(3, 2), c(2, 1), c(1, 1)}},
		{"the sender's own cursor does not count", []receipt{{"alice", chat.StatusRead, 2}, {"bob", chat.StatusDelivered, 0}}, "", []statusOf{c(1, 0), c(0, 0), c(0, 0)}},
		{"a member who left no longer counts", []receipt{{"carol", chat.StatusRead, 2}, {"dave", chat.StatusRead, 1}}, "carol", []statusOf{c(1, 1), c(1, 1), c(0, 0)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, setup{})
			g := f.group("alice", "bob", "carol", "dave")
			got := historyStatus(t, f, g, "alice", "bob", 3, tc.receipts, tc.leaver)
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("deliveredTo/readBy of m0..m2 = %v, want %v", got, tc.want)
			}
		})
	}
}
