package dynamo_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/oklog/ulid/v2"

	"github.com/parleychat/parley/internal/chat"
	"github.com/parleychat/parley/internal/chat/chattest"
	"github.com/parleychat/parley/internal/dynalite/dynalitetest"
	"github.com/parleychat/parley/internal/dynamo"
	"github.com/parleychat/parley/internal/schema"
)

// newStore starts dynalite, creates every table under a prefix and returns a store on them
// with the real SDK client.
func newStore(t testing.TB) (*dynamo.Store, *dynamodb.Client) {
	t.Helper()
	srv := dynalitetest.StartForTest(t)
	client := srv.Client()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := dynamo.CreateTables(ctx, client, dynamo.PrefixedNames("parley-", schema.All()), schema.All()); err != nil {
		t.Fatalf("CreateTables: %v", err)
	}
	s, err := dynamo.New(client, dynamo.TableNames("parley-"))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s, client
}

// TestContracts runs the three store contract suites against one dynalite.
func TestContracts(t *testing.T) {
	s, _ := newStore(t)
	t.Run("MessageStore", func(t *testing.T) {
		chattest.RunMessageStoreTests(t, func(*testing.T) chat.MessageStore { return s })
	})
	t.Run("ConversationStore", func(t *testing.T) {
		chattest.RunConversationStoreTests(t, func(*testing.T) chat.ConversationStore { return s })
	})
	t.Run("ConnectionStore", func(t *testing.T) {
		chattest.RunConnectionStoreTests(t, func(*testing.T) chat.ConnectionStore { return s })
	})
}

// errOf returns the error of a constructor's result.
func errOf[T any](_ T, err error) error { return err }

// TestConstructors checks that every constructor rejects a nil client and each missing
// table name, with an error that names what is missing.
func TestConstructors(t *testing.T) {
	db := dynamodb.New(dynamodb.Options{Region: "us-east-1"}) // never called
	cases := []struct {
		name string
		err  error
		want string // "" for no error
	}{
		{"message store", errOf(dynamo.NewMessageStore(db, "m", "c")), ""},
		{"message store: nil client", errOf(dynamo.NewMessageStore(nil, "m", "c")), "new message store: nil client"},
		{"message store: no Messages", errOf(dynamo.NewMessageStore(db, "", "c")), "Messages table name is required"},
		{"message store: no Conversations", errOf(dynamo.NewMessageStore(db, "m", "")), "Conversations table name is required"},
		{"conversation store", errOf(dynamo.NewConversationStore(db, "c")), ""},
		{"conversation store: nil client", errOf(dynamo.NewConversationStore(nil, "c")), "new conversation store: nil client"},
		{"conversation store: no Conversations", errOf(dynamo.NewConversationStore(db, "")), "Conversations table name is required"},
		{"connection store", errOf(dynamo.NewConnectionStore(db, "n")), ""},
		{"connection store: nil client", errOf(dynamo.NewConnectionStore(nil, "n")), "new connection store: nil client"},
		{"connection store: no Connections", errOf(dynamo.NewConnectionStore(db, "")), "Connections table name is required"},
		{"New", errOf(dynamo.New(db, dynamo.TableNames("p-"))), ""},
		{"New: nil client", errOf(dynamo.New(nil, dynamo.TableNames("p-"))), "nil client"},
		{"New: no Connections", errOf(dynamo.New(db, dynamo.Tables{Messages: "m", Conversations: "c"})), "Connections table name is required"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			switch {
			case tc.want == "" && tc.err != nil:
				t.Fatalf("error %v, want none", tc.err)
			case tc.want != "" && (tc.err == nil || !strings.Contains(tc.err.Error(), tc.want)):
				t.Fatalf("error %v, want one containing %q", tc.err, tc.want)
			}
		})
	}
}

// TestWithoutMessagesTable builds a ConversationStore and a ConnectionStore on a database
// that has no Messages table (as in Keyspaces mode) and checks that they work: a few direct
// calls, then their contract suites.
func TestWithoutMessagesTable(t *testing.T) {
	client := dynalitetest.StartForTest(t).Client()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tables := []schema.Table{schema.Conversations, schema.Connections}
	names := dynamo.PrefixedNames("nomsg-", tables)
	if err := dynamo.CreateTables(ctx, client, names, tables); err != nil {
		t.Fatalf("CreateTables: %v", err)
	}
	list, err := client.ListTables(ctx, &dynamodb.ListTablesInput{})
	if err != nil {
		t.Fatalf("ListTables: %v", err)
	}
	if want := []string{names[schema.ConnectionsID], names[schema.ConversationsID]}; !slices.Equal(list.TableNames, want) {
		t.Fatalf("tables = %v, want only %v", list.TableNames, want)
	}
	convs, err := dynamo.NewConversationStore(client, names[schema.ConversationsID])
	if err != nil {
		t.Fatalf("NewConversationStore: %v", err)
	}
	conns, err := dynamo.NewConnectionStore(client, names[schema.ConnectionsID])
	if err != nil {
		t.Fatalf("NewConnectionStore: %v", err)
	}

	conv, alice := "g-"+ulid.Make().String(), "alice-"+ulid.Make().String()
	if err := convs.CreateConversation(ctx, chat.Conversation{ConversationID: conv, Kind: chat.KindGroup, CreatedBy: alice},
		[]chat.Membership{{ConversationID: conv, UserID: alice, Kind: chat.KindGroup}}); err != nil {
		t.Fatalf("CreateConversation: %v", err)
	}
	if got, err := convs.GetConversation(ctx, conv); err != nil || got.MemberCount != 1 {
		t.Fatalf("GetConversation = %+v, %v; want a conversation with 1 member", got, err)
	}
	c := chat.Connection{UserID: alice, ConnectionID: "cid=", ConnectedAt: 1_000, ExpiresAt: 9_000}
	if err := conns.PutConnection(ctx, c); err != nil {
		t.Fatalf("PutConnection: %v", err)
	}
	if got, err := conns.Connections(ctx, alice, 2_000); err != nil || !slices.Equal(got, []chat.Connection{c}) {
		t.Fatalf("Connections = %+v, %v; want [%+v]", got, err, c)
	}

	t.Run("ConversationStore", func(t *testing.T) {
		chattest.RunConversationStoreTests(t, func(*testing.T) chat.ConversationStore { return convs })
	})
	t.Run("ConnectionStore", func(t *testing.T) {
		chattest.RunConnectionStoreTests(t, func(*testing.T) chat.ConnectionStore { return conns })
	})
}
