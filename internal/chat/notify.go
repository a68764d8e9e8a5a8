package chat

import "context"

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
	// are switched off (Options.NotifyPreview).
	Preview string `json:"preview,omitempty"`
}

// Notifier emits notifications: to Amazon EventBridge on AWS, to a webhook or the log
// with `parley local` (internal/notify). Notify returns once the notification is accepted;
// an error is transient and the caller may retry.
type Notifier interface {
	Notify(ctx context.Context, n Notification) error
}
