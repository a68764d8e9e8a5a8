package inmem

import (
	"context"
	"fmt"
	"sync"

	"github.com/parleychat/parley/internal/chat"
)

// presenceWriteInterval is how recent recorded activity must be for TouchPresence to
// skip its write, as internal/dynamo does (PresenceWriteInterval there): the in-memory
// store behaves like the deployed one, so a service test sees the same reports.
const presenceWriteInterval = 20_000 // milliseconds

// ConnectionStore is the in-memory chat.ConnectionStore. It is safe for concurrent use.
type ConnectionStore struct {
	mu       sync.Mutex
	conns    map[string]map[string]chat.Connection // user id → connection id → connection
	presence map[string]presence                   // user id → presence
}

// presence is a user's presence record: the last activity and whether the user was
// marked offline (explicitly, or by a recorded lapse).
type presence struct {
	lastSeen int64
	offline  bool
}

// online reports whether p shows the user online at now.
func (p presence) online(now int64) bool {
	return !p.offline && p.lastSeen+chat.PresenceWindowMillis > now
}

var _ chat.ConnectionStore = (*ConnectionStore)(nil)

// NewConnectionStore returns an empty ConnectionStore.
func NewConnectionStore() *ConnectionStore {
	return &ConnectionStore{
		conns:    map[string]map[string]chat.Connection{},
		presence: map[string]presence{},
	}
}

// PutConnection implements chat.ConnectionStore. ExpiresAt (Unix seconds) is required, as
// it is in DynamoDB, where it is the TTL attribute.
func (s *ConnectionStore) PutConnection(ctx context.Context, c chat.Connection) error {
	if err := check(ctx, "put connection", "user id", c.UserID, "connection id", c.ConnectionID); err != nil {
		return err
	}
	if c.ExpiresAt <= 0 {
		return fmt.Errorf("inmem: put connection %s: ExpiresAt (Unix seconds) is required", c.ConnectionID)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conns[c.UserID] == nil {
		s.conns[c.UserID] = map[string]chat.Connection{}
	}
	s.conns[c.UserID][c.ConnectionID] = c
	return nil
}

// DeleteConnection implements chat.ConnectionStore.
func (s *ConnectionStore) DeleteConnection(ctx context.Context, userID, connectionID string) error {
	if err := check(ctx, "delete connection", "user id", userID, "connection id", connectionID); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns[userID], connectionID)
	return nil
}

// Connections implements chat.ConnectionStore, in connection id order.
func (s *ConnectionStore) Connections(ctx context.Context, userID string, now int64) ([]chat.Connection, error) {
	if err := check(ctx, "connections", "user id", userID); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []chat.Connection
	for _, c := range sortedValues(s.conns[userID], func(c chat.Connection) string { return c.ConnectionID }) {
		if c.ExpiresAt*1000 > now {
			out = append(out, c)
		}
	}
	return out, nil
}

// TouchPresence implements chat.ConnectionStore. Like the DynamoDB store it writes only
// when the user has no presence, is offline, or was last active more than 20 s ago.
func (s *ConnectionStore) TouchPresence(ctx context.Context, userID string, now int64) (bool, error) {
	if err := check(ctx, "touch presence", "user id", userID); err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, seen := s.presence[userID]
	if seen && !p.offline && p.lastSeen >= now-presenceWriteInterval {
		return false, nil
	}
	s.presence[userID] = presence{lastSeen: now}
	return !seen || !p.online(now), nil
}

// SetOffline implements chat.ConnectionStore.
func (s *ConnectionStore) SetOffline(ctx context.Context, userID string, now int64) (bool, error) {
	if err := check(ctx, "set offline", "user id", userID); err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, seen := s.presence[userID]
	s.presence[userID] = presence{lastSeen: now, offline: true}
	return seen && !p.offline, nil
}

// RecordLapse implements chat.ConnectionStore. The in-memory store has no TTL, so a
// presence item exists for every user seen: the lapse is stored only for a user with no
// presence at all.
func (s *ConnectionStore) RecordLapse(ctx context.Context, userID string, lastSeen int64) error {
	if err := check(ctx, "record lapse", "user id", userID); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, seen := s.presence[userID]; !seen {
		s.presence[userID] = presence{lastSeen: lastSeen, offline: true}
	}
	return nil
}

// Presence implements chat.ConnectionStore.
func (s *ConnectionStore) Presence(ctx context.Context, userIDs []string, now int64) ([]chat.Presence, error) {
	if err := alive(ctx, "presence"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]chat.Presence, len(userIDs))
	for i, u := range userIDs {
		if u == "" {
			return nil, fmt.Errorf("inmem: presence: empty user id")
		}
		out[i] = chat.Presence{UserID: u}
		if p, seen := s.presence[u]; seen {
			out[i].Online, out[i].LastSeen = p.online(now), p.lastSeen
		}
	}
	return out, nil
}
