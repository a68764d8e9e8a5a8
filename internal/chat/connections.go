package chat

import (
	"context"
	"fmt"
	"time"
)

// Connect records a new connection of userID and, when the user was offline, tells their
// direct-conversation peers that they are online. Presence is "has an open connection"
// (docs/protocol.md, "Presence and keep-alive"): it is written here, at $disconnect of the
// last connection, and when a 410 removes the last one, never on other frames.
func (s *Service) Connect(ctx context.Context, userID, connectionID string) error {
	now := s.opts.Now()
	c := Connection{
		UserID:       userID,
		ConnectionID: connectionID,
		ConnectedAt:  now.UnixMilli(),
		ExpiresAt:    now.Add(s.opts.ConnectionTTL).Unix(),
	}
	if err := s.connections.PutConnection(ctx, c); err != nil {
		return fmt.Errorf("put connection %s of %s: %w", connectionID, userID, err)
	}
	return s.Touch(ctx, userID)
}

// Touch records that userID is online (a new connection) and announces them online when
// they were not. The presence then holds for PresenceWindowMillis, longer than any
// connection lives, unless an offline state replaces it first.
func (s *Service) Touch(ctx context.Context, userID string) error {
	now := s.now()
	came, err := s.connections.TouchPresence(ctx, userID, now)
	if err != nil {
		return fmt.Errorf("touch presence of %s: %w", userID, err)
	}
	if !came {
		return nil
	}
	// A frame can be processed after its connection's $disconnect (API Gateway invokes
	// them independently). It must not bring a user with no connection back online.
	conns, err := s.connections.Connections(ctx, userID, now)
	if err != nil {
		return fmt.Errorf("read connections of %s: %w", userID, err)
	}
	if len(conns) == 0 {
		if _, err := s.connections.SetOffline(ctx, userID, now); err != nil {
			return fmt.Errorf("set %s offline again: %w", userID, err)
		}
		return nil
	}
	s.notifyPresence(ctx, Presence{UserID: userID, Online: true, LastSeen: now})
	return nil
}

// Disconnect forgets a connection; when it was the user's last one, the user goes
// offline and their direct-conversation peers are told.
func (s *Service) Disconnect(ctx context.Context, userID, connectionID string) error {
	if err := s.connections.DeleteConnection(ctx, userID, connectionID); err != nil {
		return fmt.Errorf("delete connection %s of %s: %w", connectionID, userID, err)
	}
	now := s.now()
	left, err := s.connections.Connections(ctx, userID, now)
	if err != nil {
		return fmt.Errorf("read connections of %s: %w", userID, err)
	}
	if len(left) > 0 {
		return nil
	}
	return s.wentOffline(ctx, userID, now)
}

// wentOffline marks userID, who has no open connection left, offline and tells their
// direct-conversation peers.
func (s *Service) wentOffline(ctx context.Context, userID string, now int64) error {
	announce, err := s.connections.SetOffline(ctx, userID, now)
	if err != nil {
		return fmt.Errorf("set %s offline: %w", userID, err)
	}
	if announce {
		s.notifyPresence(ctx, Presence{UserID: userID, Online: false, LastSeen: now})
	}
	return nil
}

// Heartbeat answers a heartbeat. It reads and writes nothing: presence is the open
// connection, so a heartbeat (a version-1 client's, every 30 s) costs only its invocation.
func (s *Service) Heartbeat(_ context.Context, c Caller) HeartbeatFrame {
	return HeartbeatFrame{Type: TypeHeartbeat, RequestID: c.RequestID, At: s.now()}
}

// Typing tells the other members that the caller is typing. Nothing is stored.
func (s *Service) Typing(ctx context.Context, c Caller, conversationID, state string) error {
	if err := validConversationID(conversationID); err != nil {
		return err
	}
	switch state {
	case "":
		state = "start"
	case "start", "stop":
	default:
		return Errorf(CodeBadRequest, "state must be \"start\" or \"stop\"")
	}
	if _, err := s.requireMember(ctx, conversationID, c.UserID); err != nil {
		return err
	}
	members, err := s.memberIDs(ctx, conversationID)
	if err != nil {
		return err
	}
	others := members[:0]
	for _, m := range members {
		if m != c.UserID {
			others = append(others, m)
		}
	}
	// Typing is ephemeral: one short try, no retries.
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	s.broadcast(ctx, others, c.ConnectionID, TypingFrame{Type: TypeTyping, ConversationID: conversationID, UserID: c.UserID, State: state})
	return nil
}

// memberIDs returns the user ids of a conversation's members. A direct conversation's two
// members follow from its id and never change: no read of its member items.
func (s *Service) memberIDs(ctx context.Context, conversationID string) ([]string, error) {
	if a, b, direct := DirectMembers(conversationID); direct {
		return []string{a, b}, nil
	}
	ms, err := s.conversations.Members(ctx, conversationID)
	if err != nil {
		return nil, fmt.Errorf("read members of %s: %w", conversationID, err)
	}
	ids := make([]string, len(ms))
	for i, m := range ms {
		ids[i] = m.UserID
	}
	return ids, nil
}
