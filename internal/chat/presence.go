package chat

import (
	"context"
	"fmt"
	"slices"
	"sync"
)

// Presence answers a presence query of 1 to MaxPresenceQuery user ids, in the order
// given. It answers only for the caller and for users who share a conversation (direct
// or group) with the caller; every other user reads as a user never seen (offline, no
// lastSeen), so the answer tells nothing about users the caller has no conversation with,
// not even whether they exist.
//
// Cost in store reads, for u requested users of whom u' are neither the caller nor one of
// the caller's direct peers, and a caller in g groups:
//   - one UserConversations read of the caller (none when only the caller is asked for):
//     it settles the direct peers, named by the dm: ids;
//   - only when u' > 0, min(g, u') more reads, ReadConcurrency at a time: the members of
//     each of the caller's groups when g <= u' (stopping once every one is found), else
//     each of those users' UserConversations, matched against the caller's;
//   - one Presence read of the users the caller may see (none when there are none).
//
// So asking for one's direct peers costs two reads, and no query costs more than
// 2 + min(g, u') ≤ 2 + MaxPresenceQuery, however many groups the caller is in. Each read
// is one store query: a group's members are at most MaxGroupMembers items, a user's
// conversations all of that user's memberships.
func (s *Service) Presence(ctx context.Context, c Caller, userIDs []string) (PresenceFrame, error) {
	if len(userIDs) == 0 {
		return PresenceFrame{}, Errorf(CodeBadRequest, "userIds must list 1 to %d user ids", MaxPresenceQuery)
	}
	if len(userIDs) > MaxPresenceQuery {
		return PresenceFrame{}, Errorf(CodeTooLarge, "userIds lists %d users, the limit is %d", len(userIDs), MaxPresenceQuery)
	}
	for _, u := range userIDs {
		if !ValidUserID(u) {
			return PresenceFrame{}, Errorf(CodeBadRequest, "%q is not a valid user id", u)
		}
	}
	visible, err := s.presenceVisible(ctx, c.UserID, userIDs)
	if err != nil {
		return PresenceFrame{}, err
	}
	known := make(map[string]Presence, len(visible))
	if len(visible) > 0 {
		ps, err := s.connections.Presence(ctx, visible, s.now())
		if err != nil {
			return PresenceFrame{}, fmt.Errorf("read presence of %d users: %w", len(visible), err)
		}
		for _, p := range ps {
			known[p.UserID] = p
		}
	}
	users := make([]Presence, len(userIDs))
	for i, u := range userIDs {
		users[i] = Presence{UserID: u}
		if p, ok := known[u]; ok {
			users[i] = p
		}
	}
	return PresenceFrame{Type: TypePresence, RequestID: c.RequestID, Users: users}, nil
}

// presenceVisible returns, once each, the users of userIDs whose presence caller may see:
// caller themself and those who share a conversation with caller. See Presence for the
// reads it makes.
func (s *Service) presenceVisible(ctx context.Context, caller string, userIDs []string) ([]string, error) {
	v := &visibility{pending: make(map[string]bool, len(userIDs))}
	for _, u := range userIDs {
		v.pending[u] = true
	}
	v.settle(caller)
	if v.done() {
		return v.visible, nil
	}
	ms, err := s.conversations.UserConversations(ctx, caller)
	if err != nil {
		return nil, fmt.Errorf("presence: read conversations of %s: %w", caller, err)
	}
	mine := make(map[string]bool, len(ms))
	var groups []string
	for _, m := range ms {
		mine[m.ConversationID] = true
		if peer, ok := directPeer(m, caller); ok {
			v.settle(peer)
		} else {
			groups = append(groups, m.ConversationID)
		}
	}
	pending := v.left()
	switch {
	case len(pending) == 0 || len(groups) == 0:
	case len(groups) <= len(pending):
		// Fewer groups than users to look for: read the groups' members.
		err = parallel(ctx, len(groups), s.opts.ReadConcurrency, func(ctx context.Context, i int) error {
			if v.done() {
				return nil
			}
			members, err := s.memberIDs(ctx, groups[i])
			if err != nil {
				return fmt.Errorf("presence: %w", err)
			}
			v.settle(members...)
			return nil
		})
	default:
		// Fewer users than groups: read each user's conversations and look for one of
		// the caller's.
		err = parallel(ctx, len(pending), s.opts.ReadConcurrency, func(ctx context.Context, i int) error {
			theirs, err := s.conversations.UserConversations(ctx, pending[i])
			if err != nil {
				return fmt.Errorf("presence: read conversations of %s: %w", pending[i], err)
			}
			for _, m := range theirs {
				if mine[m.ConversationID] {
					v.settle(pending[i])
					return nil
				}
			}
			return nil
		})
	}
	if err != nil {
		return nil, err
	}
	return v.visible, nil
}

// directPeer returns the other member of a direct conversation membership of caller,
// named by the conversation id (the membership's Peer when the id names no pair).
func directPeer(m Membership, caller string) (string, bool) {
	if a, b, ok := DirectMembers(m.ConversationID); ok {
		switch caller {
		case a:
			return b, true
		case b:
			return a, true
		}
	}
	if m.Kind == KindDirect && m.Peer != "" {
		return m.Peer, true
	}
	return "", false
}

// visibility collects the users of a presence query found visible, safe for concurrent
// use.
type visibility struct {
	mu      sync.Mutex
	pending map[string]bool // asked for, not found yet
	visible []string        // found, each once
}

// settle marks those of users that are pending as visible.
func (v *visibility) settle(users ...string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, u := range users {
		if v.pending[u] {
			delete(v.pending, u)
			v.visible = append(v.visible, u)
		}
	}
}

// done reports whether every user asked for was found visible.
func (v *visibility) done() bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.pending) == 0
}

// left returns the users not found visible yet.
func (v *visibility) left() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := make([]string, 0, len(v.pending))
	for u := range v.pending {
		out = append(out, u)
	}
	slices.Sort(out)
	return out
}
