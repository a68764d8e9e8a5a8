package chat_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/chat/inmem"
)

// BenchmarkReact measures one reaction toggled on a message of a group of 100 whose
// members each have a connection, on the in-memory stores with the inline path: the
// change's whole work in process (read, fold, compare-and-set, event, 99 posts), without
// any store's latency. It shows the CPU a change costs, not its latency on AWS.
func BenchmarkReact(b *testing.B) {
	ctx := context.Background()
	st := inmem.New()
	svc := chat.NewService(st, st, st, &inmem.Pusher{}, chat.Options{InlineMaxMembers: chat.DefaultInlineMaxMembers,
		RateLimit: -1, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	members := make([]string, 99)
	for i := range members {
		members[i] = fmt.Sprint("u", i)
		if err := svc.Connect(ctx, members[i], "c-"+members[i]); err != nil {
			b.Fatal(err)
		}
	}
	name := "bench"
	conv, err := svc.CreateConversation(ctx, chat.Caller{UserID: "owner"}, members, &name)
	if err != nil {
		b.Fatal(err)
	}
	id := conv.Conversation.ConversationID
	body := "react to me"
	ack, err := svc.Send(ctx, chat.Caller{UserID: "owner"}, chat.SendInput{ConversationID: id, ClientMsgID: "c1", Body: &body})
	if err != nil {
		b.Fatal(err)
	}
	states := []string{chat.ReactionAdd, chat.ReactionRemove}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := svc.React(ctx, chat.Caller{UserID: "u1", ConnectionID: "c-u1"}, id, ack.MessageID, "👍", states[i%2]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkHistoryWithReactions measures a history page of 50 messages, each with 5
// emojis of 20 users, folded for the caller (counts and mine), on the in-memory stores.
func BenchmarkHistoryWithReactions(b *testing.B) {
	ctx := context.Background()
	st := inmem.New()
	svc := chat.NewService(st, st, st, &inmem.Pusher{}, chat.Options{RateLimit: -1, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	name := "bench"
	conv, err := svc.CreateConversation(ctx, chat.Caller{UserID: "owner"}, []string{"reader"}, &name)
	if err != nil {
		b.Fatal(err)
	}
	id := conv.Conversation.ConversationID
	ids := chat.NewIDs()
	for i := range 50 {
		m := chat.Message{ConversationID: id, MessageID: ids.New(timeAt(i)), SenderID: "owner", Body: "hello", CreatedAt: int64(i), Reactions: map[string][]string{}}
		for e := range 5 {
			for u := range 20 {
				emoji := fmt.Sprint("e", e)
				m.Reactions[emoji] = append(m.Reactions[emoji], fmt.Sprintf("user%02d", u))
			}
		}
		if err := st.PutMessage(ctx, m); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		h, err := svc.History(ctx, chat.Caller{UserID: "reader"}, id, "", nil)
		if err != nil || len(h.Messages) != 50 || len(h.Messages[0].Reactions) != 5 {
			b.Fatal(err, len(h.Messages))
		}
	}
}

func timeAt(i int) time.Time { return t0.Add(time.Duration(i) * time.Millisecond) }
