package chat_test

import (
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/chat"
)

// TestSyncAcrossInstances reproduces what many Lambda instances do on AWS: each makes its
// message ids with its own clock, so a message can be stored after one with a later id.
// A member whose delivered cursor passed the later id must still get the earlier one from
// sync; before the settle window it was lost (in history only).
func TestSyncAcrossInstances(t *testing.T) {
	f := newFixture(t, setup{})
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	at := func(skew time.Duration) *chat.Service {
		return chat.NewService(f.store, f.store, f.store, f.push, chat.Options{
			Now: func() time.Time { return f.clock.Now().Add(skew) }, Logger: quiet,
		})
	}
	fast, slow := at(+400*time.Millisecond), at(-400*time.Millisecond)
	conv := f.group("xavier", "yvonne", "zoe")
	send := func(svc *chat.Service, user, cmid string) chat.AckFrame {
		t.Helper()
		body := "hi"
		ack, err := svc.Send(f.ctx, as(user), chat.SendInput{ConversationID: conv, ClientMsgID: cmid, Body: &body})
		must(t, err, "send")
		return ack
	}
	later := send(fast, "xavier", "x1") // stored first, id 400 ms ahead
	f.clock.Advance(100 * time.Millisecond)
	earlier := send(slow, "yvonne", "y1") // stored second, id 400 ms behind
	if earlier.MessageID >= later.MessageID {
		t.Fatalf("set-up: ids %s then %s; want the second below the first", later.MessageID, earlier.MessageID)
	}
	// zoe got the first message live and acknowledged it; she was offline for the second.
	if _, err := f.svc.Receipt(f.ctx, as("zoe"), conv, later.MessageID, chat.StatusDelivered); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Minute)
	zoe := f.connect("zoe")
	f.push.Reset()
	synced, err := f.svc.Sync(f.ctx, zoe)
	must(t, err, "sync")
	got := map[string]bool{}
	for _, p := range f.push.To(zoe.ConnectionID) {
		got[string(p)] = true
	}
	found := false
	for frame := range got {
		found = found || strings.Contains(frame, earlier.MessageID)
	}
	if !found {
		t.Fatalf("sync after the cursor %s did not replay %s, stored after it with a lower id (synced %+v)", later.MessageID, earlier.MessageID, synced)
	}
}

// TestSettleWindow checks what sync replays from before the cursor: the messages of the
// settling window (at most MaxSettleReplay, the newest), none older, on top of the budget
// of MaxSyncMessages after the cursor; and that a window fuller than one read still lets
// the messages after the cursor through.
func TestSettleWindow(t *testing.T) {
	tests := []struct {
		name                  string
		spacing               time.Duration // between messages
		total, cursor         int           // messages put; the cursor is at message cursor-1
		wantWindow, wantFresh int
		wantMore              bool
	}{
		// 11 s before the message at 29 s: the messages at 18 s (its id is above the
		// window's start) to 29 s.
		{"a quiet conversation replays its last seconds", time.Second, 40, 30, 12, 10, false},
		{"a busy one replays at most MaxSettleReplay", 10 * time.Millisecond, 300, 200, chat.MaxSettleReplay, 100, false},
		{"a window fuller than one read", time.Millisecond, 1200, 1150, chat.MaxSettleReplay, 50, false},
		{"the budget counts only what is after the cursor", time.Millisecond, 1100, 50, chat.MaxSettleReplay, chat.MaxSyncMessages, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, setup{})
			me := f.connect("me")
			conv := f.dm(me.UserID, "peer")
			msgs := make([]chat.Message, tt.total)
			for i := range msgs {
				msgs[i] = f.put(conv, "peer", 1)[0]
				f.clock.Advance(tt.spacing - time.Millisecond)
			}
			_, err := f.svc.Receipt(f.ctx, me, conv, msgs[tt.cursor-1].MessageID, chat.StatusDelivered)
			must(t, err, "receipt")
			f.push.Reset()
			synced, err := f.svc.Sync(f.ctx, me)
			must(t, err, "sync")
			got := pushedMessages(t, f, me.ConnectionID)
			var window, fresh int
			for i, m := range got {
				if i > 0 && m.MessageID <= got[i-1].MessageID {
					t.Fatalf("replayed out of order at %d", i)
				}
				if m.MessageID <= msgs[tt.cursor-1].MessageID {
					window++
				} else {
					fresh++
				}
			}
			if window != tt.wantWindow || fresh != tt.wantFresh || synced.More != tt.wantMore || synced.Count != len(got) {
				t.Fatalf("replayed %d from the window and %d after the cursor (more %v, count %d); want %d, %d, more %v",
					window, fresh, synced.More, synced.Count, tt.wantWindow, tt.wantFresh, tt.wantMore)
			}
			if window == 0 {
				t.Fatal("nothing replayed from the window")
			}
			if last := got[window-1].MessageID; last != msgs[tt.cursor-1].MessageID && last != msgs[tt.cursor-2].MessageID {
				t.Fatalf("the window's replay does not end at (or just before) the cursor")
			}
		})
	}
}
