package inmem

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/parleychat/parley/internal/chat"
)

// MessageStore is the in-memory chat.MessageStore. Each conversation's messages are kept
// sorted by id; cursors are kept apart from memberships (as in Keyspaces mode), so they
// survive a member leaving. It is safe for concurrent use.
type MessageStore struct {
	mu           sync.Mutex
	messages     map[string][]chat.Message // conversation id → messages in id order
	reservations map[reservationKey]chat.Reservation
	cursors      map[cursorKey]chat.Cursor
}

type reservationKey struct{ conversationID, senderID, clientMsgID string }

type cursorKey struct{ conversationID, userID string }

var _ chat.MessageStore = (*MessageStore)(nil)

// NewMessageStore returns an empty MessageStore.
func NewMessageStore() *MessageStore {
	return &MessageStore{
		messages:     map[string][]chat.Message{},
		reservations: map[reservationKey]chat.Reservation{},
		cursors:      map[cursorKey]chat.Cursor{},
	}
}

// Reserve implements chat.MessageStore.
func (s *MessageStore) Reserve(ctx context.Context, r chat.Reservation) (chat.Reservation, error) {
	if err := check(ctx, "reserve", "conversation id", r.ConversationID, "sender id", r.SenderID,
		"client message id", r.ClientMsgID, "message id", r.MessageID); err != nil {
		return chat.Reservation{}, err
	}
	k := reservationKey{r.ConversationID, r.SenderID, r.ClientMsgID}
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.reservations[k]; ok {
		return old, nil
	}
	s.reservations[k] = r
	return r, nil
}

// RenewReservation implements chat.MessageStore under the store's lock.
func (s *MessageStore) RenewReservation(ctx context.Context, r chat.Reservation, oldMessageID string) (chat.Reservation, error) {
	if err := check(ctx, "renew reservation", "conversation id", r.ConversationID, "sender id", r.SenderID,
		"client message id", r.ClientMsgID, "message id", r.MessageID, "old message id", oldMessageID); err != nil {
		return chat.Reservation{}, err
	}
	k := reservationKey{r.ConversationID, r.SenderID, r.ClientMsgID}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.reservations[k]
	switch {
	case !ok:
		return chat.Reservation{}, fmt.Errorf("inmem: renew reservation %s/%s/%s: %w", r.ConversationID, r.SenderID, r.ClientMsgID, chat.ErrNotFound)
	case cur.MessageID != oldMessageID:
		return cur, nil
	}
	s.reservations[k] = r
	return r, nil
}

// PutMessage implements chat.MessageStore: an item stored again under its id replaces
// the earlier copy, unless that is a message changed since (a higher Version).
func (s *MessageStore) PutMessage(ctx context.Context, m chat.Message) error {
	if err := check(ctx, "put message", "conversation id", m.ConversationID, "message id", m.MessageID); err != nil {
		return err
	}
	m = clone(m)
	s.mu.Lock()
	defer s.mu.Unlock()
	msgs := s.messages[m.ConversationID]
	i, found := slices.BinarySearchFunc(msgs, m.MessageID, byID)
	if found {
		if msgs[i].Version <= m.Version {
			msgs[i] = m
		}
		return nil
	}
	s.messages[m.ConversationID] = slices.Insert(msgs, i, m)
	return nil
}

// Republish implements chat.MessageStore: there is no outbox, so nothing to do.
func (s *MessageStore) Republish(ctx context.Context, m chat.Message) error {
	return check(ctx, "republish", "conversation id", m.ConversationID, "message id", m.MessageID)
}

// ApplyChange implements chat.MessageStore under the store's lock.
func (s *MessageStore) ApplyChange(ctx context.Context, m chat.Message, fromVersion int) error {
	if err := check(ctx, "apply change", "conversation id", m.ConversationID, "message id", m.MessageID); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	msgs := s.messages[m.ConversationID]
	i, found := slices.BinarySearchFunc(msgs, m.MessageID, byID)
	switch {
	case !found || msgs[i].IsChange():
		return fmt.Errorf("inmem: apply change to %s/%s: %w", m.ConversationID, m.MessageID, chat.ErrNotFound)
	case msgs[i].Version != fromVersion:
		return fmt.Errorf("inmem: apply change to %s/%s: version %d, not %d: %w", m.ConversationID, m.MessageID, msgs[i].Version, fromVersion, chat.ErrConflict)
	}
	cur := &msgs[i]
	c := clone(m)
	cur.Body, cur.EditedAt, cur.Deleted, cur.Reactions = c.Body, c.EditedAt, c.Deleted, c.Reactions
	cur.Version, cur.Changes, cur.EditIDs, cur.LastEventID = c.Version, c.Changes, c.EditIDs, c.LastEventID
	return nil
}

// EraseBody implements chat.MessageStore.
func (s *MessageStore) EraseBody(ctx context.Context, conversationID, messageID string) error {
	if err := check(ctx, "erase body", "conversation id", conversationID, "message id", messageID); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	msgs := s.messages[conversationID]
	if i, found := slices.BinarySearchFunc(msgs, messageID, byID); found {
		msgs[i].Body = ""
		if c := msgs[i].Change; c != nil {
			cc := *c
			cc.Body = ""
			msgs[i].Change = &cc
		}
	}
	return nil
}

// clone copies m deeply, so that the store and its callers share no maps or pointers.
func clone(m chat.Message) chat.Message {
	if m.Reactions != nil {
		rx := make(map[string][]string, len(m.Reactions))
		for e, users := range m.Reactions {
			rx[e] = slices.Clone(users)
		}
		m.Reactions = rx
	}
	if m.ReplyTo != nil {
		r := *m.ReplyTo
		m.ReplyTo = &r
	}
	m.Changes = slices.Clone(m.Changes)
	for i := range m.Changes {
		m.Changes[i].Erases = slices.Clone(m.Changes[i].Erases)
	}
	m.EditIDs = slices.Clone(m.EditIDs)
	if m.Change != nil {
		c := *m.Change
		m.Change = &c
	}
	return m
}

// byID orders a message against a message id.
func byID(m chat.Message, id string) int { return strings.Compare(m.MessageID, id) }

// GetMessage implements chat.MessageStore.
func (s *MessageStore) GetMessage(ctx context.Context, conversationID, messageID string) (chat.Message, error) {
	if err := check(ctx, "get message", "conversation id", conversationID, "message id", messageID); err != nil {
		return chat.Message{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	msgs := s.messages[conversationID]
	if i, found := slices.BinarySearchFunc(msgs, messageID, byID); found {
		return clone(msgs[i]), nil
	}
	return chat.Message{}, fmt.Errorf("inmem: get message %s/%s: %w", conversationID, messageID, chat.ErrNotFound)
}

// Before implements chat.MessageStore.
func (s *MessageStore) Before(ctx context.Context, conversationID, before string, limit int) ([]chat.Message, bool, error) {
	if err := s.checkPage(ctx, "before", conversationID, limit); err != nil {
		return nil, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	msgs := s.messages[conversationID]
	if before != "" {
		i, _ := slices.BinarySearchFunc(msgs, before, byID)
		msgs = msgs[:i]
	}
	var page []chat.Message
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].IsChange() {
			continue
		}
		if len(page) == limit {
			return page, true, nil
		}
		page = append(page, clone(msgs[i]))
	}
	return page, false, nil
}

// After implements chat.MessageStore.
func (s *MessageStore) After(ctx context.Context, conversationID, after string, limit int) ([]chat.Message, bool, error) {
	if err := s.checkPage(ctx, "after", conversationID, limit); err != nil {
		return nil, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	msgs := s.after(conversationID, after)
	page := make([]chat.Message, min(limit, len(msgs)))
	for i := range page {
		page[i] = clone(msgs[i])
	}
	return page, len(msgs) > limit, nil
}

// after returns the stored messages of the conversation whose id is above after (all of
// them when after is ""), oldest first. The caller holds s.mu and must not modify them.
func (s *MessageStore) after(conversationID, after string) []chat.Message {
	msgs := s.messages[conversationID]
	i, found := slices.BinarySearchFunc(msgs, after, byID)
	if found {
		i++
	}
	return msgs[i:]
}

func (s *MessageStore) checkPage(ctx context.Context, op, conversationID string, limit int) error {
	if err := check(ctx, op, "conversation id", conversationID); err != nil {
		return err
	}
	if limit < 1 {
		return fmt.Errorf("inmem: %s %s: limit %d, want at least 1", op, conversationID, limit)
	}
	return nil
}

// CountAfter implements chat.MessageStore.
func (s *MessageStore) CountAfter(ctx context.Context, conversationID, after, excludeSender string, max int) (int, error) {
	if err := check(ctx, "count after", "conversation id", conversationID); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, m := range s.after(conversationID, after) {
		if n >= max {
			break
		}
		if m.SenderID != excludeSender && !m.IsChange() {
			n++
		}
	}
	return n, nil
}

// AdvanceCursor implements chat.MessageStore. A status other than chat.StatusDelivered
// or chat.StatusRead is an error.
func (s *MessageStore) AdvanceCursor(ctx context.Context, conversationID, userID, status, upTo string) (bool, error) {
	if err := check(ctx, "advance cursor", "conversation id", conversationID, "user id", userID, "upTo", upTo); err != nil {
		return false, err
	}
	if status != chat.StatusDelivered && status != chat.StatusRead {
		return false, fmt.Errorf("inmem: advance cursor of %s in %s: status %q is not a cursor", userID, conversationID, status)
	}
	k := cursorKey{conversationID, userID}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.cursors[k]
	c.UserID = userID
	cur := &c.DeliveredUpTo
	if status == chat.StatusRead {
		cur = &c.ReadUpTo
	}
	if *cur != "" && *cur >= upTo {
		return false, nil
	}
	*cur = upTo
	s.cursors[k] = c
	return true, nil
}

// Cursors implements chat.MessageStore.
func (s *MessageStore) Cursors(ctx context.Context, conversationID string, userIDs []string) ([]chat.Cursor, error) {
	if err := check(ctx, "cursors", "conversation id", conversationID); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]chat.Cursor, len(userIDs))
	for i, u := range userIDs {
		if u == "" {
			return nil, fmt.Errorf("inmem: cursors of %s: empty user id", conversationID)
		}
		out[i] = chat.Cursor{UserID: u}
		if c, ok := s.cursors[cursorKey{conversationID, u}]; ok {
			out[i] = c
		}
	}
	return out, nil
}
