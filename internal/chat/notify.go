package chat

import (
	"context"
	"errors"
	"fmt"
	"slices"
)

// Notification tells a push service about a message that members with no open connection
// did not get live (docs/deploy.md, "Offline notifications"). One is emitted per message
// and per MaxNotifyRecipients of its offline recipients; a member who muted the
// conversation (Membership.MutedUntil) is left out.
type Notification struct {
	ConversationID string `json:"conversationId"`
	// ConversationKind is KindDirect or KindGroup.
	ConversationKind string `json:"conversationKind"`
	MessageID        string `json:"messageId"`
	SenderID         string `json:"senderId"`
	CreatedAt        int64  `json:"createdAt"` // Unix milliseconds
	// Recipients are the offline members, sorted, at most MaxNotifyRecipients.
	Recipients []string `json:"recipients"`
	// Preview is the first MaxPreviewRunes characters of the body, absent when previews
	// are switched off (Options.NoNotifyPreview).
	Preview string `json:"preview,omitempty"`
}

// Notifier emits notifications: to Amazon EventBridge on AWS, to a webhook or the log
// with `parley local` (internal/notify). Notify returns once the notification is accepted.
// An error wrapping ErrRejected is permanent (a misconfigured bus, a refused webhook):
// the notification is logged and dropped, so that it does not hold up delivery. Any other
// error is transient, and the delivery fails to be retried.
type Notifier interface {
	Notify(ctx context.Context, n Notification) error
}

// audience is a conversation's members as a delivery needs them.
type audience struct {
	ids  []string
	kind string
	// mutedUntil holds, in a group, the members who muted the conversation (read with the
	// members, no extra request); nil in a direct conversation, whose members follow
	// from its id: there the offline member's mute is read when a notification is due.
	mutedUntil map[string]int64
}

// audienceOf returns the members of a conversation: for a direct conversation from its id
// (no read), for a group from its member items.
func (s *Service) audienceOf(ctx context.Context, conversationID string) (audience, error) {
	if a, b, direct := DirectMembers(conversationID); direct {
		return audience{ids: []string{a, b}, kind: KindDirect}, nil
	}
	ms, err := s.conversations.Members(ctx, conversationID)
	if err != nil {
		return audience{}, fmt.Errorf("read members of %s: %w", conversationID, err)
	}
	aud := audience{ids: make([]string, len(ms)), kind: KindGroup}
	for i, m := range ms {
		aud.ids[i] = m.UserID
		if m.MutedUntil != 0 {
			if aud.mutedUntil == nil {
				aud.mutedUntil = map[string]int64{}
			}
			aud.mutedUntil[m.UserID] = m.MutedUntil
		}
	}
	return aud, nil
}

// notifyOffline emits the notifications of message m (a message, not a change) for the
// members who had no open connection when it was pushed, leaving out its sender and the
// members who muted the conversation. With no Notifier it does nothing. An error means
// some notification was not accepted for now: the delivery fails and is retried, as a
// failed push is (so a notification may repeat, at least once).
func (s *Service) notifyOffline(ctx context.Context, m Message, aud audience, offline []string) error {
	if s.opts.Notifier == nil || m.IsChange() || len(offline) == 0 {
		return nil
	}
	now := s.now()
	var to []string
	for _, u := range offline {
		if u == m.SenderID {
			continue
		}
		until, known := aud.mutedUntil[u]
		if !known && aud.kind == KindDirect {
			ms, err := s.conversations.Member(ctx, m.ConversationID, u)
			if err != nil && !errors.Is(err, ErrNotFound) {
				return fmt.Errorf("notify: read the membership of %s in %s: %w", u, m.ConversationID, err)
			}
			until = ms.MutedUntil
		}
		if until <= now {
			to = append(to, u)
		}
	}
	if len(to) == 0 {
		return nil
	}
	slices.Sort(to)
	n := Notification{ConversationID: m.ConversationID, ConversationKind: aud.kind, MessageID: m.MessageID,
		SenderID: m.SenderID, CreatedAt: m.CreatedAt}
	if !s.opts.NoNotifyPreview {
		n.Preview = preview(m.Body)
	}
	for start := 0; start < len(to); start += MaxNotifyRecipients {
		n.Recipients = to[start:min(start+MaxNotifyRecipients, len(to))]
		err := s.opts.Notifier.Notify(ctx, n)
		if errors.Is(err, ErrRejected) {
			s.log.ErrorContext(ctx, "notification refused: dropped", "conversationId", m.ConversationID, "messageId", m.MessageID,
				"recipients", len(n.Recipients), "err", err)
			continue
		}
		if err != nil {
			return fmt.Errorf("notify %d offline members of %s/%s: %w", len(n.Recipients), m.ConversationID, m.MessageID, err)
		}
	}
	return nil
}
