package keyspaces

import (
	"context"
	"errors"
	"fmt"
	"slices"

	gocql "github.com/apache/cassandra-gocql-driver/v2"

	"github.com/parleychat/parley/internal/chat"
)

// Changes to messages (protocol 1.1: edit, delete, react). chat.Service folds a change
// into the message's state and stores it with ApplyChange, then stores the change event
// with PutMessage and erases a superseded edit's body with EraseBody.

// Republish implements chat.MessageStore: this store has no outbox of its own, so there
// is nothing to write again (dynamo.OutboxStore, which wraps it, writes the outbox item).
func (s *Store) Republish(context.Context, chat.Message) error { return nil }

// ApplyChange implements chat.MessageStore with a lightweight transaction on the message's
// row: UPDATE ... SET <folded state> ... IF version = fromVersion. The condition is false
// for a missing row (an UPDATE IF creates nothing) and for a change event (which has no
// version), so nothing is written then. When it is false the row is read to tell why:
// missing or a change event is chat.ErrNotFound, a message at another version
// chat.ErrConflict. Two cases read further:
//
//   - A message stored before protocol 1.1 has no version at all (null, not 0). Its first
//     change (fromVersion 0) is conditioned on `IF version = null AND sender_id = ?`
//     instead (the sender as read, so that a missing row fails too); rows stored since get
//     version 0 from PutMessage and never need that form.
//   - An attempt whose outcome a timeout hid (lwtDo repeats it) may have applied: when the
//     row then holds exactly the state m describes, the change is reported applied.
func (s *Store) ApplyChange(ctx context.Context, m chat.Message, fromVersion int) error {
	what := fmt.Sprintf("apply change to %s/%s (version %d to %d)", m.ConversationID, m.MessageID, fromVersion, m.Version)
	if err := checkKey(what, m.ConversationID, m.MessageID); err != nil {
		return err
	}
	f, err := foldedOf(m)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	args := append(f.setArgs(), m.ConversationID, m.MessageID)
	applied, retried, err := s.cas(ctx, s.qApply, slices.Concat(args, []any{fromVersion})...)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if applied {
		return nil
	}
	// Read at WriteConsistency (LOCAL_QUORUM), whatever ReadConsistency says: the row must
	// show every change committed, this attempt's hidden one included.
	r, err := s.getRow(ctx, s.cfg.WriteConsistency, m.ConversationID, m.MessageID)
	switch {
	case errors.Is(err, gocql.ErrNotFound):
		return fmt.Errorf("%s: %w", what, chat.ErrNotFound)
	case err != nil:
		return fmt.Errorf("%s: read the message after a failed condition: %w", what, err)
	case r.kind != "":
		return fmt.Errorf("%s: %s is a %s event: %w", what, m.MessageID, r.kind, chat.ErrNotFound)
	case retried && r.folded() == f:
		return nil
	case r.version != nil || fromVersion != 0:
		return fmt.Errorf("%s: stored version %d: %w", what, r.folded().version, chat.ErrConflict)
	}
	// A message from before protocol 1.1, never changed.
	applied, retried, err = s.cas(ctx, s.qApplyLegacy, slices.Concat(args, []any{r.senderID})...)
	if err != nil {
		return fmt.Errorf("%s (a message without a version): %w", what, err)
	}
	if applied {
		return nil
	}
	if retried {
		if r, err := s.getRow(ctx, s.cfg.WriteConsistency, m.ConversationID, m.MessageID); err == nil && r.folded() == f {
			return nil
		}
	}
	return fmt.Errorf("%s: changed concurrently: %w", what, chat.ErrConflict)
}

// cas runs a conditional statement through lwtDo and reports whether it applied and
// whether an attempt's outcome was unknown.
func (s *Store) cas(ctx context.Context, stmt string, args ...any) (applied, retried bool, err error) {
	current := map[string]any{}
	retried, err = s.lwtDo(ctx, func() error {
		clear(current)
		var err error
		applied, err = s.lwt(stmt, args...).MapScanCASContext(ctx, current)
		return err
	})
	return applied, retried, err
}

// EraseBody implements chat.MessageStore with DELETE body FROM ... WHERE ...: it removes
// the one cell and, unlike an UPDATE, never makes a row exist, so erasing a missing item
// creates nothing (a cell tombstone is all it leaves). chat.Service erases only edit
// events, which are written by plain writes only; so the delete does not mix with the
// lightweight transactions that write message rows.
func (s *Store) EraseBody(ctx context.Context, conversationID, messageID string) error {
	what := fmt.Sprintf("erase body of %s/%s", conversationID, messageID)
	if err := checkKey(what, conversationID, messageID); err != nil {
		return err
	}
	if err := s.write(s.qErase, conversationID, messageID).Idempotent(true).ExecContext(ctx); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}
