package dynamo_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/go-cmp/cmp"
	"github.com/oklog/ulid/v2"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/dynamo"
)

// rawItem reads one item as plain Go values.
func rawItem(t *testing.T, c *dynamodb.Client, table, pkName, pk, skName, sk string) map[string]any {
	t.Helper()
	out, err := c.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName: aws.String(table),
		Key: map[string]types.AttributeValue{
			pkName: &types.AttributeValueMemberS{Value: pk},
			skName: &types.AttributeValueMemberS{Value: sk},
		},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		t.Fatalf("GetItem %s %s/%s: %v", table, pk, sk, err)
	}
	if out.Item == nil {
		return nil
	}
	var m map[string]any
	if err := attributevalue.UnmarshalMap(out.Item, &m); err != nil {
		t.Fatalf("unmarshal: %v", err)
	}
	return m
}

func wantItem(t *testing.T, got, want map[string]any, what string) {
	t.Helper()
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("%s item mismatch (-want +got):\n%s", what, d)
	}
}

// TestLayout pins the item layout that the stream consumers and DESIGN.md rely on.
func TestLayout(t *testing.T) {
	s, c := newStore(t)
	ctx := context.Background()
	names := dynamo.TableNames("parley-")
	conv, alice, bob := "g-"+ulid.Make().String(), "alice-"+ulid.Make().String(), "bob-"+ulid.Make().String()
	mid := ulid.Make().String()

	t.Run("message", func(t *testing.T) {
		m := chat.Message{ConversationID: conv, MessageID: mid, SenderID: alice, Body: "hi", CreatedAt: 1700, ClientMsgID: "c1"}
		if err := s.PutMessage(ctx, m); err != nil {
			t.Fatal(err)
		}
		wantItem(t, rawItem(t, c, names.Messages, "conversationId", conv, "messageId", mid), map[string]any{
			"conversationId": conv, "messageId": mid, "senderId": alice, "body": "hi", "createdAt": 1700.0, "clientMsgId": "c1",
		}, "message")
	})
	t.Run("conversation", func(t *testing.T) {
		err := s.CreateConversation(ctx, chat.Conversation{ConversationID: conv, Kind: chat.KindGroup, Name: "n", CreatedBy: alice, CreatedAt: 5},
			[]chat.Membership{{ConversationID: conv, UserID: alice, Kind: chat.KindGroup, JoinedAt: 5}})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.SetLastMessage(ctx, chat.Message{ConversationID: conv, MessageID: mid, SenderID: alice, Body: "hi", CreatedAt: 1700}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.AdvanceCursor(ctx, conv, alice, chat.StatusRead, mid); err != nil {
			t.Fatal(err)
		}
		wantItem(t, rawItem(t, c, names.Conversations, "pk", "CONV#"+conv, "sk", "META"), map[string]any{
			"pk": "CONV#" + conv, "sk": "META", "kind": "group", "name": "n", "createdBy": alice, "createdAt": 5.0, "memberCount": 1.0,
			"lastMessage": map[string]any{"conversationId": conv, "messageId": mid, "senderId": alice, "body": "hi", "createdAt": 1700.0},
		}, "META")
		wantItem(t, rawItem(t, c, names.Conversations, "pk", "CONV#"+conv, "sk", "MEMBER#"+alice), map[string]any{
			"pk": "CONV#" + conv, "sk": "MEMBER#" + alice, "userId": alice, "kind": "group", "joinedAt": 5.0, "readUpTo": mid,
		}, "MEMBER")
	})
	t.Run("reservation", func(t *testing.T) {
		if _, err := s.Reserve(ctx, chat.Reservation{ConversationID: conv, SenderID: alice, ClientMsgID: "c1", MessageID: mid, CreatedAt: 1700}); err != nil {
			t.Fatal(err)
		}
		wantItem(t, rawItem(t, c, names.Conversations, "pk", "CONV#"+conv, "sk", "CLIENTMSG#"+alice+"#c1"), map[string]any{
			"pk": "CONV#" + conv, "sk": "CLIENTMSG#" + alice + "#c1", "messageId": mid, "createdAt": 1700.0,
		}, "CLIENTMSG")
	})
	t.Run("connection and presence", func(t *testing.T) {
		if err := s.PutConnection(ctx, chat.Connection{UserID: bob, ConnectionID: "cid=", ConnectedAt: 1_000, ExpiresAt: 9_000}); err != nil {
			t.Fatal(err)
		}
		wantItem(t, rawItem(t, c, names.Connections, "pk", bob, "sk", "cid="), map[string]any{
			"pk": bob, "sk": "cid=", "connectedAt": 1000.0, "expiresAt": 9000.0,
		}, "connection")
		if _, err := s.TouchPresence(ctx, bob, 1_700_000_000_500); err != nil {
			t.Fatal(err)
		}
		wantItem(t, rawItem(t, c, names.Connections, "pk", bob, "sk", "#presence"), map[string]any{
			"pk": bob, "sk": "#presence", "lastSeen": 1_700_000_000_500.0, "offline": false, "expiresAt": 1_700_007_801.0, // lastSeen + chat.PresenceWindowMillis, in whole seconds
		}, "online presence")
		if _, err := s.SetOffline(ctx, bob, 1_700_000_001_000); err != nil {
			t.Fatal(err)
		}
		wantItem(t, rawItem(t, c, names.Connections, "pk", bob, "sk", "#presence"), map[string]any{
			"pk": bob, "sk": "#presence", "lastSeen": 1_700_000_001_000.0, "offline": true,
		}, "offline presence")
	})
}

// TestDynamoSpecifics covers behaviour the contract leaves to the implementation.
func TestDynamoSpecifics(t *testing.T) {
	s, c := newStore(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	names := dynamo.TableNames("parley-")

	t.Run("cursor of a non-member does not move and creates nothing", func(t *testing.T) {
		conv, u := "g-"+ulid.Make().String(), "u-"+ulid.Make().String()
		moved, err := s.AdvanceCursor(ctx, conv, u, chat.StatusRead, ulid.Make().String())
		if err != nil || moved {
			t.Fatalf("AdvanceCursor of a non-member = %v, %v; want false, nil", moved, err)
		}
		if item := rawItem(t, c, names.Conversations, "pk", "CONV#"+conv, "sk", "MEMBER#"+u); item != nil {
			t.Fatalf("AdvanceCursor created %v", item)
		}
	})
	t.Run("AddMembers to a missing conversation", func(t *testing.T) {
		conv := "g-" + ulid.Make().String()
		_, err := s.AddMembers(ctx, conv, []chat.Membership{{ConversationID: conv, UserID: "x"}}, 10)
		if !errors.Is(err, chat.ErrNotFound) {
			t.Fatalf("AddMembers to a missing conversation: %v, want ErrNotFound", err)
		}
	})
	t.Run("SetLastMessage of a missing conversation creates nothing", func(t *testing.T) {
		conv := "g-" + ulid.Make().String()
		if err := s.SetLastMessage(ctx, chat.Message{ConversationID: conv, MessageID: ulid.Make().String()}); err != nil {
			t.Fatal(err)
		}
		if item := rawItem(t, c, names.Conversations, "pk", "CONV#"+conv, "sk", "META"); item != nil {
			t.Fatalf("SetLastMessage created %v", item)
		}
	})
	t.Run("bad input", func(t *testing.T) {
		conv := "g-" + ulid.Make().String()
		cases := []struct {
			name string
			err  error
			want string
		}{
			{"empty conversation", s.PutMessage(ctx, chat.Message{MessageID: "m"}), "conversation id is required"},
			{"zero limit", func() error { _, _, err := s.After(ctx, conv, "", 0); return err }(), "limit must be positive"},
			{"cursor status", func() error { _, err := s.AdvanceCursor(ctx, conv, "u", "sent", "m"); return err }(), "unknown cursor status"},
			{"connection without expiry", s.PutConnection(ctx, chat.Connection{UserID: "u", ConnectionID: "c"}), "ExpiresAt"},
			{"reserved connection id", s.PutConnection(ctx, chat.Connection{UserID: "u", ConnectionID: "#presence", ExpiresAt: 1}), "may not start"},
			{"member of another conversation", func() error {
				_, err := s.AddMembers(ctx, conv, []chat.Membership{{ConversationID: "other", UserID: "u"}}, 10)
				return err
			}(), "given for conversation"},
		}
		for _, tc := range cases {
			if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) {
				t.Errorf("%s: error %v, want one containing %q", tc.name, tc.err, tc.want)
			}
		}
		if _, err := dynamo.New(c, dynamo.Tables{Messages: "m"}); err == nil {
			t.Error("New with missing table names: no error")
		}
	})
	t.Run("presence write is skipped while recent", func(t *testing.T) {
		u := "u-" + ulid.Make().String()
		const t0 = int64(1_800_000_000_000)
		for _, at := range []int64{t0, t0 + dynamo.PresenceWriteInterval - 1} {
			if _, err := s.TouchPresence(ctx, u, at); err != nil {
				t.Fatal(err)
			}
		}
		if got := rawItem(t, c, names.Connections, "pk", u, "sk", "#presence")["lastSeen"]; got != float64(t0) {
			t.Fatalf("lastSeen after a touch within %d ms = %v, want %d (write skipped)", dynamo.PresenceWriteInterval, got, t0)
		}
		if _, err := s.TouchPresence(ctx, u, t0+dynamo.PresenceWriteInterval+1); err != nil {
			t.Fatal(err)
		}
		if got := rawItem(t, c, names.Connections, "pk", u, "sk", "#presence")["lastSeen"]; got != float64(t0+dynamo.PresenceWriteInterval+1) {
			t.Fatalf("lastSeen after a touch past the interval = %v, want it written", got)
		}
	})
}
