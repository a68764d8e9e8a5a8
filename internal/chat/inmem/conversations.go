package inmem

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/parleychat/parley/internal/chat"
)

// ConversationStore is the in-memory chat.ConversationStore. Every change happens under
// one lock, so a multi-item change is atomic and MemberCount is always the number of
// member items. It is safe for concurrent use.
type ConversationStore struct {
	mu      sync.Mutex
	convs   map[string]chat.Conversation          // without MemberCount, which members gives
	members map[string]map[string]chat.Membership // conversation id → user id → membership
	byUser  map[string]map[string]chat.Membership // user id → conversation id → membership
	inline  map[chat.MessageRef]bool              // inline delivery marks
}

var _ chat.ConversationStore = (*ConversationStore)(nil)

// NewConversationStore returns an empty ConversationStore.
func NewConversationStore() *ConversationStore {
	return &ConversationStore{
		convs:   map[string]chat.Conversation{},
		members: map[string]map[string]chat.Membership{},
		byUser:  map[string]map[string]chat.Membership{},
		inline:  map[chat.MessageRef]bool{},
	}
}

// CreateConversation implements chat.ConversationStore.
func (s *ConversationStore) CreateConversation(ctx context.Context, c chat.Conversation, members []chat.Membership) error {
	if err := check(ctx, "create conversation", "conversation id", c.ConversationID); err != nil {
		return err
	}
	if err := checkMemberships(c.ConversationID, members); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addNew(c.ConversationID, members)
	if _, ok := s.convs[c.ConversationID]; ok {
		return fmt.Errorf("inmem: create conversation %s: %w", c.ConversationID, chat.ErrExists)
	}
	c.MemberCount = 0
	if c.LastMessage != nil {
		last := *c.LastMessage
		c.LastMessage = &last
	}
	s.convs[c.ConversationID] = c
	return nil
}

// checkMemberships checks that every membership names the conversation and a user.
func checkMemberships(conversationID string, members []chat.Membership) error {
	for _, m := range members {
		if m.ConversationID != conversationID {
			return fmt.Errorf("inmem: membership of %q in %q given for conversation %q", m.UserID, m.ConversationID, conversationID)
		}
		if m.UserID == "" {
			return fmt.Errorf("inmem: membership in %q with an empty user id", conversationID)
		}
	}
	return nil
}

// addNew stores the memberships whose user is not a member yet (the first of repeated
// ones) and returns them. The caller holds s.mu.
func (s *ConversationStore) addNew(conversationID string, members []chat.Membership) []chat.Membership {
	byConv := s.members[conversationID]
	if byConv == nil {
		byConv = map[string]chat.Membership{}
		s.members[conversationID] = byConv
	}
	var added []chat.Membership
	for _, m := range members {
		if _, ok := byConv[m.UserID]; ok {
			continue
		}
		byConv[m.UserID] = m
		if s.byUser[m.UserID] == nil {
			s.byUser[m.UserID] = map[string]chat.Membership{}
		}
		s.byUser[m.UserID][conversationID] = m
		added = append(added, m)
	}
	return added
}

// GetConversation implements chat.ConversationStore.
func (s *ConversationStore) GetConversation(ctx context.Context, conversationID string) (chat.Conversation, error) {
	if err := check(ctx, "get conversation", "conversation id", conversationID); err != nil {
		return chat.Conversation{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.conversation(conversationID)
	if !ok {
		return chat.Conversation{}, fmt.Errorf("inmem: get conversation %s: %w", conversationID, chat.ErrNotFound)
	}
	return c, nil
}

// conversation returns a copy of the conversation with its member count. The caller
// holds s.mu.
func (s *ConversationStore) conversation(conversationID string) (chat.Conversation, bool) {
	c, ok := s.convs[conversationID]
	if !ok {
		return chat.Conversation{}, false
	}
	c.MemberCount = len(s.members[conversationID])
	if c.LastMessage != nil {
		last := *c.LastMessage
		c.LastMessage = &last
	}
	return c, true
}

// GetConversations implements chat.ConversationStore. Each existing conversation comes
// once, in the order of its first id.
func (s *ConversationStore) GetConversations(ctx context.Context, ids []string) ([]chat.Conversation, error) {
	if err := alive(ctx, "get conversations"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := make(map[string]bool, len(ids))
	var out []chat.Conversation
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		if c, ok := s.conversation(id); ok {
			out = append(out, c)
		}
	}
	return out, nil
}

// Member implements chat.ConversationStore.
func (s *ConversationStore) Member(ctx context.Context, conversationID, userID string) (chat.Membership, error) {
	if err := check(ctx, "member", "conversation id", conversationID, "user id", userID); err != nil {
		return chat.Membership{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.members[conversationID][userID]
	if !ok {
		return chat.Membership{}, fmt.Errorf("inmem: member %s of %s: %w", userID, conversationID, chat.ErrNotFound)
	}
	return m, nil
}

// Members implements chat.ConversationStore, in user id order.
func (s *ConversationStore) Members(ctx context.Context, conversationID string) ([]chat.Membership, error) {
	if err := check(ctx, "members", "conversation id", conversationID); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return sortedValues(s.members[conversationID], func(m chat.Membership) string { return m.UserID }), nil
}

// AddMembers implements chat.ConversationStore; a conversation that does not exist is
// ErrNotFound.
func (s *ConversationStore) AddMembers(ctx context.Context, conversationID string, members []chat.Membership, max int) ([]chat.Membership, error) {
	if err := check(ctx, "add members", "conversation id", conversationID); err != nil {
		return nil, err
	}
	if err := checkMemberships(conversationID, members); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.convs[conversationID]; !ok {
		return nil, fmt.Errorf("inmem: add members to %s: %w", conversationID, chat.ErrNotFound)
	}
	byConv := s.members[conversationID]
	fresh := map[string]bool{}
	for _, m := range members {
		if _, ok := byConv[m.UserID]; !ok {
			fresh[m.UserID] = true
		}
	}
	if n := len(byConv) + len(fresh); n > max {
		return nil, fmt.Errorf("inmem: add %d members to %s of %d (max %d): %w", len(fresh), conversationID, len(byConv), max, chat.ErrLimit)
	}
	return s.addNew(conversationID, members), nil
}

// RemoveMember implements chat.ConversationStore.
func (s *ConversationStore) RemoveMember(ctx context.Context, conversationID, userID string) error {
	if err := check(ctx, "remove member", "conversation id", conversationID, "user id", userID); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.members[conversationID], userID)
	delete(s.byUser[userID], conversationID)
	return nil
}

// SetMuted implements chat.ConversationStore.
func (s *ConversationStore) SetMuted(ctx context.Context, conversationID, userID string, until int64) error {
	if err := check(ctx, "set muted", "conversation id", conversationID, "user id", userID); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.members[conversationID][userID]
	if !ok {
		return fmt.Errorf("inmem: set muted of %s in %s: %w", userID, conversationID, chat.ErrNotFound)
	}
	m.MutedUntil = until
	s.members[conversationID][userID] = m
	s.byUser[userID][conversationID] = m
	return nil
}

// UserConversations implements chat.ConversationStore, in conversation id order.
func (s *ConversationStore) UserConversations(ctx context.Context, userID string) ([]chat.Membership, error) {
	if err := check(ctx, "user conversations", "user id", userID); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return sortedValues(s.byUser[userID], func(m chat.Membership) string { return m.ConversationID }), nil
}

// SetLastMessage implements chat.ConversationStore. For a conversation that does not
// exist it does nothing, as the DynamoDB store's conditional update does.
func (s *ConversationStore) SetLastMessage(ctx context.Context, m chat.Message) error {
	if err := check(ctx, "set last message", "conversation id", m.ConversationID, "message id", m.MessageID); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.convs[m.ConversationID]
	if !ok || (c.LastMessage != nil && c.LastMessage.MessageID > m.MessageID) {
		return nil
	}
	c.LastMessage = &m
	s.convs[m.ConversationID] = c
	return nil
}

// sortedValues returns the values of m sorted by key.
func sortedValues[V any](m map[string]V, key func(V) string) []V {
	out := make([]V, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b V) int { return strings.Compare(key(a), key(b)) })
	return out
}

// MarkInline implements chat.ConversationStore. Marks never expire here.
func (s *ConversationStore) MarkInline(ctx context.Context, ref chat.MessageRef) error {
	if err := check(ctx, "mark inline", "conversation id", ref.ConversationID, "message id", ref.MessageID); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inline[ref] = true
	return nil
}

// InlineMarked implements chat.ConversationStore.
func (s *ConversationStore) InlineMarked(ctx context.Context, refs []chat.MessageRef) (map[chat.MessageRef]bool, error) {
	for _, r := range refs {
		if err := check(ctx, "inline marks", "conversation id", r.ConversationID, "message id", r.MessageID); err != nil {
			return nil, err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	marked := map[chat.MessageRef]bool{}
	for _, r := range refs {
		if s.inline[r] {
			marked[r] = true
		}
	}
	return marked, nil
}
