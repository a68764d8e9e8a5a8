package dynamo_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

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
