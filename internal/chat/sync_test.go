package chat_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"sync"
	"testing"

	"github.com/parleychat/parley/internal/chat"
)

// syncChunk is how many conversations Sync reads at a time (chat's syncChunk).
const syncChunk = 16

// afterLog records the limit of every After call, by conversation.
type afterLog struct {
	chat.MessageStore
	mu     sync.Mutex
	limits map[string][]int
}

func (a *afterLog) After(ctx context.Context, conversationID, after string, limit int) ([]chat.Message, bool, error) {
	a.mu.Lock()
	a.limits[conversationID] = append(a.limits[conversationID], limit)
	a.mu.Unlock()
	return a.MessageStore.After(ctx, conversationID, after, limit)
}

// TestSyncBudget fills a user's conversations with missed messages and checks one sync:
// at most MaxSyncMessages in all; from each conversation a prefix of what it missed,
// oldest first (a conversation's later messages are never sent before its earlier
// ones); more exactly when something was left out; lastMessageIds naming the last message
// sent of each conversation; the pushed frames being the messages counted, in order; and
// the read limits that show the conversations being read 16 at a time, each up to the
// budget left when its chunk starts, and not read at all once the budget is spent.
func TestSyncBudget(t *testing.T) {
	const max = chat.MaxSyncMessages
	repeat := func(n, each int) []int {
		out := make([]int, n)
		for i := range out {
			out[i] = each
		}
		return out
	}
	cases := []struct {
		name   string
		counts []int // missed messages per conversation, in the order Sync lists them
		// limits[i] is the After limit of the i-th chunk of 16 conversations; chunks
		// past the end of limits must not be read.
		limits []int
	}{
		{"nothing missed", repeat(3, 0), []int{max}},
		{"a few", []int{5, 0, 7}, []int{max}},
		{"one conversation over the budget", []int{max + 5}, []int{max}},
		{"exactly the budget over three chunks", repeat(40, 25), []int{max, max - 400, max - 800}},
		{"one over the budget, in the last conversation", append(repeat(39, 25), 26), []int{max, max - 400, max - 800}},
		// 39 + 15*31 = 504 in the first chunk, 16*31 = 496 in the second: the budget is
		// spent exactly, and the third chunk is only peeked at (limit 1) to tell more.
		{"budget spent at a chunk boundary, messages beyond", append(append([]int{39}, repeat(31, 31)...), 1, 0, 1), []int{max, max - 504, 1}},
		{"budget spent at a chunk boundary, nothing beyond", append(append([]int{39}, repeat(31, 31)...), 0, 0), []int{max, max - 504, 1}},
		// The budget runs out in the first chunk: the second is never read.
		{"budget spent in the first chunk", append(repeat(16, 70), repeat(5, 1)...), []int{max}},
		{"many conversations, each short", repeat(70, 1), []int{max, max - 16, max - 32, max - 48, max - 64}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			log := &afterLog{limits: map[string][]int{}}
			f := newFixture(t, setup{messages: func(s chat.MessageStore) chat.MessageStore { log.MessageStore = s; return log }})
			me := f.connect("me")
			// One conversation per count, as Sync will list them: a direct one first (as
			// in a real list, its id sorts first), then groups.
			missed := map[string][]chat.Message{}
			convs := make([]string, len(tc.counts))
			for i, n := range tc.counts {
				if i == 0 {
					convs[i] = f.dm(me.UserID, "peer")
				} else {
					convs[i] = f.group(me.UserID, fmt.Sprint("member", i))
				}
				// Half the messages are the caller's own: they are synced too.
				missed[convs[i]] = f.put(convs[i], "peer", n/2)
				missed[convs[i]] = append(missed[convs[i]], f.put(convs[i], me.UserID, n-n/2)...)
			}
			checkListed(t, f, me.UserID, convs)
			f.push.Reset()

			synced, err := f.svc.Sync(f.ctx, me)
			must(t, err, "sync")

			total := 0
			for _, n := range tc.counts {
				total += n
			}
			if want := min(total, max); synced.Count != want {
				t.Fatalf("count = %d, want %d", synced.Count, want)
			}
			if synced.More != (total > max) {
				t.Fatalf("more = %v with %d missed and a budget of %d", synced.More, total, max)
			}
			sent := pushedMessages(t, f, me.ConnectionID)
			if len(sent) != synced.Count {
				t.Fatalf("%d messages pushed, count says %d", len(sent), synced.Count)
			}
			checkPrefixes(t, sent, missed)
			wantLast := map[string]string{}
			for _, m := range sent {
				wantLast[m.ConversationID] = m.MessageID
			}
			if len(sent) == 0 {
				wantLast = nil
			}
			if !maps.Equal(synced.LastMessageIDs, wantLast) {
				t.Fatalf("lastMessageIds = %v, want %v", synced.LastMessageIDs, wantLast)
			}
			for i, conv := range convs {
				var want []int
				if chunk := i / syncChunk; chunk < len(tc.limits) {
					want = []int{tc.limits[chunk]}
				}
				if got := log.limits[conv]; fmt.Sprint(got) != fmt.Sprint(want) {
					t.Fatalf("conversation %d (chunk %d): After limits %v, want %v", i, i/syncChunk, got, want)
				}
			}
		})
	}
}

// TestSyncAfterCursor checks that sync starts after the delivered cursor of each
// conversation, that a read cursor alone does not count, and that a second sync after
// the delivered receipts the client sends for lastMessageIds goes on where the first
// stopped, until more is false and every message was sent exactly once (with the settling
// window off: TestSettleWindow covers its replays).
func TestSyncAfterCursor(t *testing.T) {
	f := newFixture(t, setup{opts: chat.Options{SettleWindow: -1}})
	me := f.connect("me")
	a, b := f.dm(me.UserID, "peer"), f.group(me.UserID, "other")
	msgsA, msgsB := f.put(a, "peer", 700), f.put(b, "other", 600)
	// Delivered up to the 100th of a; read (which moves delivered too) up to the 50th of b.
	_, err := f.svc.Receipt(f.ctx, me, a, msgsA[99].MessageID, chat.StatusDelivered)
	must(t, err, "receipt")
	_, err = f.svc.Receipt(f.ctx, me, b, msgsB[49].MessageID, chat.StatusRead)
	must(t, err, "receipt")
	want := map[string][]chat.Message{a: msgsA[100:], b: msgsB[50:]}

	seen := map[string][]chat.Message{}
	for round := 1; ; round++ {
		if round > 3 {
			t.Fatal("sync still reports more after 3 rounds for 1150 messages")
		}
		f.push.Reset()
		synced, err := f.svc.Sync(f.ctx, me)
		must(t, err, fmt.Sprintf("sync round %d", round))
		for _, m := range pushedMessages(t, f, me.ConnectionID) {
			seen[m.ConversationID] = append(seen[m.ConversationID], m)
		}
		for conv, id := range synced.LastMessageIDs {
			_, err := f.svc.Receipt(f.ctx, me, conv, id, chat.StatusDelivered)
			must(t, err, "delivered receipt for lastMessageIds")
		}
		if !synced.More {
			if round != 2 {
				t.Fatalf("more = false after round %d, want after round 2 (1150 messages, 1000 a round)", round)
			}
			break
		}
	}
	for conv, msgs := range want {
		if got, wantIDs := ids(seen[conv]), ids(msgs); fmt.Sprint(got) != fmt.Sprint(wantIDs) {
			t.Fatalf("%s: synced %d messages, want the %d after the cursor, each once, oldest first", conv, len(got), len(wantIDs))
		}
	}
}

// checkListed fails unless the caller's conversations are listed in the order given,
// which the limits of TestSyncBudget assume.
func checkListed(t *testing.T, f *fixture, user string, convs []string) {
	t.Helper()
	ms, err := f.store.UserConversations(f.ctx, user)
	must(t, err, "user conversations")
	var got []string
	for _, m := range ms {
		got = append(got, m.ConversationID)
	}
	if fmt.Sprint(got) != fmt.Sprint(convs) {
		t.Fatalf("conversations listed as %v, want %v", got, convs)
	}
}

// pushedMessages decodes the message frames pushed to a connection.
func pushedMessages(t *testing.T, f *fixture, connectionID string) []chat.Message {
	t.Helper()
	var out []chat.Message
	for _, data := range f.push.To(connectionID) {
		var fr chat.MessageFrame
		must(t, json.Unmarshal(data, &fr), "decode pushed frame")
		if fr.Type != chat.TypeMessage {
			t.Fatalf("pushed a %q frame during sync, want only messages", fr.Type)
		}
		out = append(out, fr.Message)
	}
	return out
}

// checkPrefixes fails unless the messages sent of each conversation are, in the order
// sent, the first of those it missed.
func checkPrefixes(t *testing.T, sent []chat.Message, missed map[string][]chat.Message) {
	t.Helper()
	next := map[string]int{}
	for i, m := range sent {
		want := missed[m.ConversationID]
		k := next[m.ConversationID]
		if k >= len(want) || !reflect.DeepEqual(want[k], m) {
			t.Fatalf("message %d sent is %s/%s, want the next missed of its conversation (%d of %d)", i, m.ConversationID, m.MessageID, k, len(want))
		}
		next[m.ConversationID] = k + 1
	}
}

func ids(ms []chat.Message) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.MessageID
	}
	return out
}
