package keyspaces

import (
	"encoding/json"
	"fmt"
	"slices"

	gocql "github.com/apache/cassandra-gocql-driver/v2"

	"github.com/parleychat/parley/internal/chat"
)

// messageCols are the columns of a messages row (schema.go) in the order of row.dest and
// insertArgs.
const messageCols = "conversation_id, message_id, sender_id, body, created_at, client_msg_id, " +
	"reply_to_id, reply_sender, reply_preview, edited_at, deleted, reactions, version, last_change, edit_ids, " +
	"kind, target, emoji, state, origin"

// row is one messages row, a message or a change event (kind set). A change event's
// sender_id is the user who made the change, created_at the change's time, body an edit's
// body, target the message changed; its message_id is the eventId. Columns a row does not
// use are null, read as zero values; version is read as a pointer because a message
// written before protocol 1.1 has none (nil), which ApplyChange must tell from 0.
type row struct {
	conversationID, messageID, senderID, body string
	createdAt                                 int64
	clientMsgID                               string
	replyID, replySender, replyPreview        string
	editedAt                                  int64
	deleted                                   bool
	reactions                                 string // JSON object: emoji → sorted user ids
	version                                   *int
	lastChange                                string // JSON of lastChange, the change without its body
	editIDs                                   string // JSON array of the kept edits' ids
	kind, target, emoji, state, origin        string
}

// dest returns the scan destinations of messageCols.
func (r *row) dest() []any {
	return []any{&r.conversationID, &r.messageID, &r.senderID, &r.body, &r.createdAt, &r.clientMsgID,
		&r.replyID, &r.replySender, &r.replyPreview, &r.editedAt, &r.deleted, &r.reactions, &r.version, &r.lastChange, &r.editIDs,
		&r.kind, &r.target, &r.emoji, &r.state, &r.origin}
}

// lastChange is one element of the JSON array in a message's last_change column (its
// recent changes): chat.Change without its Body and MessageID (the row's own id).
type lastChange struct {
	Kind    string   `json:"kind"`
	EventID string   `json:"eventId"`
	UserID  string   `json:"userId"`
	At      int64    `json:"at"`
	Emoji   string   `json:"emoji,omitempty"`
	State   string   `json:"state,omitempty"`
	Erases  []string `json:"erases,omitempty"`
}

// folded is the folded state of a message as ApplyChange writes it and as the row holds
// it, encoded for its columns: what a retried ApplyChange compares to tell its own write.
type folded struct {
	body       string
	editedAt   int64
	deleted    bool
	reactions  string
	version    int
	lastChange string
	editIDs    string
}

// foldedOf encodes the folded state of m.
func foldedOf(m chat.Message) (folded, error) {
	rx, err := encodeReactions(m.Reactions)
	if err != nil {
		return folded{}, err
	}
	lc, err := encodeChanges(m.Changes)
	if err != nil {
		return folded{}, err
	}
	edits, err := encodeIDs(m.EditIDs)
	if err != nil {
		return folded{}, err
	}
	return folded{body: m.Body, editedAt: m.EditedAt, deleted: m.Deleted, reactions: rx, version: m.Version, lastChange: lc, editIDs: edits}, nil
}

// folded returns the folded state the row holds (version 0 when it has none).
func (r row) folded() folded {
	v := 0
	if r.version != nil {
		v = *r.version
	}
	return folded{body: r.body, editedAt: r.editedAt, deleted: r.deleted, reactions: r.reactions, version: v, lastChange: r.lastChange, editIDs: r.editIDs}
}

// setArgs are the values of ApplyChange's SET clause (body, edited_at, deleted, reactions,
// version, last_change, edit_ids). An erased body is written as null; the other columns
// as their zero values when empty, which are read as absent and, unlike nulls, leave no
// tombstones behind.
func (f folded) setArgs() []any {
	var body any
	if f.body != "" {
		body = f.body
	}
	return []any{body, f.editedAt, f.deleted, f.reactions, f.version, f.lastChange, f.editIDs}
}

func encodeReactions(rx map[string][]string) (string, error) {
	if len(rx) == 0 {
		return "", nil
	}
	b, err := json.Marshal(rx) // keys in sorted order: the same map always encodes the same
	if err != nil {
		return "", fmt.Errorf("encode reactions: %w", err)
	}
	return string(b), nil
}

// encodeIDs encodes a list of ids for a text column: a JSON array, "" for none.
func encodeIDs(ids []string) (string, error) {
	if len(ids) == 0 {
		return "", nil
	}
	b, err := json.Marshal(ids)
	if err != nil {
		return "", fmt.Errorf("encode ids: %w", err)
	}
	return string(b), nil
}

// encodeChanges encodes a message's recent changes for the last_change column: a JSON
// array, oldest first.
func encodeChanges(cs []chat.Change) (string, error) {
	if len(cs) == 0 {
		return "", nil
	}
	out := make([]lastChange, len(cs))
	for i, c := range cs {
		out[i] = lastChange{Kind: c.Kind, EventID: c.EventID, UserID: c.UserID, At: c.At, Emoji: c.Emoji, State: c.State, Erases: c.Erases}
	}
	b, err := json.Marshal(out)
	if err != nil {
		return "", fmt.Errorf("encode recent changes: %w", err)
	}
	return string(b), nil
}

// unsetIfZero returns v, or gocql.UnsetValue when v is its type's zero value: an INSERT then
// writes nothing for the column (no null, so no tombstone, and no empty cell).
func unsetIfZero[T comparable](v T) any {
	var zero T
	if v == zero {
		return gocql.UnsetValue
	}
	return v
}

// insertArgs returns the values of messageCols for storing m. A message gets version
// m.Version (0 when new), so that its first change can be conditioned on version = 0; a
// change event gets none, so that no ApplyChange condition on a version can hold for it.
func insertArgs(m chat.Message) ([]any, error) {
	f, err := foldedOf(m)
	if err != nil {
		return nil, err
	}
	var reply chat.ReplyRef
	if m.ReplyTo != nil {
		reply = *m.ReplyTo
	}
	var version any = m.Version
	var kind, target, emoji, state, origin string
	if c := m.Change; c != nil {
		version = gocql.UnsetValue
		kind, target, emoji, state, origin = c.Kind, c.MessageID, c.Emoji, c.State, m.Origin
		if kind == "" {
			return nil, fmt.Errorf("change event without a kind")
		}
	}
	u := func(v string) any { return unsetIfZero(v) }
	return []any{
		m.ConversationID, m.MessageID, u(m.SenderID), u(m.Body), m.CreatedAt, u(m.ClientMsgID),
		u(reply.MessageID), u(reply.SenderID), u(reply.Preview),
		unsetIfZero(f.editedAt), unsetIfZero(f.deleted), u(f.reactions), version, u(f.lastChange), u(f.editIDs),
		u(kind), u(target), u(emoji), u(state), u(origin),
	}, nil
}

// message decodes the row, the inverse of insertArgs (and of ApplyChange's columns).
func (r row) message() (chat.Message, error) {
	m := chat.Message{
		ConversationID: r.conversationID, MessageID: r.messageID, SenderID: r.senderID, Body: r.body,
		CreatedAt: r.createdAt, ClientMsgID: r.clientMsgID,
		EditedAt: r.editedAt, Deleted: r.deleted,
	}
	if r.editIDs != "" {
		if err := json.Unmarshal([]byte(r.editIDs), &m.EditIDs); err != nil {
			return chat.Message{}, fmt.Errorf("message %s/%s: decode edit ids: %w", r.conversationID, r.messageID, err)
		}
	}
	if r.version != nil {
		m.Version = *r.version
	}
	if r.replyID != "" {
		m.ReplyTo = &chat.ReplyRef{MessageID: r.replyID, SenderID: r.replySender, Preview: r.replyPreview}
	}
	if r.reactions != "" {
		if err := json.Unmarshal([]byte(r.reactions), &m.Reactions); err != nil {
			return chat.Message{}, fmt.Errorf("message %s/%s: decode reactions: %w", r.conversationID, r.messageID, err)
		}
		for _, users := range m.Reactions {
			slices.Sort(users)
		}
	}
	if r.lastChange != "" {
		var cs []lastChange
		if err := json.Unmarshal([]byte(r.lastChange), &cs); err != nil {
			return chat.Message{}, fmt.Errorf("message %s/%s: decode recent changes: %w", r.conversationID, r.messageID, err)
		}
		for _, c := range cs {
			m.Changes = append(m.Changes, chat.Change{Kind: c.Kind, EventID: c.EventID, MessageID: r.messageID, UserID: c.UserID, At: c.At,
				Emoji: c.Emoji, State: c.State, Erases: c.Erases})
			m.LastEventID = c.EventID
		}
	}
	if r.kind != "" {
		m.Change = &chat.Change{Kind: r.kind, EventID: r.messageID, MessageID: r.target, UserID: r.senderID, At: r.createdAt,
			Body: r.body, Emoji: r.emoji, State: r.state}
		m.Origin = r.origin
	}
	return m, nil
}
