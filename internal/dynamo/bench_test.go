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
