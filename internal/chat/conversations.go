package chat

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"unicode/utf8"
)

// ensureDirect returns the direct conversation of a and b, creating it when missing.
// Creating it twice, even concurrently, yields the same conversation.
func (s *Service) ensureDirect(ctx context.Context, a, b string) (Conversation, error) {
	id := DirectID(a, b)
	conv, err := s.conversations.GetConversation(ctx, id)
	if err == nil {
		return conv, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return Conversation{}, fmt.Errorf("read conversation %s: %w", id, err)
	}
	now := s.now()
	conv = Conversation{ConversationID: id, Kind: KindDirect, CreatedBy: a, CreatedAt: now, MemberCount: 2}
	members := []Membership{
		{ConversationID: id, UserID: a, Kind: KindDirect, Peer: b, JoinedAt: now},
		{ConversationID: id, UserID: b, Kind: KindDirect, Peer: a, JoinedAt: now},
	}
	err = s.conversations.CreateConversation(ctx, conv, members)
	if errors.Is(err, ErrExists) {
		// Someone created it meanwhile; theirs is the conversation.
		if conv, err = s.conversations.GetConversation(ctx, id); err != nil {
			return Conversation{}, fmt.Errorf("read conversation %s: %w", id, err)
		}
		return conv, nil
	}
	if err != nil {
		return Conversation{}, fmt.Errorf("create conversation %s: %w", id, err)
	}
	return conv, nil
}

// view returns the conversation event body of conv with the given members.
func view(conv Conversation, members []string) ConversationView {
	sort.Strings(members)
	return ConversationView{
		ConversationID: conv.ConversationID,
		Kind:           conv.Kind,
		Name:           conv.Name,
		Members:        members,
		CreatedBy:      conv.CreatedBy,
		CreatedAt:      conv.CreatedAt,
	}
}

// checkMembers validates a members list and returns it without duplicates and without
// the caller.
func checkMembers(caller string, members []string) ([]string, error) {
	seen := map[string]bool{caller: true}
	var out []string
	for _, m := range members {
		if !ValidUserID(m) {
			return nil, Errorf(CodeBadRequest, "members: %q is not a valid user id", m)
		}
		if !seen[m] {
			seen[m] = true
			out = append(out, m)
		}
	}
	return out, nil
}

// CreateConversation creates a direct conversation (one other member and no name: the
// same one every time) or a group of the caller plus members, and announces it to the
// members' other connections.
func (s *Service) CreateConversation(ctx context.Context, c Caller, members []string, name *string) (ConversationFrame, error) {
	if len(members) == 0 {
		return ConversationFrame{}, Errorf(CodeBadRequest, "members must name at least one other user")
	}
	if len(members) > MaxGroupMembers {
		return ConversationFrame{}, Errorf(CodeTooLarge, "a conversation has at most %d members", MaxGroupMembers)
	}
	others, err := checkMembers(c.UserID, members)
	if err != nil {
		return ConversationFrame{}, err
	}
	if len(others) == 0 {
		return ConversationFrame{}, Errorf(CodeBadRequest, "members must name at least one user other than you")
	}
	if len(others)+1 > MaxGroupMembers {
		return ConversationFrame{}, Errorf(CodeTooLarge, "a group has at most %d members, you and %d others make %d", MaxGroupMembers, len(others), len(others)+1)
	}
	if name != nil && utf8.RuneCountInString(*name) > MaxNameLength {
		return ConversationFrame{}, Errorf(CodeTooLarge, "name is %d characters, the limit is %d", utf8.RuneCountInString(*name), MaxNameLength)
	}
	if name != nil && !utf8.ValidString(*name) {
		return ConversationFrame{}, Errorf(CodeBadRequest, "name is not valid UTF-8")
	}

	var conv Conversation
	var all []string
	if len(others) == 1 && name == nil {
		if conv, err = s.ensureDirect(ctx, c.UserID, others[0]); err != nil {
			return ConversationFrame{}, err
		}
		all = []string{c.UserID, others[0]}
	} else {
		now := s.opts.Now()
		id := GroupID(s.ids.New(now))
		conv = Conversation{ConversationID: id, Kind: KindGroup, CreatedBy: c.UserID, CreatedAt: now.UnixMilli(), MemberCount: len(others) + 1}
		if name != nil {
			conv.Name = *name
		}
		all = append([]string{c.UserID}, others...)
		ms := make([]Membership, len(all))
		for i, u := range all {
			ms[i] = Membership{ConversationID: id, UserID: u, Kind: KindGroup, JoinedAt: conv.CreatedAt}
		}
		if err := s.conversations.CreateConversation(ctx, conv, ms); err != nil {
			return ConversationFrame{}, fmt.Errorf("create group %s: %w", id, err)
		}
	}
	ev := ConversationFrame{Type: TypeConversation, Conversation: view(conv, all)}
	s.broadcast(ctx, all, c.ConnectionID, ev)
	ev.RequestID = c.RequestID
	return ev, nil
}

// group returns a group the caller belongs to, or the protocol error that says why not.
func (s *Service) group(ctx context.Context, c Caller, conversationID string) (Conversation, error) {
	if err := validConversationID(conversationID); err != nil {
		return Conversation{}, err
	}
	if _, err := s.requireMember(ctx, conversationID, c.UserID); err != nil {
		return Conversation{}, err
	}
	conv, err := s.conversations.GetConversation(ctx, conversationID)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return Conversation{}, Errorf(CodeNotFound, "no conversation %q", conversationID)
		}
		return Conversation{}, fmt.Errorf("read conversation %s: %w", conversationID, err)
	}
	if conv.Kind != KindGroup {
		return Conversation{}, Errorf(CodeBadRequest, "%q is a direct conversation; members can be added to or left from groups only", conversationID)
	}
	return conv, nil
}

// AddMembers adds users to a group the caller belongs to, keeping it within
// MaxGroupMembers, and announces the group as it now stands to every member.
func (s *Service) AddMembers(ctx context.Context, c Caller, conversationID string, members []string) (ConversationFrame, error) {
	if len(members) == 0 {
		return ConversationFrame{}, Errorf(CodeBadRequest, "members must name at least one user")
	}
	if len(members) > MaxGroupMembers {
		return ConversationFrame{}, Errorf(CodeTooLarge, "a group has at most %d members", MaxGroupMembers)
	}
	others, err := checkMembers(c.UserID, members)
	if err != nil {
		return ConversationFrame{}, err
	}
	conv, err := s.group(ctx, c, conversationID)
	if err != nil {
		return ConversationFrame{}, err
	}
	now := s.now()
	ms := make([]Membership, len(others))
	for i, u := range others {
		ms[i] = Membership{ConversationID: conversationID, UserID: u, Kind: KindGroup, JoinedAt: now}
	}
	if len(ms) > 0 {
		if _, err := s.conversations.AddMembers(ctx, conversationID, ms, MaxGroupMembers); err != nil {
			if errors.Is(err, ErrLimit) {
				return ConversationFrame{}, Errorf(CodeTooLarge, "a group has at most %d members", MaxGroupMembers)
			}
			return ConversationFrame{}, fmt.Errorf("add members to %s: %w", conversationID, err)
		}
	}
	all, err := s.memberIDs(ctx, conversationID)
	if err != nil {
		return ConversationFrame{}, err
	}
	ev := ConversationFrame{Type: TypeConversation, Conversation: view(conv, all)}
	s.broadcast(ctx, all, c.ConnectionID, ev)
	ev.RequestID = c.RequestID
	return ev, nil
}

// Leave removes the caller from a group and announces the group as it now stands to the
// remaining members and to the caller's other connections.
func (s *Service) Leave(ctx context.Context, c Caller, conversationID string) (ConversationFrame, error) {
	conv, err := s.group(ctx, c, conversationID)
	if err != nil {
		return ConversationFrame{}, err
	}
	if err := s.conversations.RemoveMember(ctx, conversationID, c.UserID); err != nil {
		return ConversationFrame{}, fmt.Errorf("remove %s from %s: %w", c.UserID, conversationID, err)
	}
	rest, err := s.memberIDs(ctx, conversationID)
	if err != nil {
		return ConversationFrame{}, err
	}
	ev := ConversationFrame{Type: TypeConversation, Conversation: view(conv, append([]string(nil), rest...))}
	s.broadcast(ctx, append(rest, c.UserID), c.ConnectionID, ev)
	ev.RequestID = c.RequestID
	return ev, nil
}

// Conversations lists the caller's conversations, most recent activity first, with the
// number of unread messages others sent (capped at MaxUnread).
func (s *Service) Conversations(ctx context.Context, c Caller) (ConversationsFrame, error) {
	ms, err := s.conversations.UserConversations(ctx, c.UserID)
	if err != nil {
		return ConversationsFrame{}, fmt.Errorf("read conversations of %s: %w", c.UserID, err)
	}
	ids := make([]string, len(ms))
	peers := map[string]string{}
	muted := map[string]int64{}
	now := s.now()
	for i, m := range ms {
		ids[i] = m.ConversationID
		peers[m.ConversationID] = m.Peer
		if m.Muted(now) {
			muted[m.ConversationID] = m.MutedUntil
		}
	}
	convs, err := s.conversations.GetConversations(ctx, ids)
	if err != nil {
		return ConversationsFrame{}, fmt.Errorf("read conversations: %w", err)
	}
	out := make([]ConversationSummary, len(convs))
	err = parallel(ctx, len(convs), s.opts.ReadConcurrency, func(ctx context.Context, i int) error {
		conv := convs[i]
		sum := ConversationSummary{
			ConversationID: conv.ConversationID,
			Kind:           conv.Kind,
			Name:           conv.Name,
			Peer:           peers[conv.ConversationID],
			MemberCount:    conv.MemberCount,
			LastMessage:    conv.LastMessage,
			lastActivity:   conv.CreatedAt,
		}
		if until, ok := muted[conv.ConversationID]; ok {
			sum.Muted = true
			if until != MutedForever {
				sum.MutedUntil = until
			}
		}
		if conv.LastMessage != nil {
			sum.lastActivity = conv.LastMessage.CreatedAt
			cs, err := s.messages.Cursors(ctx, conv.ConversationID, []string{c.UserID})
			if err != nil {
				return fmt.Errorf("read cursor of %s in %s: %w", c.UserID, conv.ConversationID, err)
			}
			if len(cs) == 1 && conv.LastMessage.MessageID > cs[0].ReadUpTo {
				if sum.Unread, err = s.messages.CountAfter(ctx, conv.ConversationID, cs[0].ReadUpTo, c.UserID, MaxUnread); err != nil {
					return fmt.Errorf("count unread of %s in %s: %w", c.UserID, conv.ConversationID, err)
				}
			}
		}
		out[i] = sum
		return nil
	})
	if err != nil {
		return ConversationsFrame{}, err
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].lastActivity != out[j].lastActivity {
			return out[i].lastActivity > out[j].lastActivity
		}
		return out[i].ConversationID < out[j].ConversationID
	})
	return ConversationsFrame{Type: TypeConversations, RequestID: c.RequestID, Conversations: out}, nil
}

// Mute stops the caller's offline notifications of a conversation until until (Unix
// milliseconds, in the future), or until unmuted when until is nil.
func (s *Service) Mute(ctx context.Context, c Caller, conversationID string, until *int64) (MutedFrame, error) {
	if err := validConversationID(conversationID); err != nil {
		return MutedFrame{}, err
	}
	end := MutedForever
	if until != nil {
		if *until <= s.now() {
			return MutedFrame{}, Errorf(CodeBadRequest, "until must be in the future (Unix milliseconds)")
		}
		end = *until
	}
	return s.setMuted(ctx, c, conversationID, end)
}

// Unmute restores the caller's offline notifications of a conversation.
func (s *Service) Unmute(ctx context.Context, c Caller, conversationID string) (MutedFrame, error) {
	if err := validConversationID(conversationID); err != nil {
		return MutedFrame{}, err
	}
	return s.setMuted(ctx, c, conversationID, 0)
}

func (s *Service) setMuted(ctx context.Context, c Caller, conversationID string, until int64) (MutedFrame, error) {
	if _, err := s.requireMember(ctx, conversationID, c.UserID); err != nil {
		return MutedFrame{}, err
	}
	err := s.conversations.SetMuted(ctx, conversationID, c.UserID, until)
	if errors.Is(err, ErrNotFound) {
		return MutedFrame{}, Errorf(CodeForbidden, "you are not a member of %q", conversationID)
	}
	if err != nil {
		return MutedFrame{}, fmt.Errorf("set mute of %s in %s: %w", c.UserID, conversationID, err)
	}
	f := MutedFrame{Type: TypeMuted, RequestID: c.RequestID, ConversationID: conversationID, Muted: until != 0}
	if until != 0 && until != MutedForever {
		f.Until = until
	}
	return f, nil
}
