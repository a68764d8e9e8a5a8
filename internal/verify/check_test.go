package verify

import (
	"io"
	"log/slog"
	"reflect"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/client"
)

// TestCheck feeds the checker a recorded run and checks each count: the checker must be
// able to fail.
func TestCheck(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	// alice, bob and carol are in group g from 0 ms; carol leaves at 100-110 ms; dave is
	// added at 200-210 ms. alice and bob share a direct conversation.
	base := func() *runner {
		r := &runner{m: newModel(), ended: at(10_000), history: map[string][]client.Message{},
			log: slog.New(slog.NewTextHandler(io.Discard, nil))}
		r.m.direct("dm:alice:bob", "alice", "bob")
		for _, u := range []string{"alice", "bob", "carol"} {
			r.m.joined("g", u, at(0), at(1))
		}
		r.m.leaving("g", "carol", at(100))
		r.m.left("g", "carol", at(110))
		r.m.joined("g", "dave", at(200), at(210))
		return r
	}
	send := func(r *runner, conv, sender, cmid string, start, acked int, ids ...string) {
		s := &sent{conv: conv, sender: sender, clientMsgID: cmid, start: at(start), ids: map[string]bool{}}
		if acked >= 0 {
			s.acked = at(acked)
		}
		for _, id := range ids {
			s.ids[id] = true
		}
		r.m.sent = append(r.m.sent, s)
	}
	deliver := func(r *runner, user, conv, id, sender, cmid string, ms int) {
		r.m.deliveries = append(r.m.deliveries, delivery{user: user, conv: conv, messageID: id, sender: sender, clientMsgID: cmid, at: at(ms)})
	}
	hist := func(r *runner, conv string, msgs ...[3]string) {
		for _, m := range msgs {
			r.history[conv] = append(r.history[conv], client.Message{ConversationID: conv, MessageID: m[0], SenderID: m[1], ClientMsgID: m[2]})
		}
	}
	react := func(r *runner, conv, user, msg, emoji, state string, start, acked int, eventID string) {
		rc := &reaction{conv: conv, user: user, messageID: msg, emoji: emoji, state: state, start: at(start), eventIDs: map[string]bool{}}
		switch {
		case acked >= 0:
			rc.acked = at(acked)
		case acked == -2:
			rc.refused = true
		}
		if eventID != "" {
			rc.eventIDs[eventID] = true
		}
		r.m.reactions = append(r.m.reactions, rc)
	}
	gotReaction := func(r *runner, user, conv, eventID string) {
		r.m.reactionDeliveries = append(r.m.reactionDeliveries, reactionDelivery{user: user, conv: conv, eventID: eventID})
	}
	histRx := func(r *runner, conv, id string, rx ...client.ReactionCount) {
		r.history[conv] = append(r.history[conv], client.Message{ConversationID: conv, MessageID: id, SenderID: "alice", ClientMsgID: "c1", Reactions: rx})
	}
	tests := []struct {
		name string
		run  func(r *runner)
		want Report
	}{
		{"reactions: clean, a lost event, and a count the acks contradict", func(r *runner) {
			send(r, "g", "alice", "c1", 10, 20, "01A")
			for _, u := range []string{"alice", "bob", "carol"} {
				deliver(r, u, "g", "01A", "alice", "c1", 30)
			}
			deliver(r, "dave", "g", "01A", "alice", "c1", 300) // by sync, after his add
			// bob 👍 (reached alice; carol left, dave came later: neither is owed it).
			react(r, "g", "bob", "01A", "👍", "add", 40, 50, "01E1")
			gotReaction(r, "alice", "g", "01E1")
			// alice 🎉 acked, but bob never got its event: lost.
			react(r, "g", "alice", "01A", "🎉", "add", 60, 70, "01E2")
			// bob ❤️ added then removed (both acked): count 0; history says 1: a violation.
			react(r, "g", "bob", "01A", "❤️", "add", 400, 410, "01E3")
			react(r, "g", "bob", "01A", "❤️", "remove", 500, 510, "01E4")
			for _, id := range []string{"01E3", "01E4"} {
				gotReaction(r, "alice", "g", id)
				gotReaction(r, "dave", "g", id)
			}
			// dave's 😮 unanswered: its count is not checked; a refused one changes nothing.
			react(r, "g", "dave", "01A", "😮", "add", 600, -1, "")
			react(r, "g", "carol", "01A", "👍", "add", 700, -2, "")
			histRx(r, "g", "01A", client.ReactionCount{Emoji: "👍", Count: 1}, client.ReactionCount{Emoji: "🎉", Count: 1},
				client.ReactionCount{Emoji: "❤️", Count: 1}, client.ReactionCount{Emoji: "😮", Count: 5})
		}, Report{Sent: 1, Acked: 1, Lost: 1, OrderViolations: 1}},
		{"a clean run", func(r *runner) {
			send(r, "dm:alice:bob", "alice", "c1", 10, 20, "01A")
			deliver(r, "alice", "dm:alice:bob", "01A", "alice", "c1", 30)
			deliver(r, "bob", "dm:alice:bob", "01A", "alice", "c1", 30)
			hist(r, "dm:alice:bob", [3]string{"01A", "alice", "c1"})
		}, Report{Sent: 1, Acked: 1}},
		{"a member never got an acked message", func(r *runner) {
			send(r, "dm:alice:bob", "alice", "c1", 10, 20, "01A")
			deliver(r, "alice", "dm:alice:bob", "01A", "alice", "c1", 30)
			hist(r, "dm:alice:bob", [3]string{"01A", "alice", "c1"})
		}, Report{Sent: 1, Acked: 1, Lost: 1}},
		{"an unacked message need not arrive", func(r *runner) {
			send(r, "dm:alice:bob", "alice", "c1", 10, -1)
		}, Report{Sent: 1}},
		{"a member who left later is not owed the message; one added later is not either", func(r *runner) {
			send(r, "g", "alice", "c1", 50, 60, "01A")
			deliver(r, "alice", "g", "01A", "alice", "c1", 70)
			deliver(r, "bob", "g", "01A", "alice", "c1", 70)
			hist(r, "g", [3]string{"01A", "alice", "c1"})
		}, Report{Sent: 1, Acked: 1}},
		{"a message sent after the leave reached the leaver", func(r *runner) {
			send(r, "g", "alice", "c1", 150, 160, "01A")
			for _, u := range []string{"alice", "bob", "carol"} {
				deliver(r, u, "g", "01A", "alice", "c1", 170)
			}
			hist(r, "g", [3]string{"01A", "alice", "c1"})
		}, Report{Sent: 1, Acked: 1, Leaks: 1}},
		{"a message sent before the leave may still reach the leaver", func(r *runner) {
			send(r, "g", "alice", "c1", 90, 95, "01A")
			for _, u := range []string{"alice", "bob", "carol"} {
				deliver(r, u, "g", "01A", "alice", "c1", 300)
			}
			hist(r, "g", [3]string{"01A", "alice", "c1"})
		}, Report{Sent: 1, Acked: 1}},
		{"an outsider got a direct message; the added member owes nothing", func(r *runner) {
			send(r, "dm:alice:bob", "alice", "c1", 10, 20, "01A")
			deliver(r, "alice", "dm:alice:bob", "01A", "alice", "c1", 30)
			deliver(r, "bob", "dm:alice:bob", "01A", "alice", "c1", 30)
			deliver(r, "dave", "dm:alice:bob", "01A", "alice", "c1", 30)
			hist(r, "dm:alice:bob", [3]string{"01A", "alice", "c1"})
		}, Report{Sent: 1, Acked: 1, Leaks: 1}},
		{"an added member may get older messages by sync", func(r *runner) {
			send(r, "g", "alice", "c1", 150, 160, "01A")
			deliver(r, "alice", "g", "01A", "alice", "c1", 170)
			deliver(r, "bob", "g", "01A", "alice", "c1", 170)
			deliver(r, "dave", "g", "01A", "alice", "c1", 400) // dave's first sync
			hist(r, "g", [3]string{"01A", "alice", "c1"})
		}, Report{Sent: 1, Acked: 1}},
		{"duplicate deliveries are counted, not violations", func(r *runner) {
			send(r, "dm:alice:bob", "alice", "c1", 10, 20, "01A")
			deliver(r, "alice", "dm:alice:bob", "01A", "alice", "c1", 30)
			deliver(r, "bob", "dm:alice:bob", "01A", "alice", "c1", 30)
			deliver(r, "bob", "dm:alice:bob", "01A", "alice", "c1", 900)
			hist(r, "dm:alice:bob", [3]string{"01A", "alice", "c1"})
		}, Report{Sent: 1, Acked: 1, DuplicateDeliveries: 1}},
		{"a clientMsgId stored twice", func(r *runner) {
			send(r, "dm:alice:bob", "alice", "c1", 10, 20, "01A")
			deliver(r, "alice", "dm:alice:bob", "01A", "alice", "c1", 30)
			deliver(r, "bob", "dm:alice:bob", "01A", "alice", "c1", 30)
			hist(r, "dm:alice:bob", [3]string{"01A", "alice", "c1"}, [3]string{"01B", "alice", "c1"})
		}, Report{Sent: 1, Acked: 1, StoredDuplicates: 1}},
		{"two acks naming different ids", func(r *runner) {
			send(r, "dm:alice:bob", "alice", "c1", 10, 20, "01A", "01B")
			deliver(r, "alice", "dm:alice:bob", "01A", "alice", "c1", 30)
			deliver(r, "bob", "dm:alice:bob", "01B", "alice", "c1", 30)
			hist(r, "dm:alice:bob", [3]string{"01A", "alice", "c1"}, [3]string{"01B", "alice", "c1"})
		}, Report{Sent: 1, Acked: 1, StoredDuplicates: 1}},
		{"history out of order and missing an acked message", func(r *runner) {
			send(r, "dm:alice:bob", "alice", "c1", 10, 20, "01A")
			send(r, "dm:alice:bob", "bob", "c1", 10, 20, "01B")
			send(r, "dm:alice:bob", "bob", "c2", 10, 20, "01C")
			for _, u := range []string{"alice", "bob"} {
				for _, x := range [][2]string{{"01A", "alice"}, {"01B", "bob"}, {"01C", "bob"}} {
					deliver(r, u, "dm:alice:bob", x[0], x[1], map[string]string{"01A": "c1", "01B": "c1", "01C": "c2"}[x[0]], 30)
				}
			}
			hist(r, "dm:alice:bob", [3]string{"01B", "bob", "c1"}, [3]string{"01A", "alice", "c1"})
		}, Report{Sent: 3, Acked: 3, OrderViolations: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := base()
			tt.run(r)
			got := r.check()
			got.Examples, got.Stats = nil, Stats{}
			if !reflect.DeepEqual(*got, tt.want) {
				t.Fatalf("report %+v\nwant   %+v", *got, tt.want)
			}
		})
	}
}
