package chat

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// Request is a decoded client frame (PROTOCOL.md §4). Fields a given action does not use
// are ignored. Pointer fields tell "absent" from "empty".
type Request struct {
	Action         string   `json:"action"`
	RequestID      string   `json:"requestId,omitempty"`
	ConversationID string   `json:"conversationId,omitempty"`
	To             string   `json:"to,omitempty"`
	ClientMsgID    string   `json:"clientMsgId,omitempty"`
	Body           *string  `json:"body,omitempty"`
	State          string   `json:"state,omitempty"`
	MessageID      string   `json:"messageId,omitempty"`
	Status         string   `json:"status,omitempty"`
	Before         string   `json:"before,omitempty"`
	Limit          *int     `json:"limit,omitempty"`
	Members        []string `json:"members,omitempty"`
	Name           *string  `json:"name,omitempty"`
	UserIDs        []string `json:"userIds,omitempty"`
	// Version 1.1 (PROTOCOL.md §8, docs/protocol.md).
	ReplyTo string `json:"replyTo,omitempty"`
	Emoji   string `json:"emoji,omitempty"`
	// Until is when a mute ends (Unix milliseconds); absent: until unmuted.
	Until *int64 `json:"until,omitempty"`
}

// DecodeRequest parses one client frame. It always returns the action and requestId it
// could read, even with an error, so that the error frame can echo them.
func DecodeRequest(frame []byte) (Request, error) {
	var req Request
	if len(frame) > MaxFrameBytes {
		return req, Errorf(CodeTooLarge, "frame is %d bytes, the limit is %d", len(frame), MaxFrameBytes)
	}
	if !utf8.Valid(frame) {
		return req, Errorf(CodeBadRequest, "frame is not UTF-8 text")
	}
	if trimmed := bytes.TrimLeft(frame, " \t\r\n"); len(trimmed) == 0 || trimmed[0] != '{' {
		return req, Errorf(CodeBadRequest, "frame is not a JSON object")
	}
	// One pass: on a field of the wrong type, encoding/json still fills the other fields
	// (action and requestId among them) and reports the first bad field.
	if err := json.Unmarshal(frame, &req); err != nil {
		var typeErr *json.UnmarshalTypeError
		if !errors.As(err, &typeErr) || typeErr.Field == "" {
			return Request{}, Errorf(CodeBadRequest, "frame is not a JSON object")
		}
		if typeErr.Field == "requestId" {
			req.RequestID = ""
		}
		return req, Errorf(CodeBadRequest, "%s has the wrong type: want %s", typeErr.Field, jsonType(typeErr.Field))
	}
	if n := utf8.RuneCountInString(req.RequestID); req.RequestID != "" && n > MaxIDLength {
		req.RequestID = ""
		return req, Errorf(CodeBadRequest, "requestId must be 1 to %d characters", MaxIDLength)
	}
	if req.RequestID == "" && bytes.Contains(frame, []byte(`"requestId"`)) && hasRequestID(frame) {
		return req, Errorf(CodeBadRequest, "requestId must be 1 to %d characters", MaxIDLength)
	}
	if req.Action == "" {
		return req, Errorf(CodeBadRequest, "action is missing: every frame names its action")
	}
	return req, nil
}

// hasRequestID reports whether the frame's object has a requestId member (empty or null,
// since it decoded to ""). The text "requestId" alone does not tell: it may be a string
// value ("body":"requestId") or a member of a nested object, which are no requestId.
func hasRequestID(frame []byte) bool {
	var probe struct {
		RequestID json.RawMessage `json:"requestId"`
	}
	return json.Unmarshal(frame, &probe) == nil && probe.RequestID != nil
}

// jsonType names, in JSON's terms, the type of the Request field with that JSON name, for
// error messages: a Go type such as []string (or string, for a bad element of one) means
// little to a client.
func jsonType(field string) string {
	switch field {
	case "limit", "until":
		return "an integer"
	case "members", "userIds":
		return "an array of strings"
	}
	return "a string"
}

// Server frame types.
const (
	TypeAck           = "ack"
	TypeMessage       = "message"
	TypeTyping        = "typing"
	TypeReceipt       = "receipt"
	TypeHistory       = "history"
	TypeSynced        = "synced"
	TypeConversation  = "conversation"
	TypeConversations = "conversations"
	TypePresence      = "presence"
	TypeHeartbeat     = "heartbeat"
	TypeError         = "error"
	// Version 1.1.
	TypeEdited   = "edited"
	TypeDeleted  = "deleted"
	TypeReaction = "reaction"
	TypeMuted    = "muted"
)

// AckFrame answers a send once the message is stored.
type AckFrame struct {
	Type           string `json:"type"`
	RequestID      string `json:"requestId,omitempty"`
	ClientMsgID    string `json:"clientMsgId"`
	ConversationID string `json:"conversationId"`
	MessageID      string `json:"messageId"`
	CreatedAt      int64  `json:"createdAt"`
	// Posted says the ack reached the caller already, posted to its connection by the
	// inline path (or that the caller's connection is gone): the handler then sends no
	// route response. Never on the wire.
	Posted bool `json:"-"`
}

// MessageFrame carries one message to a member's connection.
type MessageFrame struct {
	Type    string  `json:"type"`
	Message Message `json:"message"`
}

// EditedFrame answers an edit and, without RequestID, announces it (PROTOCOL.md §8).
type EditedFrame struct {
	Type           string `json:"type"`
	RequestID      string `json:"requestId,omitempty"`
	ConversationID string `json:"conversationId"`
	MessageID      string `json:"messageId"`
	EventID        string `json:"eventId"`
	Body           string `json:"body"`
	EditedAt       int64  `json:"editedAt"`
}

// DeletedFrame answers a delete and, without RequestID, announces it.
type DeletedFrame struct {
	Type           string `json:"type"`
	RequestID      string `json:"requestId,omitempty"`
	ConversationID string `json:"conversationId"`
	MessageID      string `json:"messageId"`
	EventID        string `json:"eventId"`
	At             int64  `json:"at"`
}

// ReactionFrame answers a react and, without RequestID, announces a reaction added or
// removed. A reply to a react that changed nothing carries no EventID (no event exists),
// unless it repeats the change that made the state so (a retry): then that change's.
type ReactionFrame struct {
	Type           string `json:"type"`
	RequestID      string `json:"requestId,omitempty"`
	ConversationID string `json:"conversationId"`
	MessageID      string `json:"messageId"`
	EventID        string `json:"eventId,omitempty"`
	UserID         string `json:"userId"`
	Emoji          string `json:"emoji"`
	State          string `json:"state"`
	At             int64  `json:"at"`
}

// MutedFrame answers mute and unmute (an addition to PROTOCOL.md): whether the caller
// now gets offline notifications of the conversation.
type MutedFrame struct {
	Type           string `json:"type"`
	RequestID      string `json:"requestId,omitempty"`
	ConversationID string `json:"conversationId"`
	Muted          bool   `json:"muted"`
	// Until is when the mute ends (Unix milliseconds); absent while muted for good or
	// when not muted.
	Until int64 `json:"until,omitempty"`
}

// TypingFrame tells the other members that a member is typing.
type TypingFrame struct {
	Type           string `json:"type"`
	ConversationID string `json:"conversationId"`
	UserID         string `json:"userId"`
	State          string `json:"state"`
}

// ReceiptFrame answers a receipt and, without RequestID, announces a moved cursor.
type ReceiptFrame struct {
	Type           string `json:"type"`
	RequestID      string `json:"requestId,omitempty"`
	ConversationID string `json:"conversationId"`
	UserID         string `json:"userId"`
	Status         string `json:"status"`
	UpTo           string `json:"upTo"`
	At             int64  `json:"at"`
}

// ReactionCount is one emoji's reactions on a message, as history shows them.
type ReactionCount struct {
	Emoji string `json:"emoji"`
	Count int    `json:"count"`
	Mine  bool   `json:"mine"`
}

// HistoryMessage is a message in a history page, with its status when the caller sent it.
type HistoryMessage struct {
	Message
	// Reactions are the message's reactions, most frequent first (absent when none).
	Reactions []ReactionCount `json:"reactions,omitempty"`
	// LastEventID is the last change folded into this state (an addition to PROTOCOL.md):
	// a client can skip the change events of this message at or before it.
	LastEventID string `json:"lastEventId,omitempty"`
	// Status is set on the caller's messages in a direct conversation.
	Status string `json:"status,omitempty"`
	// DeliveredTo and ReadBy are set on the caller's messages in a group: how many other
	// members have it delivered, and read.
	DeliveredTo *int `json:"deliveredTo,omitempty"`
	ReadBy      *int `json:"readBy,omitempty"`
}

// HistoryFrame is one page of history, newest first.
type HistoryFrame struct {
	Type           string           `json:"type"`
	RequestID      string           `json:"requestId,omitempty"`
	ConversationID string           `json:"conversationId"`
	Messages       []HistoryMessage `json:"messages"`
	Next           string           `json:"next,omitempty"`
}

// SyncedFrame ends a sync.
type SyncedFrame struct {
	Type      string `json:"type"`
	RequestID string `json:"requestId,omitempty"`
	Count     int    `json:"count"`
	More      bool   `json:"more"`
	// LastMessageIDs maps each conversation that this sync sent messages of to the id of
	// the last one it sent (an addition to PROTOCOL.md). While More is true, a client
	// acknowledges exactly these with delivered receipts: a live message that arrived
	// meanwhile may lie beyond messages the next sync has still to send, and acknowledging
	// it would skip them.
	LastMessageIDs map[string]string `json:"lastMessageIds,omitempty"`
}

// ConversationView is a conversation as the conversation event shows it.
type ConversationView struct {
	ConversationID string   `json:"conversationId"`
	Kind           string   `json:"kind"`
	Name           string   `json:"name"`
	Members        []string `json:"members"`
	CreatedBy      string   `json:"createdBy"`
	CreatedAt      int64    `json:"createdAt"`
}

// ConversationFrame announces a conversation as it now stands.
type ConversationFrame struct {
	Type         string           `json:"type"`
	RequestID    string           `json:"requestId,omitempty"`
	Conversation ConversationView `json:"conversation"`
}

// ConversationSummary is one entry of the conversations list.
type ConversationSummary struct {
	ConversationID string `json:"conversationId"`
	Kind           string `json:"kind"`
	Name           string `json:"name"`
	// Peer is the other member of a direct conversation (an addition to PROTOCOL.md).
	Peer        string   `json:"peer,omitempty"`
	MemberCount int      `json:"memberCount"`
	LastMessage *Message `json:"lastMessage"`
	Unread      int      `json:"unread"`
	// Muted and MutedUntil tell whether the caller muted the conversation's offline
	// notifications, and until when (additions to PROTOCOL.md; absent when not muted,
	// MutedUntil absent when muted for good).
	Muted      bool  `json:"muted,omitempty"`
	MutedUntil int64 `json:"mutedUntil,omitempty"`

	lastActivity int64 // for ordering the list, not sent
}

// ConversationsFrame lists the caller's conversations, most recent activity first.
type ConversationsFrame struct {
	Type          string                `json:"type"`
	RequestID     string                `json:"requestId,omitempty"`
	Conversations []ConversationSummary `json:"conversations"`
}

// PresenceFrame answers a presence query and, without RequestID, announces a change.
type PresenceFrame struct {
	Type      string     `json:"type"`
	RequestID string     `json:"requestId,omitempty"`
	Users     []Presence `json:"users"`
}

// HeartbeatFrame answers a heartbeat.
type HeartbeatFrame struct {
	Type      string `json:"type"`
	RequestID string `json:"requestId,omitempty"`
	At        int64  `json:"at"`
}

// ErrorFrame reports a failed request. The connection stays open.
type ErrorFrame struct {
	Type      string `json:"type"`
	RequestID string `json:"requestId,omitempty"`
	Action    string `json:"action,omitempty"`
	Code      Code   `json:"code"`
	Message   string `json:"message"`
}

// Encode marshals a frame. Frames are plain structs, so this cannot fail in practice; a
// failure is reported rather than hidden.
func Encode(frame any) ([]byte, error) {
	b, err := json.Marshal(frame)
	if err != nil {
		return nil, fmt.Errorf("chat: encode %T: %w", frame, err)
	}
	return b, nil
}
