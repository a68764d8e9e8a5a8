package dynamo_test

import (
	"context"
	"testing"

	"github.com/oklog/ulid/v2"

	"github.com/parleychat/parley/internal/chat"
)

// BenchmarkSendPath measures the store half of one send: Reserve, then PutMessage, then
// SetLastMessage, through the SDK against dynalite.
func BenchmarkSendPath(b *testing.B) {
	s, _ := newStore(b)
	ctx := context.Background()
	conv, sender := "g-"+ulid.Make().String(), "u-"+ulid.Make().String()
	if err := s.CreateConversation(ctx, chat.Conversation{ConversationID: conv, Kind: chat.KindGroup, CreatedBy: sender},
		[]chat.Membership{{ConversationID: conv, UserID: sender, Kind: chat.KindGroup}}); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		id := ulid.Make().String()
		r, err := s.Reserve(ctx, chat.Reservation{ConversationID: conv, SenderID: sender, ClientMsgID: id, MessageID: id})
		if err != nil {
			b.Fatal(err)
		}
		m := chat.Message{ConversationID: conv, MessageID: r.MessageID, SenderID: sender, Body: "benchmark", ClientMsgID: id}
		if err := s.PutMessage(ctx, m); err != nil {
			b.Fatal(err)
		}
		if err := s.SetLastMessage(ctx, m); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHistoryPage measures reading a page of 50 messages, newest first.
func BenchmarkHistoryPage(b *testing.B) {
	s, _ := newStore(b)
	ctx := context.Background()
	conv := "g-" + ulid.Make().String()
	for range 200 {
		if err := s.PutMessage(ctx, chat.Message{ConversationID: conv, MessageID: ulid.Make().String(), SenderID: "u", Body: "history"}); err != nil {
			b.Fatal(err)
		}
	}
	for b.Loop() {
		msgs, more, err := s.Before(ctx, conv, "", chat.DefaultHistoryLimit)
		if err != nil || len(msgs) != chat.DefaultHistoryLimit || !more {
			b.Fatalf("Before = %d messages, more %v, err %v", len(msgs), more, err)
		}
	}
}

// BenchmarkHistoryPageWithChanges is BenchmarkHistoryPage in a conversation where every
// message is followed by four reaction events (protocol 1.1): the page's Query reads the
// events too and the filter leaves them out, so it reads five items per message shown.
// It measures what history pays for keeping change events in the message partition.
func BenchmarkHistoryPageWithChanges(b *testing.B) {
	s, _ := newStore(b)
	ctx := context.Background()
	conv := "g-" + ulid.Make().String()
	for range 200 {
		m := chat.Message{ConversationID: conv, MessageID: ulid.Make().String(), SenderID: "u", Body: "history"}
		if err := s.PutMessage(ctx, m); err != nil {
			b.Fatal(err)
		}
		for range 4 {
			id := ulid.Make().String()
			ev := chat.Message{ConversationID: conv, MessageID: id, SenderID: "v", CreatedAt: 1,
				Change: &chat.Change{Kind: chat.ChangeReaction, EventID: id, MessageID: m.MessageID, UserID: "v", At: 1, Emoji: "👍", State: chat.ReactionAdd}}
			if err := s.PutMessage(ctx, ev); err != nil {
				b.Fatal(err)
			}
		}
	}
	for b.Loop() {
		msgs, more, err := s.Before(ctx, conv, "", chat.DefaultHistoryLimit)
		if err != nil || len(msgs) != chat.DefaultHistoryLimit || !more {
			b.Fatalf("Before = %d messages, more %v, err %v", len(msgs), more, err)
		}
	}
}
