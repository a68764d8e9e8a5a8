// Package inmem implements Parley's stores in process memory, one type per interface of
// internal/chat, in the manner of the other adapters (internal/dynamo, internal/keyspaces):
//
//	MessageStore       chat.MessageStore       messages, send reservations, cursors
//	ConversationStore  chat.ConversationStore  conversations and their members
//	ConnectionStore    chat.ConnectionStore    connections and presence
//
// Store bundles the three; Pusher is a chat.Pusher that records what it was given. Every
// type is safe for concurrent use and passes the contract suites of internal/chat/chattest.
// They are meant for unit tests of chat.Service and for anything else that wants the
// domain without a database: nothing is persisted, and there is no TTL (an expired
// connection is left out of reads, as the contract asks, but never deleted).
package inmem

import (
	"context"
	"fmt"

	"github.com/parleychat/parley/internal/chat"
)

// Store is the in-memory implementation of all three chat stores: the embedded
// MessageStore, ConversationStore and ConnectionStore. It is safe for concurrent use.
type Store struct {
	*MessageStore
	*ConversationStore
	*ConnectionStore
}

var (
	_ chat.MessageStore      = (*Store)(nil)
	_ chat.ConversationStore = (*Store)(nil)
	_ chat.ConnectionStore   = (*Store)(nil)
)

// New returns an empty Store.
func New() *Store {
	return &Store{
		MessageStore:      NewMessageStore(),
		ConversationStore: NewConversationStore(),
		ConnectionStore:   NewConnectionStore(),
	}
}

// alive returns a wrapped ctx.Err() once ctx is done, so that a cancelled call fails the
// way a call to a real store would.
func alive(ctx context.Context, op string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("inmem: %s: %w", op, err)
	}
	return nil
}

// required returns an error naming the first empty value of the (name, value) pairs.
func required(op string, pairs ...string) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] == "" {
			return fmt.Errorf("inmem: %s: %s is required", op, pairs[i])
		}
	}
	return nil
}

// check is alive and required in one call, the preamble of every store method.
func check(ctx context.Context, op string, pairs ...string) error {
	if err := alive(ctx, op); err != nil {
		return err
	}
	return required(op, pairs...)
}
