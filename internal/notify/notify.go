// Package notify emits the chat service's offline notifications (chat.Notification): to
// Amazon EventBridge on AWS (EventBridge), to a webhook (Webhook) or to the log (Log) with
// `parley local`. Every notifier emits the same JSON document (Document), so an
// integrator's code reads one format: the EventBridge event's detail and the webhook's
// request body are identical. docs/deploy.md, "Offline notifications", describes the
// event and how to route it to mobile push.
package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/parleychat/parley/internal/chat"
)

// The event's identity on EventBridge: rules match on these.
const (
	// Source is the events' source ("source" in the envelope).
	Source = "parley"
	// DetailType is the events' detail type ("detail-type" in the envelope).
	DetailType = "Parley Offline Message"
	// SchemaVersion is Document.SchemaVersion: it changes only when a field changes its
	// meaning or goes away; fields may be added without a change.
	SchemaVersion = 1
)

// ErrPermanent marks a notification that was refused for good (too large, malformed,
// not authorized, a webhook's 4xx): retrying it will not help. Any other error of Notify
// is transient.
// It wraps chat.ErrRejected, which tells the chat service to log the notification and
// drop it rather than fail (and retry) the delivery.
var ErrPermanent = fmt.Errorf("notify: refused for good: %w", chat.ErrRejected)

// Document is what every notifier emits for one chat.Notification: the detail of the
// EventBridge event and the body of the webhook's POST. Its fields are SchemaVersion's
// followed by the notification's own (chat.Notification's JSON tags).
type Document struct {
	// SchemaVersion is SchemaVersion.
	SchemaVersion int `json:"schemaVersion"`
	chat.Notification
}

// Marshal returns n's Document as JSON: one line, no HTML escaping, recipients as an
// array even when empty.
func Marshal(n chat.Notification) ([]byte, error) {
	if n.Recipients == nil {
		n.Recipients = []string{}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(Document{SchemaVersion: SchemaVersion, Notification: n}); err != nil {
		return nil, fmt.Errorf("notify: encode the notification of message %s: %w", n.MessageID, err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// Log writes every notification to a logger at info level: what `parley local` does
// without --notify-url.
type Log struct {
	log *slog.Logger
}

var _ chat.Notifier = (*Log)(nil)

// NewLog returns a Log on log (nil: slog.Default()).
func NewLog(log *slog.Logger) *Log {
	if log == nil {
		log = slog.Default()
	}
	return &Log{log: log}
}

// Notify logs n ("offline notification", with the document's fields as attributes). It
// never fails.
func (l *Log) Notify(ctx context.Context, n chat.Notification) error {
	attrs := []any{
		"schemaVersion", SchemaVersion,
		"conversationId", n.ConversationID,
		"conversationKind", n.ConversationKind,
		"messageId", n.MessageID,
		"senderId", n.SenderID,
		"createdAt", n.CreatedAt,
		"recipients", n.Recipients,
	}
	if n.Preview != "" {
		attrs = append(attrs, "preview", n.Preview)
	}
	l.log.InfoContext(ctx, "offline notification", attrs...)
	return nil
}
